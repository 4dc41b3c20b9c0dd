// A minimal reader of zip archives held in memory (a file mapping), enough for the
// checkpoints torch.save writes since PyTorch 1.6: the central directory (ZIP64 included,
// which torch always emits for big files) and the data of *stored* (method 0) entries.
//
// Why not libzip or minizip: we need each entry's data as a range inside the mapping, so
// that tensors are used in place without copying gigabytes; those libraries only extract
// into caller buffers. Compressed entries are refused (torch never compresses).
//
// Every offset and length read from the archive is bounds-checked against the buffer;
// errors are encore::Error naming `where` (the file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace encore::io {

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    std::uint16_t method = 0;  // 0 = stored, 8 = deflate, ...
    std::uint16_t flags = 0;
    std::uint64_t compressed_size = 0;
    std::uint64_t size = 0;
    std::uint64_t local_header_offset = 0;
  };

  // Parses the central directory of [data, data + size). The buffer must outlive the
  // archive. Throws encore::Error for a truncated or malformed archive.
  static ZipArchive parse(std::span<const std::byte> bytes, std::string where);

  // True when the buffer starts like a zip archive (a local file header).
  static bool looks_like_zip(std::span<const std::byte> bytes);

  // Entries in central-directory order.
  const std::vector<Entry>& entries() const { return entries_; }
  // nullptr when there is no entry of that name.
  const Entry* find(std::string_view name) const;
  // The data of a stored entry, inside the buffer; throws for compressed or encrypted
  // entries and for data outside the buffer.
  std::span<const std::byte> data(const Entry& entry) const;
  const std::string& where() const { return where_; }

 private:
  std::span<const std::byte> bytes_;
  std::string where_;
  std::vector<Entry> entries_;
  std::vector<std::size_t> sorted_;  // indices into entries_, sorted by name
};

}  // namespace encore::io

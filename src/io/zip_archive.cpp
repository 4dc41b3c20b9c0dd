#include "io/zip_archive.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "encore/error.hpp"

namespace encore::io {

namespace {

constexpr std::uint32_t kLocalHeaderSig = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kZip64EndSig = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kZip64EndSize = 56;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kLocalHeaderSize = 30;

// Little-endian reads at a position the caller has bounds-checked.
std::uint16_t u16(const std::byte* p) {
  return static_cast<std::uint16_t>(static_cast<unsigned>(p[0]) |
                                    (static_cast<unsigned>(p[1]) << 8));
}
std::uint32_t u32(const std::byte* p) {
  return static_cast<std::uint32_t>(u16(p)) | (static_cast<std::uint32_t>(u16(p + 2)) << 16);
}
std::uint64_t u64(const std::byte* p) {
  return static_cast<std::uint64_t>(u32(p)) | (static_cast<std::uint64_t>(u32(p + 4)) << 32);
}

// [offset, offset + len) lies inside a buffer of `size` bytes (overflow-safe).
bool in_bounds(std::uint64_t offset, std::uint64_t len, std::uint64_t size) {
  return offset <= size && len <= size - offset;
}

}  // namespace

bool ZipArchive::looks_like_zip(std::span<const std::byte> bytes) {
  return bytes.size() >= 4 && u32(bytes.data()) == kLocalHeaderSig;
}

ZipArchive ZipArchive::parse(std::span<const std::byte> bytes, std::string where) {
  ZipArchive z;
  z.bytes_ = bytes;
  z.where_ = std::move(where);
  const std::byte* base = bytes.data();
  const std::uint64_t size = bytes.size();
  auto fail = [&](const std::string& what) -> Error { return Error(z.where_ + ": " + what); };

  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes. A
  // torch.save that was cut short (a full disk, an interrupted download) lacks it.
  std::uint64_t end = size;  // offset of the record; size = not found
  if (size >= kEndSize) {
    const std::uint64_t lowest = size - kEndSize > 0xFFFF ? size - kEndSize - 0xFFFF : 0;
    for (std::uint64_t p = size - kEndSize + 1; p-- > lowest;) {
      if (u32(base + p) == kEndSig && p + kEndSize + u16(base + p + 20) <= size) {
        end = p;
        break;
      }
    }
  }
  if (end == size)
    throw fail(
        "truncated or not a zip archive: no end-of-central-directory record (an "
        "interrupted download or save?)");

  const std::byte* e = base + end;
  std::uint64_t count = u16(e + 10);
  std::uint64_t cd_size = u32(e + 12);
  std::uint64_t cd_offset = u32(e + 16);

  // ZIP64: the locator directly precedes the classic record and points at the ZIP64 one,
  // whose 64-bit fields replace the saturated 0xFFFF / 0xFFFFFFFF values.
  if (end >= kZip64LocatorSize && u32(base + end - kZip64LocatorSize) == kZip64LocatorSig) {
    const std::byte* loc = base + end - kZip64LocatorSize;
    const std::uint64_t z64 = u64(loc + 8);
    if (!in_bounds(z64, kZip64EndSize, end - kZip64LocatorSize) || u32(base + z64) != kZip64EndSig)
      throw fail("truncated or corrupt archive: the ZIP64 end-of-central-directory record at " +
                 std::to_string(z64) + " is missing");
    const std::byte* r = base + z64;
    if (u32(r + 16) != 0 || u32(r + 20) != 0 || u64(r + 24) != u64(r + 32))
      throw fail("multi-disk zip archives are not supported");
    count = u64(r + 32);
    cd_size = u64(r + 40);
    cd_offset = u64(r + 48);
  } else if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    throw fail("truncated or corrupt archive: ZIP64 values without a ZIP64 locator");
  } else if (u16(e + 4) != 0 || u16(e + 6) != 0 || u16(e + 8) != u16(e + 10)) {
    throw fail("multi-disk zip archives are not supported");
  }

  if (!in_bounds(cd_offset, cd_size, size))
    throw fail("truncated archive: the central directory [" + std::to_string(cd_offset) + ", +" +
               std::to_string(cd_size) + ") lies outside the file (" + std::to_string(size) +
               " bytes)");
  // Each record is at least 46 bytes: a count beyond that is a lie, and must not size an
  // allocation.
  if (count > cd_size / kCentralHeaderSize)
    throw fail("corrupt archive: " + std::to_string(count) + " entries cannot fit in a " +
               std::to_string(cd_size) + "-byte central directory");
  z.entries_.reserve(static_cast<std::size_t>(count));

  std::uint64_t pos = cd_offset;
  const std::uint64_t cd_end = cd_offset + cd_size;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!in_bounds(pos, kCentralHeaderSize, cd_end) || u32(base + pos) != kCentralHeaderSig)
      throw fail("corrupt archive: central directory entry " + std::to_string(i) + " at " +
                 std::to_string(pos) + " is malformed");
    const std::byte* h = base + pos;
    const std::uint64_t name_len = u16(h + 28), extra_len = u16(h + 30), comment_len = u16(h + 32);
    const std::uint64_t record = kCentralHeaderSize + name_len + extra_len + comment_len;
    if (!in_bounds(pos, record, cd_end))
      throw fail("corrupt archive: central directory entry " + std::to_string(i) +
                 " runs past the directory");
    Entry entry;
    entry.flags = u16(h + 8);
    entry.method = u16(h + 10);
    entry.compressed_size = u32(h + 20);
    entry.size = u32(h + 24);
    entry.local_header_offset = u32(h + 42);
    entry.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);

    // The ZIP64 extra field (id 1) holds, in this order, only the fields saturated above.
    const std::byte* x = h + kCentralHeaderSize + name_len;
    for (std::uint64_t off = 0; off + 4 <= extra_len;) {
      const std::uint16_t id = u16(x + off), len = u16(x + off + 2);
      if (off + 4 + len > extra_len)
        throw fail("corrupt archive: extra field of entry '" + entry.name + "' is truncated");
      if (id == 1) {
        std::uint64_t f = off + 4;
        const std::uint64_t f_end = f + len;
        auto take = [&](std::uint64_t& field) {
          if (field != 0xFFFFFFFF) return;
          if (f + 8 > f_end)
            throw fail("corrupt archive: ZIP64 extra field of entry '" + entry.name +
                       "' is too short");
          field = u64(x + f);
          f += 8;
        };
        take(entry.size);
        take(entry.compressed_size);
        take(entry.local_header_offset);
      }
      off += 4 + len;
    }
    z.entries_.push_back(std::move(entry));
    pos += record;
  }

  z.sorted_.resize(z.entries_.size());
  for (std::size_t i = 0; i < z.sorted_.size(); ++i) z.sorted_[i] = i;
  std::stable_sort(z.sorted_.begin(), z.sorted_.end(), [&](std::size_t a, std::size_t b) {
    return z.entries_[a].name < z.entries_[b].name;
  });
  for (std::size_t i = 1; i < z.sorted_.size(); ++i)
    if (z.entries_[z.sorted_[i - 1]].name == z.entries_[z.sorted_[i]].name)
      throw fail("corrupt archive: entry '" + z.entries_[z.sorted_[i]].name + "' appears twice");
  return z;
}

const ZipArchive::Entry* ZipArchive::find(std::string_view name) const {
  auto it =
      std::lower_bound(sorted_.begin(), sorted_.end(), name,
                       [&](std::size_t i, std::string_view n) { return entries_[i].name < n; });
  return it != sorted_.end() && entries_[*it].name == name ? &entries_[*it] : nullptr;
}

std::span<const std::byte> ZipArchive::data(const Entry& entry) const {
  const std::uint64_t size = bytes_.size();
  const std::string ctx = where_ + ": entry '" + entry.name + "'";
  if (entry.flags & 1u) throw Error(ctx + " is encrypted");
  if (entry.method != 0)
    throw Error(ctx + " is compressed (method " + std::to_string(entry.method) +
                "); only stored entries are read, as torch.save writes them");
  if (entry.compressed_size != entry.size)
    throw Error(ctx + ": a stored entry whose compressed size (" +
                std::to_string(entry.compressed_size) + ") differs from its size (" +
                std::to_string(entry.size) + ")");
  // The local header repeats the name but may carry a different extra field (torch pads
  // it so that tensor data starts 64-byte aligned): its lengths locate the data.
  const std::uint64_t lh = entry.local_header_offset;
  if (!in_bounds(lh, kLocalHeaderSize, size) || u32(bytes_.data() + lh) != kLocalHeaderSig)
    throw Error(ctx + ": truncated or corrupt archive: no local header at " + std::to_string(lh));
  const std::byte* h = bytes_.data() + lh;
  const std::uint64_t data_offset = lh + kLocalHeaderSize + u16(h + 26) + u16(h + 28);
  if (!in_bounds(data_offset, entry.size, size))
    throw Error(ctx + ": truncated archive: its " + std::to_string(entry.size) +
                " bytes at offset " + std::to_string(data_offset) +
                " run past the end of the file (" + std::to_string(size) + " bytes)");
  return bytes_.subspan(static_cast<std::size_t>(data_offset),
                        static_cast<std::size_t>(entry.size));
}

}  // namespace encore::io

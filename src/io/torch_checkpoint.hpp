// Reading PyTorch state dicts (torch.save / save_pretrained(safe_serialization=False))
// without executing them:
//  * the zip format of torch >= 1.6: `<any folder>/data.pkl` plus one stored entry per
//    storage, `<folder>/data/<key>`; the file is memory-mapped and tensors point into it;
//  * the legacy format of torch < 1.6: five concatenated pickles (magic number, protocol,
//    sys_info, the state dict, the storage keys) followed by each storage as an 8-byte
//    little-endian element count and its raw data, in key-list order.
// The pickles go through the restricted VM of pickle.hpp (allow-listed globals only). The
// pre-0.4 tar container is refused before any of its pickles is read.
//
// Every tensor is checked against its storage (offset + extent of size/stride within the
// storage's elements). Contiguous tensors are views into the mapping (not aligned in
// general, as with safetensors); non-contiguous ones (a transposed weight) are copied into
// an owned contiguous buffer. Non-tensor entries of the state dict are skipped.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/mapped_file.hpp"
#include "io/safetensors.hpp"

namespace encore::io {

class TorchCheckpoint {
 public:
  struct Options {
    // Drop a leading "module." from every name when all tensor names carry it (a
    // torch.nn.DataParallel model's state_dict()).
    bool strip_module_prefix = false;
  };

  // Maps `path` and reads it; throws encore::Error naming the file (and the tensor or
  // global concerned) when the file is not a readable, safe checkpoint.
  static TorchCheckpoint open(const std::filesystem::path& path, const Options& options);
  static TorchCheckpoint open(const std::filesystem::path& path) { return open(path, Options{}); }

  // Reads a checkpoint already in memory (the fuzzer's entry point). `bytes` must outlive
  // the result; `where` names it in errors.
  static TorchCheckpoint parse(std::span<const std::byte> bytes, std::string where,
                               const Options& options);

  TorchCheckpoint(TorchCheckpoint&& other) noexcept;
  TorchCheckpoint& operator=(TorchCheckpoint&& other) noexcept;
  TorchCheckpoint(const TorchCheckpoint&) = delete;
  TorchCheckpoint& operator=(const TorchCheckpoint&) = delete;
  ~TorchCheckpoint();

  // Unmaps the file and frees copies; every TensorView obtained from it dangles afterwards.
  void close();
  bool is_open() const { return open_; }

  const TensorView* find(std::string_view name) const;
  std::vector<std::string> names() const;
  // All tensors, sorted by name.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::filesystem::path& path() const { return path_; }
  std::size_t file_size() const { return size_; }
  // "torch zip" or "torch legacy".
  std::string_view format() const { return format_; }

 private:
  TorchCheckpoint() = default;

  std::filesystem::path path_;
  MappedFile map_;  // our own mapping (open()); empty for parse()
  std::size_t size_ = 0;
  bool open_ = false;
  std::string_view format_;
  std::vector<TensorView> tensors_;                  // sorted by name
  std::vector<std::unique_ptr<std::byte[]>> owned_;  // contiguous copies of strided tensors
};

}  // namespace encore::io

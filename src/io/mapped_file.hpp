// A whole regular file mapped read-only into memory; unmapped when the object dies or is
// reassigned, so a loader that throws half-way never leaks its mapping.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string_view>

namespace encore::io {

class MappedFile {
 public:
  // Maps `path`; an empty file gives an empty mapping (data() null, size() 0). Throws
  // encore::Error naming the file as a `what` ("safetensors file", "PyTorch checkpoint") when
  // it is missing, unreadable, a directory or not a regular file.
  static MappedFile open(const std::filesystem::path& path, std::string_view what);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  void reset();
  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace encore::io

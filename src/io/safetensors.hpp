// Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"?: {str: str}},
// then the raw little-endian tensor data, offsets relative to the end of the header.
//
// Files are memory-mapped read-only, so opening a multi-GB checkpoint costs one header
// parse; tensors are converted to float32 only when the caller asks for them. The header is
// validated completely on open, so every TensorView handed out lies inside the mapping.
// (As with any mmap, a file truncated by another process while mapped faults on access;
// checkpoints are treated as immutable.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/mapped_file.hpp"

namespace encore::io {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

// The safetensors spelling ("F32", "BF16", ...).
std::string_view dtype_name(DType dtype);
// Bytes per element.
std::size_t dtype_size(DType dtype);
// nullopt for any other spelling (including dtypes safetensors knows but encore does not,
// such as F8_E4M3 or U32).
std::optional<DType> parse_dtype(std::string_view name);
bool is_floating(DType dtype);

// "[3, 96]"
std::string shape_string(const std::vector<std::int64_t>& shape);

// One tensor inside a mapped file. `data` points into the mapping (it is not aligned to
// the element size in general) and is valid while the owning SafetensorsFile is open.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  const std::byte* data = nullptr;
  std::size_t bytes = 0;

  // Product of the shape (1 for a scalar); validated not to overflow on open.
  std::int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps `path` and validates its header; throws encore::Error naming the file (and the
  // tensor, where one is concerned) when anything is wrong.
  static SafetensorsFile open(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  // Unmaps the file; every TensorView obtained from it dangles afterwards.
  void close();
  bool is_open() const { return map_.data() != nullptr; }

  // nullptr when there is no tensor of that name.
  const TensorView* find(std::string_view name) const;
  // Tensor names, sorted.
  std::vector<std::string> names() const;
  // All tensors, sorted by name.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& path() const { return path_; }
  std::size_t file_size() const { return map_.size(); }

 private:
  SafetensorsFile() = default;

  std::filesystem::path path_;
  MappedFile map_;                   // the whole file
  std::vector<TensorView> tensors_;  // sorted by name
  std::map<std::string, std::string> metadata_;
};

// Converts a floating-point tensor (F64, F32, F16, BF16) to float32. Integer and BOOL
// tensors throw encore::Error naming the tensor. F64 values outside float's range become
// +-inf, as a C++ cast does.
std::vector<float> to_float32(const TensorView& tensor);
// Same, into caller storage of at least tensor.numel() floats.
void to_float32(const TensorView& tensor, float* out);

// IEEE 754 binary16 / bfloat16 bit patterns to float (exact: every value is representable).
float f16_to_float(std::uint16_t bits);
float bf16_to_float(std::uint16_t bits);

// Builds a safetensors file in memory and writes it atomically. Tensors are written sorted
// by name (as the Python library does), the header padded with spaces to a multiple of 8
// so that the data section starts 8-byte aligned.
class SafetensorsWriter {
 public:
  // Copies `bytes` bytes from `data`; `bytes` must equal numel(shape) * dtype_size(dtype).
  // Throws encore::Error for a duplicate or reserved name, a negative dimension or a size
  // mismatch.
  void add(std::string name, DType dtype, std::vector<std::int64_t> shape, const void* data,
           std::size_t bytes);
  // Convenience for float32 data (shape product must equal values.size()).
  void add_f32(std::string name, std::vector<std::int64_t> shape, const std::vector<float>& values);
  void metadata(std::string key, std::string value);

  // Writes `path` + ".tmp", flushes it to disk and renames it over `path`, so a reader never
  // sees a partial file; on failure the temporary file is removed and encore::Error thrown.
  void write(const std::filesystem::path& path) const;

  // The complete file contents write() would produce.
  std::string serialize() const;

 private:
  struct Entry {
    DType dtype;
    std::vector<std::int64_t> shape;
    std::string data;
  };
  std::map<std::string, Entry> tensors_;  // sorted by name, the order they are written in
  std::map<std::string, std::string> metadata_;
};

// One file of a WeightStore, whatever its format (safetensors or a PyTorch checkpoint).
class WeightFile {
 public:
  virtual ~WeightFile() = default;
  virtual const std::filesystem::path& path() const = 0;
  virtual std::size_t file_size() const = 0;
  // All tensors, sorted by name; the views are valid until close().
  virtual const std::vector<TensorView>& tensors() const = 0;
  // nullptr when there is no tensor of that name.
  virtual const TensorView* find(std::string_view name) const = 0;
  // "safetensors", "torch zip" or "torch legacy".
  virtual std::string_view format() const = 0;
  virtual void close() = 0;
};

// The weights of a Hugging Face model folder, in the order transformers prefers them:
// `model.safetensors`, the shards listed in `model.safetensors.index.json`,
// `pytorch_model.bin`, the shards listed in `pytorch_model.bin.index.json`, or else the
// folder's only `*.pth` / `*.pt` file (a bare state dict; a `module.` prefix on every name,
// as DataParallel writes, is dropped, as it is for a single pytorch_model.bin). PyTorch
// files are read without executing their pickles (see torch_checkpoint.hpp). Tensor names
// are looked up across all shards.
class WeightStore {
 public:
  // Throws encore::Error when the folder does not exist, holds no weights, holds several
  // *.pth / *.pt files and nothing else, or when the index or a file is invalid (missing
  // shard, a tensor in two shards, a mapped name absent from its shard, a PyTorch pickle
  // that references anything but tensors).
  static WeightStore open(const std::filesystem::path& model_dir);

  WeightStore(WeightStore&&) noexcept = default;
  WeightStore& operator=(WeightStore&&) noexcept = default;
  WeightStore(const WeightStore&) = delete;
  WeightStore& operator=(const WeightStore&) = delete;

  const TensorView* find(std::string_view name) const;
  // The shard file holding `name`; throws encore::Error when there is no such tensor.
  const std::filesystem::path& file_of(std::string_view name) const;
  // All tensor names across shards, sorted.
  std::vector<std::string> names() const;
  const std::vector<std::unique_ptr<WeightFile>>& files() const { return files_; }
  // Total size of the weight files.
  std::uintmax_t bytes_on_disk() const;
  // The files' format ("safetensors", "torch zip", "torch legacy"); empty once closed.
  std::string_view format() const;
  const std::filesystem::path& model_dir() const { return dir_; }
  // What error messages call the weights: the single file, or the index file.
  const std::filesystem::path& source() const { return source_; }
  bool sharded() const { return sharded_; }

  // Unmaps every shard; views obtained before dangle afterwards.
  void close();

 private:
  WeightStore() = default;

  std::filesystem::path dir_, source_;
  bool sharded_ = false;
  std::vector<std::unique_ptr<WeightFile>> files_;
  // name -> (shard index, view inside files_[shard]); views are stable while files_ lives.
  std::map<std::string, std::pair<std::size_t, const TensorView*>, std::less<>> index_;
};

}  // namespace encore::io

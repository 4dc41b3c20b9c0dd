#include "io/safetensors.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/file_io.hpp"
#include "encore/error.hpp"
#include "io/torch_checkpoint.hpp"

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; encore reads it in place");

namespace encore::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The Rust reference implementation's limit: a bigger header is certainly not a checkpoint
// and would only make us allocate.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8},   {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},   {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},
};

const DTypeInfo& info(DType d) {
  for (const auto& i : kDTypes)
    if (i.dtype == d) return i;
  throw Error("invalid DType value " + std::to_string(static_cast<int>(d)));
}

std::string squote(const std::string& s) {
  return "'" + s + "'";
}

std::string sys_error() {
  return std::strerror(errno);
}

// Reads an unsigned JSON integer that fits in std::uint64_t (nlohmann stores integers
// beyond int64 as unsigned and beyond uint64 as floats, which we reject).
bool get_u64(const json& v, std::uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<std::uint64_t>();
    return true;
  }
  if (v.is_number_integer()) {
    const auto s = v.get<std::int64_t>();
    if (s < 0) return false;
    out = static_cast<std::uint64_t>(s);
    return true;
  }
  return false;
}

// Parses JSON and reports the first key that occurs twice in the top-level object, or, with
// `parent` set, in the object under that top-level key (nlohmann silently keeps the last
// duplicate, which would hide a second definition of a tensor).
json parse_checking_duplicates(std::string_view text, const std::string& source,
                               const std::string& parent, const std::string& what_key) {
  const int key_depth = parent.empty() ? 1 : 2;
  std::set<std::string> seen;
  std::string current_parent;
  std::optional<std::string> duplicate;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event != json::parse_event_t::key || duplicate) return true;
    if (depth == 1) current_parent = parsed.get<std::string>();
    if (depth == key_depth && (parent.empty() || current_parent == parent) &&
        !seen.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json j;
  try {
    j = json::parse(text, callback);
  } catch (const json::parse_error& e) {
    const std::string what = e.what();
    throw Error(source + ": malformed JSON at byte " + std::to_string(e.byte) + ": " +
                what.substr(what.find(':') + 1));
  } catch (const json::exception& e) {
    // e.g. out_of_range 406: a number literal beyond double's range.
    const std::string what = e.what();
    throw Error(source + ": malformed JSON: " + what.substr(what.find("] ") + 2));
  }
  if (duplicate)
    throw Error(source + ": " + what_key + " " + squote(*duplicate) + " appears twice");
  return j;
}

}  // namespace

std::string_view dtype_name(DType dtype) {
  return info(dtype).name;
}
std::size_t dtype_size(DType dtype) {
  return info(dtype).size;
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& i : kDTypes)
    if (i.name == name) return i.dtype;
  return std::nullopt;
}

bool is_floating(DType d) {
  return d == DType::F64 || d == DType::F32 || d == DType::F16 || d == DType::BF16;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::int64_t TensorView::numel() const {
  // A zero dimension first: the other dimensions' product may not fit (open() only checks
  // non-empty shapes for overflow).
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------
// SafetensorsFile

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      map_(std::move(other.map_)),
      tensors_(std::move(other.tensors_)),
      metadata_(std::move(other.metadata_)) {
  other.tensors_.clear();
  other.metadata_.clear();
}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    map_ = std::move(other.map_);
    tensors_ = std::move(other.tensors_);
    metadata_ = std::move(other.metadata_);
    other.tensors_.clear();
    other.metadata_.clear();
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  close();
}

void SafetensorsFile::close() {
  map_.reset();
  tensors_.clear();
  metadata_.clear();
}

SafetensorsFile SafetensorsFile::open(const fs::path& path) {
  const std::string where = path.string();
  SafetensorsFile f;
  f.path_ = path;

  f.map_ = MappedFile::open(path, "safetensors file");
  if (f.map_.size() < 8)
    throw Error(where + ": not a safetensors file: " + std::to_string(f.map_.size()) +
                " bytes, shorter than the 8-byte header length");
  const std::byte* const base = f.map_.data();
  const std::uint64_t file_size = f.map_.size();

  std::uint64_t header_len = 0;
  std::memcpy(&header_len, base, 8);
  const std::uint64_t available = file_size - 8;
  if (header_len > available)
    throw Error(where + ": header length " + std::to_string(header_len) +
                " exceeds the file size (" + std::to_string(file_size) + " bytes)");
  if (header_len > kMaxHeaderBytes)
    throw Error(where + ": header length " + std::to_string(header_len) +
                " exceeds the 100 MB limit");

  const std::string_view header_text(reinterpret_cast<const char*>(base) + 8, header_len);
  const json header = parse_checking_duplicates(header_text, where, "", "tensor");
  if (!header.is_object())
    throw Error(where + ": header must be a JSON object, found " + header.type_name());

  const std::byte* data = base + 8 + header_len;
  const std::uint64_t data_size = available - header_len;

  struct Range {
    std::uint64_t begin, end;
    std::size_t tensor;  // index into f.tensors_
  };
  std::vector<Range> ranges;
  f.tensors_.reserve(header.size());

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (entry.is_null()) continue;
      if (!entry.is_object())
        throw Error(where + ": __metadata__ must be an object of strings, found " +
                    entry.type_name());
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string())
          throw Error(where + ": __metadata__ value " + squote(k) + " must be a string, found " +
                      v.type_name());
        f.metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string ctx = where + ": tensor " + squote(name);
    if (!entry.is_object()) throw Error(ctx + ": entry must be a JSON object");

    const auto dt = entry.find("dtype");
    if (dt == entry.end() || !dt->is_string()) throw Error(ctx + ": missing or non-string 'dtype'");
    const auto dtype = parse_dtype(dt->get<std::string>());
    if (!dtype)
      throw Error(ctx + ": unsupported dtype " + squote(dt->get<std::string>()) +
                  " (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");

    const auto sh = entry.find("shape");
    if (sh == entry.end() || !sh->is_array()) throw Error(ctx + ": missing or non-array 'shape'");
    TensorView view;
    view.name = name;
    view.dtype = *dtype;
    std::uint64_t numel = 1;
    bool overflow = false;
    for (const auto& d : *sh) {
      std::uint64_t dim = 0;
      if (!get_u64(d, dim) || dim > static_cast<std::uint64_t>(INT64_MAX))
        throw Error(ctx + ": shape entries must be non-negative integers");
      view.shape.push_back(static_cast<std::int64_t>(dim));
      overflow = overflow || __builtin_mul_overflow(numel, dim, &numel);
    }
    std::uint64_t expected_bytes = 0;
    overflow = overflow || numel > static_cast<std::uint64_t>(INT64_MAX) ||
               __builtin_mul_overflow(numel, dtype_size(*dtype), &expected_bytes);
    // A zero dimension makes any product 0, however large the others: only reject an
    // overflow when the true element count is non-zero.
    const bool has_zero = std::find(view.shape.begin(), view.shape.end(), 0) != view.shape.end();
    if (overflow && !has_zero)
      throw Error(ctx + ": shape " + shape_string(view.shape) + " has too many elements");
    if (has_zero) expected_bytes = 0;

    const auto off = entry.find("data_offsets");
    if (off == entry.end() || !off->is_array() || off->size() != 2)
      throw Error(ctx + ": 'data_offsets' must be an array [begin, end]");
    std::uint64_t begin = 0, end = 0;
    if (!get_u64((*off)[0], begin) || !get_u64((*off)[1], end))
      throw Error(ctx + ": data_offsets must be non-negative integers");
    if (end < begin)
      throw Error(ctx + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  "] end before begin");
    if (end > data_size)
      throw Error(ctx + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  "] out of range: the data section has " + std::to_string(data_size) + " bytes");
    if (end - begin != expected_bytes)
      throw Error(ctx + ": wrong size for dtype " + std::string(dtype_name(*dtype)) +
                  " and shape " + shape_string(view.shape) + ": data_offsets span " +
                  std::to_string(end - begin) + " bytes, expected " +
                  std::to_string(expected_bytes));

    view.data = data + begin;
    view.bytes = static_cast<std::size_t>(end - begin);
    ranges.push_back({begin, end, f.tensors_.size()});
    f.tensors_.push_back(std::move(view));
  }

  // Overlapping tensors would alias each other's data: a corrupt or hostile file.
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const Range* prev = nullptr;  // the non-empty range reaching furthest so far
  for (const auto& r : ranges) {
    if (r.begin == r.end) continue;  // empty tensors occupy no bytes
    if (prev && r.begin < prev->end)
      throw Error(where + ": tensors " + squote(f.tensors_[prev->tensor].name) + " and " +
                  squote(f.tensors_[r.tensor].name) + " overlap (data_offsets [" +
                  std::to_string(prev->begin) + ", " + std::to_string(prev->end) + "] and [" +
                  std::to_string(r.begin) + ", " + std::to_string(r.end) + "])");
    if (!prev || r.end > prev->end) prev = &r;
  }

  // header.items() iterates in key order (nlohmann's object is a std::map): already sorted.
  return f;
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorView& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& t : tensors_) out.push_back(t.name);
  return out;
}

// ---------------------------------------------------------------------------------------
// Conversion

float f16_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1Fu;
  const std::uint32_t mant = h & 0x3FFu;
  std::uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf, or NaN keeping its payload
  } else if (exp != 0) {
    bits = sign | ((exp + (127 - 15)) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;  // +-0
  } else {
    // Subnormal: mant * 2^-24. Shift the leading 1 into the implicit position.
    int e = 127 - 15 + 1;
    std::uint32_t m = mant;
    while (!(m & 0x400u)) {
      m <<= 1;
      --e;
    }
    bits = sign | (static_cast<std::uint32_t>(e) << 23) | ((m & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

float bf16_to_float(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

namespace {
void require_floating(const TensorView& t) {
  if (!is_floating(t.dtype))
    throw Error("tensor " + squote(t.name) + " has dtype " + std::string(dtype_name(t.dtype)) +
                ", expected a floating-point dtype (F32, F16, BF16 or F64)");
}
}  // namespace

void to_float32(const TensorView& t, float* out) {
  require_floating(t);
  const std::size_t n = static_cast<std::size_t>(t.numel());
  // The mapping gives no alignment guarantee for t.data: read through memcpy.
  switch (t.dtype) {
    case DType::F32:
      if (n) std::memcpy(out, t.data, n * sizeof(float));
      return;
    case DType::F16:
    case DType::BF16: {
      const bool f16 = t.dtype == DType::F16;
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t b;
        std::memcpy(&b, t.data + 2 * i, 2);
        out[i] = f16 ? f16_to_float(b) : bf16_to_float(b);
      }
      return;
    }
    case DType::F64:
      for (std::size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, t.data + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      return;
    default:
      return;  // unreachable: require_floating
  }
}

std::vector<float> to_float32(const TensorView& t) {
  require_floating(t);
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  to_float32(t, out.data());
  return out;
}

// ---------------------------------------------------------------------------------------
// SafetensorsWriter

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<std::int64_t> shape,
                            const void* data, std::size_t bytes) {
  if (name == "__metadata__") throw Error("safetensors writer: '__metadata__' is a reserved name");
  if (tensors_.count(name))
    throw Error("safetensors writer: tensor " + squote(name) + " added twice");
  std::uint64_t numel = 1, expected = 0;
  bool overflow = false;
  for (auto d : shape) {
    if (d < 0)
      throw Error("safetensors writer: tensor " + squote(name) + " has a negative dimension");
    overflow = __builtin_mul_overflow(numel, static_cast<std::uint64_t>(d), &numel) || overflow;
  }
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) {
    numel = 0;  // empty, however large the other dimensions
  } else if (overflow || numel > static_cast<std::uint64_t>(INT64_MAX)) {
    throw Error("safetensors writer: tensor " + squote(name) + " is too large");
  }
  if (__builtin_mul_overflow(numel, dtype_size(dtype), &expected) || expected != bytes)
    throw Error("safetensors writer: tensor " + squote(name) + " with dtype " +
                std::string(dtype_name(dtype)) + " and shape " + shape_string(shape) + " needs " +
                std::to_string(expected) + " bytes, got " + std::to_string(bytes));
  Entry e{dtype, std::move(shape),
          bytes ? std::string(static_cast<const char*>(data), bytes) : std::string()};
  tensors_.insert_or_assign(std::move(name), std::move(e));
}

void SafetensorsWriter::add_f32(std::string name, std::vector<std::int64_t> shape,
                                const std::vector<float>& values) {
  add(std::move(name), DType::F32, std::move(shape), values.data(), values.size() * sizeof(float));
}

void SafetensorsWriter::metadata(std::string key, std::string value) {
  metadata_.insert_or_assign(std::move(key), std::move(value));
}

std::string SafetensorsWriter::serialize() const {
  // Key order and formatting follow the Python reference writer (ref_bert.py): tensors by
  // name, each {"dtype","shape","data_offsets"}, then "__metadata__"; compact separators;
  // non-ASCII escaped. The same tensors therefore give byte-identical files.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, e] : tensors_) {
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = std::string(dtype_name(e.dtype));
    entry["shape"] = e.shape;
    entry["data_offsets"] = {offset, offset + e.data.size()};
    header[name] = std::move(entry);
    offset += e.data.size();
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::string text;
  try {
    text = header.dump(-1, ' ', /*ensure_ascii=*/true);
  } catch (const nlohmann::json::type_error&) {
    throw Error("safetensors writer: a tensor name or metadata string is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + text.size() + offset);
  const std::uint64_t n = text.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += text;
  for (const auto& [name, e] : tensors_) out += e.data;
  return out;
}

void SafetensorsWriter::write(const fs::path& path) const {
  const std::string bytes = serialize();
  fs::path tmp = path;
  tmp += ".tmp";
  const std::string where = tmp.string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot create '" + where + "': " + sys_error());
  auto fail = [&](const std::string& what) {
    const std::string msg = what + " '" + where + "': " + sys_error();
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(msg);
  };
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("cannot write");
    }
    done += static_cast<std::size_t>(w);
  }
  // Durable before it becomes visible under the final name.
  if (::fsync(fd) != 0) fail("cannot flush");
  const int rc = ::close(fd);
  fd = -1;
  if (rc != 0) fail("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string msg =
        "cannot rename '" + where + "' to '" + path.string() + "': " + sys_error();
    ::unlink(tmp.c_str());
    throw Error(msg);
  }
}

// ---------------------------------------------------------------------------------------
// WeightStore

namespace {

class SafetensorsWeightFile final : public WeightFile {
 public:
  explicit SafetensorsWeightFile(SafetensorsFile f) : f_(std::move(f)) {}
  const fs::path& path() const override { return f_.path(); }
  std::size_t file_size() const override { return f_.file_size(); }
  const std::vector<TensorView>& tensors() const override { return f_.tensors(); }
  const TensorView* find(std::string_view name) const override { return f_.find(name); }
  std::string_view format() const override { return "safetensors"; }
  void close() override { f_.close(); }

 private:
  SafetensorsFile f_;
};

class TorchWeightFile final : public WeightFile {
 public:
  explicit TorchWeightFile(TorchCheckpoint f) : f_(std::move(f)) {}
  const fs::path& path() const override { return f_.path(); }
  std::size_t file_size() const override { return f_.file_size(); }
  const std::vector<TensorView>& tensors() const override { return f_.tensors(); }
  const TensorView* find(std::string_view name) const override { return f_.find(name); }
  std::string_view format() const override { return f_.format(); }
  void close() override { f_.close(); }

 private:
  TorchCheckpoint f_;
};

std::unique_ptr<WeightFile> open_safetensors(const fs::path& p) {
  return std::make_unique<SafetensorsWeightFile>(SafetensorsFile::open(p));
}
std::unique_ptr<WeightFile> open_torch(const fs::path& p, bool strip_module_prefix) {
  return std::make_unique<TorchWeightFile>(TorchCheckpoint::open(p, {strip_module_prefix}));
}

// The folder's *.pth / *.pt regular files, sorted.
std::vector<fs::path> bare_state_dicts(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto ext = e.path().extension();
    if ((ext == ".pth" || ext == ".pt") && e.is_regular_file(ec)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

WeightStore WeightStore::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw Error("model folder '" + dir.string() + "' does not exist");
  if (!fs::is_directory(dir, ec)) throw Error("'" + dir.string() + "' is not a folder");

  WeightStore store;
  store.dir_ = dir;

  // A shard index: {"weight_map": {tensor: shard file}}, each shard opened with `open_file`.
  auto open_index = [&](const fs::path& index,
                        const std::function<std::unique_ptr<WeightFile>(const fs::path&)>&
                            open_file) {
    store.source_ = index;
    store.sharded_ = true;
    const std::string where = index.string();
    const json j = parse_checking_duplicates(read_file(index, "weight index"), where, "weight_map",
                                             "weight_map entry");
    if (!j.is_object()) throw Error(where + ": must hold a JSON object");
    const auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object())
      throw Error(where + ": missing or non-object 'weight_map'");
    if (wm->empty()) throw Error(where + ": 'weight_map' is empty");

    // Each shard opened once, in the order the (name-sorted) weight_map first mentions it.
    std::map<std::string, std::size_t> shard_index;
    std::vector<std::pair<std::string, std::string>> mapping;  // tensor -> shard file
    for (const auto& [name, file] : wm->items()) {
      if (!file.is_string())
        throw Error(where + ": weight_map entry " + squote(name) + " must be a file name string");
      const std::string shard = file.get<std::string>();
      const fs::path rel(shard);
      if (shard.empty() || rel.is_absolute() ||
          std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; }))
        throw Error(where + ": weight_map entry " + squote(name) + " names shard " + squote(shard) +
                    ", which is not a file inside the model folder");
      if (!shard_index.count(shard)) {
        const fs::path p = dir / rel;
        if (!fs::is_regular_file(p, ec))
          throw Error(where + ": shard " + squote(shard) + " (for tensor " + squote(name) +
                      ") does not exist in '" + dir.string() + "'");
        shard_index.emplace(shard, store.files_.size());
        store.files_.push_back(open_file(p));
      }
      mapping.emplace_back(name, shard);
    }
    for (const auto& [name, shard] : mapping) {
      if (!store.files_[shard_index.at(shard)]->find(name))
        throw Error(where + ": weight_map puts tensor " + squote(name) + " in shard " +
                    squote(shard) + ", which does not contain it");
    }
  };
  auto open_single = [&](const fs::path& file,
                         std::unique_ptr<WeightFile> (*open_file)(const fs::path&)) {
    store.source_ = file;
    store.files_.push_back(open_file(file));
  };

  // Safetensors first, then PyTorch files, as transformers' from_pretrained.
  if (const fs::path p = dir / "model.safetensors"; fs::exists(p, ec)) {
    open_single(p, open_safetensors);
  } else if (const fs::path i = dir / "model.safetensors.index.json"; fs::exists(i, ec)) {
    open_index(i, open_safetensors);
  } else if (const fs::path b = dir / "pytorch_model.bin"; fs::exists(b, ec)) {
    open_single(b, [](const fs::path& f) { return open_torch(f, true); });
  } else if (const fs::path bi = dir / "pytorch_model.bin.index.json"; fs::exists(bi, ec)) {
    open_index(bi, [](const fs::path& f) { return open_torch(f, false); });
  } else if (const auto pth = bare_state_dicts(dir); pth.size() == 1) {
    open_single(pth[0], [](const fs::path& f) { return open_torch(f, true); });
  } else if (pth.size() > 1) {
    std::string list;
    for (const auto& f : pth) list += (list.empty() ? "" : ", ") + f.filename().string();
    throw Error(
        "model folder '" + dir.string() +
        "' has no model.safetensors or pytorch_model.bin "
        "and several PyTorch files (" +
        list +
        "); it is ambiguous which holds the weights: keep one, or name it pytorch_model.bin");
  } else {
    throw Error("model folder '" + dir.string() +
                "' has no weights: expected model.safetensors or model.safetensors.index.json "
                "(or pytorch_model.bin, pytorch_model.bin.index.json, or a single *.pth / *.pt "
                "state dict)");
  }

  for (std::size_t i = 0; i < store.files_.size(); ++i) {
    for (const auto& t : store.files_[i]->tensors()) {
      auto [it, inserted] = store.index_.try_emplace(t.name, i, &t);
      if (!inserted)
        throw Error(store.source_.string() + ": tensor " + squote(t.name) + " appears in both '" +
                    store.files_[it->second.first]->path().string() + "' and '" +
                    store.files_[i]->path().string() + "'");
    }
  }
  return store;
}

const TensorView* WeightStore::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second.second;
}

const fs::path& WeightStore::file_of(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end())
    throw Error(source_.string() + ": no tensor " + squote(std::string(name)));
  return files_[it->second.first]->path();
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [name, loc] : index_) out.push_back(name);
  return out;
}

std::uintmax_t WeightStore::bytes_on_disk() const {
  std::uintmax_t total = 0;
  for (const auto& f : files_) total += f->file_size();
  return total;
}

std::string_view WeightStore::format() const {
  return files_.empty() ? std::string_view() : files_.front()->format();
}

void WeightStore::close() {
  index_.clear();
  for (auto& f : files_) f->close();
  files_.clear();
}

}  // namespace encore::io

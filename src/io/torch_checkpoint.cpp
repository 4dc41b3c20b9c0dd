#include "io/torch_checkpoint.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include "encore/error.hpp"
#include "io/mapped_file.hpp"
#include "io/pickle.hpp"
#include "io/zip_archive.hpp"

namespace encore::io {

namespace fs = std::filesystem;
using pickle::Kind;
using pickle::Value;

namespace {

std::string squote(const std::string& s) {
  return "'" + s + "'";
}

constexpr std::size_t kMaxDims = 64;

// torch.<Name>Storage -> element type.
std::optional<DType> storage_dtype(const std::string& name) {
  static const std::pair<std::string_view, DType> kTypes[] = {
      {"FloatStorage", DType::F32},  {"HalfStorage", DType::F16}, {"BFloat16Storage", DType::BF16},
      {"DoubleStorage", DType::F64}, {"LongStorage", DType::I64}, {"IntStorage", DType::I32},
      {"ShortStorage", DType::I16},  {"CharStorage", DType::I8},  {"ByteStorage", DType::U8},
      {"BoolStorage", DType::BOOL},
  };
  for (const auto& [n, d] : kTypes)
    if (n == name) return d;
  return std::nullopt;
}

// One storage as the pickle declares it.
struct StorageDecl {
  DType dtype;
  std::int64_t numel;
};

// A tensor as the pickle describes it, before its storage's bytes are located.
struct PendingTensor {
  std::string name;
  std::string key;  // storage key (the legacy format's root key)
  DType dtype;
  std::int64_t storage_offset = 0;  // in elements, into the storage (legacy views included)
  std::int64_t view_start = 0;      // a legacy storage view's first element, else 0
  std::int64_t storage_numel = 0;   // elements the tensor may address (a legacy view's size)
  std::vector<std::int64_t> size, stride;
};

// Reads the state dict's tensors; `storages` collects every storage declaration.
class StateDictReader {
 public:
  StateDictReader(const std::string& where, std::map<std::string, StorageDecl>& storages)
      : where_(where), storages_(storages) {}

  std::vector<PendingTensor> read(const Value& file_root) {
    if (file_root.kind != Kind::Dict)
      throw Error(where_ + ": expected a state dict (a dict of tensors), found a " +
                  std::string(pickle::kind_name(file_root.kind)));
    const Value& root = unwrap(file_root);
    // In file order, so that errors name the first bad tensor; a repeated key: the last
    // value wins, as in Python.
    std::vector<PendingTensor> out;
    std::map<std::string, std::size_t> index;
    for (const auto& [k, v] : root.entries) {
      if (!is_tensor(*v)) continue;  // e.g. a config value or an _extra_state object
      if (k->kind != Kind::String)
        throw Error(where_ + ": a tensor in the state dict has a key of type " +
                    std::string(pickle::kind_name(k->kind)) + ", expected a string");
      PendingTensor t = tensor(k->str, *v);
      auto [it, inserted] = index.try_emplace(k->str, out.size());
      if (inserted)
        out.push_back(std::move(t));
      else
        out[it->second] = std::move(t);
    }
    if (out.empty()) {
      std::string keys;
      for (const auto& [k, v] : root.entries)
        if (k->kind == Kind::String && keys.size() < 200)
          keys += (keys.empty() ? "" : ", ") + squote(k->str);
      throw Error(where_ + ": no tensors in the state dict (its keys: " +
                  (keys.empty() ? "none" : keys) + ")");
    }
    return out;
  }

 private:
  static bool is_tensor(const Value& v) {
    return v.kind == Kind::Call && v.items[0]->name.starts_with("_rebuild_");
  }

  static bool holds_tensors(const Value& d) {
    return d.kind == Kind::Dict && std::any_of(d.entries.begin(), d.entries.end(),
                                               [](const auto& e) { return is_tensor(*e.second); });
  }

  // A training checkpoint wraps the weights beside other state, e.g. torch.save({"epoch": 3,
  // "state_dict": model.state_dict(), "optimizer": ...}): a dict without tensors of its own
  // is looked into under the keys such scripts use (the first that holds tensors).
  static const Value& unwrap(const Value& root) {
    if (holds_tensors(root)) return root;
    for (const char* key : {"state_dict", "model_state_dict", "model", "module", "net"})
      for (const auto& [k, v] : root.entries)
        if (k->kind == Kind::String && k->str == key && holds_tensors(*v)) return *v;
    return root;
  }

  [[noreturn]] void bad(const std::string& name, const std::string& what) const {
    throw Error(where_ + ": tensor " + squote(name) + ": " + what);
  }

  std::int64_t integer(const std::string& name, const Value* v, const char* what) const {
    if (v->kind != Kind::Int) bad(name, std::string(what) + " must be an integer");
    return v->integer;
  }

  std::vector<std::int64_t> int_tuple(const std::string& name, const Value* v,
                                      const char* what) const {
    if (v->kind != Kind::Tuple && v->kind != Kind::List)
      bad(name, std::string(what) + " must be a tuple of integers");
    if (v->items.size() > kMaxDims)
      bad(name, std::string(what) + " has more than " + std::to_string(kMaxDims) + " dimensions");
    std::vector<std::int64_t> out;
    for (const Value* d : v->items) {
      const std::int64_t x = integer(name, d, what);
      if (x < 0) bad(name, std::string(what) + " " + shape_string({x}) + " is negative");
      out.push_back(x);
    }
    return out;
  }

  PendingTensor tensor(const std::string& name, const Value& v) {
    // _rebuild_parameter(data, requires_grad, backward_hooks) wraps a tensor; unwrap a few
    // levels iteratively (never recursively: the nesting is untrusted).
    const Value* call = &v;
    for (int depth = 0; call->items[0]->name == "_rebuild_parameter"; ++depth) {
      const auto& args = call->items[1]->items;
      if (depth >= 4 || args.empty() || !is_tensor(*args[0]))
        bad(name, "_rebuild_parameter without a tensor argument");
      call = args[0];
    }
    // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
    // _rebuild_tensor(storage, offset, size, stride)
    const auto& args = call->items[1]->items;
    if (args.size() < 4) bad(name, call->items[0]->name + " with fewer than 4 arguments");
    PendingTensor t;
    t.name = name;
    storage(t, *args[0]);
    const std::int64_t offset = integer(name, args[1], "storage offset");
    if (offset < 0) bad(name, "negative storage offset " + std::to_string(offset));
    t.size = int_tuple(name, args[2], "size");
    t.stride = int_tuple(name, args[3], "stride");
    if (t.size.size() != t.stride.size())
      bad(name, "size " + shape_string(t.size) + " and stride " + shape_string(t.stride) +
                    " have different lengths");
    if (__builtin_add_overflow(t.storage_offset, offset, &t.storage_offset))
      bad(name, "storage offset overflows");
    return t;
  }

  // The persistent id ('storage', torch.XStorage, key, location, numel[, view_metadata]).
  void storage(PendingTensor& t, const Value& pid) {
    if (pid.kind != Kind::PersistentId) bad(t.name, "the storage is not a persistent id");
    const Value& tup = *pid.items[0];
    if (tup.kind != Kind::Tuple || tup.items.size() < 5 || tup.items[0]->kind != Kind::String ||
        tup.items[0]->str != "storage")
      bad(t.name,
          "unrecognised storage persistent id (expected ('storage', type, key, "
          "location, numel))");
    const Value& type = *tup.items[1];
    const auto dtype = type.kind == Kind::Global ? storage_dtype(type.name) : std::nullopt;
    if (!dtype) bad(t.name, "the storage type is not a torch.*Storage class");
    if (tup.items[2]->kind != Kind::String) bad(t.name, "the storage key is not a string");
    t.key = tup.items[2]->str;
    t.dtype = *dtype;
    const std::int64_t numel = integer(t.name, tup.items[4], "storage size");
    if (numel < 0) bad(t.name, "negative storage size");
    auto [it, inserted] = storages_.try_emplace(t.key, StorageDecl{*dtype, numel});
    if (!inserted && (it->second.dtype != *dtype || it->second.numel != numel))
      bad(t.name, "storage " + squote(t.key) + " is declared as " +
                      std::to_string(it->second.numel) + " " +
                      std::string(dtype_name(it->second.dtype)) + " elements and as " +
                      std::to_string(numel) + " " + std::string(dtype_name(*dtype)));
    t.storage_numel = numel;
    // The legacy format's view_metadata (view_key, offset, size): a slice of the root storage.
    if (tup.items.size() >= 6 && tup.items[5]->kind != Kind::None) {
      const Value& view = *tup.items[5];
      if (view.kind != Kind::Tuple || view.items.size() != 3)
        bad(t.name, "malformed storage view metadata");
      const std::int64_t off = integer(t.name, view.items[1], "storage view offset");
      const std::int64_t len = integer(t.name, view.items[2], "storage view size");
      if (off < 0 || len < 0 || off > numel || len > numel - off)
        bad(t.name, "storage view [" + std::to_string(off) + ", +" + std::to_string(len) +
                        ") lies outside storage " + squote(t.key) + " of " + std::to_string(numel) +
                        " elements");
      t.view_start = t.storage_offset = off;
      t.storage_numel = len;
    }
  }

  const std::string& where_;
  std::map<std::string, StorageDecl>& storages_;
};

// Turns pending tensors into views (or owned copies) given each storage's bytes.
void build_views(const std::string& where, std::vector<PendingTensor>& pending,
                 const std::map<std::string, std::span<const std::byte>>& storage_bytes,
                 std::size_t copy_budget, std::vector<TensorView>& out,
                 std::vector<std::unique_ptr<std::byte[]>>& owned) {
  std::size_t copied = 0;
  for (auto& t : pending) {
    const std::string ctx = where + ": tensor " + squote(t.name);
    const std::size_t elem = dtype_size(t.dtype);
    const std::byte* base = storage_bytes.at(t.key).data();
    TensorView view;
    view.name = std::move(t.name);
    view.dtype = t.dtype;
    view.shape = t.size;

    const bool empty = std::find(t.size.begin(), t.size.end(), 0) != t.size.end();
    std::int64_t numel = 1;
    std::int64_t extent = 0;  // index of the last element addressed, relative to the offset
    bool overflow = false;
    for (std::size_t i = 0; i < t.size.size() && !empty; ++i) {
      std::int64_t step = 0;
      overflow = overflow || __builtin_mul_overflow(t.size[i], numel, &numel) ||
                 __builtin_mul_overflow(t.size[i] - 1, t.stride[i], &step) ||
                 __builtin_add_overflow(extent, step, &extent);
    }
    std::uint64_t bytes = 0;
    if (!empty &&
        (overflow || __builtin_mul_overflow(static_cast<std::uint64_t>(numel), elem, &bytes)))
      throw Error(ctx + ": size " + shape_string(t.size) + " with stride " +
                  shape_string(t.stride) + " overflows");
    if (empty) {
      // As torch: an empty tensor addresses no storage, wherever it points.
      view.data = base;
      view.bytes = 0;
      out.push_back(std::move(view));
      continue;
    }
    // Elements of its storage (a legacy view: of that view) the tensor reaches.
    const std::int64_t offset = t.storage_offset - t.view_start;
    std::int64_t needed = 0;
    const bool huge = __builtin_add_overflow(offset, extent, &needed) ||
                      __builtin_add_overflow(needed, std::int64_t{1}, &needed);
    if (huge || needed > t.storage_numel)
      throw Error(ctx + ": offset " + std::to_string(offset) + ", size " + shape_string(t.size) +
                  ", stride " + shape_string(t.stride) + " needs " +
                  (huge ? std::string("over 2^63") : std::to_string(needed)) +
                  " elements of storage " + squote(t.key) + ", which holds " +
                  std::to_string(t.storage_numel) + " (out of bounds; refusing the file)");

    bool contiguous = true;
    std::int64_t expected = 1;
    for (std::size_t i = t.size.size(); i-- > 0;) {
      if (t.size[i] != 1 && t.stride[i] != expected) contiguous = false;
      expected *= t.size[i];  // cannot overflow: bounded by numel
    }
    const std::byte* start = base + static_cast<std::size_t>(t.storage_offset) * elem;
    if (contiguous) {
      view.data = start;
      view.bytes = static_cast<std::size_t>(bytes);
      out.push_back(std::move(view));
      continue;
    }
    // A strided view (e.g. a transposed weight saved as is): copy it contiguous. Overlapping
    // views (stride 0 broadcasts) could expand a small file into terabytes, so the copy may
    // not exceed the storage, and all copies together not the budget.
    if (numel > t.storage_numel || bytes > copy_budget - copied)
      throw Error(ctx + ": non-contiguous tensor (size " + shape_string(t.size) + ", stride " +
                  shape_string(t.stride) +
                  ") larger than its storage or than the copy budget; refusing to expand it");
    copied += static_cast<std::size_t>(bytes);
    auto buf = std::make_unique<std::byte[]>(static_cast<std::size_t>(bytes));
    std::vector<std::int64_t> index(t.size.size(), 0);
    std::int64_t src = 0;  // element offset from `start`
    for (std::int64_t n = 0; n < numel; ++n) {
      std::memcpy(buf.get() + static_cast<std::size_t>(n) * elem,
                  start + static_cast<std::size_t>(src) * elem, elem);
      for (std::size_t d = t.size.size(); d-- > 0;) {  // odometer over the index
        if (++index[d] < t.size[d]) {
          src += t.stride[d];
          break;
        }
        src -= (t.size[d] - 1) * t.stride[d];
        index[d] = 0;
      }
    }
    view.data = buf.get();
    view.bytes = static_cast<std::size_t>(bytes);
    owned.push_back(std::move(buf));
    out.push_back(std::move(view));
  }
}

void strip_module_prefix(std::vector<TensorView>& tensors) {
  constexpr std::string_view kPrefix = "module.";
  if (tensors.empty()) return;
  for (const auto& t : tensors)
    if (!t.name.starts_with(kPrefix)) return;
  for (auto& t : tensors) t.name.erase(0, kPrefix.size());
}

std::span<const std::byte> storage_in_legacy(const std::string& where, const std::string& key,
                                             const StorageDecl& decl,
                                             std::span<const std::byte> bytes, std::size_t& pos) {
  const std::string ctx = where + ": storage " + squote(key);
  if (bytes.size() - pos < 8)
    throw Error(ctx + ": truncated file: no element count at byte " + std::to_string(pos));
  std::uint64_t count = 0;
  for (std::size_t i = 8; i-- > 0;)
    count = (count << 8) | static_cast<std::uint64_t>(bytes[pos + i]);
  pos += 8;
  if (count != static_cast<std::uint64_t>(decl.numel))
    throw Error(ctx + ": the file holds " + std::to_string(count) +
                " elements, the pickle declares " + std::to_string(decl.numel));
  std::uint64_t n = 0;
  if (__builtin_mul_overflow(count, dtype_size(decl.dtype), &n) || n > bytes.size() - pos)
    throw Error(ctx + ": truncated file: " + std::to_string(count) + " " +
                std::string(dtype_name(decl.dtype)) + " elements at byte " + std::to_string(pos) +
                " run past its end (" + std::to_string(bytes.size()) + " bytes)");
  const auto s = bytes.subspan(pos, static_cast<std::size_t>(n));
  pos += static_cast<std::size_t>(n);
  return s;
}

void check_bytes(const std::string& ctx, const StorageDecl& decl, std::size_t have) {
  std::uint64_t want = 0;
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(decl.numel), dtype_size(decl.dtype),
                             &want) ||
      want != have)
    throw Error(ctx + " holds " + std::to_string(have) + " bytes, but the pickle declares " +
                std::to_string(decl.numel) + " " + std::string(dtype_name(decl.dtype)) +
                " elements");
}

}  // namespace

TorchCheckpoint TorchCheckpoint::parse(std::span<const std::byte> bytes, std::string where,
                                       const Options& options) {
  TorchCheckpoint c;
  c.path_ = where;
  c.size_ = bytes.size();
  c.open_ = true;

  std::map<std::string, StorageDecl> storages;
  std::vector<PendingTensor> pending;
  std::map<std::string, std::span<const std::byte>> storage_bytes;

  if (ZipArchive::looks_like_zip(bytes)) {
    c.format_ = "torch zip";
    const ZipArchive zip = ZipArchive::parse(bytes, where);
    if (zip.entries().empty()) throw Error(where + ": empty zip archive, not a torch checkpoint");
    // As torch's reader: the archive's folder is the first entry's top-level directory
    // ("archive", or the file's stem for save_pretrained).
    const std::string& first = zip.entries().front().name;
    const auto slash = first.find('/');
    if (slash == std::string::npos || slash == 0)
      throw Error(where + ": zip entry " + squote(first) +
                  " is not inside a folder; not a torch checkpoint");
    const std::string prefix = first.substr(0, slash + 1);
    const ZipArchive::Entry* pkl = zip.find(prefix + "data.pkl");
    if (!pkl)
      throw Error(where + ": no " + squote(prefix + "data.pkl") +
                  " in the zip archive; not a torch checkpoint");
    if (const auto* order = zip.find(prefix + "byteorder")) {
      const auto d = zip.data(*order);
      const std::string_view s(reinterpret_cast<const char*>(d.data()), d.size());
      if (s != "little")
        throw Error(where + ": byteorder " + squote(std::string(s.substr(0, 16))) +
                    "; only little-endian checkpoints are supported");
    }
    const pickle::Pickle p = pickle::unpickle(zip.data(*pkl), where + ": " + pkl->name);
    pending = StateDictReader(where, storages).read(p.root());
    for (const auto& [key, decl] : storages) {
      const std::string entry = prefix + "data/" + key;
      const ZipArchive::Entry* e = zip.find(entry);
      if (!e) throw Error(where + ": storage " + squote(key) + ": no entry " + squote(entry));
      const auto d = zip.data(*e);
      check_bytes(where + ": storage " + squote(key) + " (entry " + squote(entry) + ")", decl,
                  d.size());
      storage_bytes.emplace(key, d);
    }
  } else if (bytes.size() >= 262 && std::memcmp(bytes.data() + 257, "ustar", 5) == 0) {
    // torch < 0.4 wrote a tar archive (members sys_info, pickle, storages, tensors). It is
    // refused without reading any member: its pickles could only be run by trusting them.
    throw Error(where +
                ": a pre-0.4 PyTorch tar checkpoint; this format is not supported (its pickle "
                "was not read). Re-save it with a current torch.save or as safetensors");
  } else if (!bytes.empty() && bytes[0] == std::byte{0x80}) {
    c.format_ = "torch legacy";
    std::size_t pos = 0;
    auto next = [&](const char* what) {
      pickle::Pickle p = pickle::unpickle(bytes.subspan(pos), where + ": " + what + " pickle");
      pos += p.end_offset();
      return p;
    };
    {
      const pickle::Pickle magic = next("magic number");
      // 0x1950a86a20f9469cfc6c, little-endian, as LONG1 stores it.
      static constexpr unsigned char kMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                                 0x20, 0x6a, 0xa8, 0x50, 0x19};
      const Value& m = magic.root();
      if (m.kind != Kind::BigInt || m.str.size() != sizeof kMagic ||
          std::memcmp(m.str.data(), kMagic, sizeof kMagic) != 0)
        throw Error(where + ": not a PyTorch checkpoint (a pickle without torch's magic number)");
    }
    {
      const pickle::Pickle proto = next("protocol version");
      if (proto.root().kind != Kind::Int || proto.root().integer != 1001)
        throw Error(where + ": unsupported legacy torch protocol version");
    }
    {
      const pickle::Pickle info = next("sys_info");
      if (info.root().kind == Kind::Dict)
        for (const auto& [k, v] : info.root().entries)
          if (k->kind == Kind::String && k->str == "little_endian" && v->kind == Kind::Bool &&
              !v->boolean)
            throw Error(where + ": a big-endian checkpoint; only little-endian ones are supported");
    }
    const pickle::Pickle dict = next("state dict");
    pending = StateDictReader(where, storages).read(dict.root());
    const pickle::Pickle keys = next("storage keys");
    if (keys.root().kind != Kind::List)
      throw Error(where + ": the storage key list is a " +
                  std::string(pickle::kind_name(keys.root().kind)) + ", expected a list");
    for (const Value* k : keys.root().items) {
      if (k->kind != Kind::String) throw Error(where + ": a storage key is not a string");
      const auto decl = storages.find(k->str);
      // Without the declaration the element size, hence the record's length, is unknown.
      if (decl == storages.end())
        throw Error(where + ": storage " + squote(k->str) +
                    " is listed but no tensor uses it; cannot locate the storages after it");
      if (storage_bytes.count(k->str))
        throw Error(where + ": storage " + squote(k->str) + " is listed twice");
      storage_bytes.emplace(k->str, storage_in_legacy(where, k->str, decl->second, bytes, pos));
    }
    for (const auto& [key, decl] : storages)
      if (!storage_bytes.count(key))
        throw Error(where + ": storage " + squote(key) + " is used but missing from the file");
  } else {
    throw Error(where +
                ": not a PyTorch checkpoint (neither a torch zip archive nor a legacy "
                "torch.save pickle)");
  }

  build_views(where, pending, storage_bytes, bytes.size() * 2 + (1u << 20), c.tensors_, c.owned_);
  if (options.strip_module_prefix) strip_module_prefix(c.tensors_);
  std::sort(c.tensors_.begin(), c.tensors_.end(),
            [](const TensorView& a, const TensorView& b) { return a.name < b.name; });
  return c;
}

TorchCheckpoint TorchCheckpoint::open(const fs::path& path, const Options& options) {
  const std::string where = path.string();
  MappedFile map = MappedFile::open(path, "PyTorch checkpoint");
  if (map.size() == 0) throw Error(where + ": empty file, not a PyTorch checkpoint");
  TorchCheckpoint c = parse(map.bytes(), where, options);  // `map` unmaps if this throws
  c.path_ = path;
  c.map_ = std::move(map);
  return c;
}

TorchCheckpoint::TorchCheckpoint(TorchCheckpoint&& o) noexcept
    : path_(std::move(o.path_)),
      map_(std::move(o.map_)),
      size_(std::exchange(o.size_, 0)),
      open_(std::exchange(o.open_, false)),
      format_(o.format_),
      tensors_(std::move(o.tensors_)),
      owned_(std::move(o.owned_)) {
  o.tensors_.clear();
  o.owned_.clear();
}

TorchCheckpoint& TorchCheckpoint::operator=(TorchCheckpoint&& o) noexcept {
  if (this != &o) {
    close();
    path_ = std::move(o.path_);
    map_ = std::move(o.map_);
    size_ = std::exchange(o.size_, 0);
    open_ = std::exchange(o.open_, false);
    format_ = o.format_;
    tensors_ = std::move(o.tensors_);
    owned_ = std::move(o.owned_);
    o.tensors_.clear();
    o.owned_.clear();
  }
  return *this;
}

TorchCheckpoint::~TorchCheckpoint() {
  close();
}

void TorchCheckpoint::close() {
  map_.reset();
  size_ = 0;
  open_ = false;
  tensors_.clear();
  owned_.clear();
}

const TensorView* TorchCheckpoint::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorView& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

std::vector<std::string> TorchCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& t : tensors_) out.push_back(t.name);
  return out;
}

}  // namespace encore::io

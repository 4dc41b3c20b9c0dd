#include "io/pickle.hpp"

#include <bit>
#include <cstring>
#include <unordered_map>

#include "encore/error.hpp"

namespace encore::io::pickle {

namespace {

// What torch.save puts in a state dict's pickle, and nothing else. `callable`: REDUCE /
// NEWOBJ may apply it (recorded as a Call node, interpreted by torch_checkpoint.cpp).
struct AllowedGlobal {
  std::string_view module, name;
  bool callable;
};
constexpr AllowedGlobal kAllowed[] = {
    {"collections", "OrderedDict", true},
    {"torch._utils", "_rebuild_tensor_v2", true},
    {"torch._utils", "_rebuild_tensor", true},
    {"torch._utils", "_rebuild_parameter", true},
    {"torch", "FloatStorage", false},
    {"torch", "HalfStorage", false},
    {"torch", "BFloat16Storage", false},
    {"torch", "DoubleStorage", false},
    {"torch", "LongStorage", false},
    {"torch", "IntStorage", false},
    {"torch", "ShortStorage", false},
    {"torch", "CharStorage", false},
    {"torch", "ByteStorage", false},
    {"torch", "BoolStorage", false},
    {"torch", "float32", false},
    {"torch", "float16", false},
    {"torch", "bfloat16", false},
    {"torch", "float64", false},
    {"torch", "int64", false},
    {"torch", "int32", false},
    {"torch", "int16", false},
    {"torch", "int8", false},
    {"torch", "uint8", false},
    {"torch", "bool", false},
};

const AllowedGlobal* find_allowed(std::string_view module, std::string_view name) {
  for (const auto& g : kAllowed)
    if (g.module == module && g.name == name) return &g;
  return nullptr;
}

// Printable form of untrusted bytes for error messages: control and non-ASCII bytes as
// \xNN, cut at 80 characters.
std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : s.substr(0, 80)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  if (s.size() > 80) out += "...";
  return out;
}

class Machine {
 public:
  Machine(std::span<const std::byte> bytes, const std::string& where, const Limits& limits,
          std::deque<Value>& arena)
      : p_(bytes), where_(where), limits_(limits), arena_(arena) {}

  // Runs to STOP; returns the root and the offset after STOP.
  std::pair<const Value*, std::size_t> run();

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(where_ + ": pickle error at byte " + std::to_string(op_pos_) + ": " + what);
  }

  const std::byte* take(std::uint64_t n) {
    if (n > p_.size() - pos_)
      fail("truncated pickle: needs " + std::to_string(n) + " more bytes, " +
           std::to_string(p_.size() - pos_) + " left");
    const std::byte* r = p_.data() + pos_;
    pos_ += static_cast<std::size_t>(n);
    return r;
  }
  std::uint64_t le(std::size_t n) {
    const std::byte* b = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | static_cast<std::uint64_t>(b[i]);
    return v;
  }

  Value* make(Kind kind) {
    if (arena_.size() >= limits_.max_nodes)
      fail("more than " + std::to_string(limits_.max_nodes) + " values");
    arena_.emplace_back();
    arena_.back().kind = kind;
    return &arena_.back();
  }
  void push(Value* v) {
    if (stack_.size() >= limits_.max_stack)
      fail("stack deeper than " + std::to_string(limits_.max_stack) + " values");
    stack_.push_back(v);
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Value* pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  // Values above the innermost MARK, removing them and the mark.
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }

  void memo_put(std::uint64_t index, Value* v) {
    if (memo_.size() >= limits_.max_memo && !memo_.count(index))
      fail("memo larger than " + std::to_string(limits_.max_memo) + " entries");
    memo_[index] = v;
  }
  Value* memo_get(std::uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo index " + std::to_string(index) + " was never stored");
    return it->second;
  }

  Value* string_value(Kind kind, std::uint64_t len) {
    const std::byte* b = take(len);  // checks len against what is left first
    Value* v = make(kind);
    v->str.assign(reinterpret_cast<const char*>(b), static_cast<std::size_t>(len));
    return v;
  }

  Value* global(const std::string& module, const std::string& name) {
    const AllowedGlobal* g = find_allowed(module, name);
    if (!g)
      fail("refusing to load: the pickle references global '" + printable(module) + "." +
           printable(name) +
           "', which is not a tensor, storage or OrderedDict (only those are allowed; "
           "nothing in the file was executed)");
    Value* v = make(Kind::Global);
    v->str = module;
    v->name = name;
    return v;
  }

  // REDUCE / NEWOBJ: `callable` applied to `args`, without calling anything.
  Value* call(Value* callable, Value* args, const char* op) {
    if (callable->kind != Kind::Global)
      fail(std::string(op) + " applied to a " + std::string(kind_name(callable->kind)) +
           ", expected an allowed global");
    if (args->kind != Kind::Tuple)
      fail(std::string(op) + " arguments must be a tuple, found a " +
           std::string(kind_name(args->kind)));
    const AllowedGlobal* g = find_allowed(callable->str, callable->name);
    if (!g || !g->callable)
      fail(std::string(op) + " applied to '" + callable->str + "." + callable->name +
           "', which is data, not a constructor");
    if (callable->name == "OrderedDict") {
      if (!args->items.empty()) fail("OrderedDict() with arguments is not supported");
      return make(Kind::Dict);
    }
    Value* v = make(Kind::Call);
    v->items = {callable, args};
    return v;
  }

  std::span<const std::byte> p_;
  const std::string& where_;
  const Limits& limits_;
  std::deque<Value>& arena_;
  std::size_t pos_ = 0, op_pos_ = 0;
  std::vector<Value*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Value*> memo_;
};

std::pair<const Value*, std::size_t> Machine::run() {
  while (true) {
    op_pos_ = pos_;
    if (pos_ >= p_.size()) fail("truncated pickle: no STOP opcode");
    const auto op = static_cast<unsigned char>(p_[pos_++]);
    switch (op) {
      case 0x80: {  // PROTO
        const auto proto = le(1);
        if (proto > 5) fail("unsupported pickle protocol " + std::to_string(proto));
        break;
      }
      case 0x95:  // FRAME: a length hint only
        (void)le(8);
        break;
      case '.': {  // STOP
        if (stack_.empty()) fail("STOP with an empty stack");
        return {stack_.back(), pos_};
      }
      case '(':  // MARK
        if (marks_.size() >= limits_.max_marks)
          fail("MARKs nested deeper than " + std::to_string(limits_.max_marks));
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP
        (void)pop();
        break;
      case '}':
        push(make(Kind::Dict));
        break;
      case ']':
        push(make(Kind::List));
        break;
      case ')':
        push(make(Kind::Tuple));
        break;
      case 'q':  // BINPUT
        memo_put(le(1), top());
        break;
      case 'r':  // LONG_BINPUT
        memo_put(le(4), top());
        break;
      case 0x94:  // MEMOIZE
        memo_put(memo_.size(), top());
        break;
      case 'h':  // BINGET
        push(memo_get(le(1)));
        break;
      case 'j':  // LONG_BINGET
        push(memo_get(le(4)));
        break;
      case 'J': {  // BININT: signed 32-bit
        Value* v = make(Kind::Int);
        v->integer = static_cast<std::int32_t>(static_cast<std::uint32_t>(le(4)));
        push(v);
        break;
      }
      case 'K': {  // BININT1
        Value* v = make(Kind::Int);
        v->integer = static_cast<std::int64_t>(le(1));
        push(v);
        break;
      }
      case 'M': {  // BININT2
        Value* v = make(Kind::Int);
        v->integer = static_cast<std::int64_t>(le(2));
        push(v);
        break;
      }
      case 0x8a: {  // LONG1: n-byte little-endian two's complement
        const auto n = static_cast<std::size_t>(le(1));
        const std::byte* b = take(n);
        if (n > 8) {
          Value* v = make(Kind::BigInt);
          v->str.assign(reinterpret_cast<const char*>(b), n);
          push(v);
          break;
        }
        std::uint64_t u = 0;
        for (std::size_t i = n; i-- > 0;) u = (u << 8) | static_cast<std::uint64_t>(b[i]);
        if (n > 0 && n < 8 && (static_cast<unsigned>(b[n - 1]) & 0x80u))
          u |= ~std::uint64_t{0} << (8 * n);  // sign-extend
        Value* v = make(Kind::Int);
        v->integer = static_cast<std::int64_t>(u);
        push(v);
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const std::byte* b = take(8);
        std::uint64_t u = 0;
        for (std::size_t i = 0; i < 8; ++i) u = (u << 8) | static_cast<std::uint64_t>(b[i]);
        Value* v = make(Kind::Float);
        v->real = std::bit_cast<double>(u);
        push(v);
        break;
      }
      case 'X':  // BINUNICODE
        push(string_value(Kind::String, le(4)));
        break;
      case 0x8c:  // SHORT_BINUNICODE
        push(string_value(Kind::String, le(1)));
        break;
      case 0x8d:  // BINUNICODE8
        push(string_value(Kind::String, le(8)));
        break;
      case 'U':  // SHORT_BINSTRING
        push(string_value(Kind::String, le(1)));
        break;
      case 'T': {  // BINSTRING: signed 32-bit length
        const auto len = static_cast<std::int32_t>(static_cast<std::uint32_t>(le(4)));
        if (len < 0) fail("negative BINSTRING length");
        push(string_value(Kind::String, static_cast<std::uint64_t>(len)));
        break;
      }
      case 'B':  // BINBYTES
        push(string_value(Kind::Bytes, le(4)));
        break;
      case 'C':  // SHORT_BINBYTES
        push(string_value(Kind::Bytes, le(1)));
        break;
      case 0x8e:  // BINBYTES8
        push(string_value(Kind::Bytes, le(8)));
        break;
      case 'N':
        push(make(Kind::None));
        break;
      case 0x88:
      case 0x89: {  // NEWTRUE / NEWFALSE
        Value* v = make(Kind::Bool);
        v->boolean = op == 0x88;
        push(v);
        break;
      }
      case 't': {  // TUPLE
        auto items = pop_mark();
        Value* v = make(Kind::Tuple);
        v->items.assign(items.begin(), items.end());
        push(v);
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1 / TUPLE2 / TUPLE3
        const std::size_t n = op - 0x84u;
        if (stack_.size() < floor() + n) fail("stack underflow");
        Value* v = make(Kind::Tuple);
        v->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        push(v);
        break;
      }
      case 's': {  // SETITEM
        Value* value = pop();
        Value* key = pop();
        Value* dict = top();
        if (dict->kind != Kind::Dict)
          fail("SETITEM on a " + std::string(kind_name(dict->kind)) + ", expected a dict");
        dict->entries.emplace_back(key, value);
        break;
      }
      case 'u': {  // SETITEMS
        auto items = pop_mark();
        Value* dict = top();
        if (dict->kind != Kind::Dict)
          fail("SETITEMS on a " + std::string(kind_name(dict->kind)) + ", expected a dict");
        if (items.size() % 2) fail("SETITEMS with an odd number of values");
        for (std::size_t i = 0; i < items.size(); i += 2)
          dict->entries.emplace_back(items[i], items[i + 1]);
        break;
      }
      case 'a': {  // APPEND
        Value* value = pop();
        Value* list = top();
        if (list->kind != Kind::List)
          fail("APPEND to a " + std::string(kind_name(list->kind)) + ", expected a list");
        list->items.push_back(value);
        break;
      }
      case 'e': {  // APPENDS
        auto items = pop_mark();
        Value* list = top();
        if (list->kind != Kind::List)
          fail("APPENDS to a " + std::string(kind_name(list->kind)) + ", expected a list");
        list->items.insert(list->items.end(), items.begin(), items.end());
        break;
      }
      case 'c': {  // GLOBAL: "module\nname\n"
        auto line = [&]() {
          const std::size_t start = pos_;
          const std::size_t limit = std::min(p_.size(), start + 256);
          while (pos_ < limit && p_[pos_] != std::byte{'\n'}) ++pos_;
          if (pos_ >= limit) fail("GLOBAL name not terminated by a newline within 256 bytes");
          std::string s(reinterpret_cast<const char*>(p_.data()) + start, pos_ - start);
          ++pos_;
          return s;
        };
        const std::string module = line();
        const std::string name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* name = pop();
        Value* module = pop();
        if (module->kind != Kind::String || name->kind != Kind::String)
          fail("STACK_GLOBAL needs two strings");
        push(global(module->str, name->str));
        break;
      }
      case 'R': {  // REDUCE
        Value* args = pop();
        Value* callable = pop();
        push(call(callable, args, "REDUCE"));
        break;
      }
      case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
        Value* args = pop();
        Value* cls = pop();
        push(call(cls, args, "NEWOBJ"));
        break;
      }
      case 'b': {  // BUILD: obj.__setstate__(state), recorded only
        Value* state = pop();
        Value* obj = top();
        if (obj->kind != Kind::Dict && obj->kind != Kind::Call)
          fail("BUILD on a " + std::string(kind_name(obj->kind)));
        obj->state = state;
        break;
      }
      case 'Q': {  // BINPERSID
        Value* pid = pop();
        Value* v = make(Kind::PersistentId);
        v->items = {pid};
        push(v);
        break;
      }
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        fail(std::string("unsupported pickle opcode 0x") + kHex[op >> 4] + kHex[op & 15] +
             " (not one a PyTorch state dict uses)");
      }
    }
  }
}

}  // namespace

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::BigInt:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::Bytes:
      return "bytes";
    case Kind::Tuple:
      return "tuple";
    case Kind::List:
      return "list";
    case Kind::Dict:
      return "dict";
    case Kind::Global:
      return "global";
    case Kind::Call:
      return "object";
    case Kind::PersistentId:
      return "persistent id";
  }
  return "value";
}

bool global_allowed(std::string_view module, std::string_view name) {
  return find_allowed(module, name) != nullptr;
}

Pickle unpickle(std::span<const std::byte> bytes, const std::string& where, const Limits& limits) {
  Pickle result;
  Machine m(bytes, where, limits, result.arena_);
  const auto [root, end] = m.run();
  result.root_ = root;
  result.end_ = end;
  return result;
}

}  // namespace encore::io::pickle

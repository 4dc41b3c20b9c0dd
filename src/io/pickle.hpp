// A restricted pickle reader for PyTorch checkpoints. It understands only the opcodes a
// torch state dict uses (protocols 2-5, as torch.save writes them) and builds a passive
// tree of values; nothing in the pickle is ever executed or called.
//
// Globals go through an allow-list: collections.OrderedDict, the torch._utils tensor
// rebuilders, the torch.*Storage classes and torch dtypes. Any other GLOBAL / STACK_GLOBAL
// (posix.system, builtins.eval, subprocess.Popen, ...) is refused the moment it is read,
// so REDUCE / NEWOBJ can only ever "call" an allowed name, and that call is recorded as a
// Call node for the caller to interpret (OrderedDict() simply becomes an empty dict).
//
// Untrusted input is bounded: lengths are checked against the remaining bytes before
// anything is allocated, the stack, memo, mark depth and node count have limits, and the
// VM never recurses. All errors are encore::Error naming `where` and the byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace encore::io::pickle {

enum class Kind {
  None,
  Bool,
  Int,     // fits in int64
  BigInt,  // LONG1 wider than 8 bytes: `str` holds its little-endian two's complement bytes
  Float,
  String,  // unicode (or a protocol-2 str); `str` holds its UTF-8 bytes
  Bytes,
  Tuple,
  List,
  Dict,          // dict or OrderedDict
  Global,        // an allowed global: `str` = module, `name` = qualified name
  Call,          // REDUCE / NEWOBJ of an allowed global: items = {callable, args tuple}
  PersistentId,  // BINPERSID: items = {the persistent id}
};

std::string_view kind_name(Kind kind);

struct Value {
  Kind kind = Kind::None;
  bool boolean = false;
  std::int64_t integer = 0;
  double real = 0;
  std::string str;
  std::string name;
  std::vector<const Value*> items;                             // Tuple, List, Call, PersistentId
  std::vector<std::pair<const Value*, const Value*>> entries;  // Dict, in insertion order
  const Value* state = nullptr;                                // set by BUILD
};

struct Limits {
  std::size_t max_stack = 1u << 20;  // values on the stack (all mark levels together)
  std::size_t max_marks = 1000;      // nested MARKs
  std::size_t max_memo = 1u << 24;   // memo entries
  std::size_t max_nodes = 1u << 22;  // values created (a BERT-large state dict needs ~10^4)
};

// Whether GLOBAL module.name is allowed (the list above).
bool global_allowed(std::string_view module, std::string_view name);

// The result of one pickle: owns every value.
class Pickle {
 public:
  const Value& root() const { return *root_; }
  // Offset just past the STOP opcode (the legacy torch format concatenates pickles).
  std::size_t end_offset() const { return end_; }

  Pickle() = default;
  Pickle(Pickle&&) noexcept = default;
  Pickle& operator=(Pickle&&) noexcept = default;

 private:
  friend Pickle unpickle(std::span<const std::byte>, const std::string&, const Limits&);
  std::deque<Value> arena_;  // stable addresses; values point at each other (cycles are fine)
  const Value* root_ = nullptr;
  std::size_t end_ = 0;
};

// Runs the restricted VM over `bytes` up to its STOP. `where` names the file in errors.
Pickle unpickle(std::span<const std::byte> bytes, const std::string& where,
                const Limits& limits = {});

}  // namespace encore::io::pickle

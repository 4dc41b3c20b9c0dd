// Token <-> id table. Lookups take string_view so the hot path never builds strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace encore::tok {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    // FNV-1a: short keys dominate, and this beats std::hash's out-of-line call.
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return static_cast<std::size_t>(h);
  }
};

using TokenMap = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;

class Vocab {
 public:
  void add(std::string token, std::int32_t id);
  std::optional<std::int32_t> find(std::string_view token) const {
    auto it = map_.find(token);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  // Call once all tokens are added: builds the fast id -> token table.
  void finalize();
  // Empty string for ids without a token.
  const std::string& token(std::int32_t id) const;
  std::size_t size() const { return map_.size(); }
  std::int32_t max_id() const { return max_id_; }
  const TokenMap& map() const { return map_; }

 private:
  TokenMap map_;
  std::unordered_map<std::int32_t, std::string> sparse_;
  std::vector<std::string> dense_;
  bool finalized_dense_ = false;
  std::int32_t max_id_ = -1;
};

}  // namespace encore::tok

#include "tokenizer/vocab.hpp"

namespace encore::tok {

void Vocab::add(std::string token, std::int32_t id) {
  if (id < 0) return;
  // Ids are kept sparse until finalize(): a file may use any id up to INT32_MAX, and one huge
  // id must not make us allocate a table that large.
  sparse_[id] = token;
  map_[std::move(token)] = id;
  dense_.clear();
}

void Vocab::finalize() {
  std::int32_t max_id = -1;
  for (const auto& [id, token] : sparse_) max_id = std::max(max_id, id);
  max_id_ = max_id;
  // Dense table when ids are compact (every real vocabulary), else keep the hash map.
  if (static_cast<std::size_t>(max_id) + 1 <= 4 * sparse_.size() + 1024) {
    dense_.assign(static_cast<std::size_t>(max_id) + 1, std::string());
    for (auto& [id, token] : sparse_) dense_[static_cast<std::size_t>(id)] = token;
    sparse_.clear();
    finalized_dense_ = true;
  }
}

const std::string& Vocab::token(std::int32_t id) const {
  static const std::string empty;
  if (finalized_dense_) {
    if (id < 0 || static_cast<std::size_t>(id) >= dense_.size()) return empty;
    return dense_[static_cast<std::size_t>(id)];
  }
  auto it = sparse_.find(id);
  return it == sparse_.end() ? empty : it->second;
}

}  // namespace encore::tok

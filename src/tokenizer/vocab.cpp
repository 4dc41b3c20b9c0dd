#include "tokenizer/vocab.hpp"

namespace encore::tok {

void Vocab::add(std::string token, std::int32_t id) {
  if (id < 0) return;
  if (static_cast<std::size_t>(id) >= by_id_.size()) by_id_.resize(static_cast<std::size_t>(id) + 1);
  by_id_[static_cast<std::size_t>(id)] = token;
  map_[std::move(token)] = id;
}

const std::string& Vocab::token(std::int32_t id) const {
  static const std::string empty;
  if (id < 0 || static_cast<std::size_t>(id) >= by_id_.size()) return empty;
  return by_id_[static_cast<std::size_t>(id)];
}

}  // namespace encore::tok

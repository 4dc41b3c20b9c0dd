#include "encore/encoding.hpp"

namespace encore {
namespace {

template <typename V>
void keep(V& v, std::size_t n, bool from_left) {
  if (v.size() <= n) return;
  if (from_left) v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() - n));
  else v.resize(n);
}

template <typename V>
void cat(V& a, const V& b) {
  a.insert(a.end(), b.begin(), b.end());
}

}  // namespace

void Encoding::reserve(std::size_t n) {
  ids.reserve(n);
  type_ids.reserve(n);
  tokens.reserve(n);
  offsets.reserve(n);
  special_tokens_mask.reserve(n);
  sequence_ids.reserve(n);
}

void Encoding::truncate(std::size_t n, bool from_left) {
  if (ids.size() > n) truncated = true;
  keep(ids, n, from_left);
  keep(type_ids, n, from_left);
  keep(tokens, n, from_left);
  keep(offsets, n, from_left);
  keep(special_tokens_mask, n, from_left);
  keep(sequence_ids, n, from_left);
}

void Encoding::append(const Encoding& other) {
  truncated = truncated || other.truncated;
  cat(ids, other.ids);
  cat(type_ids, other.type_ids);
  cat(tokens, other.tokens);
  cat(offsets, other.offsets);
  cat(special_tokens_mask, other.special_tokens_mask);
  cat(sequence_ids, other.sequence_ids);
}

}  // namespace encore

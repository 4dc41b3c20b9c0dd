// The result of tokenizing one input (a text or a text pair), in Hugging Face's layout.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace encore {

struct Encoding {
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> type_ids;
  std::vector<std::string> tokens;
  // [start, end) in Unicode code points of the original text the token came from (of the
  // pair's text for tokens of the second sequence); (0, 0) for inserted special tokens.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> offsets;
  std::vector<std::uint8_t> special_tokens_mask;
  // Which input each token belongs to: 0, 1, or -1 for template special tokens.
  std::vector<std::int8_t> sequence_ids;
  // True when truncation removed tokens.
  bool truncated = false;

  std::size_t size() const { return ids.size(); }
  void reserve(std::size_t n);
  // Keeps the first (right truncation) or last (left truncation) `n` tokens.
  void truncate(std::size_t n, bool from_left);
  void append(const Encoding& other);
};

}  // namespace encore

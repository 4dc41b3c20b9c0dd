// SentencePiece's `precompiled_charsmap` normalizer (XLM-R, CamemBERT, ALBERT, DeBERTa-v3,
// T5...): a darts-clone double-array trie from UTF-8 sequences to replacement strings,
// applied per grapheme cluster exactly as Hugging Face's Precompiled normalizer does,
// including its quirks (the shortest matching prefix wins; clusters of 6 bytes or more are
// looked up character by character).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/normalizer.hpp"

namespace encore::tok {

class PrecompiledNormalizer final : public Normalizer {
 public:
  // `charsmap` is the decoded (not base64) blob.
  PrecompiledNormalizer(std::string_view charsmap, const std::string& where);
  void normalize(NormalizedString& s) const override;

  // The replacement for the shortest key that prefixes `utf8`, or nullptr when none does.
  std::optional<std::u32string_view> transform(std::string_view utf8) const;

 private:
  std::vector<std::uint32_t> trie_;
  // The replacement strings, decoded once: trie values are byte offsets into the UTF-8
  // blob, each naming the NUL-terminated string (or suffix of one) that starts there.
  std::u32string blob_;
  std::vector<std::int32_t>
      char_at_byte_;  // blob byte offset -> index in blob_ (-1: mid-character)
  std::array<std::optional<std::u32string_view>, 128> ascii_;  // transform of each ASCII char
};

std::string base64_decode(std::string_view in, const std::string& where);

}  // namespace encore::tok

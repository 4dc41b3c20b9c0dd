// SentencePiece's `precompiled_charsmap` normalizer (XLM-R, CamemBERT, ALBERT, DeBERTa-v3,
// T5...): a darts-clone double-array trie from UTF-8 sequences to replacement strings,
// applied per grapheme cluster exactly as Hugging Face's Precompiled normalizer does,
// including its quirks (the shortest matching prefix wins; clusters of 6 bytes or more are
// looked up character by character).
#pragma once

#include <cstdint>
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
  const std::u32string* transform(std::string_view utf8) const;

 private:
  std::vector<std::uint32_t> trie_;
  std::vector<std::u32string> replacements_;       // distinct replacement strings
  std::vector<std::int32_t> replacement_at_byte_;  // blob byte offset -> replacements_ index
  std::vector<std::int32_t> ascii_;                // transform of each ASCII char (-1: none)
};

std::string base64_decode(std::string_view in, const std::string& where);

}  // namespace encore::tok

// Added tokens (special or not) are cut out of the text before the model sees it, as in
// Hugging Face: first those matched on the raw text (normalized: false), then, after
// normalization, those matched on the normalized text (normalized: true).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/normalizer.hpp"

namespace encore::tok {

struct AddedToken {
  std::string content;
  std::int32_t id = -1;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
};

struct AddedMatch {
  std::uint32_t begin, end;  // character range in the searched text, strip spaces included
  std::int32_t id;
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  bool empty() const { return tokens_.empty(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* find(std::int32_t id) const;
  const AddedToken* find(std::string_view content) const;

  // Non-overlapping matches, left to right, of the raw (normalized == false) or the
  // normalized set, with single_word / lstrip / rstrip applied.
  void find_matches(const std::u32string& text, std::size_t begin, std::size_t end,
                    bool normalized_set, std::vector<AddedMatch>& out) const;
  bool has_set(bool normalized_set) const {
    return !(normalized_set ? normalized_ : raw_).patterns.empty();
  }

 private:
  struct Pattern {
    std::u32string text;
    std::size_t token;  // index into tokens_
  };
  struct PatternSet {
    std::vector<Pattern> patterns;  // longest first, so the first hit is the longest
    std::vector<char32_t> first_chars;
  };
  static void finish(PatternSet& set);

  std::vector<AddedToken> tokens_;
  PatternSet raw_, normalized_;
};

}  // namespace encore::tok

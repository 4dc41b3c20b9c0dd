// A compiled Unicode regular expression over code points (PCRE2, 32-bit code units, UTF and
// UCP, JIT when available). Patterns in tokenizer.json are written for Oniguruma, the
// engine Hugging Face `tokenizers` uses; translate_oniguruma() adapts the few escapes whose
// meaning differs so matches are the same.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/pre_tokenizer.hpp"

namespace encore::tok {

class Regex {
 public:
  // `pattern` is UTF-8; `where` names the file and component for errors.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All non-overlapping matches in text[begin, end), left to right, as Oniguruma's
  // find_iter yields them: after an empty match the search moves on by one character.
  void find_all(const std::u32string& text, std::uint32_t begin, std::uint32_t end,
                std::vector<Range>& out) const;

  // Whether the whole pattern can only match the empty string somewhere (for errors).
  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::string pattern_;
  std::unique_ptr<Impl> impl_;
};

// Oniguruma (Ruby syntax, Unicode) -> PCRE2 (UTF + UCP): \s, \S and \h follow Unicode
// White_Space in Oniguruma but not in PCRE2 10.42 (U+0085); \h is hex digit in Oniguruma.
std::string translate_oniguruma(const std::string& pattern);

}  // namespace encore::tok

#include "core/unicode.hpp"
#include "tokenizer/normalizer.hpp"

namespace encore::tok {
namespace {

// Tab, LF and CR count as whitespace, not control, as in the original BERT code.
bool is_clean_whitespace(char32_t c) {
  return c == '\t' || c == '\n' || c == '\r' || unicode::has(c, unicode::kWhitespace);
}

bool is_clean_removed(char32_t c) {
  if (c == 0 || c == 0xFFFD) return true;
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return unicode::has(c, unicode::kOther);
}

}  // namespace

void BertNormalizer::normalize(NormalizedString& s) const {
  if (clean_text_) {
    s.filter([](char32_t c) { return !is_clean_removed(c); });
    s.map([](char32_t c) { return is_clean_whitespace(c) ? char32_t{' '} : c; });
  }
  if (handle_chinese_chars_) {
    bool any = false;
    for (char32_t c : s.chars()) any |= c >= 0x3400 && unicode::has(c, unicode::kChinese);
    if (any) {
      std::vector<Edit> edits;
      edits.reserve(s.size() + 16);
      for (char32_t c : s.chars()) {
        if (c >= 0x3400 && unicode::has(c, unicode::kChinese)) {
          // The padding spaces take the ideograph's own alignment, as in HF 0.22.
          edits.push_back({U' ', 0});
          edits.push_back({c, 1});
          edits.push_back({U' ', 1});
        } else {
          edits.push_back({c, 0});
        }
      }
      s.transform(edits);
    }
  }
  if (strip_accents_) {
    apply_unicode_form(s, UnicodeForm::NFD);
    remove_nonspacing_marks(s);
  }
  if (lowercase_) apply_lowercase(s);
}

}  // namespace encore::tok

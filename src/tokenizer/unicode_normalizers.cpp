// NFD/NFKD/NFC/NFKC, Lowercase and StripAccents, producing the same alignments as
// Hugging Face: a decomposed character's first part replaces it, the rest are insertions;
// a composed character consumes every original character it absorbed.
#include <algorithm>

#include "core/unicode.hpp"
#include "tokenizer/normalizer.hpp"

namespace encore::tok {
namespace {

// How many pre-transform characters an edit consumes.
int consumed(const Edit& e) { return e.change > 0 ? 0 : 1 - e.change; }

void decompose(const std::u32string& chars, bool compat, std::vector<Edit>& edits) {
  std::u32string buf;
  for (char32_t c : chars) {
    if (c < 0xA0 || !unicode::has(c, compat ? unicode::kCompatDecomp : unicode::kCanonicalDecomp)) {
      edits.push_back({c, 0});
      continue;
    }
    buf.clear();
    unicode::append_decomposition(c, compat, buf);
    for (std::size_t i = 0; i < buf.size(); ++i) edits.push_back({buf[i], i == 0 ? 0 : 1});
  }
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (std::size_t i = 0; i < edits.size();) {
    if (unicode::combining_class(edits[i].c) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < edits.size() && unicode::combining_class(edits[j].c) != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(edits.begin() + i, edits.begin() + j, [](const Edit& a, const Edit& b) {
        return unicode::combining_class(a.c) < unicode::combining_class(b.c);
      });
    }
    i = j;
  }
}

void compose(std::vector<Edit>& edits) {
  if (edits.empty()) return;
  std::size_t starter = 0;
  bool have_starter = unicode::combining_class(edits[0].c) == 0;
  int last_class = have_starter ? 0 : 256;
  std::size_t out = 1;
  for (std::size_t i = 1; i < edits.size(); ++i) {
    const Edit e = edits[i];
    const int cls = unicode::combining_class(e.c);
    const char32_t composite =
        have_starter && (last_class < cls || last_class == 0)
            ? unicode::compose_pair(edits[starter].c, e.c)
            : 0;
    if (composite != 0) {
      const int k = consumed(edits[starter]) + consumed(e);
      edits[starter] = {composite, k == 0 ? 1 : -(k - 1)};
      continue;
    }
    if (cls == 0) {
      starter = out;
      have_starter = true;
    }
    last_class = cls;
    edits[out++] = e;
  }
  edits.resize(out);
}

bool all_below(const std::u32string& s, char32_t limit) {
  return std::all_of(s.begin(), s.end(), [&](char32_t c) { return c < limit; });
}

}  // namespace

void apply_unicode_form(NormalizedString& s, UnicodeForm form) {
  const bool compat = form == UnicodeForm::NFKD || form == UnicodeForm::NFKC;
  // Nothing below U+00A0 (U+00C0 for canonical forms) changes under normalization.
  if (all_below(s.chars(), compat ? 0xA0 : 0xC0)) return;
  std::vector<Edit> edits;
  edits.reserve(s.size() + 8);
  decompose(s.chars(), compat, edits);
  if (form == UnicodeForm::NFC || form == UnicodeForm::NFKC) compose(edits);
  s.transform(edits);
}

void apply_lowercase(NormalizedString& s) {
  bool simple = true;
  for (char32_t c : s.chars()) {
    if (c == 0x130) simple = false;
  }
  if (simple) {
    s.map([](char32_t c) { return unicode::lowercase_simple(c); });
    return;
  }
  std::vector<Edit> edits;
  std::u32string buf;
  for (char32_t c : s.chars()) {
    buf.clear();
    unicode::append_lowercase(c, buf);
    for (std::size_t i = 0; i < buf.size(); ++i) edits.push_back({buf[i], i == 0 ? 0 : 1});
  }
  s.transform(edits);
}

void remove_nonspacing_marks(NormalizedString& s) {
  s.filter([](char32_t c) { return c < 0x300 || !unicode::has(c, unicode::kNonspacingMark); });
}

void UnicodeNormalizer::normalize(NormalizedString& s) const { apply_unicode_form(s, form_); }

void LowercaseNormalizer::normalize(NormalizedString& s) const { apply_lowercase(s); }

// Hugging Face's StripAccents drops every combining mark (M*), unlike BertNormalizer's
// accent stripping, which drops nonspacing marks (Mn) only.
void StripAccentsNormalizer::normalize(NormalizedString& s) const {
  s.filter([](char32_t c) { return c < 0x300 || !unicode::has(c, unicode::kCombiningMark); });
}

}  // namespace encore::tok

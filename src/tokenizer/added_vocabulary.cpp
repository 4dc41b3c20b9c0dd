#include "tokenizer/added_vocabulary.hpp"

#include <algorithm>

#include "core/unicode.hpp"
#include "core/utf8.hpp"

namespace encore::tok {
namespace {

bool is_word_char(char32_t c) {
  if (c < 0x80) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  return unicode::has(c, unicode::kWord);
}

bool is_space(char32_t c) { return unicode::has(c, unicode::kWhitespace); }

}  // namespace

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer)
    : tokens_(std::move(tokens)) {
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (t.content.empty()) continue;
    std::u32string text = utf8::decode(t.content);
    if (t.normalized && normalizer) {
      // Normalized tokens are matched in normalized text, so normalize the pattern too.
      NormalizedString s(text.data(), 0, static_cast<std::uint32_t>(text.size()));
      normalizer->normalize(s);
      text = s.chars();
      if (text.empty()) continue;
    }
    (t.normalized ? normalized_ : raw_).patterns.push_back({std::move(text), i});
  }
  finish(raw_);
  finish(normalized_);
}

void AddedVocabulary::finish(PatternSet& set) {
  std::stable_sort(set.patterns.begin(), set.patterns.end(),
                   [](const Pattern& a, const Pattern& b) { return a.text.size() > b.text.size(); });
  for (const auto& p : set.patterns) set.first_chars.push_back(p.text[0]);
  std::sort(set.first_chars.begin(), set.first_chars.end());
  set.first_chars.erase(std::unique(set.first_chars.begin(), set.first_chars.end()),
                        set.first_chars.end());
}

const AddedToken* AddedVocabulary::find(std::int32_t id) const {
  for (const auto& t : tokens_)
    if (t.id == id) return &t;
  return nullptr;
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  for (const auto& t : tokens_)
    if (t.content == content) return &t;
  return nullptr;
}

void AddedVocabulary::find_matches(const std::u32string& text, std::size_t begin,
                                   std::size_t end, bool normalized_set,
                                   std::vector<AddedMatch>& out) const {
  const PatternSet& set = normalized_set ? normalized_ : raw_;
  if (set.patterns.empty()) return;
  std::size_t last_end = begin;  // end of the previous accepted split
  std::size_t i = begin;
  while (i < end) {
    if (!std::binary_search(set.first_chars.begin(), set.first_chars.end(), text[i])) {
      ++i;
      continue;
    }
    const Pattern* hit = nullptr;
    for (const auto& p : set.patterns) {
      if (p.text.size() <= end - i && text.compare(i, p.text.size(), p.text) == 0) {
        hit = &p;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    const AddedToken& t = tokens_[hit->token];
    std::size_t start = i, stop = i + hit->text.size();
    i = stop;  // the search resumes after the match even when it is rejected below
    if (t.single_word) {
      const bool word_before = start > begin && is_word_char(text[start - 1]);
      const bool word_after = stop < end && is_word_char(text[stop]);
      if (word_before || word_after) continue;
    }
    if (t.lstrip) {
      std::size_t s = start;
      while (s > begin && is_space(text[s - 1])) --s;
      start = std::max(s, last_end);
    }
    if (t.rstrip) {
      while (stop < end && is_space(text[stop])) ++stop;
    }
    out.push_back({static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(stop), t.id});
    last_end = stop;
  }
}

}  // namespace encore::tok

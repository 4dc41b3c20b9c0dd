// Strip, Replace, Prepend and Sequence normalizers.
#include "core/unicode.hpp"
#include "tokenizer/normalizer.hpp"

namespace encore::tok {

void StripNormalizer::normalize(NormalizedString& s) const {
  const auto& c = s.chars();
  std::size_t lead = 0, trail = 0;
  if (left_) {
    while (lead < c.size() && unicode::has(c[lead], unicode::kWhitespace)) ++lead;
  }
  if (right_) {
    while (trail < c.size() - lead && unicode::has(c[c.size() - 1 - trail], unicode::kWhitespace))
      ++trail;
  }
  if (lead == 0 && trail == 0) return;
  s = s.slice(lead, c.size() - trail);
}

void ReplaceNormalizer::normalize(NormalizedString& s) const {
  const auto& c = s.chars();
  if (pattern_.empty() || c.find(pattern_) == std::u32string::npos) return;
  const auto& align = s.alignments();
  std::u32string chars;
  std::vector<Span> spans;
  chars.reserve(c.size());
  spans.reserve(c.size());
  for (std::size_t i = 0; i < c.size();) {
    if (c.compare(i, pattern_.size(), pattern_) == 0) {
      // Hugging Face removes the match and inserts the content after it, so every new
      // character takes the alignment of the match's last character.
      const Span last = align[i + pattern_.size() - 1];
      for (char32_t ch : content_) {
        chars.push_back(ch);
        spans.push_back(last);
      }
      i += pattern_.size();
    } else {
      chars.push_back(c[i]);
      spans.push_back(align[i]);
      ++i;
    }
  }
  s.assign(std::move(chars), std::move(spans));
}

void PrependNormalizer::normalize(NormalizedString& s) const {
  if (s.empty() || prefix_.empty()) return;
  // The prefix and the first character all align to the first character.
  std::vector<Edit> edits;
  edits.reserve(s.size() + prefix_.size());
  for (std::size_t i = 0; i < prefix_.size(); ++i) edits.push_back({prefix_[i], i == 0 ? 0 : 1});
  edits.push_back({s.chars()[0], 1});
  for (std::size_t i = 1; i < s.size(); ++i) edits.push_back({s.chars()[i], 0});
  s.transform(edits);
}

void SequenceNormalizer::normalize(NormalizedString& s) const {
  for (const auto& step : steps_) step->normalize(s);
}

}  // namespace encore::tok

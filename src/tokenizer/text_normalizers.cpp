// Strip, Replace, Prepend and Sequence normalizers.
#include "core/unicode.hpp"
#include "tokenizer/normalizer.hpp"
#include "tokenizer/regex.hpp"

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
  // Unlike slice(), the piece keeps its original range (Hugging Face's strip only edits
  // the normalized text), which Metaspace's prepend_scheme "first" looks at.
  const auto& al = s.alignments();
  std::u32string chars(c.begin() + lead, c.end() - trail);
  std::vector<Span> spans(al.begin() + lead, al.end() - trail);
  s.assign(std::move(chars), std::move(spans));
}

void ReplaceNormalizer::normalize(NormalizedString& s) const {
  const auto& c = s.chars();
  std::vector<std::pair<std::uint32_t, std::uint32_t>> matches;
  if (regex_) {
    std::vector<Range> found;
    regex_->find_all(c, 0, static_cast<std::uint32_t>(c.size()), found);
    for (const Range& r : found)
      if (r.end > r.begin) matches.emplace_back(r.begin, r.end);
  } else {
    if (pattern_.empty()) return;
    for (std::size_t at = c.find(pattern_); at != std::u32string::npos;
         at = c.find(pattern_, at + pattern_.size())) {
      matches.emplace_back(static_cast<std::uint32_t>(at),
                           static_cast<std::uint32_t>(at + pattern_.size()));
    }
  }
  s.replace(matches, content_);
}

void NmtNormalizer::normalize(NormalizedString& s) const {
  s.filter([](char32_t c) {
    return !((c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
             c == 0x8F || c == 0x9F);
  });
  s.map([](char32_t c) -> char32_t {
    switch (c) {
      case 0x09:
      case 0x0A:
      case 0x0C:
      case 0x0D:
      case 0x1680:
      case 0x200B:
      case 0x200C:
      case 0x200D:
      case 0x200E:
      case 0x200F:
      case 0x2028:
      case 0x2029:
      case 0x2581:
      case 0xFEFF:
      case 0xFFFD:
        return U' ';
      default:
        return c;
    }
  });
}

void PrependNormalizer::normalize(NormalizedString& s) const {
  s.prepend(prefix_);
}

void SequenceNormalizer::normalize(NormalizedString& s) const {
  for (const auto& step : steps_) step->normalize(s);
}

}  // namespace encore::tok

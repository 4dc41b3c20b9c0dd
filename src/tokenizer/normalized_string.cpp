#include "tokenizer/normalized_string.hpp"

namespace encore::tok {

NormalizedString::NormalizedString(const char32_t* original, std::uint32_t begin, std::uint32_t end)
    : chars_(original + begin, original + end), original_{begin, end} {
  align_.resize(end - begin);
  for (std::uint32_t i = begin; i < end; ++i) align_[i - begin] = {i, i + 1};
}

Span NormalizedString::original_span(std::size_t begin, std::size_t end) const {
  if (begin >= end || end > align_.size()) {
    // Empty range: anchor at the original position of `begin`.
    const std::uint32_t at = begin < align_.size() ? align_[begin].start : original_.end;
    return {at, at};
  }
  return {align_[begin].start, align_[end - 1].end};
}

NormalizedString NormalizedString::slice(std::size_t begin, std::size_t end) const {
  NormalizedString out;
  out.chars_.assign(chars_.begin() + begin, chars_.begin() + end);
  out.align_.assign(align_.begin() + begin, align_.begin() + end);
  out.original_ = original_span(begin, end);
  return out;
}

void NormalizedString::transform(const std::vector<Edit>& edits, std::size_t initial_removed) {
  std::u32string chars;
  std::vector<Span> align;
  chars.reserve(edits.size());
  align.reserve(edits.size());
  std::size_t offset = initial_removed;  // next original (pre-transform) character
  for (const Edit& e : edits) {
    Span a;
    if (e.change > 0) {
      // Inserted characters share the alignment of the character before them.
      a = offset > 0 ? align_[offset - 1] : Span{original_.start, original_.start};
    } else {
      a = offset < align_.size() ? align_[offset] : Span{original_.end, original_.end};
      ++offset;
      offset += static_cast<std::size_t>(-e.change);
    }
    chars.push_back(e.c);
    align.push_back(a);
  }
  chars_ = std::move(chars);
  align_ = std::move(align);
}

void NormalizedString::prepend(const std::u32string& prefix) {
  if (chars_.empty() || prefix.empty()) return;
  const Span first = align_[0];
  chars_.insert(chars_.begin(), prefix.begin(), prefix.end());
  align_.insert(align_.begin(), prefix.size(), first);
}

void NormalizedString::replace(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& matches,
                               const std::u32string& content) {
  if (matches.empty()) return;
  std::u32string chars;
  std::vector<Span> spans;
  chars.reserve(chars_.size() + matches.size() * content.size());
  spans.reserve(chars.capacity());
  std::uint32_t at = 0;
  for (const auto& [b, e] : matches) {
    for (; at < b; ++at) {
      chars.push_back(chars_[at]);
      spans.push_back(align_[at]);
    }
    if (e > b) {
      const Span last = align_[e - 1];
      for (char32_t ch : content) {
        chars.push_back(ch);
        spans.push_back(last);
      }
    }
    at = e;
  }
  for (; at < chars_.size(); ++at) {
    chars.push_back(chars_[at]);
    spans.push_back(align_[at]);
  }
  chars_ = std::move(chars);
  align_ = std::move(spans);
}

}  // namespace encore::tok

// A piece of text being normalized, tracking for every normalized character the range of
// original code points it came from, so token offsets point into the user's text the way
// Hugging Face reports them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace encore::tok {

struct Span {
  std::uint32_t start = 0, end = 0;  // original code points [start, end)
  bool operator==(const Span&) const = default;
};

// One edit produced by a normalizer, in Hugging Face's vocabulary: `change` 0 replaces the
// next original character, +1 inserts a character, -n replaces it and drops n more.
struct Edit {
  char32_t c;
  int change;
};

class NormalizedString {
 public:
  NormalizedString() = default;
  // Identity over original code points [begin, end) of `original`.
  NormalizedString(const char32_t* original, std::uint32_t begin, std::uint32_t end);
  // Given content, alignments and original range (one per character of `chars`).
  NormalizedString(std::u32string chars, std::vector<Span> align, Span original)
      : chars_(std::move(chars)), align_(std::move(align)), original_(original) {}

  const std::u32string& chars() const { return chars_; }
  const std::vector<Span>& alignments() const { return align_; }
  std::size_t size() const { return chars_.size(); }
  bool empty() const { return chars_.empty(); }
  // Original range this piece covers (kept for empty pieces).
  Span original() const { return original_; }

  // Original range covered by normalized characters [begin, end).
  Span original_span(std::size_t begin, std::size_t end) const;

  // Sub-piece of normalized characters [begin, end).
  NormalizedString slice(std::size_t begin, std::size_t end) const;

  // Replaces the content with `edits` applied from the start; `initial_removed` original
  // characters are dropped before the first edit (Hugging Face's transform()).
  void transform(const std::vector<Edit>& edits, std::size_t initial_removed = 0);

  // Hugging Face's prepend(): the prefix and the first character all align to the first
  // character. Nothing happens to an empty string.
  void prepend(const std::u32string& prefix);

  // Hugging Face's replace(): each match (non-overlapping, ascending normalized ranges) is
  // removed and `content` inserted in its place, every new character taking the alignment
  // of the match's last character.
  void replace(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& matches,
               const std::u32string& content);

  // Replaces the content wholesale (alignments computed by the caller).
  void assign(std::u32string chars, std::vector<Span> align) {
    chars_ = std::move(chars);
    align_ = std::move(align);
  }

  // Faster paths for the common edits.
  template <typename Keep>
  void filter(Keep keep);
  template <typename Map>
  void map(Map f);

 private:
  std::u32string chars_;
  std::vector<Span> align_;
  Span original_;
};

template <typename Keep>
void NormalizedString::filter(Keep keep) {
  std::size_t w = 0;
  for (std::size_t r = 0; r < chars_.size(); ++r) {
    if (keep(chars_[r])) {
      chars_[w] = chars_[r];
      align_[w] = align_[r];
      ++w;
    }
  }
  chars_.resize(w);
  align_.resize(w);
}

template <typename Map>
void NormalizedString::map(Map f) {
  for (auto& c : chars_) c = f(c);
}

}  // namespace encore::tok

// Pre-tokenizers split a normalized piece into words. Most only split (never rewrite
// characters), so words are index ranges into the normalized text: the fast path. Those
// that rewrite (ByteLevel maps bytes to characters, Metaspace turns spaces into '▁') work
// on whole NormalizedStrings instead, keeping every character's original alignment.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/normalized_string.hpp"

namespace encore::tok {

struct Range {
  std::uint32_t begin, end;  // normalized character indices [begin, end)
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits each range of `words` further; empty ranges never come out. Only for
  // pre-tokenizers whose rewrites() is false.
  virtual void split(const std::u32string& text, std::vector<Range>& words) const;
  // Whether it changes characters, so that only pre_tokenize() applies.
  virtual bool rewrites() const { return false; }
  // General form: replaces every piece by its (possibly rewritten) sub-pieces; empty
  // pieces are dropped, as in Hugging Face's PreTokenizedString::split.
  virtual void pre_tokenize(std::vector<NormalizedString>& pieces) const;
};

using PreTokenizerPtr = std::shared_ptr<const PreTokenizer>;

PreTokenizerPtr make_pre_tokenizer(const nlohmann::json& j, const std::string& where);

// Whitespace removed, then each punctuation character isolated.
class BertPreTokenizer final : public PreTokenizer {
 public:
  void split(const std::u32string& text, std::vector<Range>& words) const override;
};

// Regex \w+|[^\w\s]+ : runs of word characters and runs of other non-space characters.
class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  void split(const std::u32string& text, std::vector<Range>& words) const override;
};

class WhitespaceSplitPreTokenizer final : public PreTokenizer {
 public:
  void split(const std::u32string& text, std::vector<Range>& words) const override;
};

class PunctuationPreTokenizer final : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(SplitBehavior behavior) : behavior_(behavior) {}
  void split(const std::u32string& text, std::vector<Range>& words) const override;

 private:
  SplitBehavior behavior_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<PreTokenizerPtr> steps);
  void split(const std::u32string& text, std::vector<Range>& words) const override;
  bool rewrites() const override { return rewrites_; }
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override;

 private:
  std::vector<PreTokenizerPtr> steps_;
  bool rewrites_ = false;
};

class Regex;

// Split: a literal string or a regex delimits; `invert` makes the matches the words.
class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(std::shared_ptr<const Regex> regex, SplitBehavior behavior, bool invert)
      : regex_(std::move(regex)), behavior_(behavior), invert_(invert) {}
  void split(const std::u32string& text, std::vector<Range>& words) const override;

 private:
  std::shared_ptr<const Regex> regex_;
  SplitBehavior behavior_;
  bool invert_;
};

// Digits: numeric characters (Unicode N*) isolated one by one, or in contiguous runs.
class DigitsPreTokenizer final : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void split(const std::u32string& text, std::vector<Range>& words) const override;

 private:
  bool individual_;
};

// CharDelimiterSplit: one delimiter character, removed.
class CharDelimiterPreTokenizer final : public PreTokenizer {
 public:
  explicit CharDelimiterPreTokenizer(char32_t delimiter) : delimiter_(delimiter) {}
  void split(const std::u32string& text, std::vector<Range>& words) const override;

 private:
  char32_t delimiter_;
};

// A delimiter match or the text between matches, in order.
struct SplitPart {
  Range r;
  bool delim;
};

// Hugging Face's NormalizedString::split: applies `behavior` to the parts of one word and
// appends the resulting non-empty ranges.
void apply_split_behavior(const std::vector<SplitPart>& parts, SplitBehavior behavior,
                          std::vector<Range>& out);

// Splits each range of `words` at every character equal to `delimiter`, with `behavior`.
void split_at_char(const std::u32string& text, std::vector<Range>& words, char32_t delimiter,
                   SplitBehavior behavior);

SplitBehavior parse_split_behavior(const std::string& s, const std::string& where);

}  // namespace encore::tok

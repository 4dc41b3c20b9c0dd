// Pre-tokenizers split a normalized piece into words. For the BERT family they only ever
// split (never rewrite characters), so words are index ranges into the normalized text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace encore::tok {

struct Range {
  std::uint32_t begin, end;  // normalized character indices [begin, end)
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits each range of `words` further; empty ranges never come out.
  virtual void split(const std::u32string& text, std::vector<Range>& words) const = 0;
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
  explicit SequencePreTokenizer(std::vector<PreTokenizerPtr> steps) : steps_(std::move(steps)) {}
  void split(const std::u32string& text, std::vector<Range>& words) const override;

 private:
  std::vector<PreTokenizerPtr> steps_;
};

}  // namespace encore::tok

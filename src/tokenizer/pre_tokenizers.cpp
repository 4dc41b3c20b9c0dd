#include "core/unicode.hpp"
#include "tokenizer/json_fields.hpp"
#include "tokenizer/pre_tokenizer.hpp"

namespace encore::tok {
namespace {

inline bool is_space(char32_t c) {
  return c < 0x80 ? (c == ' ' || (c >= 9 && c <= 13)) : unicode::has(c, unicode::kWhitespace);
}

inline bool is_punct(char32_t c) { return unicode::has(c, unicode::kPunctuation); }

// Hugging Face's NormalizedString::split with a per-character pattern: every matching
// character is its own delimiter, then `behavior` decides what happens to it.
template <typename Pred>
void split_on(const std::u32string& text, const std::vector<Range>& in, std::vector<Range>& out,
              Pred is_delim, SplitBehavior behavior) {
  struct Part {
    Range r;
    bool delim;
  };
  std::vector<Part> parts;
  for (const Range& w : in) {
    parts.clear();
    std::uint32_t last = w.begin;
    for (std::uint32_t i = w.begin; i < w.end; ++i) {
      if (!is_delim(text[i])) continue;
      if (last < i) parts.push_back({{last, i}, false});
      parts.push_back({{i, i + 1}, true});
      last = i + 1;
    }
    if (last < w.end) parts.push_back({{last, w.end}, false});

    const std::size_t first_out = out.size();
    bool prev_delim = false;
    switch (behavior) {
      case SplitBehavior::Removed:
        for (const Part& p : parts)
          if (!p.delim) out.push_back(p.r);
        break;
      case SplitBehavior::Isolated:
        for (const Part& p : parts) out.push_back(p.r);
        break;
      case SplitBehavior::Contiguous:
        for (const Part& p : parts) {
          if (out.size() > first_out && p.delim == prev_delim)
            out.back().end = p.r.end;
          else
            out.push_back(p.r);
          prev_delim = p.delim;
        }
        break;
      case SplitBehavior::MergedWithPrevious:
        for (const Part& p : parts) {
          if (p.delim && !prev_delim && out.size() > first_out)
            out.back().end = p.r.end;
          else
            out.push_back(p.r);
          prev_delim = p.delim;
        }
        break;
      case SplitBehavior::MergedWithNext: {
        // Walk backwards so a delimiter joins the part after it.
        std::vector<Range> rev;
        for (std::size_t k = parts.size(); k-- > 0;) {
          const Part& p = parts[k];
          if (p.delim && !prev_delim && !rev.empty())
            rev.back().begin = p.r.begin;
          else
            rev.push_back(p.r);
          prev_delim = p.delim;
        }
        out.insert(out.end(), rev.rbegin(), rev.rend());
        break;
      }
    }
  }
}

template <typename Pred>
void split_in_place(const std::u32string& text, std::vector<Range>& words, Pred pred,
                    SplitBehavior behavior) {
  std::vector<Range> out;
  out.reserve(words.size() * 2);
  split_on(text, words, out, pred, behavior);
  words.swap(out);
}

SplitBehavior parse_behavior(const std::string& s, const std::string& where) {
  if (s == "Removed") return SplitBehavior::Removed;
  if (s == "Isolated") return SplitBehavior::Isolated;
  if (s == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (s == "Contiguous") return SplitBehavior::Contiguous;
  throw Error(where + ": unknown split behavior '" + s + "'");
}

}  // namespace

void BertPreTokenizer::split(const std::u32string& text, std::vector<Range>& words) const {
  // One pass doing both steps: whitespace ends a word, punctuation is a word of its own.
  std::vector<Range> out;
  out.reserve(words.size() + text.size() / 4);
  for (const Range& w : words) {
    std::uint32_t start = w.begin;
    for (std::uint32_t i = w.begin; i < w.end; ++i) {
      const char32_t c = text[i];
      if (is_space(c)) {
        if (start < i) out.push_back({start, i});
        start = i + 1;
      } else if (is_punct(c)) {
        if (start < i) out.push_back({start, i});
        out.push_back({i, i + 1});
        start = i + 1;
      }
    }
    if (start < w.end) out.push_back({start, w.end});
  }
  words.swap(out);
}

void WhitespacePreTokenizer::split(const std::u32string& text, std::vector<Range>& words) const {
  // 0 = space (dropped), 1 = word character, 2 = anything else
  auto cls = [](char32_t c) -> int {
    if (c < 0x80) {
      if (c == ' ' || (c >= 9 && c <= 13)) return 0;
      const bool w = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     c == '_';
      return w ? 1 : 2;
    }
    const auto f = unicode::flags(c);
    if (f & unicode::kWord) return 1;
    return (f & unicode::kWhitespace) ? 0 : 2;
  };
  std::vector<Range> out;
  for (const Range& w : words) {
    std::uint32_t i = w.begin;
    while (i < w.end) {
      const int k = cls(text[i]);
      std::uint32_t j = i + 1;
      while (j < w.end && cls(text[j]) == k) ++j;
      if (k != 0) out.push_back({i, j});
      i = j;
    }
  }
  words.swap(out);
}

void WhitespaceSplitPreTokenizer::split(const std::u32string& text,
                                        std::vector<Range>& words) const {
  split_in_place(text, words, is_space, SplitBehavior::Removed);
}

void PunctuationPreTokenizer::split(const std::u32string& text, std::vector<Range>& words) const {
  split_in_place(text, words, is_punct, behavior_);
}

void SequencePreTokenizer::split(const std::u32string& text, std::vector<Range>& words) const {
  for (const auto& step : steps_) step->split(text, words);
}

PreTokenizerPtr make_pre_tokenizer(const nlohmann::json& j, const std::string& where) {
  const std::string type = type_of(j, "pre_tokenizer", where);
  const std::string ctx = where + ": pre_tokenizer " + type;
  if (type == "BertPreTokenizer") return std::make_shared<BertPreTokenizer>();
  if (type == "Whitespace") return std::make_shared<WhitespacePreTokenizer>();
  if (type == "WhitespaceSplit") return std::make_shared<WhitespaceSplitPreTokenizer>();
  if (type == "Punctuation") {
    return std::make_shared<PunctuationPreTokenizer>(
        parse_behavior(string_field(j, "behavior", "Isolated", ctx), ctx));
  }
  if (type == "Sequence") {
    std::vector<PreTokenizerPtr> steps;
    for (const auto& step : array_field(j, "pretokenizers", ctx))
      steps.push_back(make_pre_tokenizer(step, where));
    return std::make_shared<SequencePreTokenizer>(std::move(steps));
  }
  throw Error(where + ": unknown pre_tokenizer type '" + type + "'");
}

}  // namespace encore::tok

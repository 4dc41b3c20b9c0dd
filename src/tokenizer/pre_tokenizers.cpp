#include <unicode/uchar.h>

#include "core/unicode.hpp"
#include "core/utf8.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/json_fields.hpp"
#include "tokenizer/metaspace.hpp"
#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/regex.hpp"

namespace encore::tok {
namespace {

inline bool is_space(char32_t c) {
  return c < 0x80 ? (c == ' ' || (c >= 9 && c <= 13)) : unicode::has(c, unicode::kWhitespace);
}

inline bool is_punct(char32_t c) {
  return unicode::has(c, unicode::kPunctuation);
}

// Hugging Face's NormalizedString::split with a per-character pattern: every matching
// character is its own delimiter, then `behavior` decides what happens to it.
template <typename Pred>
void split_on(const std::u32string& text, const std::vector<Range>& in, std::vector<Range>& out,
              Pred is_delim, SplitBehavior behavior) {
  std::vector<SplitPart> parts;
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
    apply_split_behavior(parts, behavior, out);
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

}  // namespace

void apply_split_behavior(const std::vector<SplitPart>& parts, SplitBehavior behavior,
                          std::vector<Range>& out) {
  const std::size_t first_out = out.size();
  bool prev_delim = false;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const SplitPart& p : parts)
        if (!p.delim) out.push_back(p.r);
      break;
    case SplitBehavior::Isolated:
      for (const SplitPart& p : parts) out.push_back(p.r);
      break;
    case SplitBehavior::Contiguous:
      for (const SplitPart& p : parts) {
        if (out.size() > first_out && p.delim == prev_delim)
          out.back().end = p.r.end;
        else
          out.push_back(p.r);
        prev_delim = p.delim;
      }
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const SplitPart& p : parts) {
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
        const SplitPart& p = parts[k];
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
  // Empty pieces never come out (Hugging Face drops empty splits).
  std::size_t w = first_out;
  for (std::size_t k = first_out; k < out.size(); ++k)
    if (out[k].end > out[k].begin) out[w++] = out[k];
  out.resize(w);
}

SplitBehavior parse_split_behavior(const std::string& s, const std::string& where) {
  if (s == "Removed") return SplitBehavior::Removed;
  if (s == "Isolated") return SplitBehavior::Isolated;
  if (s == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (s == "Contiguous") return SplitBehavior::Contiguous;
  throw Error(where + ": unknown split behavior '" + s + "'");
}

void PreTokenizer::split(const std::u32string&, std::vector<Range>&) const {
  throw Error("internal: a rewriting pre-tokenizer was asked for ranges");
}

void PreTokenizer::pre_tokenize(std::vector<NormalizedString>& pieces) const {
  std::vector<NormalizedString> out;
  out.reserve(pieces.size() * 2);
  std::vector<Range> words;
  for (const NormalizedString& p : pieces) {
    if (p.empty()) continue;
    words.assign(1, Range{0, static_cast<std::uint32_t>(p.size())});
    split(p.chars(), words);
    for (const Range& w : words) out.push_back(p.slice(w.begin, w.end));
  }
  pieces.swap(out);
}

SequencePreTokenizer::SequencePreTokenizer(std::vector<PreTokenizerPtr> steps)
    : steps_(std::move(steps)) {
  for (const auto& s : steps_) rewrites_ = rewrites_ || s->rewrites();
}

void SequencePreTokenizer::pre_tokenize(std::vector<NormalizedString>& pieces) const {
  for (const auto& step : steps_) step->pre_tokenize(pieces);
}

void SplitPreTokenizer::split(const std::u32string& text, std::vector<Range>& words) const {
  std::vector<Range> out, matches;
  std::vector<SplitPart> parts;
  out.reserve(words.size() * 2);
  for (const Range& w : words) {
    matches.clear();
    regex_->find_all(text, w.begin, w.end, matches);
    parts.clear();
    std::uint32_t prev = w.begin;
    for (const Range& m : matches) {
      if (prev != m.begin) parts.push_back({{prev, m.begin}, invert_});
      parts.push_back({m, !invert_});
      prev = m.end;
    }
    if (prev != w.end) parts.push_back({{prev, w.end}, invert_});
    apply_split_behavior(parts, behavior_, out);
  }
  words.swap(out);
}

void DigitsPreTokenizer::split(const std::u32string& text, std::vector<Range>& words) const {
  auto numeric = [](char32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    const auto t = u_charType(static_cast<UChar32>(c));
    return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
  };
  split_in_place(text, words, numeric,
                 individual_ ? SplitBehavior::Isolated : SplitBehavior::Contiguous);
}

void split_at_char(const std::u32string& text, std::vector<Range>& words, char32_t delimiter,
                   SplitBehavior behavior) {
  split_in_place(
      text, words, [delimiter](char32_t c) { return c == delimiter; }, behavior);
}

void CharDelimiterPreTokenizer::split(const std::u32string& text, std::vector<Range>& words) const {
  split_at_char(text, words, delimiter_, SplitBehavior::Removed);
}

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
      const bool w =
          (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
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
        parse_split_behavior(string_field(j, "behavior", "Isolated", ctx), ctx));
  }
  if (type == "ByteLevel") {
    return std::make_shared<ByteLevelPreTokenizer>(bool_field(j, "add_prefix_space", true, ctx),
                                                   bool_field(j, "use_regex", true, ctx));
  }
  if (type == "Metaspace") {
    return std::make_shared<MetaspacePreTokenizer>(parse_metaspace_replacement(j, ctx),
                                                   parse_prepend_scheme(j, ctx),
                                                   bool_field(j, "split", true, ctx));
  }
  if (type == "Split") {
    const auto* pattern = find_field(j, "pattern");
    if (!pattern || !pattern->is_object()) throw Error(ctx + ": missing 'pattern' object");
    std::string re;
    if (pattern->contains("Regex")) {
      re = string_field(*pattern, "Regex", ctx + " pattern");
    } else {
      // A literal: escape every character so PCRE2 matches it as written.
      for (char c : string_field(*pattern, "String", ctx + " pattern")) {
        if (std::string_view("\\^$.|?*+()[]{}-/#&~ ").find(c) != std::string_view::npos) re += '\\';
        re += c;
      }
      if (re.empty()) re = "(?!)";  // Hugging Face: an empty string never matches
    }
    if (!find_field(j, "behavior")) throw Error(ctx + ": missing 'behavior'");
    return std::make_shared<SplitPreTokenizer>(
        std::make_shared<Regex>(re, ctx),
        parse_split_behavior(string_field(j, "behavior", ctx), ctx),
        bool_field(j, "invert", false, ctx));
  }
  if (type == "Digits")
    return std::make_shared<DigitsPreTokenizer>(bool_field(j, "individual_digits", false, ctx));
  if (type == "CharDelimiterSplit") {
    return std::make_shared<CharDelimiterPreTokenizer>(char_field(j, "delimiter", ctx));
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

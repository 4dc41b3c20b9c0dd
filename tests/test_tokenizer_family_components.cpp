// Unit tests of the non-WordPiece components, for behaviour the shared conformance files
// do not reach (BPE options, Split/Digits/CharDelimiterSplit, decoders, regex dialect,
// grapheme clusters, lossy UTF-8).
#include <gtest/gtest.h>

#include "encore/tokenizer.hpp"
#include "test_support.hpp"
#include "tokenizer/decoder.hpp"
#include "tokenizer/graphemes.hpp"
#include "tokenizer/regex.hpp"

namespace encore {
namespace {

using nlohmann::json;

Tokenizer from(const json& j) { return Tokenizer::from_json(j.dump(), "test.json"); }

std::vector<std::string> tokens(const Tokenizer& t, const std::string& text) {
  return t.encode(text).tokens;
}

json bpe(json extra = json::object()) {
  json m = {{"type", "BPE"},
            {"vocab", {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"abc", 4}, {"<unk>", 5},
                       {"##b", 6}, {"a##b", 7}, {"c</w>", 8}, {"<0x78>", 9}}},
            {"merges", {"a b", "ab c"}}};
  for (const auto& [k, v] : extra.items()) m[k] = v;
  return {{"model", m}};
}

TEST(BpeModel, LowestRankMergesFirstThenUnknownsPerOption) {
  EXPECT_EQ(tokens(from(bpe()), "abc"), (std::vector<std::string>{"abc"}));
  EXPECT_EQ(tokens(from(bpe()), "cab"), (std::vector<std::string>{"c", "ab"}));
  // No unk_token: unknown characters are dropped, as in Hugging Face, and their
  // neighbours then merge.
  EXPECT_EQ(tokens(from(bpe()), "azzb"), (std::vector<std::string>{"ab"}));
  // unk_token without fuse_unk: one <unk> per character; with it, one per run.
  EXPECT_EQ(tokens(from(bpe({{"unk_token", "<unk>"}})), "azzb"),
            (std::vector<std::string>{"a", "<unk>", "<unk>", "b"}));
  EXPECT_EQ(tokens(from(bpe({{"unk_token", "<unk>"}, {"fuse_unk", true}})), "azzb"),
            (std::vector<std::string>{"a", "<unk>", "b"}));
  // byte_fallback: a character whose bytes all have <0xXX> tokens becomes them, offsets of
  // the whole character; otherwise the unk token.
  const auto t = from(bpe({{"unk_token", "<unk>"}, {"byte_fallback", true}}));
  const Encoding e = t.encode("axé");
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"a", "<0x78>", "<unk>"}));
  EXPECT_EQ(e.offsets[1], (std::pair<std::uint32_t, std::uint32_t>{1, 2}));
}

TEST(BpeModel, PrefixSuffixAndIgnoreMerges) {
  // continuing_subword_prefix: non-initial characters are looked up as "##x", and a merge
  // drops the right part's prefix ("a" + "##b" -> "ab").
  auto j = bpe({{"continuing_subword_prefix", "##"}});
  j["model"]["merges"] = {"a ##b"};
  EXPECT_EQ(tokens(from(j), "ab"), (std::vector<std::string>{"ab"}));
  // end_of_word_suffix is added to the last character.
  j = bpe({{"end_of_word_suffix", "</w>"}});
  j["model"]["merges"] = json::array();
  EXPECT_EQ(tokens(from(j), "ac"), (std::vector<std::string>{"a", "c</w>"}));
  // ignore_merges: a word that is itself in the vocabulary is one token, merges or not.
  j = bpe({{"ignore_merges", true}});
  j["model"]["merges"] = json::array();
  EXPECT_EQ(tokens(from(j), "abc"), (std::vector<std::string>{"abc"}));
  EXPECT_EQ(tokens(from(j), "ca"), (std::vector<std::string>{"c", "a"}));
}

TEST(BpeModel, RepeatedWordsComeFromTheCacheUnchanged) {
  const auto t = from(bpe());
  const Encoding first = t.encode("abc");
  for (int i = 0; i < 3; ++i) {
    const Encoding again = t.encode("abc");
    EXPECT_EQ(again.ids, first.ids);
    EXPECT_EQ(again.offsets, first.offsets);
  }
}

json word_level(json pre) {
  return {{"model", {{"type", "WordLevel"}, {"vocab", {{"<unk>", 0}, {"ab", 1}, {"1", 2}, {"23", 3}, {"-", 4}}},
                     {"unk_token", "<unk>"}}},
          {"pre_tokenizer", pre}};
}

TEST(PreTokenizers, SplitBehavioursInvertDigitsAndCharDelimiter) {
  auto split = [](const char* behavior, bool invert = false) {
    return from(word_level({{"type", "Split"}, {"pattern", {{"Regex", "-+"}}},
                            {"behavior", behavior}, {"invert", invert}}));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(tokens(split("Removed"), "ab--ab"), (V{"ab", "ab"}));
  EXPECT_EQ(tokens(split("Isolated"), "ab--ab"), (V{"ab", "<unk>", "ab"}));
  EXPECT_EQ(tokens(split("MergedWithPrevious"), "ab-ab"), (V{"<unk>", "ab"}));
  EXPECT_EQ(tokens(split("MergedWithNext"), "ab-ab"), (V{"ab", "<unk>"}));
  EXPECT_EQ(tokens(split("Contiguous"), "ab-ab"), (V{"ab", "-", "ab"}));
  // invert: the matches are the words, the text between them the delimiters.
  EXPECT_EQ(tokens(split("Removed", true), "ab-ab"), (V{"-"}));
  const auto digits = from(word_level({{"type", "Digits"}, {"individual_digits", false}}));
  EXPECT_EQ(tokens(digits, "ab123"), (V{"ab", "<unk>"}));
  EXPECT_EQ(digits.encode("ab123").offsets[1], (std::pair<std::uint32_t, std::uint32_t>{2, 5}));
  const auto single = from(word_level({{"type", "Digits"}, {"individual_digits", true}}));
  EXPECT_EQ(tokens(single, "1\xD9\xA3"), (V{"1", "<unk>"}));  // U+0663 ARABIC-INDIC THREE is N*
  const auto delim = from(word_level({{"type", "CharDelimiterSplit"}, {"delimiter", "-"}}));
  EXPECT_EQ(tokens(delim, "ab-1"), (V{"ab", "1"}));
}

std::string decode_with(const json& decoder, std::vector<std::string> toks) {
  return tok::decode_tokens(tok::make_decoder(decoder, "test").get(), std::move(toks));
}

TEST(Decoders, ChainSemantics) {
  EXPECT_EQ(decode_with({{"type", "Strip"}, {"content", "_"}, {"start", 2}, {"stop", 1}},
                        {"___a__", "_"}),
            "_a_");
  EXPECT_EQ(decode_with({{"type", "Replace"}, {"pattern", {{"Regex", "x+"}}}, {"content", "-"}},
                        {"axxb", "x"}),
            "a-b-");
  EXPECT_EQ(decode_with({{"type", "BPEDecoder"}, {"suffix", "</w>"}}, {"ab</w>", "c</w>"}), "ab c");
  // ByteFallback: valid byte runs become text; an invalid run one U+FFFD per byte.
  EXPECT_EQ(decode_with({{"type", "ByteFallback"}}, {"<0xC3>", "<0xA9>", "x", "<0xC3>"}),
            "\xC3\xA9x\xEF\xBF\xBD");
  EXPECT_EQ(decode_with({{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "always"}},
                        {"\xE2\x96\x81" "a", "\xE2\x96\x81" "b"}),
            "a b");
  EXPECT_EQ(decode_with({{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "never"}},
                        {"\xE2\x96\x81" "a"}),
            " a");
  // ByteLevel: bytes mapped back; a split multi-byte character is rejoined; "Ġ" is a space.
  EXPECT_EQ(decode_with({{"type", "ByteLevel"}}, {"\xC3\x83", "\xC2\xA9", "\xC4\xA0" "a"}), "\xC3\xA9 a");
}

TEST(Decoders, LossyUtf8IsRustsFromUtf8Lossy) {
  EXPECT_EQ(tok::utf8_lossy("a\xC3"), "a\xEF\xBF\xBD");
  // A maximal invalid prefix (E2 82 of a 3-byte form) is one replacement character.
  EXPECT_EQ(tok::utf8_lossy("\xE2\x82x"), "\xEF\xBF\xBDx");
  EXPECT_EQ(tok::utf8_lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(tok::utf8_lossy("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

TEST(RegexDialect, OnigurumaWhitespaceIncludesNextLine) {
  // Oniguruma's \s is Unicode White_Space (U+0085 included); PCRE2 10.42's is not.
  tok::Regex re("\\s+", "test");
  const std::u32string s = U"a\u0085\u3000b";
  std::vector<tok::Range> m;
  re.find_all(s, 0, static_cast<std::uint32_t>(s.size()), m);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].begin, 1u);
  EXPECT_EQ(m[0].end, 3u);
  EXPECT_EQ(tok::translate_oniguruma("[^\\s\\p{L}]"), "[^\\t-\\r\\x{85}\\p{Z}\\p{L}]");
  // Empty matches advance by one character, as Oniguruma's find_iter does.
  tok::Regex empty("x*", "test");
  m.clear();
  const std::u32string t = U"ab";
  empty.find_all(t, 0, 2, m);
  EXPECT_EQ(m.size(), 3u);
}

TEST(Graphemes, ClustersFollowUax29) {
  auto len = [](const std::u32string& s) { return tok::grapheme_length(s, 0, s.size()); };
  EXPECT_EQ(len(U"ab"), 1u);
  EXPECT_EQ(len(U"e\u0301\u0302x"), 3u);           // base + two combining marks
  EXPECT_EQ(len(U"\r\nx"), 2u);                     // CR LF
  EXPECT_EQ(len(U"\U0001F469\u200D\U0001F4BBx"), 3u);  // emoji ZWJ sequence
  EXPECT_EQ(len(U"\U0001F1EB\U0001F1F7\U0001F1EB"), 2u);  // one flag, then a lone indicator
  EXPECT_EQ(len(U"\u1100\u1161\u11A8x"), 3u);       // Hangul L V T
}

}  // namespace
}  // namespace encore

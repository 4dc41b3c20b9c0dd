// Bad tokenizer files give an encore::Error that names the file and the problem.
#include <gtest/gtest.h>

#include "encore/tokenizer.hpp"
#include "test_support.hpp"

namespace encore {
namespace {

using nlohmann::json;

json base() {
  return json::parse(test::slurp(test::shared_dir() / "vocab/bert-base-uncased/tokenizer.json"));
}

std::string load_error(const std::string& text, const std::string& name = "bad.json") {
  try {
    Tokenizer::from_json(text, name);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(TokenizerErrors, MalformedJsonNamesFileAndPosition) {
  const std::string msg = load_error("{\"model\": {", "my/tokenizer.json");
  EXPECT_CONTAINS(msg, "my/tokenizer.json");
  EXPECT_CONTAINS(msg, "malformed JSON at byte");
}

TEST(TokenizerErrors, UnknownComponentTypesAreNamed) {
  // Components Hugging Face has and encore does not implement: a load-time error naming
  // the component and the file, never a silent difference.
  auto t = base();
  t["normalizer"] = {{"type", "ByteLevel"}};
  EXPECT_CONTAINS(load_error(t.dump(), "f/tokenizer.json"),
                  "f/tokenizer.json: unknown normalizer type 'ByteLevel'");
  t = base();
  t["pre_tokenizer"] = {{"type", "UnicodeScripts"}};
  EXPECT_CONTAINS(load_error(t.dump()), "unknown pre_tokenizer type 'UnicodeScripts'");
  t = base();
  t["post_processor"] = {{"type", "Nope"}};
  EXPECT_CONTAINS(load_error(t.dump()), "unknown post_processor type 'Nope'");
  t = base();
  t["model"]["type"] = "Nope";
  EXPECT_CONTAINS(load_error(t.dump()), "unsupported model type 'Nope'");
  t = base();
  t["decoder"] = {{"type", "CTC"}};
  EXPECT_CONTAINS(load_error(t.dump()), "unknown decoder type 'CTC'");
  t = base();
  t["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "Nope"}}}}};
  EXPECT_CONTAINS(load_error(t.dump()), "unknown normalizer type 'Nope'");
}

json tiny_bpe() {
  return json::parse(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
                                    "merges": ["a b"]}})");
}

TEST(TokenizerErrors, BpeProblemsAreNamed) {
  EXPECT_EQ(load_error(tiny_bpe().dump()), "<no error>");
  auto t = tiny_bpe();
  t["model"]["dropout"] = 0.1;
  EXPECT_CONTAINS(load_error(t.dump()), "dropout 0.1 is not supported");
  t = tiny_bpe();
  t["model"]["merges"] = {"a c"};
  EXPECT_CONTAINS(load_error(t.dump()), "merge 0 uses 'c', not in the vocabulary");
  t = tiny_bpe();
  t["model"]["merges"] = {"b a"};
  EXPECT_CONTAINS(load_error(t.dump()), "makes 'ba', not in the vocabulary");
  t = tiny_bpe();
  t["model"]["merges"] = {"a b c"};
  EXPECT_CONTAINS(load_error(t.dump()), "not two tokens separated by one space");
  t = tiny_bpe();
  t["model"]["merges"] = {{"a"}};
  EXPECT_CONTAINS(load_error(t.dump()), "must be \"a b\" or");
  t = tiny_bpe();
  t["model"]["unk_token"] = 5;
  EXPECT_CONTAINS(load_error(t.dump()), "field 'unk_token' must be a string or null");
}

TEST(TokenizerErrors, UnigramProblemsAreNamed) {
  auto t = json::parse(R"({"model": {"type": "Unigram", "unk_id": 0,
                                     "vocab": [["<unk>", 0.0], ["a", -1.0]]}})");
  EXPECT_EQ(load_error(t.dump()), "<no error>");
  t["model"]["unk_id"] = 7;
  EXPECT_CONTAINS(load_error(t.dump()), "unk_id 7 is outside the vocabulary");
  t["model"]["unk_id"] = 0;
  t["model"]["vocab"][1] = {"a"};
  EXPECT_CONTAINS(load_error(t.dump()), "vocab entry 1 must be [piece, score]");
  t["model"]["vocab"] = json::array();
  EXPECT_CONTAINS(load_error(t.dump()), "the vocabulary is empty");
  // Without unk_id, a character outside the vocabulary is an input error (as in HF).
  t = json::parse(R"({"model": {"type": "Unigram", "vocab": [["a", -1.0]]}})");
  const auto tok = Tokenizer::from_json(t.dump(), "u.json");
  EXPECT_EQ(tok.encode("aa").ids, (std::vector<std::int32_t>{0, 0}));
  EXPECT_THROW(tok.encode("ab"), InputError);
}

TEST(TokenizerErrors, NewComponentFieldsAreChecked) {
  auto t = base();
  t["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "not base64!"}};
  EXPECT_CONTAINS(load_error(t.dump()), "invalid base64");
  t["normalizer"]["precompiled_charsmap"] = "AAAA";  // 3 bytes: too short
  EXPECT_CONTAINS(load_error(t.dump()), "precompiled_charsmap is too short");
  t["normalizer"]["precompiled_charsmap"] = "/////wAAAAA=";  // trie size larger than the blob
  EXPECT_CONTAINS(load_error(t.dump()), "invalid trie size");
  t = base();
  t["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "ab"}};
  EXPECT_CONTAINS(load_error(t.dump()), "'replacement' must be exactly one character");
  t["pre_tokenizer"] = {{"type", "Metaspace"},
                        {"replacement", "_"},
                        {"add_prefix_space", false},
                        {"prepend_scheme", "always"}};
  EXPECT_CONTAINS(load_error(t.dump()), "add_prefix_space false does not match prepend_scheme");
  t["pre_tokenizer"] = {
      {"type", "Metaspace"}, {"replacement", "_"}, {"prepend_scheme", "sometimes"}};
  EXPECT_CONTAINS(load_error(t.dump()), "unknown prepend_scheme 'sometimes'");
  t["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  EXPECT_CONTAINS(load_error(t.dump()), "invalid regex '(unclosed'");
  t["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Sideways"}};
  EXPECT_CONTAINS(load_error(t.dump()), "unknown split behavior 'Sideways'");
  t = base();
  t["decoder"] = {{"type", "Strip"}, {"content", " "}, {"start", -1}, {"stop", 0}};
  EXPECT_CONTAINS(load_error(t.dump()), "start and stop must be >= 0");
  t["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", {"</s>"}}, {"cls", {"<s>", 0}}};
  EXPECT_CONTAINS(load_error(t.dump()), "field 'sep' must be [token, id]");
}

TEST(TokenizerErrors, VocabWithoutUnkToken) {
  auto t = base();
  t["model"]["vocab"].erase("[UNK]");
  const std::string msg = load_error(t.dump(), "x/tokenizer.json");
  EXPECT_CONTAINS(msg, "x/tokenizer.json");
  EXPECT_CONTAINS(msg, "no entry for its unk_token '[UNK]'");
}

TEST(TokenizerErrors, StructuralProblems) {
  EXPECT_CONTAINS(load_error("[]"), "must hold a JSON object");
  EXPECT_CONTAINS(load_error("{}"), "missing 'model'");
  auto t = base();
  t["model"]["vocab"] = json::array();
  EXPECT_CONTAINS(load_error(t.dump()), "'vocab' must be an object");
  t = base();
  t["model"]["vocab"]["hello"] = "x";
  EXPECT_CONTAINS(load_error(t.dump()), "vocab entry 'hello' has an invalid id");
  t = base();
  t["added_tokens"] = {{{"content", "[X]"}}};
  EXPECT_CONTAINS(load_error(t.dump()), "'[X]' has no valid id");
  t = base();
  t["normalizer"]["lowercase"] = "yes";
  EXPECT_CONTAINS(load_error(t.dump()), "field 'lowercase' must be a boolean");
  t = base();
  t["post_processor"]["single"][0]["SpecialToken"]["id"] = "[NOPE]";
  EXPECT_CONTAINS(load_error(t.dump()), "special token '[NOPE]'");
  t = base();
  t["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Regex", "[a-"}}}, {"content", " "}};
  EXPECT_CONTAINS(load_error(t.dump()), "normalizer Replace: invalid regex '[a-'");
}

TEST(TokenizerErrors, MissingFolderAndFiles) {
  try {
    load_tokenizer("/nonexistent/encore/model");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "model folder '/nonexistent/encore/model' does not exist");
  }
  const auto dir = test::temp_dir("empty_model");
  try {
    load_tokenizer(dir);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "has no tokenizer.json, vocab.json + merges.txt, or vocab.txt");
  }
  try {
    Tokenizer::from_file(dir / "tokenizer.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "tokenizer.json' does not exist");
  }
  test::write_file(dir / "vocab.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n");
  try {
    load_tokenizer(dir);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "vocab.txt");
    EXPECT_CONTAINS(e.what(), "'[UNK]'");
  }
  test::write_file(dir / "tokenizer_config.json", "{oops");
  try {
    load_tokenizer(dir);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "tokenizer_config.json: malformed JSON");
  }
  std::filesystem::remove_all(dir);
}

TEST(TokenizerErrors, InvalidUtf8InTextReportsByteOffset) {
  const auto tok =
      Tokenizer::from_file(test::shared_dir() / "vocab/bert-base-uncased/tokenizer.json");
  try {
    tok.encode("hello \xC3(");
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_CONTAINS(e.what(), "byte offset 6");
  }
  try {
    tok.encode_pair("fine", "ab\xFF");
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_CONTAINS(e.what(), "text_pair");
    EXPECT_CONTAINS(e.what(), "byte offset 2");
  }
}

TEST(TokenizerErrors, ImpossibleTruncation) {
  const auto tok =
      Tokenizer::from_file(test::shared_dir() / "vocab/bert-base-uncased/tokenizer.json");
  EncodeOptions o;
  o.truncation = Truncation{1};  // below the 2 special tokens: HF leaves the text whole
  EXPECT_EQ(tok.encode("hello world", o).size(), 4u);
  o.truncation = Truncation{4, TruncationStrategy::OnlySecond};
  EXPECT_THROW(tok.encode("hello world again and again", o), InputError);
  o.truncation = Truncation{3};
  EXPECT_EQ(tok.encode("hello world", o).tokens,
            (std::vector<std::string>{"[CLS]", "hello", "[SEP]"}));
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

TEST(TokenizerErrors, HugeSparseIdsDoNotAllocateATableThatLarge) {
  // Found by fuzzing: one id near INT32_MAX once sized a dense id -> token table to 64 GiB.
  const auto tok =
      Tokenizer::from_json(R"({"model":{"vocab":{"[UNK]":2147483647,"a":0}}})", "sparse.json");
  // No pre-tokenizer or post-processor: the whole text is one word.
  EXPECT_EQ(tok.encode("a").ids, (std::vector<std::int32_t>{0}));
  const Encoding e = tok.encode("zz");
  EXPECT_EQ(e.ids, (std::vector<std::int32_t>{2147483647}));
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"[UNK]"}));
  EXPECT_EQ(tok.id_to_token(2147483647).value_or(""), "[UNK]");
}

}  // namespace
}  // namespace encore

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
  auto t = base();
  t["normalizer"] = {{"type", "Precompiled"}};
  EXPECT_CONTAINS(load_error(t.dump()), "unknown normalizer type 'Precompiled'");
  t = base();
  t["pre_tokenizer"] = {{"type", "ByteLevel"}};
  EXPECT_CONTAINS(load_error(t.dump()), "unknown pre_tokenizer type 'ByteLevel'");
  t = base();
  t["post_processor"] = {{"type", "RobertaProcessing"}};
  EXPECT_CONTAINS(load_error(t.dump()), "unknown post_processor type 'RobertaProcessing'");
  t = base();
  t["model"]["type"] = "BPE";
  EXPECT_CONTAINS(load_error(t.dump()), "unsupported model type 'BPE'");
  t = base();
  t["decoder"] = {{"type", "Metaspace"}};
  EXPECT_CONTAINS(load_error(t.dump()), "unknown decoder type 'Metaspace'");
  t = base();
  t["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "Nope"}}}}};
  EXPECT_CONTAINS(load_error(t.dump()), "unknown normalizer type 'Nope'");
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
  EXPECT_CONTAINS(load_error(t.dump()), "missing 'vocab' object");
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
  t["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}};
  EXPECT_CONTAINS(load_error(t.dump()), "Regex patterns are not supported");
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
    EXPECT_CONTAINS(e.what(), "has neither tokenizer.json nor vocab.txt");
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
  const auto tok = Tokenizer::from_file(test::shared_dir() / "vocab/bert-base-uncased/tokenizer.json");
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
  const auto tok = Tokenizer::from_file(test::shared_dir() / "vocab/bert-base-uncased/tokenizer.json");
  EncodeOptions o;
  o.truncation = Truncation{1};  // below the 2 special tokens: HF leaves the text whole
  EXPECT_EQ(tok.encode("hello world", o).size(), 4u);
  o.truncation = Truncation{4, TruncationStrategy::OnlySecond};
  EXPECT_THROW(tok.encode("hello world again and again", o), InputError);
  o.truncation = Truncation{3};
  EXPECT_EQ(tok.encode("hello world", o).tokens, (std::vector<std::string>{"[CLS]", "hello", "[SEP]"}));
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

TEST(TokenizerErrors, HugeSparseIdsDoNotAllocateATableThatLarge) {
  // Found by fuzzing: one id near INT32_MAX once sized a dense id -> token table to 64 GiB.
  const auto tok = Tokenizer::from_json(R"({"model":{"vocab":{"[UNK]":2147483647,"a":0}}})", "sparse.json");
  // No pre-tokenizer or post-processor: the whole text is one word.
  EXPECT_EQ(tok.encode("a").ids, (std::vector<std::int32_t>{0}));
  const Encoding e = tok.encode("zz");
  EXPECT_EQ(e.ids, (std::vector<std::int32_t>{2147483647}));
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"[UNK]"}));
  EXPECT_EQ(tok.id_to_token(2147483647).value_or(""), "[UNK]");
}

}  // namespace
}  // namespace encore

// `encore tokenize` end to end: outputs, and every bad input giving a clear message and a
// non-zero exit code.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace encore {
namespace {

using nlohmann::json;
using test::run_cli;
using test::shell_quote;

std::string vocab_dir() { return (test::shared_dir() / "vocab/bert-base-uncased").string(); }

TEST(CliTokenize, DefaultModelTokenizesText) {
  const auto r = run_cli("tokenize " + shell_quote("book a flight to paris"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["tokens"], json({"[CLS]", "book", "a", "flight", "to", "paris", "[SEP]"}));
  EXPECT_EQ(j["ids"], json({101, 2338, 1037, 3462, 2000, 3000, 102}));
  EXPECT_EQ(j["offsets"][1], json({0, 4}));
}

TEST(CliTokenize, EveryFamilyShowsIdsTokensOffsetsAndDecodes) {
  // One line per family: byte-level BPE (offsets trimmed of the leading space), Unigram
  // (Metaspace '▁'), byte-fallback BPE (<0xXX> tokens for the emoji).
  struct Case {
    const char* folder;
    std::vector<std::string> tokens;
    json offsets;
  };
  const std::vector<Case> cases = {
      {"roberta-bpe", {"<s>", "Hello", "Ġworld", "</s>"}, json({{0, 0}, {0, 5}, {6, 11}, {0, 0}})},
      {"xlmr-unigram", {}, json()},
      {"llama-bytefallback", {}, json()},
  };
  for (const auto& c : cases) {
    const std::string dir = (test::shared_dir() / "tokenizers" / c.folder).string();
    auto r = run_cli("tokenize --model " + dir + " " + shell_quote("Hello world"));
    ASSERT_EQ(r.exit_code, 0) << c.folder << ": " << r.err;
    const json j = json::parse(r.out);
    ASSERT_TRUE(j["ids"].is_array() && j["tokens"].is_array() && j["offsets"].is_array()) << r.out;
    EXPECT_EQ(j["ids"].size(), j["tokens"].size());
    if (!c.tokens.empty()) {
      EXPECT_EQ(j["tokens"], json(c.tokens)) << c.folder;
      EXPECT_EQ(j["offsets"], c.offsets) << c.folder;
    }
    // --decode gives the text back (special tokens skipped), and keeps them when asked.
    r = run_cli("tokenize --model " + dir + " --decode " + shell_quote(j["ids"].dump()));
    ASSERT_EQ(r.exit_code, 0) << c.folder << ": " << r.err;
    EXPECT_EQ(json::parse(r.out)["text"], "Hello world") << c.folder;
  }
  auto r = run_cli("tokenize --model " + (test::shared_dir() / "tokenizers/roberta-bpe").string() +
                   " --decode 0,15500,2 --keep-special-tokens");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["text"], "<s>Hello</s>");
  r = run_cli("tokenize --model " + (test::shared_dir() / "tokenizers/roberta-bpe").string() +
              " --decode 1,x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "'x' is not a token id");
  r = run_cli("tokenize --model " + (test::shared_dir() / "tokenizers/roberta-bpe").string() +
              " --decode 99999999");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "id 99999999 is not in the vocabulary");
}

TEST(CliTokenize, EmptyTextGivesClsSep) {
  const auto r = run_cli("tokenize --model " + vocab_dir() + " ''");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["tokens"], json({"[CLS]", "[SEP]"}));
}

TEST(CliTokenize, PairAndMaxLength) {
  auto r = run_cli("tokenize --model " + vocab_dir() + " 'hello world' --pair 'good night'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["tokens"], json({"[CLS]", "hello", "world", "[SEP]", "good", "night", "[SEP]"}));
  EXPECT_EQ(j["type_ids"], json({0, 0, 0, 0, 1, 1, 1}));
  r = run_cli("tokenize --model " + vocab_dir() + " --max-length 4 'one two three four'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["tokens"], json({"[CLS]", "one", "two", "[SEP]"}));
}

TEST(CliTokenize, DefaultTruncationIs512AndCanBeDisabled) {
  std::string text;
  for (int i = 0; i < 600; ++i) text += "word ";
  auto r = run_cli("tokenize --model " + vocab_dir() + " " + shell_quote(text));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["ids"].size(), 512u);
  r = run_cli("tokenize --no-truncation --model " + vocab_dir() + " " + shell_quote(text));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["ids"].size(), 602u);
}

TEST(CliTokenize, JsonlInputKeepsOrderAndKeys) {
  const auto dir = test::temp_dir("cli_jsonl");
  test::write_file(dir / "in.jsonl",
                   "{\"text\": \"first one\"}\n\n{\"text\": \"a\", \"text_pair\": \"b\"}\n"
                   "{\"text\": \"\"}\n");
  const auto r = run_cli("tokenize --model " + vocab_dir() + " --input " + (dir / "in.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> rows;
  std::size_t pos = 0;
  while (pos < r.out.size()) {
    const auto nl = r.out.find('\n', pos);
    rows.push_back(json::parse(r.out.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["tokens"], json({"[CLS]", "first", "one", "[SEP]"}));
  EXPECT_EQ(rows[1]["type_ids"], json({0, 0, 0, 1, 1}));
  EXPECT_EQ(rows[2]["tokens"], json({"[CLS]", "[SEP]"}));
  for (const auto& row : rows) {
    EXPECT_EQ(row.size(), 4u);
    for (const char* k : {"ids", "type_ids", "tokens", "offsets"}) EXPECT_TRUE(row.contains(k));
  }
  std::filesystem::remove_all(dir);
}

TEST(CliTokenize, BadInputsFailCleanly) {
  const auto dir = test::temp_dir("cli_bad");
  const std::string model = " --model " + vocab_dir() + " ";

  auto r = run_cli("tokenize --model /no/such/model 'x'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "model folder '/no/such/model' does not exist");

  test::write_file(dir / "malformed.jsonl", "{\"text\": \"ok\"}\n{\"text\": oops}\n");
  r = run_cli("tokenize" + model + "--input " + (dir / "malformed.jsonl").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "malformed.jsonl:2: malformed JSON line");
  EXPECT_TRUE(r.out.empty()) << "nothing half-written: " << r.out;

  test::write_file(dir / "notext.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"x\"}\n");
  r = run_cli("tokenize" + model + "--input " + (dir / "notext.jsonl").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "notext.jsonl:2: missing string field \"text\"");

  test::write_file(dir / "badutf8.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"ab\xC3(\"}\n");
  r = run_cli("tokenize" + model + "--input " + (dir / "badutf8.jsonl").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "badutf8.jsonl:2: invalid UTF-8 at byte offset 12");

  r = run_cli("tokenize" + model + shell_quote("caf\xC3"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "TEXT: invalid UTF-8 at byte offset 3");

  r = run_cli("tokenize" + model + "--input " + (dir / "missing.jsonl").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "cannot open input file");

  r = run_cli("tokenize" + model);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "give a TEXT argument, --input FILE.jsonl or --decode IDS");

  std::filesystem::create_directories(dir / "badmodel");
  test::write_file(dir / "badmodel/tokenizer.json", "{\"model\": ");
  r = run_cli("tokenize --model " + (dir / "badmodel").string() + " x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "badmodel/tokenizer.json: malformed JSON");

  test::write_file(dir / "badmodel/tokenizer.json",
                   R"({"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "normalizer": {"type": "Foo"}})");
  r = run_cli("tokenize --model " + (dir / "badmodel").string() + " x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "unknown normalizer type 'Foo'");

  r = run_cli("tokenize" + model + "--max-length 0 x");
  EXPECT_NE(r.exit_code, 0);
  r = run_cli("tokenize" + model + "--max-length 2 x --pair y");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "--max-length 2 cannot hold the 3 special tokens");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace encore

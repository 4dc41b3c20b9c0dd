// The 186 conformance cases computed by Hugging Face tokenizers (Python) must come out
// identical, through tokenizer.json and through the vocab.txt-only path.
#include <gtest/gtest.h>

#include "encore/tokenizer.hpp"
#include "test_support.hpp"

namespace encore {
namespace {

void expect_matches_cases(const Tokenizer& tok) {
  const auto cases = test::read_jsonl(test::shared_dir() / "data/tokenizer_cases.jsonl");
  ASSERT_EQ(cases.size(), 186u);
  EncodeOptions opts;
  opts.truncation = Truncation{512};
  int failures = 0;
  for (const auto& c : cases) {
    const std::string text = c["text"];
    const Encoding e = c.contains("text_pair") && c["text_pair"].is_string()
                           ? tok.encode_pair(text, c["text_pair"].get<std::string>(), opts)
                           : tok.encode(text, opts);
    nlohmann::json offsets = nlohmann::json::array();
    for (const auto& [s, t] : e.offsets) offsets.push_back({s, t});
    const bool same = nlohmann::json(e.ids) == c["ids"] &&
                      nlohmann::json(e.type_ids) == c["type_ids"] &&
                      nlohmann::json(e.tokens) == c["tokens"] && offsets == c["offsets"];
    if (!same && ++failures <= 5) {
      ADD_FAILURE() << "text " << nlohmann::json(text).dump() << "\n expected tokens "
                    << c["tokens"].dump() << "\n got      " << nlohmann::json(e.tokens).dump()
                    << "\n expected offsets " << c["offsets"].dump() << "\n got      "
                    << offsets.dump();
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(TokenizerCases, TokenizerJsonMatchesHuggingFace) {
  expect_matches_cases(
      Tokenizer::from_file(test::shared_dir() / "vocab/bert-base-uncased/tokenizer.json"));
}

TEST(TokenizerCases, VocabTxtOnlyFolderMatchesHuggingFace) {
  // A folder holding only vocab.txt + tokenizer_config.json, as old BERT checkpoints ship.
  const auto dir = test::temp_dir("vocab_only");
  const auto src = test::shared_dir() / "vocab/bert-base-uncased";
  std::filesystem::copy_file(src / "vocab.txt", dir / "vocab.txt");
  std::filesystem::copy_file(src / "tokenizer_config.json", dir / "tokenizer_config.json");
  const TokenizerBundle b = load_tokenizer(dir);
  EXPECT_EQ(b.loaded_from.filename(), "vocab.txt");
  EXPECT_EQ(b.max_length, 512u);
  expect_matches_cases(b.tokenizer);
  std::filesystem::remove_all(dir);
}

TEST(TokenizerCases, DefaultMaxLengthIsCappedByModelConfig) {
  const auto dir = test::temp_dir("maxlen");
  const auto src = test::shared_dir() / "vocab/bert-base-uncased";
  std::filesystem::copy_file(src / "tokenizer.json", dir / "tokenizer.json");
  test::write_file(dir / "tokenizer_config.json", R"({"model_max_length": 512})");
  test::write_file(dir / "config.json", R"({"max_position_embeddings": 128})");
  EXPECT_EQ(load_tokenizer(dir).max_length, 128u);
  test::write_file(dir / "tokenizer_config.json", R"({"model_max_length": 1000000000000000019884624838656})");
  std::filesystem::remove(dir / "config.json");
  EXPECT_EQ(load_tokenizer(dir).max_length, 512u);  // HF's "no limit" sentinel -> 512
  test::write_file(dir / "tokenizer_config.json", R"({"model_max_length": 64})");
  EXPECT_EQ(load_tokenizer(dir).max_length, 64u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace encore

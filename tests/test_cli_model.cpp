// classify / embed / run / eval end to end, and their bad inputs.
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>

#include "io/safetensors.hpp"
#include "test_support.hpp"

namespace encore {
namespace {

using nlohmann::json;
using test::run_cli;
using test::shell_quote;

std::string model_dir(const std::string& name) {
  return (test::shared_dir() / "models" / name).string();
}

std::vector<json> json_lines(const std::string& s) {
  std::vector<json> rows;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const auto nl = s.find('\n', pos);
    rows.push_back(json::parse(s.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return rows;
}

TEST(CliModel, ClassifyWithTheEmbeddedDemoModel) {
  const auto r = run_cli("classify " + shell_quote("book a flight to paris"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["label"], "book_flight");
  EXPECT_GT(j["score"].get<double>(), 0.5);
}

TEST(CliModel, ClassifyTopKAndAllScores) {
  auto r = run_cli("classify --model " + model_dir("clinc-bert-small") +
                   " --top-k 3 'what is my bank balance' 'play some jazz'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = json_lines(r.out);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    ASSERT_EQ(row["labels"].size(), 3u);
    EXPECT_GE(row["labels"][0]["score"].get<double>(), row["labels"][1]["score"].get<double>());
    EXPECT_GE(row["labels"][1]["score"].get<double>(), row["labels"][2]["score"].get<double>());
  }
  EXPECT_EQ(rows[0]["labels"][0]["label"], "balance");
  r = run_cli("classify --model " + model_dir("tiny-random-bert") + " --all-scores 'a' --pair 'b'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["labels"].size(), 3u);
  double sum = 0;
  for (const auto& l : j["labels"]) sum += l["score"].get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-5);
}

TEST(CliModel, EmbedPoolingsAndOutputFile) {
  auto r = run_cli("embed --model " + model_dir("tiny-random-bert") +
                   " --pooling mean --normalize 'hello world'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = json::parse(r.out)["embedding"].get<std::vector<double>>();
  ASSERT_EQ(v.size(), 96u);
  double norm = 0;
  for (double x : v) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);

  const auto dir = test::temp_dir("cli_embed");
  const auto out = dir / "emb.safetensors";
  r = run_cli("embed --model " + model_dir("tiny-random-bert") + " --pooling pooler --output " +
              out.string() + " one two three");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto f = io::SafetensorsFile::open(out);
  for (int i = 0; i < 3; ++i) {
    const auto* t = f.find("embedding." + std::to_string(i));
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->shape, (std::vector<std::int64_t>{96}));
  }
  std::filesystem::remove_all(dir);
}

TEST(CliModel, RunWritesReferenceLayout) {
  const auto dir = test::temp_dir("cli_run");
  const auto out = dir / "out.safetensors";
  const auto r = run_cli("run --model " + model_dir("tiny-random-bert") + " --input " +
                         (test::shared_dir() / "reference/texts.jsonl").string() + " --output " +
                         out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "1 input was truncated to 512 tokens");
  const auto got = io::SafetensorsFile::open(out);
  const auto ref =
      io::SafetensorsFile::open(test::shared_dir() / "reference/tiny-random-bert.safetensors");
  for (const auto& t : ref.tensors()) {
    const auto* g = got.find(t.name);
    ASSERT_NE(g, nullptr) << t.name;
    EXPECT_EQ(g->shape, t.shape) << t.name;
    EXPECT_EQ(g->dtype, t.dtype) << t.name;
    if (t.dtype == io::DType::F32) {
      const auto a = io::to_float32(*g), b = io::to_float32(t);
      for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4) << t.name;
    } else {
      EXPECT_EQ(std::memcmp(g->data, t.data, t.bytes), 0) << t.name;
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(CliModel, EvalReportsTheTrainingAccuracy) {
  // TRAINING.md of clinc-bert-small: test accuracy 0.769273 = 4231 of 5500 rows.
  const auto r = run_cli("eval --json --model " + model_dir("clinc-bert-small") + " --data " +
                         (test::shared_dir() / "data/clinc150/test.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["rows"], 5500);
  EXPECT_EQ(j["correct"], 4231);
  EXPECT_GT(j["macro_f1"].get<double>(), 0.5);
}

TEST(CliModel, BadInputsFailCleanly) {
  const auto dir = test::temp_dir("cli_model_bad");
  const std::string small = " --model " + model_dir("tiny-random-bert") + " ";

  auto r = run_cli("classify --model /no/such/dir hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "'/no/such/dir' does not exist");

  test::write_file(dir / "bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"x\"\n");
  r = run_cli("classify" + small + "--input " + (dir / "bad.jsonl").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "bad.jsonl:2: malformed JSON line");
  EXPECT_TRUE(r.out.empty());

  test::write_file(
      dir / "labels.jsonl",
      "{\"text\": \"ok\", \"intent\": \"NEGATIVE\"}\n{\"text\": \"x\", \"intent\": \"angry\"}\n");
  r = run_cli("eval" + small + "--data " + (dir / "labels.jsonl").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "labels.jsonl:2: label 'angry' is not one of the model's labels");

  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "word ";
  r = run_cli("classify" + small + "--no-truncate " + shell_quote(long_text));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "more than the maximum of 512 (truncation is off)");

  // A model folder whose weights file is cut short: nothing may be written to --output.
  const auto broken = dir / "broken";
  std::filesystem::create_directories(broken);
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"})
    std::filesystem::copy_file(test::shared_dir() / "models/tiny-random-bert" / f, broken / f);
  const std::string weights =
      test::slurp(test::shared_dir() / "models/tiny-random-bert/model.safetensors");
  test::write_file(broken / "model.safetensors", weights.substr(0, weights.size() / 2));
  r = run_cli("run --model " + broken.string() + " --output " + (dir / "o.safetensors").string() +
              " hello");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "model.safetensors");
  EXPECT_FALSE(std::filesystem::exists(dir / "o.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "o.safetensors.tmp"));

  std::filesystem::remove(broken / "model.safetensors");
  test::write_file(broken / "pytorch_model.bin", "not really");
  r = run_cli("classify --model " + broken.string() + " hello");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "pytorch_model.bin");

  test::write_file(broken / "config.json", R"({"model_type": "gpt2"})");
  r = run_cli("classify --model " + broken.string() + " hello");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "unsupported model_type 'gpt2'");

  r = run_cli("run" + small + "hello");  // --output is required
  EXPECT_NE(r.exit_code, 0);
  EXPECT_CONTAINS(r.err, "--output");

  r = run_cli("embed --model " + model_dir("clinc-bert-small") + " --pooling bogus hi");
  EXPECT_NE(r.exit_code, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

// Every architecture folder through the CLI: inspect, embed, classify (with a head), bench on
// a fixed shape, and a built INT8 plan classifying like the folder it came from.
TEST(CliArchitectures, EveryCommandRunsOnEveryArchitecture) {
  const auto arch = test::shared_dir() / "models" / "arch";
  for (const char* name :
       {"distilbert-cls", "distilbert-st", "roberta-cls-f16", "xlmr-cls", "xlmr-st",
        "camembert-cls", "xlmr-reranker", "electra-cls", "mpnet-cls", "modernbert-cls",
        "albert-cls", "deberta-v3-cls", "deberta-v2-conv-cls"}) {
    const std::string m = test::shell_quote((arch / name).string());
    auto r = test::run_cli("inspect --model " + m);
    EXPECT_EQ(r.exit_code, 0) << name << r.err;
    EXPECT_NE(r.out.find("variant"), std::string::npos) << name;
    r = test::run_cli("embed --model " + m + " 'a first text' 'ein zweiter Text'");
    EXPECT_EQ(r.exit_code, 0) << name << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << name;
    r = test::run_cli("bench --model " + m + " --shapes 2x16 --min-runs 1 --min-time 0 --warmup 0");
    EXPECT_EQ(r.exit_code, 0) << name << r.err;
    const bool head = std::string(name).find("-st") == std::string::npos;
    r = test::run_cli("classify --model " + m + " 'what is the capital of france'" +
                      (std::string(name) == "xlmr-reranker" ? " --pair 'paris is in france'" : ""));
    EXPECT_EQ(r.exit_code, head ? 0 : 1) << name << r.err;
    if (head)
      EXPECT_NE(r.out.find("\"label\""), std::string::npos) << name;
    else
      EXPECT_NE(r.err.find("no classification head"), std::string::npos) << name << r.err;
  }
}

TEST(CliArchitectures, BuiltPlanOfEachHeadKindClassifies) {
  const auto arch = test::shared_dir() / "models" / "arch";
  for (const char* name : {"modernbert-cls", "albert-cls", "deberta-v3-cls", "distilbert-cls"}) {
    const std::string m = test::shell_quote((arch / name).string());
    const auto dir = test::temp_dir(std::string("cli_plan_") + name);
    const std::string plan = test::shell_quote((dir / "plan").string());
    auto r = test::run_cli("build --model " + m + " --precision int8 --output " + plan);
    ASSERT_EQ(r.exit_code, 0) << name << r.err;
    const auto direct = test::run_cli("classify --model " + m + " --precision int8 'hello there'");
    const auto built = test::run_cli("classify --model " + plan + " 'hello there'");
    EXPECT_EQ(built.exit_code, 0) << name << built.err;
    EXPECT_EQ(built.out, direct.out) << name;
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace encore

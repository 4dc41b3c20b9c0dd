// The precision flags end to end through the CLI: eval --precision all (with --layer-report),
// --precision auto, encore build + loading the plan, bench's precision dimension, and the
// messages for bad precision requests.
#include <gtest/gtest.h>

#include "kernels/linear.hpp"
#include "test_support.hpp"

namespace encore {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string mini() { return (test::shared_dir() / "models/clinc-bert-mini").string(); }

// The first `n` lines of a CLINC split, as a file of its own.
fs::path head(const std::string& split, std::size_t n, const fs::path& dir) {
  const auto rows = test::read_jsonl(test::shared_dir() / "data/clinc150" / (split + ".jsonl"));
  std::string s;
  for (std::size_t i = 0; i < n && i < rows.size(); ++i) s += rows[i].dump() + "\n";
  const fs::path p = dir / (split + std::to_string(n) + ".jsonl");
  test::write_file(p, s);
  return p;
}

class CliPrecision : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::temp_dir("cli_precision");
    test_ = head("test", 300, dir_);
    calib_ = head("validation", 200, dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static inline fs::path dir_, test_, calib_;
};

TEST_F(CliPrecision, EvalAllPrintsEveryPrecisionSideBySideWithALayerReport) {
  const auto r = test::run_cli("eval --model " + mini() + " --threads 1 --data " + test_.string() +
                               " --precision all --calibration " + calib_.string() + " --layer-report --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  // BF16 is left out (with a notice) on a CPU without BF16 instructions.
  const bool bf16 = kernels::cpu_has_native_bf16();
  ASSERT_EQ(j.size(), bf16 ? 4u : 3u) << r.out;
  EXPECT_EQ(j[0]["precision"], "fp32");
  if (bf16) {
    EXPECT_EQ(j[1]["precision"], "bf16");
  }
  EXPECT_EQ(j[j.size() - 2]["precision"], "int8-dynamic");
  EXPECT_EQ(j[j.size() - 1]["precision"], "int8-static");
  for (const auto& e : j) {
    EXPECT_EQ(e["rows"], 300);
    EXPECT_GT(e["accuracy"].get<double>(), 0.5);
    EXPECT_LE(std::abs(e["accuracy_drop_points"].get<double>()), 2.0) << e.dump();
    EXPECT_GE(e["argmax_agreement_with_fp32"].get<double>(), 0.97);
  }
  for (std::size_t i = 1; i < j.size(); ++i) {
    ASSERT_EQ(j[i]["layer_report"].size(), j[i]["layers"].size()) << j[i].dump();
    ASSERT_GE(j[i]["layers"].size(), 1u);
    for (const auto& l : j[i]["layer_report"]) {
      EXPECT_GT(l["mean_cosine"].get<double>(), 0.99);
      EXPECT_LE(l["mean_cosine"].get<double>(), 1.0 + 1e-9);
      EXPECT_LE(l["min_cosine"].get<double>(), l["mean_cosine"].get<double>() + 1e-12);
    }
  }
  // The readable table has one line per precision and the per-layer sections.
  const auto t = test::run_cli("eval --model " + mini() + " --threads 1 --data " + test_.string() +
                               " --precision int8 --layer-report");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_CONTAINS(t.out, "int8-dynamic");
  EXPECT_CONTAINS(t.out, "layer report int8-dynamic vs fp32");
}

TEST_F(CliPrecision, AutoPicksAPrecisionWithinTheAllowedDrop) {
  const auto r = test::run_cli("classify --model " + mini() + " --threads 1 --precision auto --data " +
                               test_.string() + " --max-accuracy-drop 100 'book a flight to paris'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "--precision auto chose");
  EXPECT_CONTAINS(r.out, "book_flight");
  const auto none = test::run_cli("classify --model " + mini() + " --precision auto 'hello'");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_CONTAINS(none.err, "--precision auto needs a labelled --data");
}

TEST_F(CliPrecision, BuildWritesAPlanThatEveryCommandLoads) {
  const fs::path plan = dir_ / "plan";
  const auto b = test::run_cli("build --model " + mini() + " --threads 1 --precision int8 --calibration " +
                               calib_.string() + " --output " + plan.string());
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_CONTAINS(b.out, "int8-static plan");
  const json manifest = json::parse(test::slurp(plan / "encore-plan.json"));
  EXPECT_EQ(manifest["precision"], "int8-static");
  EXPECT_EQ(manifest["calibration"]["rows"], 200);
  EXPECT_EQ(manifest["calibration"]["method"], "percentile");
  const auto from_plan = test::run_cli("classify --model " + plan.string() + " 'book a flight to paris' 'what is my balance'");
  const auto in_memory = test::run_cli("classify --model " + mini() + " --precision int8-static --calibration " +
                                       calib_.string() + " 'book a flight to paris' 'what is my balance'");
  ASSERT_EQ(from_plan.exit_code, 0) << from_plan.err;
  EXPECT_EQ(from_plan.out, in_memory.out);
  for (const std::string& cmd : {std::string("embed"), "run --output " + (dir_ / "run.safetensors").string()}) {
    const auto r = test::run_cli(cmd + " --model " + plan.string() + " 'hello'");
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
  }
  const auto e = test::run_cli("eval --model " + plan.string() + " --data " + test_.string() + " --json");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(json::parse(e.out)["precision"], "int8-static");
  // Rebuilding over a plan replaces it; a folder that is not a plan is never overwritten.
  EXPECT_EQ(test::run_cli("build --model " + mini() + " --precision bf16 --output " + plan.string()).exit_code, 0);
  const auto refuse = test::run_cli("build --model " + mini() + " --precision bf16 --output " + dir_.string());
  EXPECT_EQ(refuse.exit_code, 1);
  EXPECT_CONTAINS(refuse.err, "not an encore plan");
  const auto wrong = test::run_cli("classify --model " + plan.string() + " --precision int8 'hello'");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_CONTAINS(wrong.err, "plan built for");
}

TEST_F(CliPrecision, BenchHasAPrecisionDimension) {
  const fs::path out = dir_ / "bench.json";
  const auto r = test::run_cli("bench --model " + mini() + " --threads 1 --shapes 2x16 --warmup 0 --min-runs 2 "
                               "--min-time 0 --precision fp32,bf16,int8 --data " + test_.string() +
                               " --json " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(test::slurp(out));
  ASSERT_EQ(j["results"].size(), 3u);
  ASSERT_EQ(j["models"].size(), 3u);
  EXPECT_EQ(j["results"][0]["precision"], "fp32");
  EXPECT_EQ(j["results"][2]["precision"], "int8-dynamic");
  EXPECT_EQ(j["models"][2]["layers"][0], "int8");
  EXPECT_LT(j["models"][2]["packed_bytes"].get<double>(), j["models"][0]["packed_bytes"].get<double>());
  EXPECT_EQ(j["accuracy_by_precision"].size(), j["models"][1]["precision"] == "bf16" ? 3u : 2u);
  EXPECT_CONTAINS(r.out, "int8-dynamic");
}

TEST_F(CliPrecision, Bf16OnACpuWithoutBf16FallsBackToFp32AndSaysSo) {
  ::setenv("ENCORE_NO_BF16", "1", 1);
  const auto r = test::run_cli("eval --model " + mini() + " --threads 1 --data " + test_.string() + " --precision bf16 --json");
  ::unsetenv("ENCORE_NO_BF16");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "no BF16 instructions");
  EXPECT_CONTAINS(r.err, "running FP32 instead of BF16");
  EXPECT_EQ(json::parse(r.out)["precision"], "fp32");
}

TEST_F(CliPrecision, BadRequestsGetAClearMessage) {
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases{
      {"classify --model " + mini() + " --precision int4 hello", "unknown precision 'int4'"},
      {"classify --model " + mini() + " --precision int8-static hello", "needs calibration texts (--calibration"},
      {"classify --model " + mini() + " --precision all hello", "--precision all is for eval"},
      {"eval --model " + mini() + " --data " + test_.string() + " --layer-report", "--layer-report compares with FP32"},
      {"classify --model " + mini() + " --precision int8-static --calibration " + (dir_ / "missing.jsonl").string() +
           " hello",
       "missing.jsonl"},
      {"build --model " + mini() + " --precision auto --output " + (dir_ / "x").string(), "concrete --precision"},
  };
  for (const auto& c : cases) {
    const auto r = test::run_cli(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args;
    EXPECT_CONTAINS(r.err, c.message);
  }
}

}  // namespace
}  // namespace encore

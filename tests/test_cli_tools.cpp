// Output formats of `encore bench` (JSON keys other tools read) and `encore inspect` (plan,
// DOT that GraphViz renders). Timings are not tested.
#include <gtest/gtest.h>

#include "core/cpu_features.hpp"
#include "test_support.hpp"

namespace encore {
namespace {

using nlohmann::json;

std::string tiny() {
  return (test::shared_dir() / "models/tiny-random-bert").string();
}

TEST(CliTools, BenchJsonSchema) {
  const auto dir = test::temp_dir("bench_json");
  test::write_file(dir / "ids.jsonl",
                   "{\"ids\": [101, 7592, 102], \"type_ids\": [0, 0, 0]}\n"
                   "{\"ids\": [101, 2088, 2003, 102]}\n");
  test::write_file(dir / "texts.jsonl",
                   "{\"text\": \"hello\"}\n{\"text\": \"good night\", \"text_pair\": \"moon\"}\n");
  const auto out = dir / "bench.json";
  const auto r = test::run_cli("bench --model " + tiny() +
                               " --threads 1 --shapes 1x8,2x16 --warmup 1 --min-runs 3 "
                               "--min-time 0 --passes 2 --ids " +
                               (dir / "ids.jsonl").string() + " --input " +
                               (dir / "texts.jsonl").string() + " --json " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tokens/s"), std::string::npos) << r.out;  // the readable table
  const json j = json::parse(test::slurp(out));
  EXPECT_TRUE(j["machine"].contains("threads"));
  EXPECT_TRUE(j["model"].contains("params"));
  ASSERT_EQ(j["results"].size(), 4u);
  for (const auto& res : j["results"]) {
    for (const char* k : {"precision", "name", "batch", "seq", "sequences", "tokens", "wall_s",
                          "latency_ms", "seq_per_s", "tokens_per_s"})
      EXPECT_TRUE(res.contains(k)) << k;
    for (const char* k : {"mean", "std", "min", "p50", "p95", "p99"})
      EXPECT_TRUE(res["latency_ms"].contains(k)) << k;
    EXPECT_GT(res["tokens_per_s"].get<double>(), 0);
  }
  EXPECT_EQ(j["results"][0]["name"], "1x8");
  EXPECT_EQ(j["results"][1]["tokens"], 32);
  EXPECT_EQ(j["results"][2]["name"], "ids.jsonl");
  EXPECT_EQ(j["results"][2]["tokens"], 7);
  EXPECT_EQ(j["results"][3]["sequences"], 2);

  const auto bad = test::run_cli("bench --model " + tiny() + " --shapes 8x");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("bad shape '8x'"), std::string::npos) << bad.err;
  std::filesystem::remove_all(dir);
}

// --contend N: the run says how many competing processes it had, and none outlives it.
TEST(CliTools, BenchContendRecordsTheCompetingProcesses) {
  const auto dir = test::temp_dir("bench_contend");
  const auto out = dir / "bench.json";
  const auto r = test::run_cli("bench --model " + tiny() + " --shapes 1x8 --warmup 0 --min-runs 2 --min-time 0 --contend 2 --json " +
                               out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "2 competing spinning processes");
  const json j = json::parse(test::slurp(out));
  EXPECT_EQ(j["machine"]["competing_processes"], 2);
  EXPECT_EQ(j["machine"]["isa_level"], cpu_features().isa_level());
  EXPECT_TRUE(j["model"]["kernels"]["16_tokens"].contains("qkv_gemm"));
  // The children (forks of the CLI, same command line) were killed: none is left. "[-]" keeps
  // the pattern from matching the shell that runs pgrep.
  if (std::system("command -v pgrep >/dev/null 2>&1") == 0) {
    EXPECT_NE(std::system("pgrep -f 'min-time 0 [-]-contend 2' >/dev/null 2>&1"), 0) << "spinners left running";
  }
  const auto bad = test::run_cli("bench --model " + tiny() + " --contend -1");
  EXPECT_NE(bad.exit_code, 0);
  std::filesystem::remove_all(dir);
}

// encore tune re-measures and prints each measured choice; on CPUs where nothing has two
// candidates it says so.
TEST(CliTools, TuneMeasuresAndCachesTheKernelChoices) {
  const auto dir = test::temp_dir("tune");
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old ? old : "";
  setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  const auto r = test::run_cli("tune --threads 1 --model " + tiny());
  if (old)
    setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  else
    unsetenv("XDG_CACHE_HOME");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, cpu_features().isa_level());
  if (r.out.find("no operation of this model") == std::string::npos) {
    // tiny-random-bert: hidden 96, FFN 384, QKV 288 (and the pooler's 96x96). Timed: encore's
    // kernel vs oneDNN's brgemm (AVX-512), or gemm:jit's plain weight layout (AVX2, where
    // encore's kernel then runs untimed, for batch independence).
    for (const char* shape : {"96x288", "96x384", "384x96"})
      EXPECT_TRUE(r.out.find(std::string("linear.fp32.") + shape) != std::string::npos ||
                  r.out.find(std::string("linear.fp32.layout.") + shape) != std::string::npos)
          << shape << "\n" << r.out;
    const json cache = json::parse(test::slurp(dir / "encore" / "kernels.json"));
    ASSERT_EQ(cache.size(), 1u);
    EXPECT_TRUE(cache.begin()->contains("linear.fp32.96x384") ||
                cache.begin()->contains("linear.fp32.layout.96x384"));
  }
  std::filesystem::remove_all(dir);
}

TEST(CliTools, BenchPeakAloneStoresThePeakAndWritesTheTrace) {
  const auto dir = test::temp_dir("bench_peak");
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old ? old : "";
  setenv("XDG_CACHE_HOME", dir.c_str(), 1);  // the peak cache goes here, not to the user's
  const auto trace = dir / "peak.json";
  const auto r = test::run_cli("bench --threads 1 --peak --profile " + trace.string());
  // A later run reads the cached roofline and places each result on it.
  const auto out = dir / "bench.json";
  const auto later = test::run_cli("bench --threads 1 --model " + tiny() +
                                   " --shapes 1x8 --warmup 0 --min-runs 2 --min-time 0 --json " + out.string());
  if (old)
    setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  else
    unsetenv("XDG_CACHE_HOME");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* line : {"FP32 GEMM peak (1 threads)", "INT8 GEMM peak (1 threads)", "read bandwidth (1 threads)"})
    EXPECT_CONTAINS(r.out, line);
  const json cache = json::parse(test::slurp(dir / "encore" / "gemm_peak.json"));
  ASSERT_EQ(cache.size(), 1u);
  for (const char* k : {"fp32_gflops", "int8_gops", "read_gbs"}) EXPECT_GT(cache.begin()->at(k).get<double>(), 0) << k;
  EXPECT_TRUE(json::parse(test::slurp(trace))["traceEvents"].is_array());
  ASSERT_EQ(later.exit_code, 0) << later.err;
  const json j = json::parse(test::slurp(out));
  EXPECT_GT(j["results"][0]["roofline_fraction"].get<double>(), 0);
  const std::string bound = j["results"][0]["roofline_bound"];
  EXPECT_TRUE(bound == "compute" || bound == "memory") << bound;
  EXPECT_GT(j["machine"]["roofline"]["read_gbs"].get<double>(), 0);
  std::filesystem::remove_all(dir);
}

TEST(CliTools, InspectDescribesAndDrawsThePlan) {
  const auto dir = test::temp_dir("inspect");
  const auto r =
      test::run_cli("inspect --model " + tiny() + " --dot " + (dir / "plan.dot").string() +
                    " --json " + (dir / "plan.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("layer1.ffn_up_gemm_gelu"), std::string::npos) << r.out;
  const json j = json::parse(test::slurp(dir / "plan.json"));
  EXPECT_EQ(j["layers"], 2);
  EXPECT_EQ(j["hidden"], 96);
  EXPECT_EQ(j["plan"].size(), 1u + 2 * 7 + 2);  // embeddings, 7 ops per layer, pooler, classifier
  EXPECT_TRUE(j["stored"].contains("F32"));
  EXPECT_GT(j["params"].get<long long>(), 0);
  // The CPU as encore sees it, and the kernel each layer operation runs.
  EXPECT_EQ(j["cpu"]["isa_level"], cpu_features().isa_level());
  EXPECT_CONTAINS(r.out, "cpu            ");
  for (const char* op : {"qkv_gemm", "attention", "attn_output_gemm", "ffn_up_gemm_gelu", "ffn_down_gemm"})
    EXPECT_TRUE(j["kernels"].contains(op)) << op;
  {  // oneDNN's matmul or, where it timed faster for the shape, encore's own kernel
    const std::string qkv = j["kernels"]["qkv_gemm"].get<std::string>();
    EXPECT_TRUE(qkv.find("oneDNN") != std::string::npos || qkv.find("encore fp32") != std::string::npos)
        << qkv;
  }
  EXPECT_CONTAINS(j["kernels"]["attention"].get<std::string>(), "encore fp32");
  if (std::system("command -v dot >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "GraphViz dot not installed";
  const std::string cmd =
      "dot -Tsvg " + (dir / "plan.dot").string() + " -o " + (dir / "plan.svg").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_NE(test::slurp(dir / "plan.svg").find("<svg"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace encore

// --profile writes a valid Chrome trace: complete events that nest, cover the call, and carry
// shapes and GFLOP/s for the GEMMs.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_support.hpp"

namespace encore {
namespace {

using nlohmann::json;

struct Ev {
  std::string name;
  std::int64_t ts, end;
  int tid;
  json args;
};

TEST(Profile, ChromeTraceNestsAndCoversTheCall) {
  const auto dir = test::temp_dir("profile");
  const auto trace = dir / "trace.json";
  const auto r = test::run_cli("classify --model " + (test::shared_dir() / "models/clinc-bert-small").string() +
                               " --batch-size 8 --input " + (test::shared_dir() / "reference/texts.jsonl").string() +
                               " --profile " + trace.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = json::parse(test::slurp(trace));
  ASSERT_TRUE(doc.contains("traceEvents"));
  std::vector<Ev> events;
  for (const auto& e : doc["traceEvents"]) {
    ASSERT_EQ(e["ph"], "X");
    ASSERT_TRUE(e["ts"].is_number_integer() && e["dur"].is_number_integer() && e["tid"].is_number_integer());
    ASSERT_GE(e["dur"].get<std::int64_t>(), 0);
    events.push_back({e["name"], e["ts"], e["ts"].get<std::int64_t>() + e["dur"].get<std::int64_t>(),
                      e["tid"], e.value("args", json())});
  }
  // Every fused operation of every layer is there (4 layers, 39 rows in batches of 8 = 5).
  auto count = [&](const std::string& suffix) {
    return std::count_if(events.begin(), events.end(), [&](const Ev& e) {
      return e.name.size() >= suffix.size() && e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0;
    });
  };
  for (const char* op : {"qkv_gemm", "attention", "attn_output_gemm", "add_layernorm_attn",
                         "ffn_up_gemm_gelu", "ffn_down_gemm", "add_layernorm_ffn"})
    EXPECT_EQ(count(op), 4 * 5) << op;
  EXPECT_EQ(count("embeddings"), 5);
  EXPECT_EQ(count("pooler"), 5);
  EXPECT_EQ(count("classifier"), 5);
  EXPECT_EQ(count("tokenize"), 1);
  for (const auto& e : events)
    if (e.name.find("gemm") != std::string::npos) {
      EXPECT_TRUE(e.args.contains("M") && e.args.contains("gflops_per_s")) << e.name;
    }

  // Nesting: on each thread, sorted by start, an event either ends before the next starts or
  // contains it.
  std::sort(events.begin(), events.end(), [](const Ev& a, const Ev& b) {
    return a.tid != b.tid ? a.tid < b.tid : a.ts != b.ts ? a.ts < b.ts : a.end > b.end;
  });
  std::vector<const Ev*> stack;
  for (const auto& e : events) {
    while (!stack.empty() && (stack.back()->tid != e.tid || stack.back()->end <= e.ts)) stack.pop_back();
    if (!stack.empty()) {
      EXPECT_LE(e.end, stack.back()->end) << e.name << " overlaps " << stack.back()->name;
    }
    stack.push_back(&e);
  }

  // The classify call is >= 95% covered by its direct children.
  const auto call = std::find_if(events.begin(), events.end(), [](const Ev& e) { return e.name == "classify"; });
  ASSERT_NE(call, events.end());
  std::int64_t covered = 0, reach = call->ts;
  for (const auto& e : events) {
    if (&e == &*call || e.tid != call->tid || e.ts < call->ts || e.end > call->end) continue;
    if (e.name != "tokenize" && e.name != "batch") continue;
    covered += std::max<std::int64_t>(0, e.end - std::max(e.ts, reach));
    reach = std::max(reach, e.end);
  }
  const double fraction = static_cast<double>(covered) / static_cast<double>(std::max<std::int64_t>(call->end - call->ts, 1));
  EXPECT_GE(fraction, 0.95);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace encore

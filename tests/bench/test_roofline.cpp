// The roofline arithmetic and its cache format (measurements themselves are not timed here).
#include <gtest/gtest.h>

#include "bench/roofline.hpp"

namespace encore::bench {
namespace {

TEST(Roofline, TimeIsTheSlowerOfComputeAndMemory) {
  Roofline r;
  r.fp32_gflops = 100;
  r.int8_gops = 400;
  r.read_gbs = 20;
  // 1 GFLOP at 100 GFLOP/s = 10 ms; 0.1 GB at 20 GB/s = 5 ms: compute-bound.
  RooflineBound b = roofline_time(r, "fp32", 1e9, 1e8);
  EXPECT_DOUBLE_EQ(b.time_s, 0.01);
  EXPECT_EQ(b.bound, "compute");
  // INT8 runs 4x faster, so the same bytes bound it: 5 ms.
  b = roofline_time(r, "int8-dynamic", 1e9, 1e8);
  EXPECT_DOUBLE_EQ(b.time_s, 0.005);
  EXPECT_EQ(b.bound, "memory");
  // No BF16 peak measured (a CPU without BF16): unknown, not a guess.
  EXPECT_EQ(roofline_time(r, "bf16", 1e9, 1e8).time_s, 0);
  EXPECT_EQ(roofline_time(Roofline{}, "fp32", 1e9, 1e8).time_s, 0);
}

TEST(Roofline, CacheEntriesRoundTripAndOldFp32OnlyEntriesStillRead) {
  Roofline r;
  r.fp32_gflops = 150;
  r.bf16_gflops = 600;
  r.int8_gops = 800;
  r.read_gbs = 30;
  const Roofline back = Roofline::from_json(r.to_json());
  EXPECT_EQ(back.fp32_gflops, 150);
  EXPECT_EQ(back.bf16_gflops, 600);
  EXPECT_EQ(back.int8_gops, 800);
  EXPECT_EQ(back.read_gbs, 30);
  const Roofline old = Roofline::from_json(nlohmann::json(212.7));
  EXPECT_EQ(old.fp32_gflops, 212.7);
  EXPECT_EQ(old.read_gbs, 0);
  EXPECT_EQ(Roofline::from_json(nlohmann::json("junk")).fp32_gflops, 0);
  EXPECT_TRUE(Roofline{}.to_json()["bf16_gflops"].is_null());
}

}  // namespace
}  // namespace encore::bench

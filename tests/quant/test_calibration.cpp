// Calibration math for INT8 static quantization: every method against known distributions,
// determinism across batch splits, leading-dimension handling and the error paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "encore/error.hpp"
#include "quant/calibration.hpp"
#include "test_support.hpp"

namespace encore::quant {
namespace {

constexpr CalibrationMethod kAllMethods[] = {CalibrationMethod::MinMax,
                                             CalibrationMethod::Percentile,
                                             CalibrationMethod::Entropy};

// Both passes over `data` as one [1, n] row.
RangeCollector collect(const std::vector<float>& data, int bins = 2048) {
  RangeCollector rc(bins);
  const auto n = static_cast<std::int64_t>(data.size());
  rc.observe_minmax(data.data(), 1, n, n);
  rc.observe_histogram(data.data(), 1, n, n);
  return rc;
}

std::vector<float> uniform(std::size_t n, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Inserts `count` copies of `value` at spread-out positions.
void add_outliers(std::vector<float>& v, float value, int count) {
  for (int i = 0; i < count; ++i)
    v.insert(v.begin() + static_cast<std::ptrdiff_t>((i * 7919 + 13) % v.size()), value);
}

bool same_bits(Range a, Range b) {
  return std::bit_cast<std::uint32_t>(a.lo) == std::bit_cast<std::uint32_t>(b.lo) &&
         std::bit_cast<std::uint32_t>(a.hi) == std::bit_cast<std::uint32_t>(b.hi);
}

template <typename Exception, typename F>
void expect_throw_with(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an exception containing '" << needle << "'";
  } catch (const Exception& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

TEST(Calibration, ParseAndToString) {
  for (auto m : kAllMethods) EXPECT_EQ(parse_calibration_method(to_string(m)), m);
  EXPECT_EQ(parse_calibration_method("minmax"), CalibrationMethod::MinMax);
  EXPECT_EQ(parse_calibration_method("percentile"), CalibrationMethod::Percentile);
  EXPECT_EQ(parse_calibration_method("entropy"), CalibrationMethod::Entropy);
  for (const char* bad : {"", "MinMax", "kl", "entropy ", "percentile99"}) {
    EXPECT_THROW(parse_calibration_method(bad), InputError) << bad;
    expect_throw_with<InputError>([&] { parse_calibration_method(bad); },
                                  "minmax, percentile, entropy");
  }
}

TEST(Calibration, MinMaxIsDataRangeWidenedToZero) {
  {
    const std::vector<float> v = {0.5f, -1.25f, 3.75f, 2.f, -0.5f};
    RangeCollector rc;
    rc.observe_minmax(v.data(), 1, 5, 5);  // pass 1 alone is enough
    EXPECT_TRUE(rc.has_minmax());
    EXPECT_EQ(rc.min(), -1.25f);
    EXPECT_EQ(rc.max(), 3.75f);
    EXPECT_EQ(rc.count(), 0);
    const Range r = rc.range(CalibrationMethod::MinMax);
    EXPECT_EQ(r.lo, -1.25f);
    EXPECT_EQ(r.hi, 3.75f);
  }
  {
    const std::vector<float> v = {2.f, 5.f, 3.f};  // all positive: lo widened to 0
    RangeCollector rc;
    rc.observe_minmax(v.data(), 1, 3, 3);
    EXPECT_EQ(rc.min(), 2.f);
    const Range r = rc.range(CalibrationMethod::MinMax);
    EXPECT_EQ(r.lo, 0.f);
    EXPECT_EQ(r.hi, 5.f);
  }
  {
    const std::vector<float> v = {-3.f, -1.f, -2.f};  // all negative: hi widened to 0
    RangeCollector rc;
    rc.observe_minmax(v.data(), 3, 1, 1);
    const Range r = rc.range(CalibrationMethod::MinMax);
    EXPECT_EQ(r.lo, -3.f);
    EXPECT_EQ(r.hi, 0.f);
  }
  {
    // Several batches: the running min and max over all of them.
    RangeCollector rc;
    const std::vector<float> a = {1.f, 2.f}, b = {-7.f, 0.f}, c = {9.f, -1.f};
    rc.observe_minmax(a.data(), 1, 2, 2);
    rc.observe_minmax(b.data(), 2, 1, 1);
    rc.observe_minmax(c.data(), 1, 2, 2);
    const Range r = rc.range(CalibrationMethod::MinMax);
    EXPECT_EQ(r.lo, -7.f);
    EXPECT_EQ(r.hi, 9.f);
  }
}

TEST(Calibration, PercentileClipsHalfTheExcessFromEachTail) {
  // Uniform on [-1, 3] plus 10 huge outliers on each side.
  constexpr int kN = 1'000'000, kOut = 10;
  constexpr float kA = -1.f, kB = 3.f, kOutlier = 20.f;
  auto v = uniform(kN, 1, kA, kB);
  add_outliers(v, -kOutlier, kOut);
  add_outliers(v, kOutlier, kOut);
  const RangeCollector rc = collect(v);
  ASSERT_EQ(rc.count(), kN + 2 * kOut);
  const double bin = 2.0 * kOutlier / rc.bins();  // histogram over [-20, 20]
  const double total = kN + 2 * kOut;
  for (double p : {90.0, 99.0, 99.9}) {
    // (100 - p) / 2 % of all values clipped per tail; the outliers are the first of them.
    const double tail = (100.0 - p) / 200.0 * total;
    const double q_lo = kA + (tail - kOut) / kN * (kB - kA);
    const double q_hi = kB - (tail - kOut) / kN * (kB - kA);
    const Range r = rc.range(CalibrationMethod::Percentile, p);
    EXPECT_NEAR(r.lo, q_lo, 2 * bin) << "p=" << p;
    EXPECT_NEAR(r.hi, q_hi, 2 * bin) << "p=" << p;
  }
  // Uniform density inside a bin: the in-bin interpolation is far better than a bin.
  for (double p : {80.0, 90.0, 95.0, 97.0, 99.0}) {
    const double tail = (100.0 - p) / 200.0 * total;
    const Range r = rc.range(CalibrationMethod::Percentile, p);
    EXPECT_NEAR(r.lo, kA + (tail - kOut) / kN * (kB - kA), 0.2 * bin) << "p=" << p;
    EXPECT_NEAR(r.hi, kB - (tail - kOut) / kN * (kB - kA), 0.2 * bin) << "p=" << p;
  }
  // 90: the convention is 5 % per tail (-0.8, 2.8), not 10 % per tail (-0.6, 2.6).
  const Range r90 = rc.range(CalibrationMethod::Percentile, 90);
  EXPECT_NEAR(r90.lo, -0.8, 0.05);
  EXPECT_NEAR(r90.hi, 2.8, 0.05);
  // The default 99.99 clips 0.005 % (50 values) per tail, which excludes the 10 outliers.
  const Range r = rc.range(CalibrationMethod::Percentile);
  EXPECT_GT(r.lo, kA - 2 * bin);
  EXPECT_LT(r.hi, kB + 2 * bin);
  // 100 keeps everything.
  const Range all = rc.range(CalibrationMethod::Percentile, 100);
  EXPECT_EQ(all.lo, -kOutlier);
  EXPECT_EQ(all.hi, kOutlier);
}

TEST(Calibration, PercentileGaussianQuantile) {
  constexpr int kN = 1'000'000;
  auto v = test::normal_vector(kN, 2, 1.f);
  add_outliers(v, 1000.f, 3);
  add_outliers(v, -500.f, 2);
  const RangeCollector rc = collect(v);
  const double bin = 1500.0 / rc.bins();
  // 99 % central: 0.5 % per tail, z = 2.5758 (sampling error ~0.005 at n = 1e6).
  const Range r = rc.range(CalibrationMethod::Percentile, 99);
  EXPECT_NEAR(r.lo, -2.5758, 2 * bin);
  EXPECT_NEAR(r.hi, 2.5758, 2 * bin);
  EXPECT_LT(r.hi, 10.f);
  EXPECT_GT(r.lo, -10.f);
}

TEST(Calibration, EntropyClipsOutliersKeepsBulk) {
  constexpr int kN = 1'000'000;
  auto v = test::normal_vector(kN, 3, 1.f);
  add_outliers(v, 12.f, 5);
  add_outliers(v, -12.f, 5);
  const RangeCollector rc = collect(v);
  const auto t0 = std::chrono::steady_clock::now();
  const Range r = rc.range(CalibrationMethod::Entropy);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[          ] entropy range [%g, %g] over %d bins in %.2f ms\n", r.lo, r.hi,
              rc.bins(), ms);
  // |x| histogram over [0, 12]: T = i * 12 / 2048 for i >= 128, so T >= 0.75 is searched.
  EXPECT_GT(r.hi, 3.f);
  EXPECT_LT(r.hi, 8.f);
  EXPECT_EQ(r.lo, -r.hi);  // symmetric threshold, inside both extremes
  EXPECT_LT(ms, 1000.0);

  // Non-negative data (e.g. after a ReLU-like op): lo is the data minimum widened to 0.
  for (auto& x : v) x = std::fabs(x);
  const Range pos = collect(v).range(CalibrationMethod::Entropy);
  EXPECT_EQ(pos.lo, 0.f);
  EXPECT_GT(pos.hi, 3.f);
  EXPECT_LT(pos.hi, 8.f);
}

TEST(Calibration, EntropyWithoutOutliersStaysWithinData) {
  // Uniform data has no tail worth clipping: the threshold stays near the maximum.
  const auto v = uniform(200'000, 4, -2.f, 2.f);
  const RangeCollector rc = collect(v);
  const Range r = rc.range(CalibrationMethod::Entropy);
  EXPECT_GE(r.lo, rc.min());
  EXPECT_LE(r.hi, rc.max());
  EXPECT_GT(r.hi, 1.9f);
  EXPECT_LT(r.lo, -1.9f);
}

TEST(Calibration, DeterministicAcrossCollectorsAndBatchSplits) {
  auto v = test::normal_vector(300'000, 5, 0.7f);
  add_outliers(v, 9.f, 4);
  add_outliers(v, -6.f, 3);
  const auto n = static_cast<std::int64_t>(v.size());

  const RangeCollector a = collect(v), b = collect(v);

  // Same values as [rows, cols] blocks of varying shape, then in reversed block order.
  RangeCollector c, d;
  std::vector<std::pair<std::int64_t, std::int64_t>> chunks;  // (offset, length)
  for (std::int64_t off = 0, k = 0; off < n; ++k) {
    const std::int64_t len = std::min<std::int64_t>(n - off, 1 + (k * 7919) % 5000);
    chunks.emplace_back(off, len);
    off += len;
  }
  for (auto [off, len] : chunks) {
    const std::int64_t cols = len % 3 == 0 ? 3 : 1;  // a [len/3, 3] or a [len, 1] block
    c.observe_minmax(v.data() + off, len / cols, cols, cols);
  }
  for (auto it = chunks.rbegin(); it != chunks.rend(); ++it)
    d.observe_minmax(v.data() + it->first, 1, it->second, it->second);
  for (auto [off, len] : chunks) c.observe_histogram(v.data() + off, 1, len, len);
  for (auto it = chunks.rbegin(); it != chunks.rend(); ++it) {
    const std::int64_t cols = it->second % 3 == 0 ? 3 : 1;
    d.observe_histogram(v.data() + it->first, it->second / cols, cols, cols);
  }
  EXPECT_EQ(c.count(), n);
  EXPECT_EQ(d.count(), n);
  for (auto m : kAllMethods)
    for (double p : {99.0, 99.99}) {
      const Range ra = a.range(m, p);
      EXPECT_TRUE(same_bits(ra, b.range(m, p))) << to_string(m);
      EXPECT_TRUE(same_bits(ra, c.range(m, p))) << to_string(m);
      EXPECT_TRUE(same_bits(ra, d.range(m, p))) << to_string(m);
      EXPECT_TRUE(same_bits(ra, a.range(m, p))) << to_string(m);  // range() is pure
    }
}

TEST(Calibration, SignedZerosDoNotDependOnOrder) {
  // min is 0 either way; -0 vs +0 must not leak into the range bits.
  const std::vector<float> v1 = {-0.f, 0.f, 1.f}, v2 = {0.f, -0.f, 1.f};
  for (auto m : kAllMethods) {
    const Range r1 = collect(v1).range(m), r2 = collect(v2).range(m);
    EXPECT_TRUE(same_bits(r1, r2)) << to_string(m);
    EXPECT_FALSE(std::signbit(r1.lo)) << to_string(m);
  }
  EXPECT_FALSE(std::signbit(collect(v1).min()));
  EXPECT_FALSE(std::signbit(collect(v2).min()));
}

TEST(Calibration, LeadingDimensionPaddingIsIgnored) {
  constexpr std::int64_t kRows = 300, kCols = 50, kLd = 64;
  const auto dense = test::normal_vector(kRows * kCols, 6, 2.f);
  std::vector<float> padded(kRows * kLd);
  for (std::int64_t r = 0; r < kRows; ++r)
    for (std::int64_t c = 0; c < kLd; ++c)
      padded[r * kLd + c] = c < kCols ? dense[r * kCols + c]
                            : c % 2   ? 1e30f
                                      : std::numeric_limits<float>::quiet_NaN();
  RangeCollector a, b;
  a.observe_minmax(dense.data(), kRows, kCols, kCols);
  b.observe_minmax(padded.data(), kRows, kCols, kLd);
  EXPECT_EQ(a.min(), b.min());
  EXPECT_EQ(a.max(), b.max());
  a.observe_histogram(dense.data(), kRows, kCols, kCols);
  b.observe_histogram(padded.data(), kRows, kCols, kLd);
  EXPECT_EQ(b.count(), kRows * kCols);
  for (auto m : kAllMethods) EXPECT_TRUE(same_bits(a.range(m), b.range(m))) << to_string(m);
}

TEST(Calibration, AllZeroTensorGetsTinyNonEmptyRange) {
  std::vector<float> v(1000, 0.f);
  v[17] = -0.f;
  const RangeCollector rc = collect(v);
  for (auto m : kAllMethods) {
    const Range r = rc.range(m);
    EXPECT_EQ(r.lo, 0.f) << to_string(m);
    EXPECT_FALSE(std::signbit(r.lo)) << to_string(m);
    EXPECT_GT(r.hi, r.lo) << to_string(m);
    EXPECT_LT(r.hi, 1e-3f) << to_string(m);
    EXPECT_GT((r.hi - r.lo) / 255.f, 0.f) << to_string(m);  // usable scale
  }
}

TEST(Calibration, ConstantTensor) {
  const std::vector<float> v(500, 2.5f);
  const RangeCollector rc = collect(v);
  for (auto m : kAllMethods) {
    const Range r = rc.range(m);
    EXPECT_EQ(r.lo, 0.f) << to_string(m);
    EXPECT_EQ(r.hi, 2.5f) << to_string(m);
  }
}

TEST(Calibration, EveryRangeContainsZeroAndIsNonEmpty) {
  const std::vector<std::vector<float>> cases = {
      uniform(10'000, 7, 3.f, 4.f), uniform(10'000, 8, -4.f, -3.f), test::normal_vector(10'000, 9, 1e-3f),
      {1e-7f, 2e-7f}, {-1.f}};
  for (const auto& v : cases)
    for (auto m : kAllMethods)
      for (double p : {50.0, 99.0, 100.0}) {
        const Range r = collect(v).range(m, p);
        EXPECT_LE(r.lo, 0.f);
        EXPECT_GE(r.hi, 0.f);
        EXPECT_GT(r.hi, r.lo);
      }
}

TEST(Calibration, Pass2ValuesOutsidePass1RangeGoToEdgeBins) {
  const auto v = uniform(10'000, 10, -1.f, 1.f);
  RangeCollector rc;
  rc.observe_minmax(v.data(), 1, 10'000, 10'000);
  rc.observe_histogram(v.data(), 1, 10'000, 10'000);
  const std::vector<float> wild = {5.f, -1e30f, 1e30f};
  rc.observe_histogram(wild.data(), 1, 3, 3);
  EXPECT_EQ(rc.count(), 10'003);
  for (auto m : kAllMethods) {
    const Range r = rc.range(m, 100);
    EXPECT_GE(r.lo, rc.min());
    EXPECT_LE(r.hi, rc.max());
  }
}

TEST(Calibration, NonFiniteInputThrows) {
  const float inf = std::numeric_limits<float>::infinity();
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), inf, -inf}) {
    std::vector<float> v = {1.f, -2.f, 3.f, 4.f, 5.f, 6.f};
    v[4] = bad;
    RangeCollector rc;
    expect_throw_with<Error>([&] { rc.observe_minmax(v.data(), 2, 3, 3); },
                             "non-finite activation");
    EXPECT_FALSE(rc.has_minmax());  // the failed batch left no trace
    const std::vector<float> good = {1.f, -2.f};
    rc.observe_minmax(good.data(), 1, 2, 2);
    const Range before = rc.range(CalibrationMethod::MinMax);
    expect_throw_with<Error>([&] { rc.observe_histogram(v.data(), 2, 3, 3); }, "non-finite");
    EXPECT_EQ(rc.count(), 0);
    EXPECT_TRUE(same_bits(before, rc.range(CalibrationMethod::MinMax)));
    rc.observe_histogram(good.data(), 1, 2, 2);
    EXPECT_EQ(rc.count(), 2);
  }
}

TEST(Calibration, PassOrderErrors) {
  const std::vector<float> v = {1.f, -1.f, 0.5f};
  {
    RangeCollector rc;
    EXPECT_FALSE(rc.has_minmax());
    EXPECT_THROW(rc.observe_histogram(v.data(), 1, 3, 3), Error);
    EXPECT_THROW(rc.range(CalibrationMethod::MinMax), Error);
    EXPECT_THROW(rc.min(), Error);
    const std::vector<float> none;
    rc.observe_minmax(none.data(), 0, 3, 3);  // an empty batch is not a value
    EXPECT_FALSE(rc.has_minmax());
    EXPECT_THROW(rc.observe_histogram(v.data(), 1, 3, 3), Error);
  }
  {
    RangeCollector rc;
    rc.observe_minmax(v.data(), 1, 3, 3);
    EXPECT_NO_THROW(rc.range(CalibrationMethod::MinMax));
    expect_throw_with<Error>([&] { rc.range(CalibrationMethod::Percentile); }, "pass 2");
    expect_throw_with<Error>([&] { rc.range(CalibrationMethod::Entropy); }, "pass 2");
    rc.observe_histogram(v.data(), 1, 3, 3);
    EXPECT_NO_THROW(rc.range(CalibrationMethod::Percentile));
    EXPECT_NO_THROW(rc.range(CalibrationMethod::Entropy));
    // Pass 1 cannot resume once the histogram range is frozen.
    EXPECT_THROW(rc.observe_minmax(v.data(), 1, 3, 3), Error);
  }
}

TEST(Calibration, ArgumentErrors) {
  EXPECT_THROW(RangeCollector(0), Error);
  EXPECT_THROW(RangeCollector(127), Error);
  EXPECT_NO_THROW(RangeCollector(128));
  const std::vector<float> v = {1.f, -1.f, 0.5f, 2.f};
  RangeCollector rc;
  EXPECT_THROW(rc.observe_minmax(v.data(), 2, 2, 1), Error);  // ld < cols
  EXPECT_THROW(rc.observe_minmax(v.data(), -1, 2, 2), Error);
  EXPECT_THROW(rc.observe_minmax(nullptr, 1, 2, 2), Error);
  rc.observe_minmax(v.data(), 2, 2, 2);
  rc.observe_histogram(v.data(), 2, 2, 2);
  for (double p : {0.0, -5.0, 100.5, std::nan("")})
    EXPECT_THROW(rc.range(CalibrationMethod::Percentile, p), InputError) << p;
}

}  // namespace
}  // namespace encore::quant

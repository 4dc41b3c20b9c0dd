// The BF16/INT8 conversion kernels and the vectorizable math against plain double-precision
// references, on ragged shapes (columns not a multiple of 16, leading dimensions with padding)
// and on sizes large enough to take the OpenMP path.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "kernels/quantize.hpp"
#include "kernels/vec_math.hpp"
#include "test_support.hpp"

namespace encore::kernels {
namespace {

// True when v lies within `eps` of a rounding tie (k + 0.5): there float and double evaluation
// of the same formula may legitimately round to neighbouring integers.
bool near_tie(double v, double eps = 1e-3) {
  const double f = std::fabs(v) - std::floor(std::fabs(v));
  return std::fabs(f - 0.5) < eps;
}

// Round-to-nearest-even float -> bf16, by comparing the two bf16 neighbours in double.
std::uint16_t reference_bf16(float f) {
  const std::uint32_t b = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t down = b & 0xFFFF0000u, up = down + 0x10000u;  // |up| > |down|
  const double d_down = std::fabs(static_cast<double>(f) - std::bit_cast<float>(down));
  const double d_up = std::fabs(static_cast<double>(std::bit_cast<float>(up)) - f);
  if (d_down < d_up) return static_cast<std::uint16_t>(down >> 16);
  if (d_up < d_down) return static_cast<std::uint16_t>(up >> 16);
  return static_cast<std::uint16_t>(((down >> 16) & 1u) ? up >> 16 : down >> 16);
}

// ---------------------------------------------------------------------------------------------
// vec_math.hpp

TEST(VecMath, ErfApproxMatchesStdErfOnDenseSweep) {
  // Measured: max |erf_approx - erf| = 9.0e-8 (7.8e-8 where the compiler contracts to FMA).
  double max_err = 0, worst = 0;
  for (int i = -2000000; i <= 2000000; ++i) {
    const float x = static_cast<float>(i) * 5e-6f;
    const double err = std::fabs(erf_approx(x) - std::erf(static_cast<double>(x)));
    if (err > max_err) max_err = err, worst = x;
  }
  EXPECT_LT(max_err, 2e-7) << "at x = " << worst;
  EXPECT_EQ(erf_approx(0.f), 0.f);
  EXPECT_EQ(erf_approx(10.f), 1.f);
  EXPECT_EQ(erf_approx(-10.f), -1.f);
  EXPECT_EQ(erf_approx(1e30f), 1.f);
}

TEST(VecMath, GeluSiluTanhMatchReferenceOnDenseSweep) {
  // Error relative to max(1, |f(x)|) over [-10, 10], measured: gelu_erf 1.3e-7, gelu_tanh
  // 1.6e-7, silu 1.5e-7, tanh_approx 1.2e-7 (one to two float ulps).
  double e_gelu = 0, e_gelu_tanh = 0, e_silu = 0, e_tanh = 0;
  auto err = [](float got, double want) { return std::fabs(got - want) / std::max(1.0, std::fabs(want)); };
  for (int i = -2000000; i <= 2000000; ++i) {
    const float x = static_cast<float>(i) * 5e-6f;
    const double xd = x;
    e_gelu = std::max(e_gelu, err(gelu_erf(x), test::reference_activation(Activation::GeluErf, xd)));
    e_gelu_tanh = std::max(e_gelu_tanh, err(gelu_tanh(x), test::reference_activation(Activation::GeluTanh, xd)));
    e_silu = std::max(e_silu, err(silu(x), test::reference_activation(Activation::Silu, xd)));
    e_tanh = std::max(e_tanh, err(tanh_approx(x), std::tanh(xd)));
  }
  EXPECT_LT(e_gelu, 3e-7);
  EXPECT_LT(e_gelu_tanh, 3e-7);
  EXPECT_LT(e_silu, 3e-7);
  EXPECT_LT(e_tanh, 3e-7);
}

TEST(VecMath, RelativeAccuracyInTheTails) {
  // exp_nonpositive: measured max relative error 2.5e-7 on [-87, 0] (2.2e-7 with FMA).
  double e_exp = 0;
  for (int i = 0; i <= 870000; ++i) {
    const float x = -static_cast<float>(i) * 1e-4f;
    const double want = std::exp(static_cast<double>(x));
    e_exp = std::max(e_exp, std::fabs(exp_nonpositive(x) - want) / want);
  }
  EXPECT_LT(e_exp, 4e-7);
  EXPECT_EQ(exp_nonpositive(0.f), 1.f);
  EXPECT_GT(exp_nonpositive(-1e30f), 0.f);  // clamped at exp(-87), no NaN/Inf
  EXPECT_LT(exp_nonpositive(-std::numeric_limits<float>::infinity()), 2e-38f);

  // Small arguments: tanh keeps relative accuracy where 1 - e would cancel; the negative tails
  // of sigmoid / GELU are computed from e, not as 1 - (1 - e). Measured relative errors:
  // tanh 6e-8 on (0, 0.2], sigmoid 3.5e-7 on [-20, 0), gelu_erf 8.4e-7 on [-2, 0) (Juffa's
  // erfc tail is fitted for erf, so near x = -4 it is only 3.5e-5 relative, 1e-9 absolute).
  double e_tanh = 0, e_sigmoid = 0, e_gelu = 0;
  for (int i = 1; i <= 200000; ++i) {
    const float y = static_cast<float>(i) * 1e-6f;  // (0, 0.2]
    e_tanh = std::max(e_tanh, std::fabs(tanh_approx(y) - std::tanh(static_cast<double>(y))) / std::tanh(static_cast<double>(y)));
    const float z = -static_cast<float>(i) * 1e-4f;  // [-20, 0)
    const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(z)));
    e_sigmoid = std::max(e_sigmoid, std::fabs(sigmoid(z) - s) / s);
    const float g = -static_cast<float>(i) * 1e-5f;  // [-2, 0)
    const double gd = 0.5 * g * std::erfc(-g / std::sqrt(2.0));
    e_gelu = std::max(e_gelu, std::fabs(gelu_erf(g) - gd) / std::fabs(gd));
  }
  EXPECT_LT(e_tanh, 2e-7);
  EXPECT_LT(e_sigmoid, 6e-7);
  EXPECT_LT(e_gelu, 2e-6);
  EXPECT_EQ(tanh_approx(0.f), 0.f);
  EXPECT_EQ(tanh_approx(-50.f), -1.f);
}

// ---------------------------------------------------------------------------------------------
// convert_to_bf16

TEST(QuantizeBf16, MatchesRoundToNearestEvenOnRandomRows) {
  const std::int64_t rows = 67, cols = 141, ld = 150;  // 9.4k elements: serial path
  for (const std::int64_t r_count : {rows, std::int64_t{300}}) {  // 300 x 141 > 32768: parallel
    auto x = test::normal_vector(static_cast<std::size_t>(r_count * ld), 11, 3.f);
    std::vector<std::uint16_t> out(static_cast<std::size_t>(r_count * cols), 0xDEAD);
    convert_to_bf16(x.data(), r_count, cols, ld, out.data());
    for (std::int64_t r = 0; r < r_count; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(out[r * cols + c], reference_bf16(x[r * ld + c])) << "row " << r << " col " << c;
  }
}

TEST(QuantizeBf16, ExactTiesRoundToEven) {
  // Low 16 bits exactly 0x8000: halfway between two bf16 values. Even upper halves stay,
  // odd ones round up (away from zero in magnitude, for either sign).
  std::vector<float> x;
  std::vector<std::uint16_t> want;
  for (std::uint32_t upper : {0x3F80u, 0x3F81u, 0x4049u, 0x404Au, 0xBF80u, 0xBF81u, 0x7F7Eu, 0x0080u}) {
    x.push_back(std::bit_cast<float>((upper << 16) | 0x8000u));
    want.push_back(static_cast<std::uint16_t>((upper & 1u) ? upper + 1 : upper));
  }
  // Just below / above a tie round down / up regardless of parity.
  x.push_back(std::bit_cast<float>(0x3F807FFFu));
  want.push_back(0x3F80);
  x.push_back(std::bit_cast<float>(0x3F808001u));
  want.push_back(0x3F81);
  // Largest float rounds to +Inf; exact bf16 values and zeros are unchanged.
  x.push_back(std::numeric_limits<float>::max());
  want.push_back(0x7F80);
  x.push_back(1.5f);
  want.push_back(0x3FC0);
  x.push_back(-0.f);
  want.push_back(0x8000);
  std::vector<std::uint16_t> out(x.size());
  convert_to_bf16(x.data(), 1, static_cast<std::int64_t>(x.size()), static_cast<std::int64_t>(x.size()), out.data());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(out[i], want[i]) << "input bits " << std::hex << std::bit_cast<std::uint32_t>(x[i]);

  // A NaN whose mantissa would carry into the exponent stays a NaN.
  const float nan = std::bit_cast<float>(0x7FFFFFFFu);
  std::uint16_t nan_out = 0;
  convert_to_bf16(&nan, 1, 1, 1, &nan_out);
  EXPECT_TRUE(std::isnan(std::bit_cast<float>(static_cast<std::uint32_t>(nan_out) << 16)));
}

// ---------------------------------------------------------------------------------------------
// quantize_rows_u8 / quantize_u8 / u8_params

// Checks one row's quantization against the double-precision definition.
void check_u8_row(const float* x, std::int64_t cols, const std::uint8_t* q, float scale, std::int32_t zp,
                  const std::string& what) {
  double lo = 0, hi = 0;
  for (std::int64_t c = 0; c < cols; ++c) lo = std::min(lo, double{x[c]}), hi = std::max(hi, double{x[c]});
  if (hi == lo) {
    EXPECT_EQ(scale, 1.f) << what;
    EXPECT_EQ(zp, 0) << what;
  } else {
    EXPECT_NEAR(scale, (hi - lo) / 255, 1e-6 * (hi - lo) / 255) << what;
    const double zp_real = -lo / scale;
    if (!near_tie(zp_real)) {
      EXPECT_EQ(zp, std::clamp(std::nearbyint(zp_real), 0.0, 255.0)) << what;
    }
  }
  for (std::int64_t c = 0; c < cols; ++c) {
    const double v = x[c] / static_cast<double>(scale);
    const double want = std::clamp(std::nearbyint(v) + zp, 0.0, 255.0);
    if (near_tie(v)) {
      EXPECT_NEAR(q[c], want, 1.0) << what << " col " << c;
    } else {
      EXPECT_EQ(q[c], want) << what << " col " << c;
    }
    // Round trip: every value in the row's range comes back within half a step.
    const double back = (static_cast<double>(q[c]) - zp) * scale;
    EXPECT_LE(std::fabs(back - x[c]), 0.5 * scale * (1 + 1e-4)) << what << " col " << c;
  }
}

TEST(QuantizeU8, PerRowMatchesReferenceAndRoundTripsWithinHalfAStep) {
  for (const auto& [rows, cols] : {std::pair<std::int64_t, std::int64_t>{29, 133}, {96, 768}}) {
    const std::int64_t ld = cols + 7;
    auto x = test::normal_vector(static_cast<std::size_t>(rows * ld), 21);
    // Vary the rows: shifted all-positive, all-negative, wide, narrow.
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) {
        float& v = x[r * ld + c];
        switch (r % 4) {
          case 0: v = std::fabs(v) + 2.f; break;
          case 1: v = -std::fabs(v) * 5.f - 1.f; break;
          case 2: v *= 40.f; break;
          default: v *= 0.01f; break;
        }
      }
    std::vector<std::uint8_t> q(static_cast<std::size_t>(rows * cols));
    std::vector<float> scale(static_cast<std::size_t>(rows));
    std::vector<std::int32_t> zp(static_cast<std::size_t>(rows));
    quantize_rows_u8(x.data(), rows, cols, ld, q.data(), scale.data(), zp.data());
    for (std::int64_t r = 0; r < rows; ++r)
      check_u8_row(x.data() + r * ld, cols, q.data() + r * cols, scale[r], zp[r],
                   "shape " + std::to_string(rows) + "x" + std::to_string(cols) + " row " + std::to_string(r));
    // Positive-only rows have zero point 0 and use the full range; negative-only rows 255.
    EXPECT_EQ(zp[0], 0);
    EXPECT_EQ(zp[1], 255);
  }
}

TEST(QuantizeU8, ConstantAndZeroRows) {
  const std::int64_t cols = 37;
  std::vector<float> x(static_cast<std::size_t>(3 * cols));
  for (std::int64_t c = 0; c < cols; ++c) {
    x[c] = 3.f;              // all equal, positive
    x[cols + c] = -2.f;      // all equal, negative
    x[2 * cols + c] = 0.f;   // all zero
  }
  std::vector<std::uint8_t> q(x.size(), 7);
  float scale[3];
  std::int32_t zp[3];
  quantize_rows_u8(x.data(), 3, cols, cols, q.data(), scale, zp);
  EXPECT_FLOAT_EQ(scale[0], 3.f / 255);
  EXPECT_EQ(zp[0], 0);
  EXPECT_FLOAT_EQ(scale[1], 2.f / 255);
  EXPECT_EQ(zp[1], 255);
  EXPECT_EQ(scale[2], 1.f);
  EXPECT_EQ(zp[2], 0);
  for (std::int64_t c = 0; c < cols; ++c) {
    EXPECT_EQ(q[c], 255);
    EXPECT_EQ(q[cols + c], 0);
    EXPECT_EQ(q[2 * cols + c], 0);
  }
}

TEST(QuantizeU8, StaticScaleClampsOutOfRangeValues) {
  const U8Params p = u8_params(-3.f, 5.f);
  const std::int64_t rows = 300, cols = 129, ld = 131;  // > 32768 elements: parallel path
  auto x = test::normal_vector(static_cast<std::size_t>(rows * ld), 31, 4.f, 1.f);  // partly outside [-3, 5]
  x[5] = 1e30f;
  x[6] = -1e30f;
  x[7] = 5e6f;  // beyond the 2^22 rounding window: still clamps to 255
  x[8] = -5e6f;
  std::vector<std::uint8_t> q(static_cast<std::size_t>(rows * cols));
  quantize_u8(x.data(), rows, cols, ld, p.scale, p.zero_point, q.data());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const double v = x[r * ld + c] / static_cast<double>(p.scale);
      const double want = std::clamp(std::nearbyint(v) + p.zero_point, 0.0, 255.0);
      if (near_tie(v)) {
        ASSERT_NEAR(q[r * cols + c], want, 1.0);
      } else {
        ASSERT_EQ(q[r * cols + c], want) << "row " << r << " col " << c << " x " << x[r * ld + c];
      }
    }
  EXPECT_EQ(q[5], 255);
  EXPECT_EQ(q[6], 0);
  EXPECT_EQ(q[7], 255);
  EXPECT_EQ(q[8], 0);
}

TEST(QuantizeU8, ParamsWidenTheRangeToContainZero) {
  const U8Params mixed = u8_params(-1.f, 3.f);
  EXPECT_FLOAT_EQ(mixed.scale, 4.f / 255);
  EXPECT_EQ(mixed.zero_point, 64);  // 255/4 = 63.75
  const U8Params positive = u8_params(2.f, 5.f);  // lo > 0 widened to 0
  EXPECT_FLOAT_EQ(positive.scale, 5.f / 255);
  EXPECT_EQ(positive.zero_point, 0);
  const U8Params negative = u8_params(-4.f, -1.f);  // hi < 0 widened to 0
  EXPECT_FLOAT_EQ(negative.scale, 4.f / 255);
  EXPECT_EQ(negative.zero_point, 255);
  const U8Params empty = u8_params(0.f, 0.f);
  EXPECT_EQ(empty.scale, 1.f);
  EXPECT_EQ(empty.zero_point, 0);
  // Zero is represented exactly: it quantizes to the zero point and comes back as 0.
  const float zero = 0.f;
  std::uint8_t q = 0;
  quantize_u8(&zero, 1, 1, 1, mixed.scale, mixed.zero_point, &q);
  EXPECT_EQ(q, mixed.zero_point);
}

// ---------------------------------------------------------------------------------------------
// quantize_weights_s8

TEST(QuantizeWeights, PerChannelScalesValuesAndColumnSums) {
  const std::int64_t out = 300, in = 203;  // > 32768: parallel path; in not a multiple of 16
  auto w = test::normal_vector(static_cast<std::size_t>(out * in), 41, 0.05f);
  for (std::int64_t i = 0; i < in; ++i) w[3 * in + i] = 0.f;  // an all-zero channel
  std::vector<std::int8_t> q(w.size());
  std::vector<float> scale(static_cast<std::size_t>(out));
  std::vector<std::int32_t> col_sum(static_cast<std::size_t>(out));
  quantize_weights_s8(w.data(), out, in, nullptr, q.data(), scale.data(), col_sum.data());
  for (std::int64_t o = 0; o < out; ++o) {
    double amax = 0;
    for (std::int64_t i = 0; i < in; ++i) amax = std::max(amax, std::fabs(double{w[o * in + i]}));
    if (amax == 0) {
      EXPECT_EQ(scale[o], 1.f);
    } else {
      EXPECT_NEAR(scale[o], amax / 127, 1e-6 * amax / 127) << "channel " << o;
    }
    std::int64_t sum = 0, extreme = 0;
    for (std::int64_t i = 0; i < in; ++i) {
      const double v = w[o * in + i] / static_cast<double>(scale[o]);
      const int got = q[o * in + i];
      if (near_tie(v)) {
        EXPECT_NEAR(got, std::nearbyint(v), 1.0);
      } else {
        EXPECT_EQ(got, std::clamp(std::nearbyint(v), -127.0, 127.0)) << "channel " << o << " input " << i;
      }
      EXPECT_LE(std::abs(got), 127);
      sum += got;
      extreme = std::max<std::int64_t>(extreme, std::abs(got));
    }
    EXPECT_EQ(col_sum[o], sum) << "channel " << o;
    EXPECT_EQ(extreme, amax == 0 ? 0 : 127) << "channel " << o;  // the largest |w| maps to ±127
  }
}

TEST(QuantizeWeights, GivenScalesReproduceTheQuantizedWeightsExactly) {
  const std::int64_t out = 40, in = 77;
  std::mt19937 rng(51);
  std::uniform_int_distribution<int> qdist(-127, 127);
  std::uniform_real_distribution<float> sdist(1e-4f, 0.1f);
  std::vector<std::int8_t> q_want(static_cast<std::size_t>(out * in));
  std::vector<float> s(static_cast<std::size_t>(out)), w(q_want.size());
  for (auto& v : q_want) v = static_cast<std::int8_t>(qdist(rng));
  for (auto& v : s) v = sdist(rng);
  // Half the channels never reach ±127, so max|w|/127 would give a different scale.
  for (std::int64_t o = 0; o < out; o += 2)
    for (std::int64_t i = 0; i < in; ++i) q_want[o * in + i] = static_cast<std::int8_t>(q_want[o * in + i] / 3);
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t i = 0; i < in; ++i) w[o * in + i] = static_cast<float>(q_want[o * in + i]) * s[o];

  std::vector<std::int8_t> q(w.size());
  std::vector<float> scale(static_cast<std::size_t>(out));
  std::vector<std::int32_t> col_sum(static_cast<std::size_t>(out));
  quantize_weights_s8(w.data(), out, in, s.data(), q.data(), scale.data(), col_sum.data());
  EXPECT_EQ(q, q_want);
  EXPECT_EQ(scale, s);
  for (std::int64_t o = 0; o < out; ++o) {
    std::int32_t sum = 0;
    for (std::int64_t i = 0; i < in; ++i) sum += q_want[o * in + i];
    EXPECT_EQ(col_sum[o], sum);
  }
  // The output scales may alias the given ones.
  std::vector<float> inplace = s;
  std::vector<std::int8_t> q2(w.size());
  quantize_weights_s8(w.data(), out, in, inplace.data(), q2.data(), inplace.data(), col_sum.data());
  EXPECT_EQ(q2, q_want);
  EXPECT_EQ(inplace, s);
}

// 7-bit weights for CPUs without VNNI: half the 8-bit level, rounded to even, twice the scale,
// the same from the float weights as from a plan's stored 8-bit weights and scales.
TEST(QuantizeWeights, ReducedRangeHalvesTheEightBitLevels) {
  const std::int64_t out = 30, in = 57;
  const auto w = test::normal_vector(static_cast<std::size_t>(out * in), 43, 0.05f);
  std::vector<std::int8_t> q8(w.size()), q7(w.size()), q7_plan(w.size());
  std::vector<float> s8(static_cast<std::size_t>(out)), s7(s8.size()), s7_plan(s8.size()), w_plan(w.size());
  std::vector<std::int32_t> sum8(s8.size()), sum7(s8.size()), sum7_plan(s8.size());
  quantize_weights_s8(w.data(), out, in, nullptr, q8.data(), s8.data(), sum8.data());
  quantize_weights_s8(w.data(), out, in, nullptr, q7.data(), s7.data(), sum7.data(), true);
  for (std::int64_t o = 0; o < out; ++o) {
    EXPECT_EQ(s7[o], 2 * s8[o]);
    std::int32_t sum = 0, extreme = 0;
    for (std::int64_t i = 0; i < in; ++i) {
      const int want = static_cast<int>(std::nearbyint(q8[o * in + i] / 2.0));  // ties to even
      EXPECT_EQ(q7[o * in + i], want) << "channel " << o << " input " << i;
      sum += want;
      extreme = std::max(extreme, std::abs(want));
      w_plan[o * in + i] = static_cast<float>(q8[o * in + i]) * s8[o];
    }
    EXPECT_EQ(sum7[o], sum);
    EXPECT_EQ(extreme, 64) << "channel " << o;  // ±127 halves to ±64: 255·64·2 fits in s16
  }
  quantize_weights_s8(w_plan.data(), out, in, s8.data(), q7_plan.data(), s7_plan.data(), sum7_plan.data(), true);
  EXPECT_EQ(q7_plan, q7);
  EXPECT_EQ(s7_plan, s7);
  EXPECT_EQ(sum7_plan, sum7);
}

// ---------------------------------------------------------------------------------------------
// dequantize_epilogue

TEST(QuantizeEpilogue, EveryActivationPerRowAndStaticWithAndWithoutBias) {
  const std::int64_t rows = 45, cols = 771, ldy = 780;  // 45 x 771 > 32768: parallel path
  std::mt19937 rng(61);
  std::uniform_int_distribution<std::int32_t> acc_dist(-1000000, 1000000), zp_dist(0, 255),
      cs_dist(-5000, 5000);
  std::uniform_real_distribution<float> rs_dist(0.5e-3f, 2e-3f), ws_dist(1e-3f, 3e-3f);
  std::vector<std::int32_t> acc(static_cast<std::size_t>(rows * ldy)), zp(static_cast<std::size_t>(rows)),
      col_sum(static_cast<std::size_t>(cols));
  std::vector<float> row_scale(static_cast<std::size_t>(rows)), w_scale(static_cast<std::size_t>(cols));
  for (auto& v : acc) v = acc_dist(rng);
  for (auto& v : zp) v = zp_dist(rng);
  for (auto& v : col_sum) v = cs_dist(rng);
  for (auto& v : row_scale) v = rs_dist(rng);
  for (auto& v : w_scale) v = ws_dist(rng);
  acc[0] = 2000000000;  // large accumulators stay exact through the int32 correction
  const auto bias = test::normal_vector(static_cast<std::size_t>(cols), 62);
  constexpr float kPad = 12345.f;

  for (const Activation act : {Activation::None, Activation::GeluErf, Activation::GeluTanh,
                               Activation::Relu, Activation::Silu, Activation::Tanh})
    for (const bool per_row : {true, false})
      for (const bool with_bias : {true, false}) {
        std::vector<float> y(acc.size());
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t c = 0; c < ldy; ++c)
            y[r * ldy + c] = c < cols ? std::bit_cast<float>(acc[r * ldy + c]) : kPad;
        dequantize_epilogue(y.data(), rows, cols, ldy, row_scale.data(), zp.data(), per_row,
                            col_sum.data(), w_scale.data(), with_bias ? bias.data() : nullptr, act);
        double max_err = 0;
        std::int64_t negative = 0, positive = 0;
        for (std::int64_t r = 0; r < rows; ++r) {
          const std::int64_t i = per_row ? r : 0;
          for (std::int64_t c = 0; c < cols; ++c) {
            const double pre = (static_cast<double>(acc[r * ldy + c]) - static_cast<double>(zp[i]) * col_sum[c]) *
                                   row_scale[i] * w_scale[c] +
                               (with_bias ? bias[c] : 0.0);
            const double want = test::reference_activation(act, pre);
            max_err = std::max(max_err, std::fabs(y[r * ldy + c] - want) / (1 + std::fabs(want)));
            (pre < 0 ? negative : positive) += 1;
          }
          for (std::int64_t c = cols; c < ldy; ++c) ASSERT_EQ(y[r * ldy + c], kPad) << "padding written";
        }
        EXPECT_LT(max_err, 1e-5) << "activation " << static_cast<int>(act) << " per_row " << per_row
                                 << " bias " << with_bias;
        // The data must exercise both signs, or the activation tails go untested.
        EXPECT_GT(negative, rows * cols / 4);
        EXPECT_GT(positive, rows * cols / 4);
      }
}

}  // namespace
}  // namespace encore::kernels

// The BF16 self-attention path: accuracy against a double-precision reference on ragged batches
// and every specialised head size, determinism (batch contents, thread count), and the FP32
// fallback (ENCORE_NO_BF16, unsupported head sizes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "kernels/attention.hpp"
#include "test_support.hpp"

namespace encore::kernels {
namespace {

// Ragged batch: lengths around the 16/32-key padding, an odd and an empty sequence.
const std::vector<std::int32_t> kLengths{1, 2, 3, 17, 0, 31, 32, 33, 64, 130};

// {hidden, heads} for head sizes 32, 64, 128 and 256, the BF16 path's sizes.
const std::vector<std::pair<int, int>> kBf16Shapes{{96, 3}, {128, 2}, {256, 2}, {256, 1}};

std::vector<std::int32_t> offsets(const std::vector<std::int32_t>& lengths) {
  std::vector<std::int32_t> begin{0};
  for (std::int32_t l : lengths) begin.push_back(begin.back() + l);
  return begin;
}

// x rounded to bf16 (to nearest, ties to even), as a float.
float to_bf16(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&x, &bits, sizeof bits);
  return x;
}

// softmax(q·kᵀ/√d)·v per sequence and head, in double. With `bf16`, what the BF16 kernel
// computes: q, k·(1/√d as float) and v rounded to bf16, probabilities exp(s - max) rounded to
// bf16 in the P·V product but summed unrounded.
std::vector<double> reference(const std::vector<float>& qkv, const std::vector<std::int32_t>& begin,
                              int H, int heads, bool bf16 = false) {
  const int d = H / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const float scale_f = 1.f / std::sqrt(static_cast<float>(d));
  auto round = [&](float x) { return static_cast<double>(bf16 ? to_bf16(x) : x); };
  std::vector<double> ctx(static_cast<std::size_t>(begin.back()) * H);
  auto at = [&](int row, int col) { return qkv[std::size_t(row) * 3 * H + col]; };
  for (std::size_t s = 0; s + 1 < begin.size(); ++s) {
    const int b = begin[s], len = begin[s + 1] - b;
    std::vector<double> w(static_cast<std::size_t>(len));
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < len; ++i) {
        double max = -1e300, sum = 0;
        for (int j = 0; j < len; ++j) {
          double dot = 0;
          for (int c = 0; c < d; ++c) {
            const float k = at(b + j, H + h * d + c);
            dot += round(at(b + i, h * d + c)) * (bf16 ? round(k * scale_f) : k * scale);
          }
          w[j] = dot;
          max = std::max(max, w[j]);
        }
        for (auto& x : w) sum += (x = std::exp(x - max));
        for (int c = 0; c < d; ++c) {
          double acc = 0;
          for (int j = 0; j < len; ++j)
            acc += (bf16 ? round(static_cast<float>(w[j])) : w[j]) *
                   round(at(b + j, 2 * H + h * d + c));
          ctx[std::size_t(b + i) * H + h * d + c] = acc / sum;
        }
      }
  }
  return ctx;
}

// Runs self_attention with exactly the scratch it asks for, placed one float past a 64-byte
// boundary, and checks that the floats after it are untouched.
std::vector<float> run(const std::vector<float>& qkv, const std::vector<std::int32_t>& begin, int H,
                       int heads, int threads, AttentionPrecision precision) {
  const AttentionShape shape{H, heads};
  std::int32_t max_len = 0;
  for (std::size_t s = 0; s + 1 < begin.size(); ++s)
    max_len = std::max(max_len, begin[s + 1] - begin[s]);
  const std::size_t n = attention_scratch_floats(max_len, shape, threads, precision);
  constexpr float kCanary = 12345.f;
  std::vector<float> scratch(n + 1 + 64, kCanary);
  std::vector<float> ctx(static_cast<std::size_t>(begin.back()) * H, -1.f);
  self_attention(qkv.data(), begin.data(), static_cast<std::int32_t>(begin.size() - 1), shape,
                 ctx.data(), scratch.data() + 1, threads, precision);
  EXPECT_EQ(scratch[0], kCanary) << "scratch underrun";
  for (std::size_t i = n + 1; i < scratch.size(); ++i)
    if (scratch[i] != kCanary) {
      ADD_FAILURE() << "scratch overrun at " << i - n - 1 << " past " << n << " floats";
      break;
    }
  return ctx;
}

bool bit_equal(const float* a, const float* b, std::size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(float)) == 0;
}

// Sets (or with nullptr unsets) an environment variable for the scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The BF16 tests follow the environment: ENCORE_NO_BF16=1 for the run skips them as on a CPU
// without BF16 (and the rest then check the FP32 fallback).
bool bf16_available() {
  return attention_bf16_supported();
}

// Every BF16 test runs once per kernel of the BF16 path (ENCORE_ATTENTION_KERNEL forces it);
// the AMX one is skipped on CPUs without AMX-BF16.
class AttentionBf16 : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (std::string(GetParam()) == "amx" && !attention_amx_supported())
      GTEST_SKIP() << "this CPU has no AMX-BF16";
    kernel_.emplace("ENCORE_ATTENTION_KERNEL", GetParam());
  }
  void TearDown() override { kernel_.reset(); }

 private:
  std::optional<ScopedEnv> kernel_;
};
INSTANTIATE_TEST_SUITE_P(Kernels, AttentionBf16, ::testing::Values("avx512_bf16", "amx"),
                         [](const auto& info) { return std::string(info.param); });

// Tolerances of the BF16 path (inputs of both products rounded to bf16, 8 significant bits,
// fp32 accumulation): max |error| <= kBf16RelTol · max |reference| over the output (twice that
// with stddev-2 inputs, whose logits reach ~20: a logit's bf16 error grows with its size), and
// every head's output row at cosine >= kBf16MinCos to the reference. Measured on this test's
// data: 0.22-0.30% (stddev 1) and 0.68-1.16% (stddev 2) of max|reference|, cosine >= 0.99973.
constexpr double kBf16RelTol = 1e-2;
constexpr double kBf16MinCos = 0.9995;

TEST_P(AttentionBf16, MatchesReferenceOnRaggedBatches) {
  if (!bf16_available()) GTEST_SKIP() << "no AVX512_BF16 (or ENCORE_NO_BF16 set)";
  const auto begin = offsets(kLengths);
  const int T = begin.back();
  // stddev 2 gives large logits (|q·k|/√d up to ~20): softmax stress
  for (auto [H, heads] : kBf16Shapes)
    for (float stddev : {1.f, 2.f}) {
      const int d = H / heads;
      const auto qkv = test::normal_vector(static_cast<std::size_t>(T) * 3 * H, 11 + H, stddev);
      const auto ref = reference(qkv, begin, H, heads);
      double ref_max = 0;
      for (double v : ref) ref_max = std::max(ref_max, std::fabs(v));
      for (int threads : {1, 2}) {
        const auto ctx = run(qkv, begin, H, heads, threads, AttentionPrecision::BF16);
        double max_err = 0, min_cos = 1;
        for (int t = 0; t < T; ++t)
          for (int h = 0; h < heads; ++h) {
            double dot = 0, nc = 0, nr = 0;
            for (int c = 0; c < d; ++c) {
              const std::size_t k = std::size_t(t) * H + h * d + c;
              max_err = std::max(max_err, std::fabs(ctx[k] - ref[k]));
              dot += ctx[k] * ref[k];
              nc += double(ctx[k]) * ctx[k];
              nr += ref[k] * ref[k];
            }
            min_cos = std::min(min_cos, dot / std::sqrt(nc * nr));
          }
        const std::string where = "d=" + std::to_string(d) +
                                  " stddev=" + std::to_string(static_cast<int>(stddev)) +
                                  " threads=" + std::to_string(threads);
        EXPECT_LE(max_err, kBf16RelTol * stddev * ref_max) << where << " max|ref|=" << ref_max;
        EXPECT_GE(min_cos, kBf16MinCos) << where;
        if (threads == 1)
          std::printf("[ bf16     ] %s: max abs err %.3g (max|ref| %.3g), min row cosine %.7f\n",
                      where.c_str(), max_err, ref_max, min_cos);
      }
    }
}

// Against the emulation, the kernel's results differ by fp32 accumulation and the fp32 exp,
// and where those move a probability across a bf16 rounding boundary: that probability
// then differs by one bf16 ulp (<= 2^-7 of it), the output by <= 2^-7 · max|v| however many
// of a row's probabilities flip (they sum to <= 1). So: max |diff| <= 2^-7 · max|v|, and
// flips being rare, the RMS difference <= 5e-4 · RMS of the output (measured <= 1e-4; truncating
// to bf16 instead of rounding to nearest gives ~1e-2).
void expect_matches_emulation(const std::vector<float>& qkv,
                              const std::vector<std::int32_t>& lengths, int H, int heads,
                              const std::string& what) {
  const auto begin = offsets(lengths);
  const auto emu = reference(qkv, begin, H, heads, /*bf16=*/true);
  const auto ctx = run(qkv, begin, H, heads, 2, AttentionPrecision::BF16);
  double max_err = 0, sq_err = 0, sq = 0, max_v = 0;
  for (std::size_t k = 0; k < ctx.size(); ++k) {
    const double e = std::fabs(ctx[k] - emu[k]);
    max_err = std::max(max_err, e);
    sq_err += e * e;
    sq += emu[k] * emu[k];
  }
  for (int t = 0; t < begin.back(); ++t)
    for (int c = 0; c < H; ++c)
      max_v = std::max(max_v, double(std::fabs(qkv[std::size_t(t) * 3 * H + 2 * H + c])));
  const double rms_ratio = std::sqrt(sq_err / sq);
  std::printf("[ bf16 emu ] d=%d %s: max abs diff %.3g (max|v| %.3g), rms diff / rms %.3g\n",
              H / heads, what.c_str(), max_err, max_v, rms_ratio);
  EXPECT_LE(max_err, std::ldexp(1.0, -7) * max_v) << "d=" << H / heads << " " << what;
  EXPECT_LE(rms_ratio, 5e-4) << "d=" << H / heads << " " << what;
}

// Against a double-precision emulation of the bf16 rounding the kernel does: what remains is
// fp32 accumulation, the fp32 exp, and the odd probability rounded the other way.
TEST_P(AttentionBf16, MatchesBf16RoundingEmulation) {
  if (!bf16_available()) GTEST_SKIP() << "no AVX512_BF16 (or ENCORE_NO_BF16 set)";
  const int T = offsets(kLengths).back();
  for (auto [H, heads] : kBf16Shapes)
    for (float stddev : {1.f, 2.f})
      expect_matches_emulation(
          test::normal_vector(static_cast<std::size_t>(T) * 3 * H, 11 + H, stddev), kLengths, H,
          heads, "stddev " + std::to_string(static_cast<int>(stddev)));
  // BERT's longest sequences
  expect_matches_emulation(test::normal_vector(769 * 3 * 128, 12), {512, 257}, 128, 2,
                           "lengths 512, 257");
}

// Scores all far below zero (Q = -8·u, K rows u plus a little noise: about -600 ± 5): the
// zero scores of the padding keys then exceed the row's max, and must not enter the softmax.
TEST_P(AttentionBf16, VeryNegativeScores) {
  if (!bf16_available()) GTEST_SKIP() << "no AVX512_BF16 (or ENCORE_NO_BF16 set)";
  const int H = 128;
  const std::vector<std::int32_t> lengths{1, 5, 17, 33};
  const int T = offsets(lengths).back();
  const auto u = test::normal_vector(H, 21, 1.f, 3.f);
  const auto noise = test::normal_vector(static_cast<std::size_t>(T) * H, 23, 0.05f);
  auto qkv = test::normal_vector(static_cast<std::size_t>(T) * 3 * H, 22);
  for (int t = 0; t < T; ++t)
    for (int c = 0; c < H; ++c) {
      qkv[std::size_t(t) * 3 * H + c] = -8.f * u[c];
      qkv[std::size_t(t) * 3 * H + H + c] = u[c] + noise[std::size_t(t) * H + c];
    }
  expect_matches_emulation(qkv, lengths, H, 2, "scores ~ -600");
}

// The BF16 request must really take the BF16 path where it is available (results differ from
// FP32 in the low bits), and not where it is not.
TEST_P(AttentionBf16, RunsBf16ArithmeticWhenSupported) {
  if (!bf16_available()) GTEST_SKIP() << "no AVX512_BF16 (or ENCORE_NO_BF16 set)";
  const auto begin = offsets(kLengths);
  const auto qkv = test::normal_vector(static_cast<std::size_t>(begin.back()) * 3 * 128, 5);
  const auto fp32 = run(qkv, begin, 128, 2, 1, AttentionPrecision::FP32);
  const auto bf16 = run(qkv, begin, 128, 2, 1, AttentionPrecision::BF16);
  EXPECT_FALSE(bit_equal(fp32.data(), bf16.data(), fp32.size()));
}

TEST_P(AttentionBf16, RowsIndependentOfBatchAndThreads) {
  const auto begin = offsets(kLengths);
  for (auto [H, heads] : kBf16Shapes) {
    const auto qkv = test::normal_vector(static_cast<std::size_t>(begin.back()) * 3 * H, 3 + H);
    const auto one = run(qkv, begin, H, heads, 1, AttentionPrecision::BF16);
    const auto two = run(qkv, begin, H, heads, 2, AttentionPrecision::BF16);
    EXPECT_TRUE(bit_equal(one.data(), two.data(), one.size())) << "H=" << H << ": 1 vs 2 threads";
    for (std::size_t s = 0; s < kLengths.size(); ++s) {
      // the sequence alone, copied to a buffer of its own
      const std::vector<float> alone_qkv(qkv.begin() + std::size_t(begin[s]) * 3 * H,
                                         qkv.begin() + std::size_t(begin[s + 1]) * 3 * H);
      const auto alone = run(alone_qkv, {0, kLengths[s]}, H, heads, 1, AttentionPrecision::BF16);
      EXPECT_TRUE(bit_equal(alone.data(), one.data() + std::size_t(begin[s]) * H, alone.size()))
          << "H=" << H << " sequence of length " << kLengths[s] << " alone vs in the batch";
    }
  }
}

TEST_P(AttentionBf16, EnvironmentVariableSelectsFp32) {
  bool cpu;
  {
    ScopedEnv env("ENCORE_NO_BF16", nullptr);
    cpu = attention_bf16_supported();
  }
  {
    ScopedEnv env("ENCORE_NO_BF16", "0");
    EXPECT_EQ(attention_bf16_supported(), cpu) << "ENCORE_NO_BF16=0 keeps BF16";
  }
  {
    ScopedEnv env("ENCORE_NO_BF16", "");
    EXPECT_EQ(attention_bf16_supported(), cpu) << "empty ENCORE_NO_BF16 keeps BF16";
  }
  ScopedEnv env("ENCORE_NO_BF16", "1");
  EXPECT_FALSE(attention_bf16_supported());
  const auto begin = offsets(kLengths);
  for (auto [H, heads] : kBf16Shapes)
    for (int threads : {1, 2}) {
      const auto qkv = test::normal_vector(static_cast<std::size_t>(begin.back()) * 3 * H, 9 + H);
      const auto fp32 = run(qkv, begin, H, heads, threads, AttentionPrecision::FP32);
      const auto bf16 = run(qkv, begin, H, heads, threads, AttentionPrecision::BF16);
      EXPECT_TRUE(bit_equal(fp32.data(), bf16.data(), fp32.size()))
          << "H=" << H << " threads=" << threads;
    }
}

TEST_P(AttentionBf16, OtherHeadSizesRunFp32) {
  const auto begin = offsets(kLengths);
  // head sizes 24, 48 and 16: not whole 32-float blocks
  for (auto [H, heads] : std::vector<std::pair<int, int>>{{96, 4}, {96, 2}, {64, 4}}) {
    const auto qkv = test::normal_vector(static_cast<std::size_t>(begin.back()) * 3 * H, 1 + H);
    const auto fp32 = run(qkv, begin, H, heads, 2, AttentionPrecision::FP32);
    const auto bf16 = run(qkv, begin, H, heads, 2, AttentionPrecision::BF16);
    EXPECT_TRUE(bit_equal(fp32.data(), bf16.data(), fp32.size())) << "H=" << H;
  }
}

TEST_P(AttentionBf16, ScratchCoversBothPaths) {
  for (auto [H, heads] : std::vector<std::pair<int, int>>{{96, 3}, {128, 2}, {256, 2}, {96, 4}})
    for (std::int32_t max_len : {1, 16, 17, 130, 512})
      for (int threads : {1, 2})
        EXPECT_GE(attention_scratch_floats(max_len, {H, heads}, threads, AttentionPrecision::BF16),
                  attention_scratch_floats(max_len, {H, heads}, threads, AttentionPrecision::FP32));
}

}  // namespace
}  // namespace encore::kernels

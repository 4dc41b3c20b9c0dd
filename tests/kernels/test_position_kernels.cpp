// The kernels the non-BERT architectures add, each against a plain double-precision
// reference: attention with a relative-position bias and a sliding window (FP32 and, where the
// CPU has it, BF16), rotary embeddings, gated activations, embeddings without position or
// token-type tables, and the residual add.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.hpp"
#include "kernels/disentangled_attention.hpp"
#include "kernels/embeddings.hpp"
#include "kernels/gated_activation.hpp"
#include "kernels/layer_norm.hpp"
#include "kernels/rotary.hpp"
#include "test_support.hpp"

namespace encore::kernels {
namespace {

// softmax(q·kᵀ/√d + rel[h][j - i], masked beyond the window)·v, in double.
std::vector<double> biased_reference(const std::vector<float>& qkv,
                                     const std::vector<std::int32_t>& begin, int H, int heads,
                                     const std::vector<float>& rel, int center, int window) {
  const int d = H / heads;
  std::vector<double> ctx(static_cast<std::size_t>(begin.back()) * H);
  auto at = [&](int row, int col) {
    return static_cast<double>(qkv[std::size_t(row) * 3 * H + col]);
  };
  const int span = 2 * center + 1;
  for (std::size_t s = 0; s + 1 < begin.size(); ++s) {
    const int b = begin[s], len = begin[s + 1] - b;
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < len; ++i) {
        std::vector<double> w(static_cast<std::size_t>(len), -INFINITY);
        double max = -1e300, sum = 0;
        for (int j = 0; j < len; ++j) {
          if (window > 0 && std::abs(i - j) > window) continue;
          double dot = 0;
          for (int c = 0; c < d; ++c) dot += at(b + i, h * d + c) * at(b + j, H + h * d + c);
          w[j] = dot / std::sqrt(static_cast<double>(d)) +
                 (rel.empty() ? 0.0 : rel[std::size_t(h * span + center + j - i)]);
          max = std::max(max, w[j]);
        }
        for (auto& x : w) sum += (x = std::isinf(x) ? 0.0 : std::exp(x - max));
        for (int c = 0; c < d; ++c) {
          double acc = 0;
          for (int j = 0; j < len; ++j) acc += w[j] * at(b + j, 2 * H + h * d + c);
          ctx[std::size_t(b + i) * H + h * d + c] = acc / sum;
        }
      }
  }
  return ctx;
}

void check_biased_attention(AttentionPrecision precision, double tolerance) {
  const std::vector<std::int32_t> lengths{1, 5, 17, 0, 40, 33};
  std::vector<std::int32_t> begin{0};
  for (auto l : lengths) begin.push_back(begin.back() + l);
  const int max_len = 40;
  for (const auto& [H, heads] : std::vector<std::pair<int, int>>{{48, 2}, {64, 2}, {40, 2}}) {
    const auto qkv = test::normal_vector(static_cast<std::size_t>(begin.back()) * 3 * H, 7, 1.f);
    const int center = max_len - 1, span = 2 * center + 1;
    const auto rel = test::normal_vector(static_cast<std::size_t>(heads * span), 11, 1.f);
    for (const int window : {0, 8}) {
      for (const bool with_rel : {false, true}) {
        AttentionBias bias;
        if (with_rel) {
          bias.relative = rel.data();
          bias.relative_stride = span;
          bias.relative_center = center;
        }
        bias.window = window;
        const AttentionShape shape{H, heads};
        std::vector<float> scratch(attention_scratch_floats(max_len, shape, 2, precision));
        std::vector<float> ctx(static_cast<std::size_t>(begin.back()) * H);
        self_attention(qkv.data(), begin.data(), static_cast<int>(lengths.size()), shape,
                       ctx.data(), scratch.data(), 2, precision, bias);
        const auto want = biased_reference(qkv, begin, H, heads,
                                           with_rel ? rel : std::vector<float>{}, center, window);
        double worst = 0;
        for (std::size_t i = 0; i < ctx.size(); ++i)
          worst = std::max(worst, std::fabs(ctx[i] - want[i]));
        EXPECT_LE(worst, tolerance) << "H " << H << " window " << window << " rel " << with_rel;
      }
    }
  }
}

TEST(PositionKernels, AttentionWithRelativeBiasAndWindowFp32) {
  check_biased_attention(AttentionPrecision::FP32, 2e-5);
}

TEST(PositionKernels, AttentionWithRelativeBiasAndWindowBf16) {
  if (!attention_bf16_supported()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  // bf16 inputs: ~3 significant digits (head size 64 runs BF16; 24 and 20 fall back to FP32).
  for (const char* kernel : {"avx512_bf16", "amx"}) {
    if (std::string(kernel) == "amx" && !attention_amx_supported()) continue;
    SCOPED_TRACE(kernel);
    setenv("ENCORE_ATTENTION_KERNEL", kernel, 1);
    check_biased_attention(AttentionPrecision::BF16, 5e-2);
    unsetenv("ENCORE_ATTENTION_KERNEL");
  }
}

TEST(PositionKernels, DisentangledAttentionMatchesPlainLoops) {
  const std::vector<std::int32_t> lengths{1, 9, 0, 37, 20};
  std::vector<std::int32_t> begin{0};
  for (auto l : lengths) begin.push_back(begin.back() + l);
  const int H = 48, heads = 2, d = 24, span = 8, max_len = 37, center = max_len - 1;
  const auto qkv = test::normal_vector(static_cast<std::size_t>(begin.back()) * 3 * H, 21, 1.f);
  const auto pk = test::normal_vector(std::size_t(2 * span) * H, 22, 1.f);
  const auto pq = test::normal_vector(std::size_t(2 * span) * H, 23, 1.f);
  std::vector<std::int32_t> index(2 * max_len - 1);
  for (int r = -(max_len - 1); r < max_len; ++r)
    index[std::size_t(r + center)] =
        std::clamp(deberta_log_bucket(r, span, 64) + span, 0, 2 * span - 1);
  DisentangledTerms t{pk.data(), pq.data(), index.data(), center, 1.f / std::sqrt(3.f * d)};
  const AttentionShape shape{H, heads};
  std::vector<float> scratch(disentangled_scratch_floats(max_len, shape, 2));
  std::vector<float> ctx(static_cast<std::size_t>(begin.back()) * H);
  disentangled_attention(qkv.data(), begin.data(), static_cast<int>(lengths.size()), shape, t,
                         ctx.data(), scratch.data(), 2);
  auto at = [&](int row, int col) {
    return static_cast<double>(qkv[std::size_t(row) * 3 * H + col]);
  };
  double worst = 0;
  for (std::size_t s = 0; s + 1 < begin.size(); ++s) {
    const int b = begin[s], len = begin[s + 1] - b;
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < len; ++i) {
        std::vector<double> w(static_cast<std::size_t>(len));
        double max = -1e300, sum = 0;
        for (int j = 0; j < len; ++j) {
          const int r = index[std::size_t(center + i - j)];
          double qk = 0, c2p = 0, p2c = 0;
          for (int c = 0; c < d; ++c) {
            qk += at(b + i, h * d + c) * at(b + j, H + h * d + c);
            c2p += at(b + i, h * d + c) * pk[std::size_t(r * H + h * d + c)];
            p2c += at(b + j, H + h * d + c) * pq[std::size_t(r * H + h * d + c)];
          }
          w[std::size_t(j)] = (qk + c2p + p2c) / std::sqrt(3.0 * d);
          max = std::max(max, w[std::size_t(j)]);
        }
        for (auto& x : w) sum += (x = std::exp(x - max));
        for (int c = 0; c < d; ++c) {
          double acc = 0;
          for (int j = 0; j < len; ++j) acc += w[std::size_t(j)] * at(b + j, 2 * H + h * d + c);
          worst = std::max(worst, std::fabs(acc / sum - ctx[std::size_t(b + i) * H + h * d + c]));
        }
      }
  }
  EXPECT_LE(worst, 2e-5);
}

TEST(PositionKernels, DebertaLogBuckets) {
  // Exact inside (-mid, mid), then log-spaced and odd: transformers' make_log_bucket_position
  // with bucket_size 32 and max_position 512.
  for (int r = -16; r <= 16; ++r) EXPECT_EQ(deberta_log_bucket(r, 32, 512), r);
  for (int r = 17; r < 600; ++r) {
    EXPECT_EQ(deberta_log_bucket(-r, 32, 512), -deberta_log_bucket(r, 32, 512));
    EXPECT_GE(deberta_log_bucket(r, 32, 512), deberta_log_bucket(r - 1, 32, 512));
  }
  // ceil(log(r/16) / log(511/16) * 15) + 16
  EXPECT_EQ(deberta_log_bucket(17, 32, 512), 17);
  EXPECT_EQ(deberta_log_bucket(100, 32, 512), 24);
  EXPECT_EQ(deberta_log_bucket(511, 32, 512), 31);
}

TEST(PositionKernels, RotaryMatchesRotateHalf) {
  const int H = 48, heads = 2, d = 24, T = 70;
  auto qkv = test::normal_vector(static_cast<std::size_t>(T) * 3 * H, 3, 1.f);
  const auto original = qkv;
  std::vector<std::int32_t> pos(T);
  for (int t = 0; t < T; ++t) pos[t] = t % 35;  // two sequences
  const RotaryTable table = RotaryTable::make(160000.0, d, 64);
  apply_rotary(qkv.data(), pos.data(), T, H, heads, table);
  double worst = 0;
  for (int t = 0; t < T; ++t)
    for (int part = 0; part < 3; ++part)
      for (int h = 0; h < heads; ++h)
        for (int c = 0; c < d; ++c) {
          const std::size_t at = std::size_t(t) * 3 * H + part * H + h * d;
          double want = original[at + c];
          if (part < 2) {
            const int k = c % (d / 2);
            const double inv = 1.0 / std::pow(160000.0, 2.0 * k / d), angle = inv * pos[t];
            const double x = original[at + c];
            const double partner = c < d / 2 ? -original[at + c + d / 2] : original[at + c - d / 2];
            want = x * std::cos(angle) + partner * std::sin(angle);
          }
          worst = std::max(worst, std::fabs(qkv[at + c] - want));
        }
  EXPECT_LE(worst, 1e-5);  // V untouched, Q and K rotated
}

TEST(PositionKernels, GatedActivationIsActOfValueTimesGate) {
  const std::int64_t rows = 9, width = 37;
  const auto in = test::normal_vector(static_cast<std::size_t>(rows * 2 * width), 5, 2.f);
  std::vector<float> out(static_cast<std::size_t>(rows * width));
  gated_activation(in.data(), rows, width, Activation::GeluErf, out.data());
  double worst = 0;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < width; ++c) {
      const double v = in[std::size_t(r * 2 * width + c)],
                   g = in[std::size_t(r * 2 * width + width + c)];
      const double want = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))) * g;
      worst = std::max(worst, std::fabs(out[std::size_t(r * width + c)] - want));
    }
  EXPECT_LE(worst, 1e-5);
}

TEST(PositionKernels, EmbeddingsWithoutPositionOrTypeTables) {
  const int H = 16, V = 10, T = 4;
  const auto word = test::normal_vector(std::size_t(V) * H, 1, 1.f);
  const auto pos_table = test::normal_vector(std::size_t(8) * H, 2, 1.f);
  const std::vector<float> gamma(H, 1.f), beta(H, 0.f);
  const std::vector<std::int32_t> ids{3, 1, 4, 1}, positions{0, 1, 2, 3}, types{0, 0, 0, 0};
  std::vector<float> a(std::size_t(T) * H), b(std::size_t(T) * H), zeros(std::size_t(8) * H, 0.f);
  // No table behaves as an all-zero table.
  embed_tokens(ids.data(), positions.data(), types.data(), T, word.data(), nullptr, nullptr,
               gamma.data(), beta.data(), 1e-5f, H, a.data());
  embed_tokens(ids.data(), positions.data(), types.data(), T, word.data(), zeros.data(),
               zeros.data(), gamma.data(), beta.data(), 1e-5f, H, b.data());
  EXPECT_EQ(a, b);
  embed_tokens(ids.data(), positions.data(), types.data(), T, word.data(), pos_table.data(),
               nullptr, gamma.data(), beta.data(), 1e-5f, H, a.data());
  embed_tokens(ids.data(), positions.data(), types.data(), T, word.data(), pos_table.data(),
               zeros.data(), gamma.data(), beta.data(), 1e-5f, H, b.data());
  EXPECT_EQ(a, b);
}

TEST(PositionKernels, AddInplace) {
  auto x = test::normal_vector(40000, 8, 1.f);
  const auto y = test::normal_vector(40000, 9, 1.f);
  const auto x0 = x;
  add_inplace(x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], x0[i] + y[i]);
}

}  // namespace
}  // namespace encore::kernels

// Every kernel against a plain double-precision reference, on ragged shapes and every
// supported head size / activation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/attention.hpp"
#include "kernels/embeddings.hpp"
#include "kernels/layer_norm.hpp"
#include "kernels/linear.hpp"
#include "test_support.hpp"

namespace encore::kernels {
namespace {

float max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  float m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<float>(std::fabs(a[i] - b[i])));
  return m;
}

void reference_attention(const std::vector<float>& qkv, const std::vector<std::int32_t>& begin, int H,
                         int heads, std::vector<double>& ctx) {
  const int d = H / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (std::size_t s = 0; s + 1 < begin.size(); ++s) {
    const int b = begin[s], len = begin[s + 1] - begin[s];
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < len; ++i) {
        std::vector<double> w(static_cast<std::size_t>(len));
        double max = -1e300;
        for (int j = 0; j < len; ++j) {
          double dot = 0;
          for (int c = 0; c < d; ++c)
            dot += static_cast<double>(qkv[static_cast<std::size_t>((b + i) * 3 * H + h * d + c)]) *
                   qkv[static_cast<std::size_t>((b + j) * 3 * H + H + h * d + c)];
          w[static_cast<std::size_t>(j)] = dot * scale;
          max = std::max(max, w[static_cast<std::size_t>(j)]);
        }
        double sum = 0;
        for (auto& x : w) sum += (x = std::exp(x - max));
        for (int c = 0; c < d; ++c) {
          double acc = 0;
          for (int j = 0; j < len; ++j)
            acc += w[static_cast<std::size_t>(j)] / sum * qkv[static_cast<std::size_t>((b + j) * 3 * H + 2 * H + h * d + c)];
          ctx[static_cast<std::size_t>((b + i) * H + h * d + c)] = acc;
        }
      }
  }
}

TEST(Kernels, AttentionMatchesReferenceOnRaggedBatches) {
  // head sizes 32, 64, 128 (specialised) and 24, 48 (generic path)
  for (auto [H, heads] : std::vector<std::pair<int, int>>{{96, 3}, {128, 2}, {256, 2}, {96, 4}, {96, 2}}) {
    const std::vector<std::int32_t> lengths{1, 17, 100, 3, 64, 130};
    std::vector<std::int32_t> begin{0};
    for (int l : lengths) begin.push_back(begin.back() + l);
    const int T = begin.back();
    const auto qkv = test::normal_vector(static_cast<std::size_t>(T) * 3 * H, 7, 2.f);  // large logits: softmax stress
    std::vector<float> ctx(static_cast<std::size_t>(T) * H, -1.f);
    const AttentionShape shape{H, heads};
    for (int threads : {1, 2}) {
      std::vector<float> scratch(attention_scratch_floats(130, shape, threads));
      self_attention(qkv.data(), begin.data(), static_cast<std::int32_t>(lengths.size()), shape, ctx.data(),
                     scratch.data(), threads);
      std::vector<double> ref(ctx.size());
      reference_attention(qkv, begin, H, heads, ref);
      EXPECT_LE(max_abs_diff(ctx, ref), 2e-5f) << "H=" << H << " heads=" << heads << " threads=" << threads;
    }
  }
}

TEST(Kernels, AddLayerNormMatchesReference) {
  const int rows = 37, cols = 96;
  const auto x = test::normal_vector(rows * cols, 1, 3.f), r = test::normal_vector(rows * cols, 2);
  const auto g = test::normal_vector(cols, 3), b = test::normal_vector(cols, 4);
  std::vector<float> out(x.size());
  add_layer_norm(x.data(), r.data(), g.data(), b.data(), 1e-12f, rows, cols, out.data());
  std::vector<double> ref(x.size());
  for (int i = 0; i < rows; ++i) {
    double mean = 0, var = 0;
    for (int c = 0; c < cols; ++c) mean += static_cast<double>(x[i * cols + c]) + r[i * cols + c];
    mean /= cols;
    for (int c = 0; c < cols; ++c) {
      const double v = static_cast<double>(x[i * cols + c]) + r[i * cols + c] - mean;
      var += v * v;
    }
    var /= cols;
    for (int c = 0; c < cols; ++c)
      ref[static_cast<std::size_t>(i * cols + c)] =
          (static_cast<double>(x[i * cols + c]) + r[i * cols + c] - mean) / std::sqrt(var + 1e-12) * g[c] + b[c];
  }
  EXPECT_LE(max_abs_diff(out, ref), 1e-5f);
  // In place on x, no residual.
  auto y = x;
  add_layer_norm(y.data(), nullptr, g.data(), b.data(), 1e-5f, rows, cols, y.data());
  double mean = 0;
  for (int c = 0; c < cols; ++c) mean += (y[c] - b[c]) / g[c];
  EXPECT_NEAR(mean / cols, 0.0, 1e-4);
}

double activate(double v, Activation a) {
  switch (a) {
    case Activation::None: return v;
    case Activation::GeluErf: return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    case Activation::GeluTanh: return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    case Activation::Relu: return v > 0 ? v : 0;
    case Activation::Silu: return v / (1 + std::exp(-v));
    case Activation::Tanh: return std::tanh(v);
  }
  return v;
}

TEST(Kernels, LinearMatchesReferenceForEveryActivationAndRowCount) {
  const int in = 96, out = 80;
  const auto w = test::normal_vector(static_cast<std::size_t>(in) * out, 5, 0.2f), b = test::normal_vector(out, 6);
  dnnl::stream stream(cpu_engine());
  for (Activation a : {Activation::None, Activation::GeluErf, Activation::GeluTanh, Activation::Relu,
                       Activation::Silu, Activation::Tanh}) {
    Linear lin(w.data(), b.data(), in, out, a);
    for (int rows : {1, 7, 64, 129}) {
      const auto x = test::normal_vector(static_cast<std::size_t>(rows) * in, 8 + rows);
      std::vector<float> y(static_cast<std::size_t>(rows) * out);
      std::vector<char> scratch(lin.scratchpad_bytes(rows) + 64);
      lin.forward(x.data(), rows, y.data(), stream, scratch.data());
      stream.wait();
      std::vector<double> ref(y.size());
      for (int r = 0; r < rows; ++r)
        for (int o = 0; o < out; ++o) {
          double acc = b[o];
          for (int i = 0; i < in; ++i) acc += static_cast<double>(x[r * in + i]) * w[o * in + i];
          ref[static_cast<std::size_t>(r * out + o)] = activate(acc, a);
        }
      EXPECT_LE(max_abs_diff(y, ref), 5e-5f) << "activation " << static_cast<int>(a) << " rows " << rows;
    }
  }
}

// BF16 and INT8 linears against the same double reference, with strided input and output
// (the padding between rows must stay untouched). Tolerances follow each precision's rounding:
// bf16 keeps 8 mantissa bits; INT8 quantizes x to 1/255 of its row (or calibrated) range.
struct ReducedPrecisionCase {
  const char* name;
  LinearQuantization q;
  float tolerance;
};

void expect_linears_match_reference(std::initializer_list<ReducedPrecisionCase> cases) {
  const int in = 96, out = 80;
  const auto w = test::normal_vector(static_cast<std::size_t>(in) * out, 5, 0.2f), b = test::normal_vector(out, 6);
  dnnl::stream stream(cpu_engine());
  for (const ReducedPrecisionCase& c : cases) {
    for (Activation a : {Activation::None, Activation::GeluErf, Activation::Relu, Activation::Tanh}) {
      Linear lin(w.data(), b.data(), in, out, a, c.q);
      EXPECT_EQ(lin.precision(), c.q.precision);
      for (int rows : {1, 7, 129}) {
        const int ldx = in + 5, ldy = out + 3;
        const auto x = test::normal_vector(static_cast<std::size_t>(rows) * ldx, 8 + rows);
        std::vector<float> y(static_cast<std::size_t>(rows) * ldy, -777.f);
        std::vector<char> scratch(lin.scratchpad_bytes(rows) + 64);
        lin.forward(x.data(), rows, y.data(), stream, scratch.data(), ldx, ldy);
        stream.wait();
        double worst = 0;
        for (int r = 0; r < rows; ++r) {
          double dot = 0, nr = 0, ny = 0;
          for (int o = 0; o < out; ++o) {
            double acc = b[o];
            for (int i = 0; i < in; ++i) acc += static_cast<double>(x[r * ldx + i]) * w[o * in + i];
            const double ref = activate(acc, a), got = y[static_cast<std::size_t>(r * ldy + o)];
            worst = std::max(worst, std::fabs(ref - got));
            dot += ref * got;
            nr += ref * ref;
            ny += got * got;
          }
          if (nr > 0) {
            EXPECT_GE(dot / std::sqrt(nr * ny), 0.999) << c.name << " row " << r;
          }
          for (int o = out; o < ldy; ++o) ASSERT_EQ(y[static_cast<std::size_t>(r * ldy + o)], -777.f) << c.name;
        }
        // 7-bit weights (CPUs without VNNI) double the weight rounding step.
        const float tolerance = lin.weight_bits() == 7 ? 0.25f : c.tolerance;
        EXPECT_LE(worst, tolerance) << c.name << " activation " << static_cast<int>(a) << " rows " << rows;
        EXPECT_GT(worst, 0.0) << c.name << ": reduced precision should not be exact";
      }
    }
  }
}

TEST(Kernels, Bf16LinearMatchesReferenceWithinItsTolerance) {
  if (!cpu_has_native_bf16()) GTEST_SKIP() << "no BF16 instructions (AVX512_BF16/AMX) on this CPU";
  expect_linears_match_reference({{"bf16", {LinearPrecision::BF16, std::nullopt, nullptr}, 0.05f}});
}

TEST(Kernels, Bf16LinearWithoutAnyBf16MatmulIsAClearError) {
  if (dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core)
    GTEST_SKIP() << "oneDNN runs BF16 matmul on this CPU (natively or emulated)";
  const std::vector<float> w(16 * 8, 0.5f);
  test::expect_error([&] { Linear(w.data(), nullptr, 16, 8, Activation::None, {LinearPrecision::BF16, std::nullopt, nullptr}); },
                     {"bf16", "16x8", "this CPU"});
}

TEST(Kernels, Int8LinearsMatchReferenceWithinTheirTolerance) {
  expect_linears_match_reference(
      {{"int8-dynamic", {LinearPrecision::Int8, std::nullopt, nullptr}, 0.15f},
       {"int8-static", {LinearPrecision::Int8, std::pair<float, float>{-4.f, 4.f}, nullptr}, 0.15f}});
}

TEST(Kernels, EmbeddingsGatherSumAndNormalize) {
  const int H = 32, V = 50, P = 20, TT = 2;
  const auto word = test::normal_vector(V * H, 11), pos = test::normal_vector(P * H, 12), type = test::normal_vector(TT * H, 13);
  const auto g = test::normal_vector(H, 14), b = test::normal_vector(H, 15);
  const std::vector<std::int32_t> ids{3, 49, 0, 7}, positions{0, 1, 2, 0}, types{0, 0, 1, 1};
  std::vector<float> out(ids.size() * H);
  embed_tokens(ids.data(), positions.data(), types.data(), 4, word.data(), pos.data(), type.data(), g.data(),
               b.data(), 1e-12f, H, out.data());
  std::vector<double> ref(out.size());
  for (int t = 0; t < 4; ++t) {
    std::vector<double> v(H);
    double mean = 0, var = 0;
    for (int c = 0; c < H; ++c) {
      v[c] = static_cast<double>(word[ids[t] * H + c]) + pos[positions[t] * H + c] + type[types[t] * H + c];
      mean += v[c];
    }
    mean /= H;
    for (int c = 0; c < H; ++c) var += (v[c] - mean) * (v[c] - mean);
    var /= H;
    for (int c = 0; c < H; ++c) ref[static_cast<std::size_t>(t * H + c)] = (v[c] - mean) / std::sqrt(var + 1e-12) * g[c] + b[c];
  }
  EXPECT_LE(max_abs_diff(out, ref), 1e-5f);
}

}  // namespace
}  // namespace encore::kernels

// encore's u8 x s8 GEMMs (VNNI and AMX) with their fused epilogue, against a plain reference:
// exact integer accumulators, then the epilogue in double. Shapes cover every tile remainder
// (rows not a multiple of 6, 16 or 32, columns not a multiple of 16, 32 or 64, k not a
// multiple of 4 or 64), padded leading dimensions, and sizes that take the threaded path.
// Each kernel runs only on a CPU that has its ISA (else skipped); the AMX kernel must equal
// the VNNI kernel bit for bit. The Linear layer is checked end to end
// against oneDNN's INT8 path (ENCORE_INT8_KERNEL=onednn), which must agree to float rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/int8_gemm.hpp"
#include "kernels/linear.hpp"
#include "test_support.hpp"

namespace encore::kernels {
namespace {

struct Problem {
  std::int64_t rows, k, n;
};

struct Data {
  std::vector<std::int8_t> w;   // [n, k]
  std::vector<std::uint8_t> x;  // [rows, ldx]
  std::vector<float> row_scale, w_scale, bias;
  std::vector<std::int32_t> zp, col_sum;
  std::int64_t ldx;
};

// Weights, inputs and epilogue terms; the per-column arrays are padded to `padded_n` zeros.
Data make_data(const Problem& p, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> w_dist(-127, 127), x_dist(0, 255), zp_dist(0, 255);
  std::uniform_real_distribution<float> rs_dist(1e-3f, 4e-3f), ws_dist(1e-3f, 4e-3f);
  Data d;
  d.ldx = (p.k + 63) / 64 * 64 + 12;  // wider than the kernels need (k rounded up to 64)
  d.w.resize(static_cast<std::size_t>(p.n * p.k));
  for (auto& v : d.w) v = static_cast<std::int8_t>(w_dist(rng));
  d.x.assign(static_cast<std::size_t>(p.rows * d.ldx), 0);
  for (std::int64_t r = 0; r < p.rows; ++r)
    for (std::int64_t c = 0; c < p.k; ++c)
      d.x[r * d.ldx + c] = static_cast<std::uint8_t>(x_dist(rng));
  d.row_scale.resize(static_cast<std::size_t>(p.rows));
  d.zp.resize(static_cast<std::size_t>(p.rows));
  for (auto& v : d.row_scale) v = rs_dist(rng);
  for (auto& v : d.zp) v = zp_dist(rng);
  d.w_scale.assign(static_cast<std::size_t>(p.n), 0.f);
  d.bias.assign(static_cast<std::size_t>(p.n), 0.f);
  d.col_sum.assign(static_cast<std::size_t>(p.n), 0);
  const auto bias = test::normal_vector(static_cast<std::size_t>(p.n), seed + 1, 2.f);
  for (std::int64_t c = 0; c < p.n; ++c) {
    d.w_scale[c] = ws_dist(rng);
    d.bias[c] = bias[c];
    std::int32_t s = 0;
    for (std::int64_t i = 0; i < p.k; ++i) s += d.w[c * p.k + i];
    d.col_sum[c] = s;
  }
  return d;
}

void pad_columns(Data& d, const PackedS8& packed) {
  const auto np = static_cast<std::size_t>(packed.padded_n());
  d.w_scale.resize(np, 0.f);
  d.bias.resize(np, 0.f);
  d.col_sum.resize(np, 0);
}

// Largest error relative to max(1, |want|) of y against the reference; padding of y untouched.
double max_error(const Problem& p, const Data& d, const Int8Epilogue& e,
                 const std::vector<float>& y, std::int64_t ldy, float pad) {
  double worst = 0;
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const std::int64_t i = e.per_row ? r : 0;
    for (std::int64_t c = 0; c < p.n; ++c) {
      std::int64_t acc = 0;
      for (std::int64_t k = 0; k < p.k; ++k)
        acc += static_cast<std::int64_t>(d.x[r * d.ldx + k]) * d.w[c * p.k + k];
      const double pre =
          static_cast<double>(acc - static_cast<std::int64_t>(e.zero_point[i]) * d.col_sum[c]) *
              (static_cast<double>(e.row_scale[i]) * d.w_scale[c]) +
          d.bias[c];
      const double want = test::reference_activation(e.activation, pre);
      worst = std::max(worst, std::fabs(y[r * ldy + c] - want) / std::max(1.0, std::fabs(want)));
    }
    for (std::int64_t c = p.n; c < ldy; ++c) EXPECT_EQ(y[r * ldy + c], pad) << "padding written";
  }
  return worst;
}

using GemmFn = void (*)(const std::uint8_t*, std::int64_t, std::int64_t, const PackedS8&,
                        const Int8Epilogue&, float*, std::int64_t, int);

struct Kernel {
  const char* name;
  GemmFn gemm;
  bool (*supported)();
};
const Kernel kVnni{"vnni", int8_gemm, int8_gemm_supported};
const Kernel kAmx{"amx", int8_gemm_amx, int8_gemm_amx_supported};

class Int8Gemm : public ::testing::TestWithParam<Kernel> {
 protected:
  void SetUp() override {
    if (!GetParam().supported()) GTEST_SKIP() << "this CPU has no " << GetParam().name;
  }
  void gemm(const std::uint8_t* x, std::int64_t rows, std::int64_t ldx, const PackedS8& w,
            const Int8Epilogue& e, float* y, std::int64_t ldy, int threads) const {
    GetParam().gemm(x, rows, ldx, w, e, y, ldy, threads);
  }
};

INSTANTIATE_TEST_SUITE_P(Kernels, Int8Gemm, ::testing::Values(kVnni, kAmx),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_P(Int8Gemm, MatchesExactReferenceOnEveryTileRemainder) {
  const std::vector<Problem> problems = {
      {1, 1, 1},       {1, 4, 16},   {5, 3, 15},    {6, 5, 17},      {7, 64, 63},
      {13, 67, 64},    {48, 8, 65},  {49, 33, 130}, {100, 129, 200}, {97, 768, 77},
      {16, 1000, 128}, {17, 64, 33}, {32, 128, 32}, {33, 192, 96},   {70, 768, 300},
  };
  constexpr float kPad = -777.f;
  unsigned seed = 1;
  for (const Problem& p : problems)
    for (const Activation act : {Activation::None, Activation::GeluErf})
      for (const bool per_row : {true, false}) {
        SCOPED_TRACE(testing::Message() << p.rows << "x" << p.k << "x" << p.n << " act "
                                        << static_cast<int>(act) << " per_row " << per_row);
        Data d = make_data(p, seed++);
        const PackedS8 packed(d.w.data(), static_cast<int>(p.n), static_cast<int>(p.k));
        pad_columns(d, packed);
        EXPECT_EQ(packed.padded_n() % 64, 0);
        EXPECT_EQ(packed.padded_k() % 64, 0);
        const Int8Epilogue e{d.row_scale.data(), d.zp.data(),   per_row, d.col_sum.data(),
                             d.w_scale.data(),   d.bias.data(), act};
        const std::int64_t ldy = p.n + 3;
        for (const int threads : {1, 2}) {
          std::vector<float> y(static_cast<std::size_t>(p.rows * ldy), kPad);
          gemm(d.x.data(), p.rows, d.ldx, packed, e, y.data(), ldy, threads);
          EXPECT_LT(max_error(p, d, e, y, ldy, kPad), 2e-6) << threads << " threads";
        }
      }
}

TEST_P(Int8Gemm, ThreadCountAndRowGroupingDoNotChangeAnyBit) {
  const Problem p{150, 300, 260};
  Data d = make_data(p, 99);
  const PackedS8 packed(d.w.data(), 260, 300);
  pad_columns(d, packed);
  const Int8Epilogue e{d.row_scale.data(), d.zp.data(),      true,
                       d.col_sum.data(),   d.w_scale.data(), d.bias.data(),
                       Activation::GeluErf};
  std::vector<float> one(static_cast<std::size_t>(p.rows * p.n)), two(one.size());
  gemm(d.x.data(), p.rows, d.ldx, packed, e, one.data(), p.n, 1);
  gemm(d.x.data(), p.rows, d.ldx, packed, e, two.data(), p.n, 2);
  EXPECT_EQ(one, two);
  // A row computed alone equals the same row computed among 150 (a row never depends on its batch).
  for (const std::int64_t r : {0, 5, 77, 149}) {
    std::vector<float> alone(static_cast<std::size_t>(p.n));
    const Int8Epilogue er{d.row_scale.data() + r, d.zp.data() + r,  true,
                          d.col_sum.data(),       d.w_scale.data(), d.bias.data(),
                          Activation::GeluErf};
    gemm(d.x.data() + r * d.ldx, 1, d.ldx, packed, er, alone.data(), p.n, 2);
    EXPECT_TRUE(std::equal(alone.begin(), alone.end(), one.begin() + r * p.n)) << "row " << r;
  }
}

// The kernel choice may pick either per row count: both must give the same bits.
TEST(Int8GemmKernels, AmxEqualsVnniBitForBit) {
  if (!int8_gemm_supported() || !int8_gemm_amx_supported())
    GTEST_SKIP() << "needs both AVX-512 VNNI and AMX-INT8";
  for (const Problem p : {Problem{1, 768, 768}, Problem{16, 768, 2304}, Problem{77, 3072, 768},
                          Problem{130, 100, 70}}) {
    Data d = make_data(p, 7);
    const PackedS8 packed(d.w.data(), static_cast<int>(p.n), static_cast<int>(p.k));
    pad_columns(d, packed);
    for (const Activation act : {Activation::None, Activation::GeluErf}) {
      const Int8Epilogue e{d.row_scale.data(), d.zp.data(),   true, d.col_sum.data(),
                           d.w_scale.data(),   d.bias.data(), act};
      std::vector<float> vnni(static_cast<std::size_t>(p.rows * p.n)), amx(vnni.size(), -1.f);
      int8_gemm(d.x.data(), p.rows, d.ldx, packed, e, vnni.data(), p.n, 2);
      int8_gemm_amx(d.x.data(), p.rows, d.ldx, packed, e, amx.data(), p.n, 2);
      EXPECT_EQ(vnni, amx) << p.rows << "x" << p.k << "x" << p.n;
    }
  }
}

TEST(Int8Linear, OwnKernelAgreesWithOneDnnPathDynamicAndStatic) {
  if (!int8_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  const int in = 300, out = 200;
  const std::int64_t rows = 37;
  const auto w = test::normal_vector(static_cast<std::size_t>(in * out), 5, 0.05f);
  const auto b = test::normal_vector(static_cast<std::size_t>(out), 6);
  const auto x = test::normal_vector(static_cast<std::size_t>(rows * in), 7);
  for (const bool calibrated : {false, true}) {
    LinearQuantization q;
    q.precision = LinearPrecision::Int8;
    if (calibrated) q.input_range = std::make_pair(-3.f, 3.5f);
    auto run = [&](bool onednn) {
      if (onednn) setenv("ENCORE_INT8_KERNEL", "onednn", 1);
      Linear lin(w.data(), b.data(), in, out, Activation::GeluErf, q);
      unsetenv("ENCORE_INT8_KERNEL");
      EXPECT_EQ(lin.uses_own_int8_kernel(), !onednn);
      std::vector<std::uint8_t> scratch(lin.scratchpad_bytes(rows));
      std::vector<float> y(static_cast<std::size_t>(rows * out));
      dnnl::stream s(cpu_engine());
      lin.forward(x.data(), rows, y.data(), s, scratch.data());
      s.wait();
      return y;
    };
    const auto own = run(false), onednn = run(true);
    double worst = 0;
    for (std::size_t i = 0; i < own.size(); ++i)
      worst = std::max(worst, static_cast<double>(std::fabs(own[i] - onednn[i])) /
                                  std::max(1.f, std::fabs(onednn[i])));
    // Identical integer accumulators; the epilogues may round a·b+c once (FMA) or twice.
    EXPECT_LT(worst, 1e-6) << (calibrated ? "static" : "dynamic");
  }
}

}  // namespace
}  // namespace encore::kernels

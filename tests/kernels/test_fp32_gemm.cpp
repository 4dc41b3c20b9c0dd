// encore's FP32 GEMM (each ISA variant the CPU has: AVX-512, AVX2) against a plain double
// reference on every tile remainder (rows not a multiple of 6 or 48, columns not a multiple
// of 16 or 64), padded leading dimensions, the few-row (prefetching) and many-row paths; a
// row's result must be the same bits alone and in any batch, at any thread count, and the
// same bits from either ISA without an activation; the Linear layer on it must agree with
// oneDNN's. Skipped on CPUs with neither AVX2+FMA nor AVX-512.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/fp32_gemm.hpp"
#include "kernels/linear.hpp"
#include "test_support.hpp"

namespace encore::kernels {
namespace {

class Fp32Gemm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fp32_gemm_supported()) GTEST_SKIP() << "this CPU has neither AVX2+FMA nor AVX-512";
  }
  static std::vector<Fp32GemmIsa> isas() {
    std::vector<Fp32GemmIsa> out;
    for (const auto isa : {Fp32GemmIsa::Avx2, Fp32GemmIsa::Avx512})
      if (fp32_gemm_supported(isa)) out.push_back(isa);
    return out;
  }
};

TEST_F(Fp32Gemm, MatchesReferenceOnEveryTileRemainder) {
  struct Problem {
    std::int64_t rows, k, n;
  };
  const std::vector<Problem> problems = {{1, 1, 1},     {5, 3, 15},    {6, 16, 16},   {7, 33, 63},
                                         {12, 40, 33},  {16, 64, 64},  {17, 100, 65}, {48, 20, 130},
                                         {49, 768, 97}, {100, 50, 200}};
  constexpr float kPad = -777.f;
  unsigned seed = 21;
  for (const Fp32GemmIsa isa : isas())
    for (const Problem& p : problems)
      for (const Activation act : {Activation::None, Activation::GeluErf, Activation::Tanh}) {
        SCOPED_TRACE(testing::Message() << to_string(isa) << " " << p.rows << "x" << p.k << "x"
                                        << p.n << " act " << static_cast<int>(act));
        const auto w = test::normal_vector(static_cast<std::size_t>(p.n * p.k), seed++, 0.1f);
        const std::int64_t ldx = p.k + 5, ldy = p.n + 3;
        const auto x = test::normal_vector(static_cast<std::size_t>(p.rows * ldx), seed++);
        const auto b = test::normal_vector(static_cast<std::size_t>(p.n), seed++);
        const PackedF32 packed(w.data(), static_cast<int>(p.n), static_cast<int>(p.k));
        EXPECT_EQ(packed.padded_n() % 64, 0);
        std::vector<float> bias(static_cast<std::size_t>(packed.padded_n()), 0.f);
        std::copy(b.begin(), b.end(), bias.begin());
        for (const int threads : {1, 2}) {
          std::vector<float> y(static_cast<std::size_t>(p.rows * ldy), kPad);
          fp32_gemm(x.data(), p.rows, ldx, packed, bias.data(), act, y.data(), ldy, threads, isa);
          double worst = 0;
          for (std::int64_t r = 0; r < p.rows; ++r) {
            for (std::int64_t c = 0; c < p.n; ++c) {
              double acc = b[c];
              for (std::int64_t k = 0; k < p.k; ++k)
                acc += static_cast<double>(x[r * ldx + k]) * w[c * p.k + k];
              const double want = test::reference_activation(act, acc);
              worst = std::max(worst,
                               std::fabs(y[r * ldy + c] - want) / std::max(1.0, std::fabs(want)));
            }
            for (std::int64_t c = p.n; c < ldy; ++c)
              EXPECT_EQ(y[r * ldy + c], kPad) << "padding written";
          }
          EXPECT_LT(worst, 2e-5) << threads << " threads";
        }
      }
}

TEST_F(Fp32Gemm, RowsAreTheSameBitsAloneAndInAnyBatch) {
  const int k = 300, n = 260;
  const std::int64_t rows = 150;
  const auto w = test::normal_vector(static_cast<std::size_t>(n * k), 3, 0.1f);
  const auto x = test::normal_vector(static_cast<std::size_t>(rows * k), 4);
  const PackedF32 packed(w.data(), n, k);
  const std::vector<float> bias(static_cast<std::size_t>(packed.padded_n()), 0.5f);
  for (const Fp32GemmIsa isa : isas()) {
    SCOPED_TRACE(to_string(isa));
    std::vector<float> one(static_cast<std::size_t>(rows * n)), two(one.size());
    fp32_gemm(x.data(), rows, k, packed, bias.data(), Activation::GeluErf, one.data(), n, 1, isa);
    fp32_gemm(x.data(), rows, k, packed, bias.data(), Activation::GeluErf, two.data(), n, 2, isa);
    EXPECT_EQ(one, two);
    // 1, 3 and 16 rows take the skinny path (AVX-512), 17 and 40 the few-row (prefetching)
    // 6x64 path, 150 the many-row one
    for (const std::int64_t count : {1, 3, 16, 17, 40}) {
      for (const std::int64_t r : {0, 37, 110}) {
        std::vector<float> part(static_cast<std::size_t>(count * n));
        fp32_gemm(x.data() + r * k, count, k, packed, bias.data(), Activation::GeluErf, part.data(),
                  n, 2, isa);
        EXPECT_TRUE(std::equal(part.begin(), part.end(), one.begin() + r * n))
            << count << " rows from row " << r;
      }
    }
  }
}

TEST_F(Fp32Gemm, BothIsasGiveTheSameBitsWithoutAnActivation) {
  if (isas().size() < 2) GTEST_SKIP() << "this CPU has no AVX-512 to compare AVX2 with";
  const int k = 200, n = 100;
  const std::int64_t rows = 61;
  const auto w = test::normal_vector(static_cast<std::size_t>(n * k), 8, 0.1f);
  const auto x = test::normal_vector(static_cast<std::size_t>(rows * k), 9);
  const PackedF32 packed(w.data(), n, k);
  const std::vector<float> bias(static_cast<std::size_t>(packed.padded_n()), 0.25f);
  std::vector<float> avx2(static_cast<std::size_t>(rows * n)), avx512(avx2.size());
  fp32_gemm(x.data(), rows, k, packed, bias.data(), Activation::None, avx2.data(), n, 2,
            Fp32GemmIsa::Avx2);
  fp32_gemm(x.data(), rows, k, packed, bias.data(), Activation::None, avx512.data(), n, 2,
            Fp32GemmIsa::Avx512);
  EXPECT_EQ(avx2, avx512);
}

TEST_F(Fp32Gemm, LinearOnOwnKernelAgreesWithOneDnn) {
  const int in = 300, out = 200;
  const std::int64_t rows = 37;
  const auto w = test::normal_vector(static_cast<std::size_t>(in * out), 5, 0.05f);
  const auto b = test::normal_vector(static_cast<std::size_t>(out), 6);
  const auto x = test::normal_vector(static_cast<std::size_t>(rows * in), 7);
  auto run = [&](const char* kernel) {
    setenv("ENCORE_FP32_KERNEL", kernel, 1);
    Linear lin(w.data(), b.data(), in, out, Activation::GeluErf);
    unsetenv("ENCORE_FP32_KERNEL");
    EXPECT_EQ(lin.kernel_name(rows).find("encore fp32") != std::string::npos,
              std::string(kernel) == "own")
        << lin.kernel_name(rows);
    std::vector<std::uint8_t> scratch(lin.scratchpad_bytes(rows) + 64);
    std::vector<float> y(static_cast<std::size_t>(rows * out));
    dnnl::stream s(cpu_engine());
    lin.forward(x.data(), rows, y.data(), s, scratch.data());
    s.wait();
    return y;
  };
  const auto own = run("own"), onednn = run("onednn");
  double worst = 0;
  for (std::size_t i = 0; i < own.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::fabs(own[i] - onednn[i])) /
                                std::max(1.f, std::fabs(onednn[i])));
  EXPECT_LT(worst, 1e-5);  // summation order and the GELU approximation differ
}

}  // namespace
}  // namespace encore::kernels

// encore's AMX BF16 GEMM against a plain reference: the same bf16-rounded inputs multiplied
// and summed in double, then bias and activation. Shapes cover every tile remainder (rows not
// a multiple of 16 or 32, columns not a multiple of 16, 32 or 64, k not a multiple of 32),
// padded leading dimensions and the threaded path; the Linear layer on the AMX kernel must
// agree with oneDNN's BF16 matmul. Skipped on CPUs without AMX-BF16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/bf16_gemm_amx.hpp"
#include "kernels/linear.hpp"
#include "kernels/quantize.hpp"
#include "test_support.hpp"

namespace encore::kernels {
namespace {

float bf16_value(std::uint16_t b) {
  const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

class Bf16GemmAmx : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!bf16_gemm_amx_supported()) GTEST_SKIP() << "this CPU has no AMX-BF16";
  }
};

TEST_F(Bf16GemmAmx, MatchesReferenceOnEveryTileRemainder) {
  struct Problem {
    std::int64_t rows, k, n;
  };
  const std::vector<Problem> problems = {{1, 1, 1},     {5, 31, 15},   {16, 32, 16},
                                         {17, 33, 33},  {32, 64, 64},  {33, 100, 65},
                                         {70, 768, 97}, {130, 96, 300}};
  constexpr float kPad = -777.f;
  unsigned seed = 11;
  for (const Problem& p : problems)
    for (const Activation act : {Activation::None, Activation::GeluErf}) {
      SCOPED_TRACE(testing::Message()
                   << p.rows << "x" << p.k << "x" << p.n << " act " << static_cast<int>(act));
      const auto w = test::normal_vector(static_cast<std::size_t>(p.n * p.k), seed++, 0.1f);
      const auto x = test::normal_vector(static_cast<std::size_t>(p.rows * p.k), seed++);
      const auto b = test::normal_vector(static_cast<std::size_t>(p.n), seed++);
      const PackedBf16 packed(w.data(), static_cast<int>(p.n), static_cast<int>(p.k));
      EXPECT_EQ(packed.padded_k() % 32, 0);
      EXPECT_EQ(packed.padded_n() % 64, 0);
      const std::int64_t ldx = packed.padded_k() + 8, ldy = p.n + 3;
      std::vector<std::uint16_t> xb(static_cast<std::size_t>(p.rows * ldx));
      convert_to_bf16(x.data(), p.rows, p.k, p.k, xb.data(), ldx);
      std::vector<float> bias(static_cast<std::size_t>(packed.padded_n()), 0.f);
      std::copy(b.begin(), b.end(), bias.begin());
      std::vector<std::uint16_t> wb(w.size());
      convert_to_bf16(w.data(), p.n, p.k, p.k, wb.data());
      for (const int threads : {1, 2}) {
        std::vector<float> y(static_cast<std::size_t>(p.rows * ldy), kPad);
        bf16_gemm_amx(xb.data(), p.rows, ldx, packed, bias.data(), act, y.data(), ldy, threads);
        double worst = 0;
        for (std::int64_t r = 0; r < p.rows; ++r) {
          for (std::int64_t c = 0; c < p.n; ++c) {
            double acc = 0;
            for (std::int64_t k = 0; k < p.k; ++k)
              acc += static_cast<double>(bf16_value(xb[r * ldx + k])) * bf16_value(wb[c * p.k + k]);
            const double want = test::reference_activation(act, acc + b[c]);
            worst =
                std::max(worst, std::fabs(y[r * ldy + c] - want) / std::max(1.0, std::fabs(want)));
          }
          for (std::int64_t c = p.n; c < ldy; ++c)
            EXPECT_EQ(y[r * ldy + c], kPad) << "padding written";
        }
        // fp32 accumulation of exact bf16 products (k up to 768 terms of size ~0.1)
        EXPECT_LT(worst, 2e-5) << threads << " threads";
      }
    }
}

TEST_F(Bf16GemmAmx, RowsDoNotDependOnTheBatchOrThreads) {
  const int k = 300, n = 260;
  const std::int64_t rows = 150;
  const auto w = test::normal_vector(static_cast<std::size_t>(n * k), 3, 0.1f);
  const auto x = test::normal_vector(static_cast<std::size_t>(rows * k), 4);
  const PackedBf16 packed(w.data(), n, k);
  const std::int64_t ldx = packed.padded_k();
  std::vector<std::uint16_t> xb(static_cast<std::size_t>(rows * ldx));
  convert_to_bf16(x.data(), rows, k, k, xb.data(), ldx);
  const std::vector<float> bias(static_cast<std::size_t>(packed.padded_n()), 0.5f);
  std::vector<float> one(static_cast<std::size_t>(rows * n)), two(one.size());
  bf16_gemm_amx(xb.data(), rows, ldx, packed, bias.data(), Activation::GeluErf, one.data(), n, 1);
  bf16_gemm_amx(xb.data(), rows, ldx, packed, bias.data(), Activation::GeluErf, two.data(), n, 2);
  EXPECT_EQ(one, two);
  for (const std::int64_t r : {0, 31, 32, 149}) {
    std::vector<float> alone(static_cast<std::size_t>(n));
    bf16_gemm_amx(xb.data() + r * ldx, 1, ldx, packed, bias.data(), Activation::GeluErf,
                  alone.data(), n, 2);
    EXPECT_TRUE(std::equal(alone.begin(), alone.end(), one.begin() + r * n)) << "row " << r;
  }
}

TEST_F(Bf16GemmAmx, LinearOnAmxAgreesWithOneDnn) {
  const int in = 300, out = 200;
  const std::int64_t rows = 37;
  const auto w = test::normal_vector(static_cast<std::size_t>(in * out), 5, 0.05f);
  const auto b = test::normal_vector(static_cast<std::size_t>(out), 6);
  const auto x = test::normal_vector(static_cast<std::size_t>(rows * in), 7);
  auto run = [&](const char* kernel) {
    setenv("ENCORE_BF16_KERNEL", kernel, 1);
    LinearQuantization q;
    q.precision = LinearPrecision::BF16;
    Linear lin(w.data(), b.data(), in, out, Activation::GeluErf, q);
    unsetenv("ENCORE_BF16_KERNEL");
    EXPECT_EQ(lin.kernel_name(rows).find("encore bf16 amx") != std::string::npos,
              std::string(kernel) == "amx")
        << lin.kernel_name(rows);
    std::vector<std::uint8_t> scratch(lin.scratchpad_bytes(rows));
    std::vector<float> y(static_cast<std::size_t>(rows * out));
    dnnl::stream s(cpu_engine());
    lin.forward(x.data(), rows, y.data(), s, scratch.data());
    s.wait();
    return y;
  };
  const auto amx = run("amx"), onednn = run("onednn");
  double worst = 0;
  for (std::size_t i = 0; i < amx.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::fabs(amx[i] - onednn[i])) /
                                std::max(1.f, std::fabs(onednn[i])));
  // The same bf16 inputs; only the fp32 summation order may differ.
  EXPECT_LT(worst, 1e-4);
}

}  // namespace
}  // namespace encore::kernels

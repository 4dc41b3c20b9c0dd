// The in-register GELU of the own GEMMs' epilogue (gelu_erf16's interval tables) against
// x·Φ(x) in double, over the whole float range that matters: both tails, every interval
// boundary, the 5.5 cut-off, and NaN. Skipped without AVX-512.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/cpu_features.hpp"
#include "kernels/gemm_epilogue_avx512.hpp"

namespace encore::kernels {
namespace {

ENCORE_AVX512_EPILOGUE void gelu16_over(const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, detail::gelu_erf16(_mm512_loadu_ps(x + i)));
}

TEST(GemmEpilogue, GeluInRegistersMatchesExactGelu) {
  if (!cpu_features().has_avx512_core()) GTEST_SKIP() << "no AVX-512";
  std::vector<float> x;
  for (int i = -200000; i < 200000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);  // [-20, 20)
  for (int k = 0; k <= 16; ++k)  // interval edges and their neighbours
    for (const float s : {-1.f, 1.f}) {
      const float edge = s * static_cast<float>(k) * 5.5f / 16;
      x.push_back(std::nextafter(edge, -30.f));
      x.push_back(edge);
      x.push_back(std::nextafter(edge, 30.f));
    }
  for (const float big : {1e6f, -1e6f, 3e38f, -3e38f}) x.push_back(big);
  x.push_back(std::numeric_limits<float>::quiet_NaN());
  while (x.size() % 16) x.push_back(0.f);
  std::vector<float> y(x.size());
  gelu16_over(x.data(), y.data(), x.size());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(y[i]));
      continue;
    }
    const double v = x[i], want = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
    // absolute near 0 and in the negative tail, relative for large positive x
    worst = std::max(worst, std::fabs(y[i] - want) / std::max(1.0, std::fabs(want)));
  }
  EXPECT_LT(worst, 4e-7);
}

}  // namespace
}  // namespace encore::kernels

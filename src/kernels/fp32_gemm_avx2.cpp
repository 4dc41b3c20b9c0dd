// The AVX2+FMA variant of encore's FP32 GEMM (fp32_gemm.hpp), for CPUs without AVX-512
// (AMD Zen 2/3, Intel client and older Xeons): a 6-row x 16-column tile keeps 12 ymm
// accumulators over all of k, each weight row (one 64-byte line of a packed panel) feeding
// 12 FMAs. The panel (k x 16 floats) is read from memory by a task's first tile and from L2
// by the rest; consecutive panels are consecutive in memory, so the weights stream in order.
// With few rows (online traffic), the second and third tiles prefetch half of the next panel
// each, so that memory keeps streaming while they compute from L2.
// The activation runs over a tile's finished, cache-hot outputs.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/fp32_gemm.hpp"
#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"

namespace encore::kernels::detail {
namespace {

constexpr int kPanel = 16;                 // output columns per packed panel: 2 ymm
constexpr int kRowsPerTile = 6;            // 6 x 2 = 12 accumulators (+2 weights, 1 broadcast)
constexpr std::int64_t kRowsPerTask = 48;  // rows of one parallel task (a multiple of 6)

#define ENCORE_AVX2_TARGET __attribute__((target("avx2,fma")))

// Accumulators of one row of a tile, named (an array of __m256 would live in memory).
#define ENCORE_F32X8_ACC(r) __m256 c##r##0 = _mm256_setzero_ps(), c##r##1 = c##r##0
#define ENCORE_F32X8_STEP(r)                                \
  if constexpr (MR > r) {                                   \
    const __m256 a = _mm256_broadcast_ss(x + r * ldx + kk); \
    c##r##0 = _mm256_fmadd_ps(a, w0, c##r##0);              \
    c##r##1 = _mm256_fmadd_ps(a, w1, c##r##1);              \
  }
#define ENCORE_F32X8_FINISH(r) \
  if constexpr (MR > r) finish_row(c##r##0, c##r##1, bias + col0, n - col0, y + r * ldy + col0);

// Stores lanes [0, left) of v at out.
ENCORE_AVX2_TARGET inline __attribute__((always_inline)) void store8(float* out, __m256 v,
                                                                     int left) {
  if (left >= 8) {
    _mm256_storeu_ps(out, v);
  } else if (left > 0) {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, v);
    std::memcpy(out, lanes, static_cast<std::size_t>(left) * sizeof(float));
  }
}

// bias: the panel's 16 (padded) biases; left: the columns of the layer from this panel on.
ENCORE_AVX2_TARGET inline __attribute__((always_inline)) void finish_row(__m256 a0, __m256 a1,
                                                                         const float* bias,
                                                                         int left, float* out) {
  store8(out, _mm256_add_ps(a0, _mm256_loadu_ps(bias)), left);
  store8(out + 8, _mm256_add_ps(a1, _mm256_loadu_ps(bias + 8)), left - 8);
}

// One tile: MR rows x the 16 columns of one panel over all of k, then the bias.
// `prefetch`: k/2 64-byte lines to bring into L2 meanwhile, one every other k step, or null.
template <int MR>
ENCORE_AVX2_TARGET void tile(const float* x, std::int64_t ldx, const float* panel, int k,
                             const float* bias, int col0, int n, float* y, std::int64_t ldy,
                             const char* prefetch) {
  static_assert(MR >= 1 && MR <= kRowsPerTile);
  ENCORE_F32X8_ACC(0);
  ENCORE_F32X8_ACC(1);
  ENCORE_F32X8_ACC(2);
  ENCORE_F32X8_ACC(3);
  ENCORE_F32X8_ACC(4);
  ENCORE_F32X8_ACC(5);
  for (int kk = 0; kk < k; ++kk) {
    const float* wk = panel + static_cast<std::int64_t>(kk) * kPanel;
    const __m256 w0 = _mm256_load_ps(wk), w1 = _mm256_load_ps(wk + 8);
    if (prefetch && (kk & 1) == 0)
      _mm_prefetch(prefetch + 32 * static_cast<std::int64_t>(kk), _MM_HINT_T1);
    ENCORE_F32X8_STEP(0)
    ENCORE_F32X8_STEP(1)
    ENCORE_F32X8_STEP(2)
    ENCORE_F32X8_STEP(3)
    ENCORE_F32X8_STEP(4)
    ENCORE_F32X8_STEP(5)
  }
  ENCORE_F32X8_FINISH(0)
  ENCORE_F32X8_FINISH(1)
  ENCORE_F32X8_FINISH(2)
  ENCORE_F32X8_FINISH(3)
  ENCORE_F32X8_FINISH(4)
  ENCORE_F32X8_FINISH(5)
}

using TileFn = void (*)(const float*, std::int64_t, const float*, int, const float*, int, int,
                        float*, std::int64_t, const char*);
constexpr TileFn kTiles[kRowsPerTile + 1] = {nullptr, tile<1>, tile<2>, tile<3>,
                                             tile<4>, tile<5>, tile<6>};

ENCORE_SIMD_CLONES
void activate_rows(float* y, std::int64_t ldy, int rows, int cols, Activation act) {
  with_activation(
      act, [&](auto a) __attribute__((always_inline)) {
        for (int r = 0; r < rows; ++r)
          for (int c = 0; c < cols; ++c)
            y[r * ldy + c] = activate<decltype(a)::value>(y[r * ldy + c]);
      });
}

}  // namespace

void fp32_gemm_avx2(const float* x, std::int64_t rows, std::int64_t ldx, const PackedF32& w,
                    const float* bias, Activation act, float* y, std::int64_t ldy, int threads) {
  if (rows <= 0) return;
  const int k = w.k(), n = w.n();
  const int panels = (n + kPanel - 1) / kPanel;  // the zero panels of the padding are skipped
  const std::int64_t row_blocks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  const std::int64_t tasks = row_blocks * panels;
  const double work = static_cast<double>(rows) * panels * kPanel * k;
  // Panel-major: consecutive tasks share a panel, which stays in L2 while its rows stream,
  // and each thread's panels are one contiguous stretch of the weights.
#pragma omp parallel for schedule(static) num_threads(threads) if (tasks > 1 && work > 1e6)
  for (std::int64_t t = 0; t < tasks; ++t) {
    const int p = static_cast<int>(t / row_blocks);
    const std::int64_t r_begin = (t % row_blocks) * kRowsPerTask;
    const std::int64_t r_end = std::min(rows, r_begin + kRowsPerTask);
    const float* panel = w.data() + static_cast<std::int64_t>(p) * k * kPanel;
    const int col0 = p * kPanel, cols = std::min(kPanel, n - col0);
    const bool stream = row_blocks == 1 && p + 1 < panels;
    const char* next = reinterpret_cast<const char*>(panel + static_cast<std::int64_t>(k) * kPanel);
    for (std::int64_t r = r_begin; r < r_end; r += kRowsPerTile) {
      const int mr = static_cast<int>(std::min<std::int64_t>(kRowsPerTile, r_end - r));
      const std::int64_t later = (r - r_begin) / kRowsPerTile - 1;  // tiles after the first
      const char* pf = stream && later >= 0 && later < 2 ? next + later * 32 * k : nullptr;
      kTiles[mr](x + r * ldx, ldx, panel, k, bias, col0, n, y + r * ldy, ldy, pf);
      if (act != Activation::None) activate_rows(y + r * ldy + col0, ldy, mr, cols, act);
    }
  }
}

}  // namespace encore::kernels::detail

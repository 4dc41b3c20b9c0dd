#include "kernels/int8_gemm.hpp"

#include "core/cpu_features.hpp"
#include "core/weight_memory.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/gemm_epilogue_avx512.hpp"

namespace encore::kernels {
namespace {

constexpr int kPanel = 64;                 // output columns per panel: 4 zmm of int32
constexpr int kVectors = kPanel / 16;      // accumulators per row
constexpr int kRowsPerTile = 6;            // 6 x 4 = 24 accumulators (+4 weights, +1 broadcast)
constexpr int kGroupBytes = kPanel * 4;    // one k-group (4 k) of a panel
constexpr std::int64_t kRowsPerTask = 48;  // rows of one parallel task (a multiple of 6)
static_assert(kVectors == 4, "the tile macros below name four accumulators per row");

#define ENCORE_VNNI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vnni,fma")))

// Accumulators of one row of a tile, named (GCC keeps an array of __m512i in memory and
// reloads it on every k step, halving the speed).
#define ENCORE_ROW_ACC(r) \
  __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = c##r##0, c##r##2 = c##r##0, c##r##3 = c##r##0
#define ENCORE_ROW_STEP(r)                                \
  if constexpr (MR > r) {                                 \
    std::int32_t quad;                                    \
    std::memcpy(&quad, x + r * ldx + 4 * g, sizeof quad); \
    const __m512i a = _mm512_set1_epi32(quad);            \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, a, w0);        \
    c##r##1 = _mm512_dpbusd_epi32(c##r##1, a, w1);        \
    c##r##2 = _mm512_dpbusd_epi32(c##r##2, a, w2);        \
    c##r##3 = _mm512_dpbusd_epi32(c##r##3, a, w3);        \
  }
#define ENCORE_ROW_FINISH(r)                                             \
  if constexpr (MR > r)                                                  \
    finish_row(c##r##0, c##r##1, c##r##2, c##r##3, e, row0 + r, col0, n, \
               y + (row0 + r) * ldy + col0);

ENCORE_VNNI inline __attribute__((always_inline)) void finish_row(__m512i a0, __m512i a1,
                                                                  __m512i a2, __m512i a3,
                                                                  const Int8Epilogue& e,
                                                                  std::int64_t row, int col0, int n,
                                                                  float* out) {
  __m512i zp;
  __m512 rs;
  detail::row_params(e, row, zp, rs);
  detail::finish_vector(a0, zp, rs, e, col0, n, out);
  detail::finish_vector(a1, zp, rs, e, col0 + 16, n, out + 16);
  detail::finish_vector(a2, zp, rs, e, col0 + 32, n, out + 32);
  detail::finish_vector(a3, zp, rs, e, col0 + 48, n, out + 48);
}

// One tile: `MR` rows x 64 columns over all of k, then the epilogue up to the activation.
template <int MR>
ENCORE_VNNI void tile(const std::uint8_t* x, std::int64_t ldx, const std::int8_t* panel, int groups,
                      const Int8Epilogue& e, std::int64_t row0, int col0, int n, float* y,
                      std::int64_t ldy) {
  static_assert(MR >= 1 && MR <= kRowsPerTile);
  ENCORE_ROW_ACC(0);
  ENCORE_ROW_ACC(1);
  ENCORE_ROW_ACC(2);
  ENCORE_ROW_ACC(3);
  ENCORE_ROW_ACC(4);
  ENCORE_ROW_ACC(5);
  for (int g = 0; g < groups; ++g) {
    const std::int8_t* wg = panel + static_cast<std::int64_t>(g) * kGroupBytes;
    const __m512i w0 = _mm512_load_si512(wg), w1 = _mm512_load_si512(wg + 64),
                  w2 = _mm512_load_si512(wg + 128), w3 = _mm512_load_si512(wg + 192);
    ENCORE_ROW_STEP(0)
    ENCORE_ROW_STEP(1)
    ENCORE_ROW_STEP(2)
    ENCORE_ROW_STEP(3)
    ENCORE_ROW_STEP(4)
    ENCORE_ROW_STEP(5)
  }
  ENCORE_ROW_FINISH(0)
  ENCORE_ROW_FINISH(1)
  ENCORE_ROW_FINISH(2)
  ENCORE_ROW_FINISH(3)
  ENCORE_ROW_FINISH(4)
  ENCORE_ROW_FINISH(5)
}

using TileFn = void (*)(const std::uint8_t*, std::int64_t, const std::int8_t*, int,
                        const Int8Epilogue&, std::int64_t, int, int, float*, std::int64_t);
constexpr TileFn kTiles[kRowsPerTile + 1] = {nullptr, tile<1>, tile<2>, tile<3>,
                                             tile<4>, tile<5>, tile<6>};

}  // namespace

bool int8_gemm_supported() {
  const CpuFeatures& f = cpu_features();
  return f.avx512_vnni && f.has_avx512_core();
}

void PackedS8::Free::operator()(std::int8_t* p) const {
  free_weight_memory(p);
}

PackedS8::PackedS8(const std::int8_t* q, int n, int k)
    : n_(n),
      k_(k),
      np_((n + kPanel - 1) / kPanel * kPanel),
      kp_((k + 63) / 64 * 64),
      bytes_(static_cast<std::size_t>(np_) * static_cast<std::size_t>(kp_)) {
  auto* p = static_cast<std::int8_t*>(allocate_weight_memory(bytes_));
  data_.reset(p);
  const int groups = kp_ / 4, panels = np_ / kPanel;
  // Panels are disjoint: packed in parallel (load time of large models).
#pragma omp parallel for schedule(static) if (bytes_ > (1u << 20))
  for (int p = 0; p < panels; ++p) {
    std::int8_t* panel = data_.get() + static_cast<std::int64_t>(p) * groups * kGroupBytes;
    for (int c = p * kPanel; c < std::min(n, (p + 1) * kPanel); ++c) {
      const int in_panel = c % kPanel;
      for (int kk = 0; kk < k; ++kk)
        panel[static_cast<std::int64_t>(kk / 4) * kGroupBytes + in_panel * 4 + kk % 4] =
            q[static_cast<std::int64_t>(c) * k + kk];
    }
  }
}

void int8_gemm(const std::uint8_t* x, std::int64_t rows, std::int64_t ldx, const PackedS8& w,
               const Int8Epilogue& e, float* y, std::int64_t ldy, int threads) {
  if (rows <= 0) return;
  const int groups = w.padded_k() / 4, panels = w.padded_n() / kPanel, n = w.n();
  const std::int64_t row_blocks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  const std::int64_t tasks = row_blocks * panels;
  const double work = static_cast<double>(rows) * w.padded_n() * w.padded_k();
  // Panel-major: consecutive tasks share a panel, which stays in L2 while its rows stream.
#pragma omp parallel for schedule(static) num_threads(threads) if (tasks > 1 && work > 1e6)
  for (std::int64_t t = 0; t < tasks; ++t) {
    const int p = static_cast<int>(t / row_blocks);
    const std::int64_t r_begin = (t % row_blocks) * kRowsPerTask;
    const std::int64_t r_end = std::min(rows, r_begin + kRowsPerTask);
    const std::int8_t* panel = w.data() + static_cast<std::int64_t>(p) * groups * kGroupBytes;
    const int col0 = p * kPanel, cols = std::min(kPanel, n - col0);
    for (std::int64_t r = r_begin; r < r_end; r += kRowsPerTile) {
      const int mr = static_cast<int>(std::min<std::int64_t>(kRowsPerTile, r_end - r));
      kTiles[mr](x + r * ldx, ldx, panel, groups, e, r, col0, n, y, ldy);
      if (e.activation != Activation::None && !detail::activation_in_registers(e.activation))
        for (int i = 0; i < mr; ++i)
          detail::activate_row(y + (r + i) * ldy + col0, cols, e.activation);
    }
  }
}

}  // namespace encore::kernels

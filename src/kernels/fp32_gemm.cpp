#include "kernels/fp32_gemm.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include "core/cpu_features.hpp"
#include "kernels/gemm_epilogue_avx512.hpp"

namespace encore::kernels {
namespace {

constexpr int kPanel = 16;                 // output columns per packed panel: 1 zmm
constexpr int kWide = 64;                  // columns of a many-row tile: 4 panels
constexpr int kRowsPerTile = 6;            // 6 x 4 = 24 accumulators (+4 weights)
constexpr std::int64_t kRowsPerTask = 48;  // rows of one parallel task (a multiple of 6)

#define ENCORE_FP32_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

// Accumulators of one row of a tile, named (an array of __m512 would live in memory).
#define ENCORE_F32_ACC(r) \
  __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = c##r##0, c##r##2 = c##r##0, c##r##3 = c##r##0
#define ENCORE_F32_STEP(r)                            \
  if constexpr (MR > r) {                             \
    const __m512 a = _mm512_set1_ps(x[r * ldx + kk]); \
    c##r##0 = _mm512_fmadd_ps(a, w0, c##r##0);        \
    c##r##1 = _mm512_fmadd_ps(a, w1, c##r##1);        \
    c##r##2 = _mm512_fmadd_ps(a, w2, c##r##2);        \
    c##r##3 = _mm512_fmadd_ps(a, w3, c##r##3);        \
  }
#define ENCORE_F32_FINISH(r) \
  if constexpr (MR > r)      \
    finish_row(c##r##0, c##r##1, c##r##2, c##r##3, bias, act, col0, n, y + r * ldy + col0);

ENCORE_FP32_TARGET inline __attribute__((always_inline)) void finish_row(__m512 a0, __m512 a1,
                                                                         __m512 a2, __m512 a3,
                                                                         const float* bias,
                                                                         Activation act, int col0,
                                                                         int n, float* out) {
  const bool gelu = detail::activation_in_registers(act);
  const int left = n - col0;
  detail::store16(out, _mm512_add_ps(a0, _mm512_loadu_ps(bias + col0)), left, gelu);
  detail::store16(out + 16, _mm512_add_ps(a1, _mm512_loadu_ps(bias + col0 + 16)), left - 16, gelu);
  detail::store16(out + 32, _mm512_add_ps(a2, _mm512_loadu_ps(bias + col0 + 32)), left - 32, gelu);
  detail::store16(out + 48, _mm512_add_ps(a3, _mm512_loadu_ps(bias + col0 + 48)), left - 48, gelu);
}

// One tile: MR rows x 64 columns over all of k, then bias and activation.
// `prefetch`: 64-byte lines to bring into L2 meanwhile, two per k step (the next panel, while
// this one is read from L2 again), or null.
template <int MR>
ENCORE_FP32_TARGET void tile(const float* x, std::int64_t ldx, const float* panel, int k,
                             const float* bias, Activation act, int col0, int n, float* y,
                             std::int64_t ldy, const char* prefetch) {
  static_assert(MR >= 1 && MR <= kRowsPerTile);
  ENCORE_F32_ACC(0);
  ENCORE_F32_ACC(1);
  ENCORE_F32_ACC(2);
  ENCORE_F32_ACC(3);
  ENCORE_F32_ACC(4);
  ENCORE_F32_ACC(5);
  // the tile's 4 panels of 16 columns are k x 16 floats each, one after the other
  const std::int64_t stride = static_cast<std::int64_t>(k) * kPanel;
  for (int kk = 0; kk < k; ++kk) {
    const float* wk = panel + static_cast<std::int64_t>(kk) * kPanel;
    const __m512 w0 = _mm512_load_ps(wk), w1 = _mm512_load_ps(wk + stride),
                 w2 = _mm512_load_ps(wk + 2 * stride), w3 = _mm512_load_ps(wk + 3 * stride);
    if (prefetch) {
      _mm_prefetch(prefetch + 128 * static_cast<std::int64_t>(kk), _MM_HINT_T1);
      _mm_prefetch(prefetch + 128 * static_cast<std::int64_t>(kk) + 64, _MM_HINT_T1);
    }
    ENCORE_F32_STEP(0)
    ENCORE_F32_STEP(1)
    ENCORE_F32_STEP(2)
    ENCORE_F32_STEP(3)
    ENCORE_F32_STEP(4)
    ENCORE_F32_STEP(5)
  }
  ENCORE_F32_FINISH(0)
  ENCORE_F32_FINISH(1)
  ENCORE_F32_FINISH(2)
  ENCORE_F32_FINISH(3)
  ENCORE_F32_FINISH(4)
  ENCORE_F32_FINISH(5)
}

using TileFn = void (*)(const float*, std::int64_t, const float*, int, const float*, Activation,
                        int, int, float*, std::int64_t, const char*);
constexpr TileFn kTiles[kRowsPerTile + 1] = {nullptr, tile<1>, tile<2>, tile<3>,
                                             tile<4>, tile<5>, tile<6>};

}  // namespace

bool fp32_gemm_supported(Fp32GemmIsa isa) {
  const CpuFeatures& f = cpu_features();
  return isa == Fp32GemmIsa::Avx512 ? f.has_avx512_core() && f.fma : f.avx2 && f.fma;
}

bool fp32_gemm_supported() {
  return fp32_gemm_supported(Fp32GemmIsa::Avx2) || fp32_gemm_supported(Fp32GemmIsa::Avx512);
}

Fp32GemmIsa fp32_gemm_isa() {
  static const Fp32GemmIsa isa = [] {
    const char* e = std::getenv("ENCORE_FP32_ISA");
    const bool want_avx2 = e && std::string_view(e) == "avx2";
    return fp32_gemm_supported(Fp32GemmIsa::Avx512) && !want_avx2 ? Fp32GemmIsa::Avx512
                                                                  : Fp32GemmIsa::Avx2;
  }();
  return isa;
}

const char* to_string(Fp32GemmIsa isa) {
  return isa == Fp32GemmIsa::Avx512 ? "avx512" : "avx2";
}

void PackedF32::Free::operator()(float* p) const {
  std::free(p);
}

PackedF32::PackedF32(const float* w, int n, int k)
    : n_(n),
      k_(k),
      np_((n + kWide - 1) / kWide * kWide),
      bytes_(static_cast<std::size_t>(np_) * static_cast<std::size_t>(k) * sizeof(float)) {
  auto* p = static_cast<float*>(std::aligned_alloc(64, std::max<std::size_t>(bytes_, 64)));
  if (!p) throw std::bad_alloc();
  data_.reset(p);
  std::memset(p, 0, bytes_);
  const int panels = np_ / kPanel;
#pragma omp parallel for schedule(static) if (bytes_ > (1u << 20))
  for (int pn = 0; pn < panels; ++pn) {
    float* panel = data_.get() + static_cast<std::int64_t>(pn) * k * kPanel;
    for (int c = pn * kPanel; c < std::min(n, (pn + 1) * kPanel); ++c)
      for (int kk = 0; kk < k; ++kk)
        panel[static_cast<std::int64_t>(kk) * kPanel + c % kPanel] =
            w[static_cast<std::int64_t>(c) * k + kk];
  }
}

void fp32_gemm(const float* x, std::int64_t rows, std::int64_t ldx, const PackedF32& w,
               const float* bias, Activation act, float* y, std::int64_t ldy, int threads,
               Fp32GemmIsa isa) {
  if (rows <= 0) return;
  if (isa == Fp32GemmIsa::Avx2) {
    detail::fp32_gemm_avx2(x, rows, ldx, w, bias, act, y, ldy, threads);
    return;
  }
  const int k = w.k(), n = w.n();
  const int panels = w.padded_n() / kWide;
  const std::int64_t row_blocks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  const std::int64_t tasks = row_blocks * panels;
  const double work = static_cast<double>(rows) * w.padded_n() * k;
  // Panel-major: consecutive tasks share a panel, which stays in L2 while its rows stream.
#pragma omp parallel for schedule(static) num_threads(threads) if (tasks > 1 && work > 1e6)
  for (std::int64_t t = 0; t < tasks; ++t) {
    const int p = static_cast<int>(t / row_blocks);
    const std::int64_t r_begin = (t % row_blocks) * kRowsPerTask;
    const std::int64_t r_end = std::min(rows, r_begin + kRowsPerTask);
    const float* panel = w.data() + static_cast<std::int64_t>(p) * k * kWide;
    const int col0 = p * kWide, cols = std::min(kWide, n - col0);
    // Few rows (online traffic): the first tile streams the panel from memory, the others
    // read it from L2 and prefetch the next panel (this thread's next task) meanwhile, so
    // memory streams all the time; 2 lines per k step cover a 64-column panel in 2 tiles.
    const bool stream = row_blocks == 1 && p + 1 < panels;
    const char* next = reinterpret_cast<const char*>(panel + static_cast<std::int64_t>(k) * kWide);
    for (std::int64_t r = r_begin; r < r_end; r += kRowsPerTile) {
      const int mr = static_cast<int>(std::min<std::int64_t>(kRowsPerTile, r_end - r));
      const std::int64_t later = (r - r_begin) / kRowsPerTile - 1;  // tiles after the first
      const char* pf = stream && later >= 0 && later < 2 ? next + later * 128 * k : nullptr;
      kTiles[mr](x + r * ldx, ldx, panel, k, bias, act, col0, n, y + r * ldy, ldy, pf);
      if (act != Activation::None && !detail::activation_in_registers(act))
        for (int i = 0; i < mr; ++i) detail::activate_row(y + (r + i) * ldy + col0, cols, act);
    }
  }
}

}  // namespace encore::kernels

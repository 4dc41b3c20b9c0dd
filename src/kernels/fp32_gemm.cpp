#include "kernels/fp32_gemm.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include "core/cpu_features.hpp"
#include "core/env.hpp"
#include "core/weight_memory.hpp"
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
// `prefetch`, `lines`: 64-byte lines to bring into L2 meanwhile (part of the next panel),
// spread evenly over the k steps so that memory streams at a steady rate; none if 0.
template <int MR>
ENCORE_FP32_TARGET void tile(const float* x, std::int64_t ldx, const float* panel, int k,
                             const float* bias, Activation act, int col0, int n, float* y,
                             std::int64_t ldy, const char* prefetch, std::int64_t lines) {
  static_assert(MR >= 1 && MR <= kRowsPerTile);
  ENCORE_F32_ACC(0);
  ENCORE_F32_ACC(1);
  ENCORE_F32_ACC(2);
  ENCORE_F32_ACC(3);
  ENCORE_F32_ACC(4);
  ENCORE_F32_ACC(5);
  // the tile's 4 panels of 16 columns are k x 16 floats each, one after the other
  const std::int64_t stride = static_cast<std::int64_t>(k) * kPanel;
  std::int64_t credit = 0;
  for (int kk = 0; kk < k; ++kk) {
    const float* wk = panel + static_cast<std::int64_t>(kk) * kPanel;
    const __m512 w0 = _mm512_load_ps(wk), w1 = _mm512_load_ps(wk + stride),
                 w2 = _mm512_load_ps(wk + 2 * stride), w3 = _mm512_load_ps(wk + 3 * stride);
    for (credit += lines; credit >= k; credit -= k, prefetch += 64)
      _mm_prefetch(prefetch, _MM_HINT_T1);
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
                        int, int, float*, std::int64_t, const char*, std::int64_t);
constexpr TileFn kTiles[kRowsPerTile + 1] = {nullptr, tile<1>, tile<2>, tile<3>,
                                             tile<4>, tile<5>, tile<6>};

// Few rows (online traffic, up to 16): a tile is MR rows x 16 columns, one packed panel read
// once, in order, from memory, with one FMA per row for each 64-byte line of weights. The
// arithmetic is spread evenly over the stream, so the out-of-order core and the prefetchers keep
// memory busy; the 6 x 64 tile instead reads a panel 3 times for 16 rows and leaves memory idle
// while it computes (measured with 16 rows, k = 3072: 15 GB/s against 22-23 on an AMX Xeon).
#define ENCORE_F32_SKINNY_STEP(r) \
  if constexpr (MR > r) c##r = _mm512_fmadd_ps(_mm512_set1_ps(xk[r]), wv, c##r);
#define ENCORE_F32_SKINNY_FINISH(r) \
  if constexpr (MR > r) detail::store16(y + r * ldy + col0, _mm512_add_ps(c##r, b), left, gelu);

constexpr int kSkinnyRows = 16;

// xt: the rows transposed, [k][kSkinnyRows] (see transposed_rows).
template <int MR>
ENCORE_FP32_TARGET void skinny_tile(const float* xt, const float* panel, int k, const float* bias,
                                    Activation act, int col0, int n, float* y, std::int64_t ldy) {
  static_assert(MR >= 1 && MR <= 16);
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0,
         c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
  for (int kk = 0; kk < k; ++kk) {
    const float* wk = panel + static_cast<std::int64_t>(kk) * kPanel;
    // 4 KB ahead (measured best of 0.5-16 KB); past a panel's end this is the next panel
    // (consecutive in memory), and past the buffer's end a prefetch does not fault.
    _mm_prefetch(reinterpret_cast<const char*>(wk) + 4096, _MM_HINT_T0);
    const __m512 wv = _mm512_load_ps(wk);
    const float* xk = xt + static_cast<std::int64_t>(kk) * kSkinnyRows;
    ENCORE_F32_SKINNY_STEP(0)
    ENCORE_F32_SKINNY_STEP(1)
    ENCORE_F32_SKINNY_STEP(2)
    ENCORE_F32_SKINNY_STEP(3)
    ENCORE_F32_SKINNY_STEP(4)
    ENCORE_F32_SKINNY_STEP(5)
    ENCORE_F32_SKINNY_STEP(6)
    ENCORE_F32_SKINNY_STEP(7)
    ENCORE_F32_SKINNY_STEP(8)
    ENCORE_F32_SKINNY_STEP(9)
    ENCORE_F32_SKINNY_STEP(10)
    ENCORE_F32_SKINNY_STEP(11)
    ENCORE_F32_SKINNY_STEP(12)
    ENCORE_F32_SKINNY_STEP(13)
    ENCORE_F32_SKINNY_STEP(14)
    ENCORE_F32_SKINNY_STEP(15)
  }
  const int left = n - col0;
  const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
  const __m512 b = _mm512_maskz_loadu_ps(mask, bias + col0);
  const bool gelu = detail::activation_in_registers(act);
  ENCORE_F32_SKINNY_FINISH(0)
  ENCORE_F32_SKINNY_FINISH(1)
  ENCORE_F32_SKINNY_FINISH(2)
  ENCORE_F32_SKINNY_FINISH(3)
  ENCORE_F32_SKINNY_FINISH(4)
  ENCORE_F32_SKINNY_FINISH(5)
  ENCORE_F32_SKINNY_FINISH(6)
  ENCORE_F32_SKINNY_FINISH(7)
  ENCORE_F32_SKINNY_FINISH(8)
  ENCORE_F32_SKINNY_FINISH(9)
  ENCORE_F32_SKINNY_FINISH(10)
  ENCORE_F32_SKINNY_FINISH(11)
  ENCORE_F32_SKINNY_FINISH(12)
  ENCORE_F32_SKINNY_FINISH(13)
  ENCORE_F32_SKINNY_FINISH(14)
  ENCORE_F32_SKINNY_FINISH(15)
}

bool skinny_off() {
  static const bool off = env_off("ENCORE_FP32_SKINNY");
  return off;
}

using SkinnyFn = void (*)(const float*, const float*, int, const float*, Activation, int, int,
                          float*, std::int64_t);
constexpr SkinnyFn kSkinny[kSkinnyRows + 1] = {
    nullptr,         skinny_tile<1>,  skinny_tile<2>,  skinny_tile<3>,  skinny_tile<4>,
    skinny_tile<5>,  skinny_tile<6>,  skinny_tile<7>,  skinny_tile<8>,  skinny_tile<9>,
    skinny_tile<10>, skinny_tile<11>, skinny_tile<12>, skinny_tile<13>, skinny_tile<14>,
    skinny_tile<15>, skinny_tile<16>};

// The rows of x transposed to [k][kSkinnyRows] floats, 64-byte aligned, so the values one k
// step broadcasts share one cache line and the steps read memory in order. Read in place, rows
// whose stride is a multiple of 4 KB (k = 3072: 12 KB) all fall into one L1 set, which holds 8
// lines: with 16 rows every broadcast missed L1, and BERT-base's FFN-down (16 x 3072 -> 768) ran
// at 101 GFLOP/s against 195 for its k = 768 layers (Zen 4, 2 threads). The buffer is per
// calling thread and grows only when a larger k first comes.
const float* transposed_rows(const float* x, int rows, std::int64_t ldx, int k) {
  struct Buffer {
    std::unique_ptr<float, decltype(&std::free)> data{nullptr, &std::free};
    std::size_t floats = 0;
  };
  thread_local Buffer buf;
  const std::size_t need = static_cast<std::size_t>(k) * kSkinnyRows;
  if (need > buf.floats) {
    void* p = std::aligned_alloc(64, (need * sizeof(float) + 63) / 64 * 64);
    if (!p) throw std::bad_alloc();
    buf.data.reset(static_cast<float*>(p));
    buf.floats = need;
  }
  float* xt = buf.data.get();
  for (int r = 0; r < rows; ++r)
    for (int kk = 0; kk < k; ++kk)
      xt[static_cast<std::int64_t>(kk) * kSkinnyRows + r] = x[r * ldx + kk];
  return xt;
}

// Rows <= kSkinnyRows: each thread streams a contiguous range of 16-column panels.
void skinny_gemm(const float* x, std::int64_t rows, std::int64_t ldx, const PackedF32& w,
                 const float* bias, Activation act, float* y, std::int64_t ldy, int threads) {
  const int k = w.k(), n = w.n();
  const float* xt = transposed_rows(x, static_cast<int>(rows), ldx, k);
  const int panels = (n + kPanel - 1) / kPanel;
  const double work = static_cast<double>(rows) * w.padded_n() * k;
  const int mr = static_cast<int>(rows);
#pragma omp parallel num_threads(threads) if (panels > 1 && work > 1e6)
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    for (int p = panels * id / nt, end = panels * (id + 1) / nt; p < end; ++p) {
      const int col0 = p * kPanel;
      kSkinny[mr](xt, w.data() + static_cast<std::int64_t>(p) * k * kPanel, k, bias, act, col0, n,
                  y, ldy);
      if (act != Activation::None && !detail::activation_in_registers(act))
        for (int i = 0; i < mr; ++i)
          detail::activate_row(y + i * ldy + col0, std::min(kPanel, n - col0), act);
    }
  }
}

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
  free_weight_memory(p);
}

PackedF32::PackedF32(const float* w, int n, int k)
    : n_(n),
      k_(k),
      np_((n + kWide - 1) / kWide * kWide),
      bytes_(static_cast<std::size_t>(np_) * static_cast<std::size_t>(k) * sizeof(float)) {
  auto* p = static_cast<float*>(allocate_weight_memory(bytes_));
  data_.reset(p);
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
  if (rows <= kSkinnyRows && !skinny_off()) {
    skinny_gemm(x, rows, ldx, w, bias, act, y, ldy, threads);
    return;
  }
  const int k = w.k(), n = w.n();
  const int panels = w.padded_n() / kWide;
  const std::int64_t row_blocks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  const std::int64_t tasks = row_blocks * panels;
  const double work = static_cast<double>(rows) * w.padded_n() * k;
  const std::int64_t panel_floats = static_cast<std::int64_t>(k) * kWide;
  // Rows r_begin..r_end of panel p; `next`: the panel this thread computes next, to prefetch
  // into L2 meanwhile (or null).
  auto run = [&](int p, std::int64_t r_begin, std::int64_t r_end, const float* next) {
    const float* panel = w.data() + p * panel_floats;
    const int col0 = p * kWide, cols = std::min(kWide, n - col0);
    const std::int64_t tiles = (r_end - r_begin + kRowsPerTile - 1) / kRowsPerTile;
    const std::int64_t lines = next ? panel_floats * 4 / 64 : 0;
    for (std::int64_t r = r_begin, t = 0; r < r_end; r += kRowsPerTile, ++t) {
      const int mr = static_cast<int>(std::min<std::int64_t>(kRowsPerTile, r_end - r));
      const std::int64_t first = lines * t / tiles, last = lines * (t + 1) / tiles;
      kTiles[mr](x + r * ldx, ldx, panel, k, bias, act, col0, n, y + r * ldy, ldy,
                 reinterpret_cast<const char*>(next) + 64 * first, last - first);
      if (act != Activation::None && !detail::activation_in_registers(act))
        for (int i = 0; i < mr; ++i) detail::activate_row(y + (r + i) * ldy + col0, cols, act);
    }
  };
  if (row_blocks == 1) {
    // Few rows (online traffic): the weights stream from memory once and the arithmetic is
    // small. Each thread takes a contiguous range of panels and, while it computes one (from
    // L2 after the first), prefetches its next at an even rate, so memory streams all the time.
#pragma omp parallel num_threads(threads) if (panels > 1 && work > 1e6)
    {
      const int nt = omp_get_num_threads(), id = omp_get_thread_num();
      const int begin = panels * id / nt, end = panels * (id + 1) / nt;
      for (int p = begin; p < end; ++p)
        run(p, 0, rows, p + 1 < end ? w.data() + (p + 1) * panel_floats : nullptr);
    }
    return;
  }
  // Panel-major: consecutive tasks share a panel, which stays in L2 while its rows stream.
#pragma omp parallel for schedule(static) num_threads(threads) if (tasks > 1 && work > 1e6)
  for (std::int64_t t = 0; t < tasks; ++t) {
    const std::int64_t r_begin = (t % row_blocks) * kRowsPerTask;
    run(static_cast<int>(t / row_blocks), r_begin, std::min(rows, r_begin + kRowsPerTask), nullptr);
  }
}

}  // namespace encore::kernels

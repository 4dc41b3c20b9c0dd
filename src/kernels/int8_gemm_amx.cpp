// encore's u8 x s8 GEMM on AMX (tdpbusd), with the same fused dequantizing epilogue as the
// VNNI kernel and the same packed weights: a B tile (16 k-groups x 16 columns x 4 bytes) is a
// 64-byte slice of each 256-byte k-group of a 64-column panel, loaded with a 256-byte stride.
// Blocking: 2 A tiles (32 rows x 64 k) x 2 B tiles (64 k x 32 columns) -> 4 int32 C tiles in
// tmm0-3; the C tiles go through a 4 KB buffer in L1 to the AVX-512 epilogue.
// Work split: tasks are (32-row strip) x (column chunk); a thread runs consecutive strips
// of one chunk, so the chunk's weights stay in its L2 while the strips stream past.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "core/cpu_features.hpp"
#include "kernels/int8_epilogue_avx512.hpp"
#include "kernels/int8_gemm.hpp"

namespace encore::kernels {
namespace {

constexpr int kPanel = 64;
constexpr int kGroupBytes = kPanel * 4;
constexpr int kTileRows = 16;
constexpr int kStrip = 2 * kTileRows;  // rows per block
constexpr int kBlockCols = 32;         // columns per block: two 16-column B tiles
constexpr int kKStep = 64;             // k per tdpbusd (64 bytes per A row)

#define ENCORE_AMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512dq")))

// The hardware's tile configuration (palette 1): tmm0-3 C, tmm4-5 A, tmm6-7 B.
struct alignas(64) TileConfig {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};

// `rows0`/`rows1`: rows of the first and second 16-row half of the strip (rows1 may be 0).
ENCORE_AMX void configure(int rows0, int rows1) {
  TileConfig c;
  const int r1 = std::max(rows1, 1);  // an unused tile still needs a valid shape
  for (int t = 0; t < 8; ++t) c.colsb[t] = 64;
  c.rows[0] = c.rows[1] = static_cast<std::uint8_t>(rows0);
  c.rows[2] = c.rows[3] = static_cast<std::uint8_t>(r1);
  c.rows[4] = static_cast<std::uint8_t>(rows0);
  c.rows[5] = static_cast<std::uint8_t>(r1);
  c.rows[6] = c.rows[7] = kTileRows;
  _tile_loadconfig(&c);
}

// One block: rows [row0, row0+mr) x columns [col0, col0+32) over all of k, then the epilogue.
template <bool kTwoHalves>
ENCORE_AMX void block(const std::uint8_t* x, std::int64_t ldx, const std::int8_t* w_cols,
                      int ksteps, std::int32_t* acc, const Int8Epilogue& e, std::int64_t row0,
                      int mr, int col0, int n, float* y, std::int64_t ldy) {
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (kTwoHalves) {
    _tile_zero(2);
    _tile_zero(3);
  }
  const std::uint8_t* x1 = x + kTileRows * ldx;
  for (int s = 0; s < ksteps; ++s) {
    const std::int8_t* wb = w_cols + static_cast<std::int64_t>(s) * kTileRows * kGroupBytes;
    _tile_loadd(4, x + s * kKStep, ldx);
    _tile_loadd(6, wb, kGroupBytes);
    _tile_loadd(7, wb + 64, kGroupBytes);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    if constexpr (kTwoHalves) {
      _tile_loadd(5, x1 + s * kKStep, ldx);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  }
  // acc: [32 rows][32 columns] int32, row stride 128 bytes.
  constexpr int kAccStride = kBlockCols * 4;
  _tile_stored(0, acc, kAccStride);
  _tile_stored(1, acc + 16, kAccStride);
  if constexpr (kTwoHalves) {
    _tile_stored(2, acc + kTileRows * kBlockCols, kAccStride);
    _tile_stored(3, acc + kTileRows * kBlockCols + 16, kAccStride);
  }
  const int cols = std::min(kBlockCols, n - col0);
  for (int r = 0; r < mr; ++r) {
    __m512i zp;
    __m512 rs;
    detail::row_params(e, row0 + r, zp, rs);
    float* out = y + (row0 + r) * ldy + col0;
    const std::int32_t* a = acc + r * kBlockCols;
    detail::finish_vector(_mm512_loadu_si512(a), zp, rs, e, col0, n, out);
    detail::finish_vector(_mm512_loadu_si512(a + 16), zp, rs, e, col0 + 16, n, out + 16);
    if (e.activation != Activation::None) detail::activate_row(out, cols, e.activation);
  }
}

}  // namespace

bool int8_gemm_amx_supported() {
  const CpuFeatures& f = cpu_features();
  return f.amx_int8 && f.amx_tile && f.has_avx512_core();
}

namespace {

struct AmxTask {
  const std::uint8_t* x;
  std::int64_t rows, ldx;
  const PackedS8* w;
  const Int8Epilogue* e;
  float* y;
  std::int64_t ldy;
  std::int64_t strips;
  int chunk_blocks, blocks_n;
};

// One thread's share of the tasks (an orphaned `omp for`: the parallel region is opened by a
// function compiled without AMX, so its outlined body does not depend on target attributes).
ENCORE_AMX void run_tasks(const AmxTask& a, std::int64_t tasks) {
  alignas(64) std::int32_t acc[kStrip * kBlockCols];
  const PackedS8& w = *a.w;
  const int groups = w.padded_k() / 4, ksteps = w.padded_k() / kKStep, n = w.n();
  int configured = -1;  // rows of the strip the tiles are shaped for
#pragma omp for schedule(static)
  for (std::int64_t t = 0; t < tasks; ++t) {
    const int chunk = static_cast<int>(t / a.strips);
    const std::int64_t row0 = (t % a.strips) * kStrip;
    const int mr = static_cast<int>(std::min<std::int64_t>(kStrip, a.rows - row0));
    if (mr != configured) {
      configure(std::min(mr, kTileRows), std::max(mr - kTileRows, 0));
      configured = mr;
    }
    const int b_end = std::min(a.blocks_n, (chunk + 1) * a.chunk_blocks);
    for (int b = chunk * a.chunk_blocks; b < b_end; ++b) {
      const int col0 = b * kBlockCols;
      if (col0 >= n) break;
      const std::int8_t* w_cols = w.data() +
                                  static_cast<std::int64_t>(col0 / kPanel) * groups * kGroupBytes +
                                  (col0 % kPanel) * 4;
      const std::uint8_t* xs = a.x + row0 * a.ldx;
      if (mr > kTileRows)
        block<true>(xs, a.ldx, w_cols, ksteps, acc, *a.e, row0, mr, col0, n, a.y, a.ldy);
      else
        block<false>(xs, a.ldx, w_cols, ksteps, acc, *a.e, row0, mr, col0, n, a.y, a.ldy);
    }
  }
  // Other code on this thread (oneDNN's AMX kernels) configures tiles its own way.
  if (configured >= 0) _tile_release();
}

}  // namespace

void int8_gemm_amx(const std::uint8_t* x, std::int64_t rows, std::int64_t ldx, const PackedS8& w,
                   const Int8Epilogue& e, float* y, std::int64_t ldy, int threads) {
  if (rows <= 0) return;
  if (w.padded_k() % kKStep != 0) throw std::logic_error("PackedS8 k is not padded to 64");
  AmxTask a{x, rows, ldx, &w, &e, y, ldy, (rows + kStrip - 1) / kStrip, 1, 0};
  // Column chunks (multiples of 32 columns, at most 256) small enough that every thread gets
  // several tasks.
  a.blocks_n = (w.padded_n() + kBlockCols - 1) / kBlockCols;
  const std::int64_t want_chunks =
      std::max<std::int64_t>(1, (8 * std::int64_t{threads} + a.strips - 1) / a.strips);
  a.chunk_blocks = static_cast<int>(
      std::clamp<std::int64_t>((a.blocks_n + want_chunks - 1) / want_chunks, 1, 8));
  const std::int64_t tasks = a.strips * ((a.blocks_n + a.chunk_blocks - 1) / a.chunk_blocks);
  const double work = static_cast<double>(rows) * w.padded_n() * w.padded_k();
#pragma omp parallel num_threads(threads) if (tasks > 1 && work > 1e6)
  run_tasks(a, tasks);
}

}  // namespace encore::kernels

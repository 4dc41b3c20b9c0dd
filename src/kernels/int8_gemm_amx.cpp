// encore's u8 x s8 GEMM on AMX (tdpbusd), with the same fused dequantizing epilogue as the
// VNNI kernel and the same packed weights (amx_tiles.hpp for the blocking).
#include <immintrin.h>

#include <stdexcept>

#include "core/cpu_features.hpp"
#include "kernels/amx_tiles.hpp"
#include "kernels/gemm_epilogue_avx512.hpp"
#include "kernels/int8_gemm.hpp"

namespace encore::kernels {
namespace {

constexpr int kKStep = 64;  // k per tdpbusd (64 bytes per A row)

struct Int8Block {
  const std::uint8_t* x;
  std::int64_t ldx;
  const PackedS8* w;
  const Int8Epilogue* e;
  float* y;
  std::int64_t ldy;

  // C tiles of rows [row0, row0+32) x columns [col0, col0+32) over all of k, to acc.
  template <bool kTwoHalves>
  ENCORE_AMX_TARGET void accumulate(std::int64_t row0, int col0, std::int32_t* acc) const {
    const int groups = w->padded_k() / 4, ksteps = w->padded_k() / kKStep;
    const std::int8_t* w_cols = w->data() + amx::panel_offset(col0, groups);
    const std::uint8_t* x0 = x + row0 * ldx;
    const std::uint8_t* x1 = x0 + amx::kTileRows * ldx;
    amx::zero_block(kTwoHalves);
    for (int s = 0; s < ksteps; ++s) {
      const std::int8_t* wb =
          w_cols + static_cast<std::int64_t>(s) * amx::kTileRows * amx::kGroupBytes;
      _tile_loadd(4, x0 + s * kKStep, ldx);
      _tile_loadd(6, wb, amx::kGroupBytes);
      _tile_loadd(7, wb + 64, amx::kGroupBytes);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      if constexpr (kTwoHalves) {
        _tile_loadd(5, x1 + s * kKStep, ldx);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
      }
    }
    amx::store_block<kTwoHalves>(acc);
  }

  // The epilogue of rows [row0, row0+mr) x columns [col0, col0+32) from acc.
  ENCORE_AMX_TARGET void finish(std::int64_t row0, int mr, int col0,
                                const std::int32_t* acc) const {
    const int n = w->n(), cols = std::min(amx::kBlockCols, n - col0);
    for (int r = 0; r < mr; ++r) {
      __m512i zp;
      __m512 rs;
      detail::row_params(*e, row0 + r, zp, rs);
      float* out = y + (row0 + r) * ldy + col0;
      const std::int32_t* a = acc + r * amx::kBlockCols;
      detail::finish_vector(_mm512_load_si512(a), zp, rs, *e, col0, n, out);
      detail::finish_vector(_mm512_load_si512(a + 16), zp, rs, *e, col0 + 16, n, out + 16);
      if (e->activation != Activation::None && !detail::activation_in_registers(e->activation))
        detail::activate_row(out, cols, e->activation);
    }
  }
};

}  // namespace

bool int8_gemm_amx_supported() {
  const CpuFeatures& f = cpu_features();
  return f.amx_int8 && f.amx_tile && f.has_avx512_core();
}

void int8_gemm_amx(const std::uint8_t* x, std::int64_t rows, std::int64_t ldx, const PackedS8& w,
                   const Int8Epilogue& e, float* y, std::int64_t ldy, int threads) {
  if (rows <= 0) return;
  if (w.padded_k() % kKStep != 0) throw std::logic_error("PackedS8 k is not padded to 64");
  // (also makes sure the process asked Linux for tile data before its first tile instruction)
  if (!int8_gemm_amx_supported()) throw std::logic_error("int8_gemm_amx called without AMX-INT8");
  const amx::Partition p = amx::partition(rows, w.n(), w.padded_n(), threads);
  const Int8Block block{x, ldx, &w, &e, y, ldy};
  const double work = static_cast<double>(rows) * w.padded_n() * w.padded_k();
#pragma omp parallel num_threads(threads) if (p.tasks > 1 && work > 1e6)
  amx::run_tasks(p, block);
}

}  // namespace encore::kernels

#include "kernels/bf16_gemm_amx.hpp"

#include <immintrin.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "core/cpu_features.hpp"
#include "core/weight_memory.hpp"
#include "kernels/amx_tiles.hpp"
#include "kernels/gemm_epilogue_avx512.hpp"

namespace encore::kernels {
namespace {

constexpr int kKStep = 32;  // k per tdpbf16ps (32 bf16 = 64 bytes per A row)

// fp32 -> bf16, round to nearest even (NaN stays NaN), as oneDNN's reorder and convert_to_bf16.
std::uint16_t to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

struct Bf16Block {
  const std::uint16_t* x;
  std::int64_t ldx;
  const PackedBf16* w;
  const float* bias;
  Activation activation;
  float* y;
  std::int64_t ldy;

  template <bool kTwoHalves>
  ENCORE_AMX_TARGET void accumulate(std::int64_t row0, int col0, std::int32_t* acc) const {
    const int groups = w->padded_k() / 2, ksteps = w->padded_k() / kKStep;
    const auto* w_cols =
        reinterpret_cast<const std::uint8_t*>(w->data()) + amx::panel_offset(col0, groups);
    const std::uint16_t* x0 = x + row0 * ldx;
    const std::uint16_t* x1 = x0 + amx::kTileRows * ldx;
    const std::int64_t ldx_bytes = ldx * 2;
    amx::zero_block(kTwoHalves);
    for (int s = 0; s < ksteps; ++s) {
      const std::uint8_t* wb =
          w_cols + static_cast<std::int64_t>(s) * amx::kTileRows * amx::kGroupBytes;
      _tile_loadd(4, x0 + s * kKStep, ldx_bytes);
      _tile_loadd(6, wb, amx::kGroupBytes);
      _tile_loadd(7, wb + 64, amx::kGroupBytes);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      if constexpr (kTwoHalves) {
        _tile_loadd(5, x1 + s * kKStep, ldx_bytes);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
    }
    amx::store_block<kTwoHalves>(acc);
  }

  // acc holds fp32 sums (the tiles' bits, parked as int32).
  ENCORE_AMX_TARGET void finish(std::int64_t row0, int mr, int col0,
                                const std::int32_t* acc_bits) const {
    const auto* acc = reinterpret_cast<const float*>(acc_bits);
    const int n = w->n(), cols = std::min(amx::kBlockCols, n - col0);
    const bool gelu = detail::activation_in_registers(activation);
    const __m512 b0 = _mm512_loadu_ps(bias + col0), b1 = _mm512_loadu_ps(bias + col0 + 16);
    for (int r = 0; r < mr; ++r) {
      float* out = y + (row0 + r) * ldy + col0;
      const float* a = acc + r * amx::kBlockCols;
      detail::store16(out, _mm512_add_ps(_mm512_load_ps(a), b0), cols, gelu);
      detail::store16(out + 16, _mm512_add_ps(_mm512_load_ps(a + 16), b1), cols - 16, gelu);
      if (activation != Activation::None && !gelu) detail::activate_row(out, cols, activation);
    }
  }
};

}  // namespace

bool bf16_gemm_amx_supported() {
  const CpuFeatures& f = cpu_features();
  return f.amx_bf16 && f.amx_tile && f.has_avx512_core();
}

void PackedBf16::Free::operator()(std::uint16_t* p) const {
  free_weight_memory(p);
}

PackedBf16::PackedBf16(const float* w, int n, int k)
    : n_(n),
      k_(k),
      np_((n + amx::kPanel - 1) / amx::kPanel * amx::kPanel),
      kp_((k + kKStep - 1) / kKStep * kKStep),
      bytes_(static_cast<std::size_t>(np_) * static_cast<std::size_t>(kp_) * 2) {
  auto* p = static_cast<std::uint16_t*>(allocate_weight_memory(bytes_));
  data_.reset(p);
  const int groups = kp_ / 2, panels = np_ / amx::kPanel;
  // A panel: for each pair of k, 64 columns x (k even, k odd).
#pragma omp parallel for schedule(static) if (bytes_ > (1u << 20))
  for (int pn = 0; pn < panels; ++pn) {
    std::uint16_t* panel = data_.get() + static_cast<std::int64_t>(pn) * groups * amx::kPanel * 2;
    for (int c = pn * amx::kPanel; c < std::min(n, (pn + 1) * amx::kPanel); ++c)
      for (int kk = 0; kk < k; ++kk)
        panel[(static_cast<std::int64_t>(kk / 2) * amx::kPanel + c % amx::kPanel) * 2 + kk % 2] =
            to_bf16(w[static_cast<std::int64_t>(c) * k + kk]);
  }
}

void bf16_gemm_amx(const std::uint16_t* x, std::int64_t rows, std::int64_t ldx, const PackedBf16& w,
                   const float* bias, Activation activation, float* y, std::int64_t ldy,
                   int threads) {
  if (rows <= 0) return;
  // (also makes sure the process asked Linux for tile data before its first tile instruction)
  if (!bf16_gemm_amx_supported()) throw std::logic_error("bf16_gemm_amx called without AMX-BF16");
  if (ldx < w.padded_k()) throw std::logic_error("bf16_gemm_amx: input stride below padded k");
  const amx::Partition p = amx::partition(rows, w.n(), w.padded_n(), threads);
  const Bf16Block block{x, ldx, &w, bias, activation, y, ldy};
  const double work = static_cast<double>(rows) * w.padded_n() * w.padded_k();
#pragma omp parallel num_threads(threads) if (p.tasks > 1 && work > 1e6)
  amx::run_tasks(p, block);
}

}  // namespace encore::kernels

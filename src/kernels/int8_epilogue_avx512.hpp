// The dequantizing epilogue of encore's INT8 GEMMs (VNNI and AMX), on 16 int32 accumulators
// at a time: the same arithmetic as dequantize_epilogue (int32 zero-point correction, then
// float(acc)·(rs·ws) + bias, no FMA), so every kernel gives bit-identical results.
// Internal to the kernels: include only from files compiled for AVX-512.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/int8_gemm.hpp"
#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"

namespace encore::kernels::detail {

#define ENCORE_AVX512_EPILOGUE __attribute__((target("avx512f,avx512bw,avx512dq")))

// Writes columns [c, min(c+16, n)) of one output row. (maskz: the unmasked intrinsic trips a
// GCC 12 -Wmaybe-uninitialized false positive.)
ENCORE_AVX512_EPILOGUE inline __attribute__((always_inline)) void finish_vector(
    __m512i acc, __m512i zp, __m512 rs, const Int8Epilogue& e, int c, int n, float* out) {
  if (c >= n) return;
  const __m512i cs = _mm512_loadu_si512(e.col_sum + c);
  const __m512i corrected = _mm512_sub_epi32(acc, _mm512_mullo_epi32(zp, cs));
  const __m512 scale = _mm512_mul_ps(rs, _mm512_loadu_ps(e.w_scale + c));
  const __m512 value =
      _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, corrected), scale),
                    _mm512_loadu_ps(e.bias + c));
  const int left = n - c;
  const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
  _mm512_mask_storeu_ps(out, mask, value);
}

// The row's scale and zero point as broadcasts.
ENCORE_AVX512_EPILOGUE inline __attribute__((always_inline)) void row_params(const Int8Epilogue& e,
                                                                             std::int64_t row,
                                                                             __m512i& zp,
                                                                             __m512& rs) {
  const std::int64_t i = e.per_row ? row : 0;
  zp = _mm512_set1_epi32(e.zero_point[i]);
  rs = _mm512_set1_ps(e.row_scale[i]);
}

// The activation over `n` finished outputs (in place; cache-hot).
ENCORE_SIMD_CLONES
inline void activate_row(float* y, std::int64_t n, Activation act) {
  with_activation(
      act, [&](auto a) __attribute__((always_inline)) {
        for (std::int64_t c = 0; c < n; ++c) y[c] = activate<decltype(a)::value>(y[c]);
      });
}

}  // namespace encore::kernels::detail

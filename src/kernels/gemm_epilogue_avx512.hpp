// The epilogues of encore's own GEMMs (INT8 on VNNI and AMX, BF16 on AMX), 16 outputs at a
// time: the INT8 dequantization (the same arithmetic as dequantize_epilogue: int32 zero-point
// correction, then float(acc)·(rs·ws) + bias), and the exact GELU in registers, so that the
// most common activation costs no extra pass or call. Internal to the kernels: include only
// from files compiled for AVX-512.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/int8_gemm.hpp"
#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"

namespace encore::kernels::detail {

#define ENCORE_AVX512_EPILOGUE __attribute__((target("avx512f,avx512bw,avx512dq,fma")))

// exp(x) for x <= 0: exp_nonpositive (vec_math.hpp), 16 lanes at a time.
ENCORE_AVX512_EPILOGUE inline __attribute__((always_inline)) __m512 exp_nonpositive16(__m512 x) {
  x = _mm512_maskz_max_ps(0xFFFF, x, _mm512_set1_ps(-87.0f));
  // round to nearest by the 1.5·2^23 trick, as the scalar version (no roundscale: GCC 12)
  const __m512 big = _mm512_set1_ps(12582912.0f);
  const __m512 n = _mm512_sub_ps(
      _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), big), big);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  // n + 127 in the exponent: n + 1.5·2^23 holds n in its low mantissa bits
  const __m512i n_bits =
      _mm512_sub_epi32(_mm512_castps_si512(_mm512_add_ps(n, big)), _mm512_castps_si512(big));
  const __m512i bits =
      _mm512_maskz_slli_epi32(0xFFFF, _mm512_add_epi32(n_bits, _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

// 0.5·x·(1 + erf(x/√2)): gelu_erf (vec_math.hpp) with the same split and coefficients.
ENCORE_AVX512_EPILOGUE inline __attribute__((always_inline)) __m512 gelu_erf16(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
  const __m512 t = _mm512_maskz_min_ps(0xFFFF, _mm512_abs_ps(z), _mm512_set1_ps(9.0f));
  // erfc(t) ~ exp(Q(t)) for t above the split
  const __m512 s = _mm512_mul_ps(t, t);
  __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(-1.72853470e-5f), t, _mm512_set1_ps(3.83197126e-4f));
  const __m512 u =
      _mm512_fmadd_ps(_mm512_set1_ps(-3.88396438e-3f), t, _mm512_set1_ps(2.42546219e-2f));
  q = _mm512_fmadd_ps(q, s, u);
  q = _mm512_fmsub_ps(q, t, _mm512_set1_ps(1.06777877e-1f));
  q = _mm512_fmsub_ps(q, t, _mm512_set1_ps(6.34846687e-1f));
  q = _mm512_fmsub_ps(q, t, _mm512_set1_ps(1.28717512e-1f));
  q = _mm512_fmsub_ps(q, t, t);
  const __m512 e = exp_nonpositive16(q);
  const __mmask16 negative = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 one_plus_large =
      _mm512_mask_blend_ps(negative, _mm512_sub_ps(_mm512_set1_ps(2.0f), e), e);
  // z + z·P(z²) below the split
  const __m512 zz = _mm512_mul_ps(z, z);
  __m512 r = _mm512_set1_ps(-5.96761703e-4f);
  r = _mm512_fmadd_ps(r, zz, _mm512_set1_ps(4.99119423e-3f));
  r = _mm512_fmadd_ps(r, zz, _mm512_set1_ps(-2.67681349e-2f));
  r = _mm512_fmadd_ps(r, zz, _mm512_set1_ps(1.12819925e-1f));
  r = _mm512_fmadd_ps(r, zz, _mm512_set1_ps(-3.76125336e-1f));
  r = _mm512_fmadd_ps(r, zz, _mm512_set1_ps(1.28379166e-1f));
  const __m512 small = _mm512_fmadd_ps(r, z, z);
  const __mmask16 large = _mm512_cmp_ps_mask(t, _mm512_set1_ps(0.927734375f), _CMP_GT_OQ);
  const __m512 one_plus =
      _mm512_mask_blend_ps(large, _mm512_add_ps(_mm512_set1_ps(1.0f), small), one_plus_large);
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), one_plus);
}

// The activation applied in registers by the epilogue (GELU erf); others run activate_row
// over the finished outputs.
inline bool activation_in_registers(Activation a) {
  return a == Activation::GeluErf;
}

// Stores 16 outputs at out (lanes [0, left) only), after GELU when `gelu`.
ENCORE_AVX512_EPILOGUE inline __attribute__((always_inline)) void store16(float* out, __m512 value,
                                                                          int left, bool gelu) {
  if (left <= 0) return;
  if (gelu) value = gelu_erf16(value);
  const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
  _mm512_mask_storeu_ps(out, mask, value);
}

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
  store16(out, value, n - c, e.activation == Activation::GeluErf);
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

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

// GELU(x) = x·Φ(x) with Q(u) = Φ(-u) = erfc(u/√2)/2 for u = |x| on 16 intervals of [0, 5.5),
// a degree-5 polynomial per interval in the offset from its centre (Chebyshev least squares,
// scripts/fit_gelu_tables.py), picked with vpermps: about 20 operations per 16 values where
// the two-branch erf of vec_math.hpp takes about 40, and GELU was the largest cost of the
// INT8 forward after the GEMMs. |error of Q| <= 2.9e-8 (fitted in float32 Horner), so
// |error of GELU| <= 1.6e-7 + rounding; the negative tail keeps its absolute accuracy (Q is
// fitted directly, no 1 - Φ cancellation). Above 5.5, Q < 2e-8 is taken as 0.
constexpr int kGeluIntervals = 16;
constexpr float kGeluRange = 5.5f;
alignas(64) inline constexpr float kGeluQ[6][kGeluIntervals] = {
    {-9.194588289e-03f, -4.280047957e-03f, 2.006038092e-03f, 5.744269118e-03f, 5.633757450e-03f,
     3.155952087e-03f, 5.694755237e-04f, -8.617832791e-04f, -1.142043504e-03f, -8.469609311e-04f,
     -4.675452947e-04f, -2.075863886e-04f, -7.667027239e-05f, -2.398906508e-05f, -6.429892892e-06f,
     -1.487397071e-06f},
    {-8.301309310e-03f, -2.038021944e-02f, -2.221214026e-02f, -1.501862612e-02f, -4.755761009e-03f,
     2.960909391e-03f, 6.052266806e-03f, 5.614344962e-03f, 3.767754883e-03f, 2.019525971e-03f,
     8.992652874e-04f, 3.394286614e-04f, 1.099009751e-04f, 3.076074063e-05f, 7.482546152e-06f,
     1.587952283e-06f},
    {6.357929856e-02f, 4.273634404e-02f, 1.201808453e-02f, -1.442844328e-02f, -2.799329162e-02f,
     -2.865897864e-02f, -2.187295444e-02f, -1.352828927e-02f, -7.016496267e-03f, -3.106032265e-03f,
     -1.185836736e-03f, -3.930922539e-04f, -1.136624633e-04f, -2.876287363e-05f, -6.385771030e-06f,
     -1.246187594e-06f},
    {3.378075734e-02f, 9.004797786e-02f, 1.184920520e-01f, 1.163768247e-01f, 9.327009320e-02f,
     6.314012408e-02f, 3.672394156e-02f, 1.852975227e-02f, 8.159762248e-03f, 3.148535732e-03f,
     1.067517791e-03f, 3.186814429e-04f, 8.389037248e-05f, 1.949604848e-05f, 4.003651611e-06f,
     7.270381843e-07f},
    {-3.930929899e-01f, -3.492828906e-01f, -2.757663727e-01f, -1.934582740e-01f, -1.205911189e-01f,
     -6.679213047e-02f, -3.287133202e-02f, -1.437445171e-02f, -5.585310049e-03f, -1.928347512e-03f,
     -5.915689399e-04f, -1.612528868e-04f, -3.905636186e-05f, -8.405397239e-06f, -1.607337367e-06f,
     -2.731104018e-07f},
    {4.317679107e-01f, 3.030581772e-01f, 1.950668246e-01f, 1.144639775e-01f, 6.094669551e-02f,
     2.933720872e-02f, 1.272920426e-02f, 4.966902547e-03f, 1.739655738e-03f, 5.461141118e-04f,
     1.534679468e-04f, 3.856862895e-05f, 8.661172615e-06f, 1.736796548e-06f, 3.108155511e-07f,
     4.961680133e-08f},
};

ENCORE_AVX512_EPILOGUE inline __attribute__((always_inline)) __m512 gelu_erf16(__m512 x) {
  const __m512 u = _mm512_abs_ps(x);
  const __m512i i = _mm512_maskz_min_epi32(
      0xFFFF,
      _mm512_maskz_cvttps_epi32(0xFFFF,
                                _mm512_mul_ps(u, _mm512_set1_ps(kGeluIntervals / kGeluRange))),
      _mm512_set1_epi32(kGeluIntervals - 1));
  const __m512 centre = _mm512_add_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, i), _mm512_set1_ps(0.5f));
  const __m512 s = _mm512_fnmadd_ps(centre, _mm512_set1_ps(kGeluRange / kGeluIntervals), u);
  __m512 q = _mm512_maskz_permutexvar_ps(0xFFFF, i, _mm512_load_ps(kGeluQ[0]));
  for (int d = 1; d < 6; ++d)
    q = _mm512_fmadd_ps(q, s, _mm512_maskz_permutexvar_ps(0xFFFF, i, _mm512_load_ps(kGeluQ[d])));
  q = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(u, _mm512_set1_ps(kGeluRange), _CMP_LT_OQ), q);
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 phi = _mm512_mask_blend_ps(negative, _mm512_sub_ps(_mm512_set1_ps(1.0f), q), q);
  return _mm512_mul_ps(x, phi);
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

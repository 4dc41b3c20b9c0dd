#include "kernels/attention.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <omp.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "kernels/amx_tiles.hpp"
#define ENCORE_ATTENTION_BF16 1
#else
#define ENCORE_ATTENTION_BF16 0
#endif

#include "core/cpu_features.hpp"
#include "core/env.hpp"
#include "kernels/kernel_choice.hpp"
#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"

namespace encore::kernels {
namespace {

constexpr int kLanes = 16;  // one AVX-512 register of floats: the unit every loop is blocked by

#define ENCORE_INLINE inline __attribute__((always_inline))

// Query rows handled together: each loaded K/V vector then feeds kRows FMAs instead of one
// (one row at a time the kernel is load-bound at ~55 GFLOP/s).
constexpr int kRows = 4;

// Scores of ROWS query rows against BLOCK columns (a multiple of kLanes) of the transposed,
// pre-scaled keys; the ROWS x BLOCK accumulators stay in registers.
template <int ROWS, int BLOCK>
ENCORE_INLINE void scores_block(const float* const* q, const float* kt, int d, int stride, int col,
                                float* out, int out_stride) {
  float acc[ROWS][BLOCK] = {};
  for (int c = 0; c < d; ++c) {
    const float* row = kt + static_cast<std::int64_t>(c) * stride + col;
    for (int r = 0; r < ROWS; ++r) {
      const float qc = q[r][c];
      for (int t = 0; t < BLOCK; ++t) acc[r][t] += qc * row[t];
    }
  }
  for (int r = 0; r < ROWS; ++r)
    for (int t = 0; t < BLOCK; ++t) out[r * out_stride + col + t] = acc[r][t];
}

template <int ROWS>
ENCORE_INLINE void scores_rows(const float* const* q, const float* kt, int d, int padded,
                               float* scores) {
  int col = 0;
  constexpr int kWide = 4 * kLanes;  // ROWS x 4 vectors: <= 16 accumulators
  for (; col + kWide <= padded; col += kWide)
    scores_block<ROWS, kWide>(q, kt, d, padded, col, scores, padded);
  for (; col < padded; col += kLanes)
    scores_block<ROWS, kLanes>(q, kt, d, padded, col, scores, padded);
}

// Softmax over the `len` real columns of one score row, in place; returns 1/sum (the
// normalisation is applied to the output row instead).
ENCORE_INLINE float softmax_row(float* scores, int len) {
  float part[kLanes];
  for (int t = 0; t < kLanes; ++t) part[t] = -INFINITY;
  int j = 0;
  for (; j + kLanes <= len; j += kLanes)
    for (int t = 0; t < kLanes; ++t) part[t] = std::max(part[t], scores[j + t]);
  float max = *std::max_element(part, part + kLanes);
  for (; j < len; ++j) max = std::max(max, scores[j]);
  for (int t = 0; t < kLanes; ++t) part[t] = 0.f;
  j = 0;
  for (; j + kLanes <= len; j += kLanes)
    for (int t = 0; t < kLanes; ++t) {
      const float e = exp_nonpositive(scores[j + t] - max);
      scores[j + t] = e;
      part[t] += e;
    }
  float sum = 0.f;
  for (int t = 0; t < kLanes; ++t) sum += part[t];
  for (; j < len; ++j) {
    scores[j] = exp_nonpositive(scores[j] - max);
    sum += scores[j];
  }
  return 1.f / sum;
}

// Adds the relative-position bias (rel points at distance 0 of this head) and masks keys
// outside the window, for `rows` score rows starting at query row i0.
ENCORE_INLINE void bias_scores(float* scores, int stride, int rows, int i0, int len,
                               const float* rel, int window) {
  for (int r = 0; r < rows; ++r) {
    float* s = scores + r * stride;
    const int i = i0 + r;
    if (rel)
      for (int j = 0; j < len; ++j) s[j] += rel[j - i];
    if (window > 0) {
      for (int j = 0; j < std::min(len, i - window); ++j) s[j] = -INFINITY;
      for (int j = std::max(0, i + window + 1); j < len; ++j) s[j] = -INFINITY;
    }
  }
}

// out[r] = (Σ_j p[r][j]·V[j]) · inv[r] for ROWS rows at once (D fixed at compile time).
template <int ROWS, int D>
ENCORE_INLINE void pv_rows(const float* scores, int padded, const float* qkv, std::int64_t ld,
                           int len, int v_col, const float* inv, float* ctx, std::int64_t ld_ctx) {
  float acc[ROWS][D] = {};
  for (int jj = 0; jj < len; ++jj) {
    const float* v = qkv + jj * ld + v_col;
    for (int r = 0; r < ROWS; ++r) {
      const float p = scores[r * padded + jj];
      for (int c = 0; c < D; ++c) acc[r][c] += p * v[c];
    }
  }
  for (int r = 0; r < ROWS; ++r)
    for (int c = 0; c < D; ++c) ctx[r * ld_ctx + c] = acc[r][c] * inv[r];
}

// One (sequence, head): softmax(q·Kᵀ·scale)·V for every query row, kRows rows at a time. K is
// transposed (and zero-padded to a multiple of 16 columns) once per head; only kRows rows of
// scores exist at a time. D > 0 fixes the head size so output rows live in registers.
template <int D>
ENCORE_INLINE void attend(const float* qkv, std::int64_t ld, int len, int d_runtime, int q_col,
                          int k_col, int v_col, float scale, float* ctx, std::int64_t ld_ctx,
                          float* kt, float* scores, const float* rel, int window) {
  const int d = D > 0 ? D : d_runtime;
  const int padded = (len + kLanes - 1) / kLanes * kLanes;
  for (int j = 0; j < len; ++j) {
    const float* k = qkv + j * ld + k_col;
    for (int c = 0; c < d; ++c) kt[static_cast<std::int64_t>(c) * padded + j] = k[c] * scale;
  }
  for (int c = 0; c < d; ++c)
    for (int j = len; j < padded; ++j) kt[static_cast<std::int64_t>(c) * padded + j] = 0.f;

  // Rows of the PV product kept in registers together: ROWS·D/16 accumulators <= 16.
  constexpr int kPvRows = D == 0 ? 1 : (D <= 64 ? kRows : std::max(1, kRows * 64 / D));
  constexpr int kMaxD = 256;
  float acc_runtime[D > 0 ? 1 : kMaxD];
  for (int i = 0; i < len; i += kRows) {
    const int rows = std::min(kRows, len - i);
    const float* q[kRows];
    for (int r = 0; r < kRows; ++r) q[r] = qkv + (i + std::min(r, rows - 1)) * ld + q_col;
    if (rows == kRows) {
      scores_rows<kRows>(q, kt, d, padded, scores);
    } else {
      for (int r = 0; r < rows; ++r) scores_rows<1>(q + r, kt, d, padded, scores + r * padded);
    }
    if (rel || window > 0) bias_scores(scores, padded, rows, i, len, rel, window);
    float inv[kRows];
    for (int r = 0; r < rows; ++r) inv[r] = softmax_row(scores + r * padded, len);

    float* out = ctx + i * ld_ctx;
    if constexpr (D > 0) {
      int r = 0;
      for (; r + kPvRows <= rows; r += kPvRows)
        pv_rows<kPvRows, D>(scores + r * padded, padded, qkv, ld, len, v_col, inv + r,
                            out + r * ld_ctx, ld_ctx);
      for (; r < rows; ++r)
        pv_rows<1, D>(scores + r * padded, padded, qkv, ld, len, v_col, inv + r, out + r * ld_ctx,
                      ld_ctx);
    } else {
      for (int r = 0; r < rows; ++r) {
        float* acc = acc_runtime;
        for (int c = 0; c < d; ++c) acc[c] = 0.f;
        for (int jj = 0; jj < len; ++jj) {
          const float p = scores[r * padded + jj];
          const float* v = qkv + jj * ld + v_col;
          for (int c = 0; c < d; ++c) acc[c] += p * v[c];
        }
        for (int c = 0; c < d; ++c) out[r * ld_ctx + c] = acc[c] * inv[r];
      }
    }
  }
}

// Entry points per head size, each compiled for AVX-512 / AVX2 / baseline.
#define ENCORE_ATTEND_ENTRY(NAME, D)                                                               \
  ENCORE_SIMD_CLONES void NAME(const float* qkv, std::int64_t ld, int len, int d, int q_col,       \
                               int k_col, int v_col, float scale, float* ctx, std::int64_t ld_ctx, \
                               float* kt, float* scores, const float* rel, int window) {           \
    attend<D>(qkv, ld, len, d, q_col, k_col, v_col, scale, ctx, ld_ctx, kt, scores, rel, window);  \
  }
ENCORE_ATTEND_ENTRY(attend_d32, 32)
ENCORE_ATTEND_ENTRY(attend_d64, 64)
ENCORE_ATTEND_ENTRY(attend_d128, 128)
ENCORE_ATTEND_ENTRY(attend_any, 0)

using AttendFn = void (*)(const float*, std::int64_t, int, int, int, int, int, float, float*,
                          std::int64_t, float*, float*, const float*, int);

AttendFn pick(int d) {
  switch (d) {
    case 32:
      return attend_d32;
    case 64:
      return attend_d64;
    case 128:
      return attend_d128;
    default:
      return attend_any;
  }
}

std::size_t per_thread_floats(std::int32_t max_len, std::int32_t d) {
  const std::size_t padded = (static_cast<std::size_t>(max_len) + kLanes - 1) / kLanes * kLanes;
  return padded * (static_cast<std::size_t>(d) + kRows) + 64;
}

// ---- BF16 path -------------------------------------------------------------------------------
//
// Both products run on vdpbf16ps: each fp32 lane accumulates a·b over one pair of bf16 values,
// so the reduction dimension is consumed two elements at a time. The "A" side (a query row for
// Q·Kᵀ, a probability row for P·V) is broadcast one bf16 pair (32 bits) at a time; the "B"
// side is laid out so that one zmm holds the matching pairs for 16 output columns:
//   kt[c2][j] = (k[j][2·c2], k[j][2·c2+1]) · scale    (d/2 rows of `padded` pairs)
//   vt[j2][c] = (v[2·j2][c], v[2·j2+1][c])            (ceil(len/2) rows of d pairs)
// Keys are padded with zero rows to a multiple of 32; the softmax reads only the len real
// columns and writes zero probabilities past len; an odd length pairs the last V row with a
// zero row.
// Every output lane sums its pairs in the same order whatever the row blocking, so a row's
// result depends on its own sequence only.

// Head sizes the BF16 path handles: whole 32-float blocks (one cvtne2ps per block).
bool bf16_head_size(std::int32_t d) {
  return d % 32 == 0 && d > 0 && d <= 256;
}

// Keys are padded to a multiple of 32 (so that a probability row is whole 32-float blocks).
constexpr std::size_t pad32(std::size_t n) {
  return (n + 31) / 32 * 32;
}

// Query rows per block of the BF16 kernel: 4 on AVX512_BF16, 16 (one tile) on AMX.
constexpr int kRowsBf16 = 4;
constexpr int kRowsAmx = 16;

struct Bf16Layout {
  std::size_t kt, vt, scores, pb, qb, out, total;  // offsets (floats / 32-bit words) and size
};

// Per-thread scratch of the BF16 path for sequences up to max_len: every piece a multiple of
// 16 words (64 bytes) once the base is aligned; the 16 spare floats allow aligning it.
Bf16Layout bf16_layout(std::int32_t max_len, std::int32_t d) {
  const std::size_t padded = pad32(static_cast<std::size_t>(max_len));
  const auto dd = static_cast<std::size_t>(d);
  Bf16Layout l{};
  l.kt = 0;                             // d/2 x padded pairs
  l.vt = l.kt + dd / 2 * padded;        // padded/2 x d pairs
  l.scores = l.vt + padded / 2 * dd;    // kRowsAmx x padded floats
  l.pb = l.scores + kRowsAmx * padded;  // kRowsAmx x padded/2 pairs
  l.qb = l.pb + kRowsAmx * padded / 2;  // kRowsAmx x d/2 pairs
  l.out = l.qb + kRowsAmx * dd / 2;     // kRowsAmx x 32 floats (AMX: one pair of C tiles)
  l.total = l.out + kRowsAmx * 32 + 16;
  return l;
}

#if ENCORE_ATTENTION_BF16

#define ENCORE_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define ENCORE_BF16_INLINE \
  inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

// 32 floats (lo: elements 0..15, hi: 16..31) to 32 bf16, round to nearest even, in order: as
// 32-bit words, word i is the pair (x[2i], x[2i+1]).
ENCORE_BF16_INLINE __m512i to_bf16_pairs(__m512 lo, __m512 hi) {
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

// In-place transpose of a 16x16 matrix of 32-bit words (r[i] = row i). The all-ones maskz forms
// are the plain instructions; the unmasked intrinsics trip GCC 12's -Wmaybe-uninitialized.
ENCORE_BF16_INLINE void transpose16(__m512i (&r)[16]) {
  constexpr __mmask16 k32 = 0xffff;
  constexpr __mmask8 k64 = 0xff;
  __m512i t[16];
  for (int g = 0; g < 16; g += 4) {
    t[g] = _mm512_maskz_unpacklo_epi32(k32, r[g], r[g + 1]);
    t[g + 1] = _mm512_maskz_unpackhi_epi32(k32, r[g], r[g + 1]);
    t[g + 2] = _mm512_maskz_unpacklo_epi32(k32, r[g + 2], r[g + 3]);
    t[g + 3] = _mm512_maskz_unpackhi_epi32(k32, r[g + 2], r[g + 3]);
    // 128-bit lane L of r[g + q] now holds column 4L + q of rows g..g+3
    r[g] = _mm512_maskz_unpacklo_epi64(k64, t[g], t[g + 2]);
    r[g + 1] = _mm512_maskz_unpackhi_epi64(k64, t[g], t[g + 2]);
    r[g + 2] = _mm512_maskz_unpacklo_epi64(k64, t[g + 1], t[g + 3]);
    r[g + 3] = _mm512_maskz_unpackhi_epi64(k64, t[g + 1], t[g + 3]);
  }
  // lanes (0, 2 | 0, 2) and (1, 3 | 1, 3) of two registers
  for (int g = 0; g < 16; g += 8)
    for (int q = 0; q < 4; ++q) {
      t[g + q] = _mm512_maskz_shuffle_i32x4(k32, r[g + q], r[g + q + 4], 0x88);
      t[g + q + 4] = _mm512_maskz_shuffle_i32x4(k32, r[g + q], r[g + q + 4], 0xdd);
    }
  for (int q = 0; q < 8; ++q) {
    r[q] = _mm512_maskz_shuffle_i32x4(k32, t[q], t[q + 8], 0x88);
    r[q + 8] = _mm512_maskz_shuffle_i32x4(k32, t[q], t[q + 8], 0xdd);
  }
}

// acc[r][t] = Σ_k a[r·lda + k] · b[k·ldb + 16t .. +16] over `pairs` bf16 pairs: ROWS
// broadcast pairs and NV loaded vectors per step, ROWS·NV accumulators in registers.
template <int ROWS, int NV>
ENCORE_BF16_INLINE void dot_block(const std::uint32_t* a, std::int64_t lda, const std::uint32_t* b,
                                  std::int64_t ldb, int pairs, __m512 (&acc)[ROWS][NV]) {
  for (int r = 0; r < ROWS; ++r)
    for (int t = 0; t < NV; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int k = 0; k < pairs; ++k) {
    __m512bh bv[NV];
    for (int t = 0; t < NV; ++t)
      bv[t] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b + k * ldb + t * kLanes));
    for (int r = 0; r < ROWS; ++r) {
      const auto av =
          reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(a[r * lda + k])));
      for (int t = 0; t < NV; ++t) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], av, bv[t]);
    }
  }
}

// scores[r][col + 16t ..] for ROWS query rows (qb: d/2 pairs per row) and NV·16 key columns.
template <int ROWS, int NV>
ENCORE_BF16_INLINE void scores_bf16(const std::uint32_t* qb, int d2, const std::uint32_t* kt,
                                    int padded, int col, float* scores) {
  __m512 acc[ROWS][NV];
  dot_block<ROWS, NV>(qb, d2, kt + col, padded, d2, acc);
  for (int r = 0; r < ROWS; ++r)
    for (int t = 0; t < NV; ++t)
      _mm512_storeu_ps(scores + r * padded + col + t * kLanes, acc[r][t]);
}

// out[r][col + 16t ..] = (P·V)[r][..] · inv[r] for ROWS probability rows (pb: pstride pairs
// per row, `pairs` used) and NV·16 output columns.
template <int ROWS, int NV>
ENCORE_BF16_INLINE void pv_bf16(const std::uint32_t* pb, int pstride, const std::uint32_t* vt,
                                int d, int pairs, int col, const float* inv, float* out,
                                std::int64_t ld_ctx) {
  __m512 acc[ROWS][NV];
  dot_block<ROWS, NV>(pb, pstride, vt + col, d, pairs, acc);
  for (int r = 0; r < ROWS; ++r) {
    const __m512 s = _mm512_set1_ps(inv[r]);
    for (int t = 0; t < NV; ++t)
      _mm512_storeu_ps(out + r * ld_ctx + col + t * kLanes, _mm512_mul_ps(acc[r][t], s));
  }
}

// The row-block drivers are separate functions so that register allocation sees only the
// accumulators (inlined into attend_bf16, GCC 12 spills the loaded K/V vectors).
template <int ROWS>
__attribute__((noinline)) ENCORE_BF16_TARGET void scores_rows_bf16(const std::uint32_t* qb, int d2,
                                                                   const std::uint32_t* kt,
                                                                   int padded, float* scores) {
  constexpr int kWide = 4;  // ROWS x 4 vectors: <= 16 accumulators
  int col = 0;
  for (; col + kWide * kLanes <= padded; col += kWide * kLanes)
    scores_bf16<ROWS, kWide>(qb, d2, kt, padded, col, scores);
  const int rest = (padded - col) / kLanes;
  if (rest == 3)
    scores_bf16<ROWS, 3>(qb, d2, kt, padded, col, scores);
  else if (rest == 2)
    scores_bf16<ROWS, 2>(qb, d2, kt, padded, col, scores);
  else if (rest == 1)
    scores_bf16<ROWS, 1>(qb, d2, kt, padded, col, scores);
}

template <int ROWS>
__attribute__((noinline)) ENCORE_BF16_TARGET void pv_rows_bf16(const std::uint32_t* pb, int pstride,
                                                               const std::uint32_t* vt, int d,
                                                               int pairs, const float* inv,
                                                               float* out, std::int64_t ld_ctx) {
  constexpr int kWide = 4;
  int col = 0;
  for (; col + kWide * kLanes <= d; col += kWide * kLanes)
    pv_bf16<ROWS, kWide>(pb, pstride, vt, d, pairs, col, inv, out, ld_ctx);
  const int rest = (d - col) / kLanes;
  if (rest == 3)
    pv_bf16<ROWS, 3>(pb, pstride, vt, d, pairs, col, inv, out, ld_ctx);
  else if (rest == 2)
    pv_bf16<ROWS, 2>(pb, pstride, vt, d, pairs, col, inv, out, ld_ctx);
  else if (rest == 1)
    pv_bf16<ROWS, 1>(pb, pstride, vt, d, pairs, col, inv, out, ld_ctx);
}

using ScoresRowsFn = void (*)(const std::uint32_t*, int, const std::uint32_t*, int, float*);
using PvRowsFn = void (*)(const std::uint32_t*, int, const std::uint32_t*, int, int, const float*,
                          float*, std::int64_t);
// Indexed by the number of rows in the block (1..kRowsBf16).
constexpr ScoresRowsFn kScoresRows[kRowsBf16 + 1] = {
    nullptr, scores_rows_bf16<1>, scores_rows_bf16<2>, scores_rows_bf16<3>, scores_rows_bf16<4>};
constexpr PvRowsFn kPvRows[kRowsBf16 + 1] = {nullptr, pv_rows_bf16<1>, pv_rows_bf16<2>,
                                             pv_rows_bf16<3>, pv_rows_bf16<4>};

// Lanes [0, n) of a 16-lane mask (n may be <= 0 or >= 16).
ENCORE_BF16_INLINE __mmask16 first_lanes(int n) {
  return static_cast<__mmask16>(n >= kLanes ? 0xffff : (n <= 0 ? 0 : (1u << n) - 1));
}

// Horizontal max / sum of 16 lanes. The maskz forms with all lanes are the plain instructions:
// GCC 12's unmasked intrinsics (and _mm512_reduce_*) trip -Wmaybe-uninitialized.
ENCORE_BF16_INLINE __m512 max16(__m512 a, __m512 b) {
  return _mm512_maskz_max_ps(0xffff, a, b);
}
template <bool MAX>
ENCORE_BF16_INLINE __m512 combine(__m512 a, __m512 b) {
  if constexpr (MAX)
    return max16(a, b);
  else
    return _mm512_add_ps(a, b);
}
template <bool MAX>
ENCORE_BF16_INLINE float reduce16(__m512 v) {
  v = combine<MAX>(v, _mm512_maskz_shuffle_f32x4(0xffff, v, v, 0x4e));  // 256-bit halves swapped
  v = combine<MAX>(v, _mm512_maskz_shuffle_f32x4(0xffff, v, v, 0xb1));  // 128-bit lanes, pairwise
  v = combine<MAX>(v, _mm512_maskz_permute_ps(0xffff, v, 0x4e));        // 64-bit halves of lanes
  v = combine<MAX>(v, _mm512_maskz_permute_ps(0xffff, v, 0xb1));        // neighbours
  return _mm512_cvtss_f32(v);
}

// Softmax of one score row (len real columns, zero up to padded, a multiple of 32) fused with
// its conversion to bf16 pairs, zero past len; returns 1/sum (applied to the output instead).
ENCORE_BF16_INLINE float softmax_to_bf16(const float* s, int len, int padded, std::uint32_t* pb) {
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  int j = 0;
  for (; j + kLanes <= len; j += kLanes) vmax = max16(vmax, _mm512_load_ps(s + j));
  if (j < len) vmax = _mm512_mask_max_ps(vmax, first_lanes(len - j), vmax, _mm512_load_ps(s + j));
  const float max = reduce16<true>(vmax);
  __m512 vsum = _mm512_setzero_ps();
  for (j = 0; j < padded; j += 2 * kLanes) {
    alignas(64) float e[2 * kLanes];
    // (the zero scores past len may exceed a negative max: clamped, then masked to 0)
    for (int t = 0; t < 2 * kLanes; ++t) e[t] = exp_nonpositive(std::min(s[j + t] - max, 0.f));
    const __m512 lo = _mm512_maskz_mov_ps(first_lanes(len - j), _mm512_load_ps(e));
    const __m512 hi =
        _mm512_maskz_mov_ps(first_lanes(len - j - kLanes), _mm512_load_ps(e + kLanes));
    vsum = _mm512_add_ps(vsum, _mm512_add_ps(lo, hi));
    _mm512_store_si512(pb + j / 2, to_bf16_pairs(lo, hi));
  }
  return 1.f / reduce16<false>(vsum);
}

ENCORE_BF16_INLINE void prefetch(const float* p, int hint) {
  if (hint == 0)
    _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
  else
    _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T1);
}

// ---- AMX path ---------------------------------------------------------------------------------
//
// The same K/V layouts are AMX-BF16 B tiles as they stand: a 16-pair x 16-key slice of kt (row
// stride `padded` words) for Q·Kᵀ, a 16-pair x 16-column slice of vt (row stride d words) for
// P·V. A tiles are 16 query rows of qb (d/2 words per row) and 16 probability rows of pb
// (padded/2 words per row). Tiles: tmm0-1 C, tmm4 A, tmm6-7 B, shaped for `rows` query rows.
#define ENCORE_AMX_BF16_TARGET \
  __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

ENCORE_AMX_BF16_TARGET void configure_amx_rows(int rows) {
  amx::TileConfig c;
  for (int t : {0, 1, 4, 6, 7}) c.colsb[t] = 64;
  c.rows[0] = c.rows[1] = c.rows[4] = static_cast<std::uint8_t>(rows);
  c.rows[6] = c.rows[7] = 16;
  _tile_loadconfig(&c);
}

// Every query row of one (sequence, head), kRowsAmx at a time, once K and V are laid out.
ENCORE_AMX_BF16_TARGET void attend_rows_amx(const float* qkv, std::int64_t ld, int len, int d,
                                            int q_col, float* ctx, std::int64_t ld_ctx, float* base,
                                            const Bf16Layout& lay, const std::uint32_t* kt,
                                            const std::uint32_t* vt, const float* rel, int window) {
  float* const scores = base + lay.scores;
  auto* const pb = reinterpret_cast<std::uint32_t*>(base + lay.pb);
  auto* const qb = reinterpret_cast<std::uint32_t*>(base + lay.qb);
  float* const out = base + lay.out;
  const int padded = static_cast<int>(pad32(static_cast<std::size_t>(len)));
  const int d2 = d / 2, pstride = padded / 2;
  int configured = -1;
  for (int i = 0; i < len; i += kRowsAmx) {
    const int rows = std::min(kRowsAmx, len - i);
    if (rows != configured) {
      configure_amx_rows(rows);
      configured = rows;
    }
    for (int r = 0; r < rows; ++r) {
      const float* q = qkv + (i + r) * ld + q_col;
      for (int c = 0; c < d; c += 2 * kLanes)
        _mm512_store_si512(qb + r * d2 + c / 2,
                           to_bf16_pairs(_mm512_loadu_ps(q + c), _mm512_loadu_ps(q + c + kLanes)));
    }
    // Scores, 32 keys at a time over d/32 steps of 16 pairs.
    for (int jb = 0; jb < padded; jb += 32) {
      _tile_zero(0);
      _tile_zero(1);
      for (int c2 = 0; c2 < d2; c2 += 16) {
        _tile_loadd(4, qb + c2, d2 * 4);
        _tile_loadd(6, kt + static_cast<std::int64_t>(c2) * padded + jb, padded * 4);
        _tile_loadd(7, kt + static_cast<std::int64_t>(c2) * padded + jb + 16, padded * 4);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
      }
      _tile_stored(0, scores + jb, padded * 4);
      _tile_stored(1, scores + jb + 16, padded * 4);
    }
    if (rel || window > 0) bias_scores(scores, padded, rows, i, len, rel, window);
    float inv[kRowsAmx];
    for (int r = 0; r < rows; ++r)
      inv[r] = softmax_to_bf16(scores + r * padded, len, padded, pb + r * pstride);
    // P·V, 32 output columns at a time over padded/32 steps of 16 key pairs.
    for (int c = 0; c < d; c += 32) {
      _tile_zero(0);
      _tile_zero(1);
      for (int p = 0; p < pstride; p += 16) {
        _tile_loadd(4, pb + p, pstride * 4);
        _tile_loadd(6, vt + static_cast<std::int64_t>(p) * d + c, d * 4);
        _tile_loadd(7, vt + static_cast<std::int64_t>(p) * d + c + 16, d * 4);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
      }
      _tile_stored(0, out, 32 * 4);
      _tile_stored(1, out + 16, 32 * 4);
      for (int r = 0; r < rows; ++r) {
        const __m512 s = _mm512_set1_ps(inv[r]);
        float* o = ctx + static_cast<std::int64_t>(i + r) * ld_ctx + c;
        _mm512_storeu_ps(o, _mm512_mul_ps(_mm512_load_ps(out + r * 32), s));
        _mm512_storeu_ps(o + 16, _mm512_mul_ps(_mm512_load_ps(out + r * 32 + 16), s));
      }
    }
  }
  // oneDNN's AMX kernels on this thread configure tiles their own way.
  _tile_release();
}

// One (sequence, head) in BF16: lays out K and V once, then kRowsBf16 query rows at a time:
// scores (bf16 dot products, fp32), softmax in fp32 to bf16 probabilities, P·V, ·1/sum.
// `base` is 64-byte aligned scratch laid out by bf16_layout.
//
// A head's rows of qkv are d floats at a 3H stride, a pattern the hardware prefetchers do not
// follow, and the products run from scratch only; so while they run, the next head of the
// same sequence (its columns start d further) is prefetched to L2 when `prefetch_next`.
// Otherwise K rows are prefetched 16 rows ahead, and V and Q rows while K is converted.
ENCORE_BF16_TARGET void attend_bf16(const float* qkv, std::int64_t ld, int len, int d, int q_col,
                                    int k_col, int v_col, float scale, float* ctx,
                                    std::int64_t ld_ctx, float* base, const Bf16Layout& lay,
                                    bool prefetch_next, const float* rel, int window, bool amx) {
  auto* const kt = reinterpret_cast<std::uint32_t*>(base + lay.kt);
  auto* const vt = reinterpret_cast<std::uint32_t*>(base + lay.vt);
  float* const scores = base + lay.scores;
  auto* const pb = reinterpret_cast<std::uint32_t*>(base + lay.pb);
  auto* const qb = reinterpret_cast<std::uint32_t*>(base + lay.qb);
  const int padded = static_cast<int>(pad32(static_cast<std::size_t>(len)));
  const int d2 = d / 2, vpairs = (len + 1) / 2;

  for (int j = 0; j < std::min(len, kLanes); ++j)
    for (int c = 0; c < d; c += kLanes) prefetch(qkv + j * ld + k_col + c, 0);
  // K, scaled, to bf16 pairs, transposed 16 keys x 16 pairs at a time.
  const __m512 vscale = _mm512_set1_ps(scale);
  for (int jb = 0; jb < padded; jb += kLanes)
    for (int cb = 0; cb < d2; cb += kLanes) {
      __m512i r[16];
      for (int t = 0; t < 16; ++t) {
        const int j = jb + t;
        if (j < len) {
          const float* row = qkv + j * ld;
          const float* k = row + k_col + 2 * cb;
          if (j + kLanes < len) {
            prefetch(k + kLanes * ld, 0);
            prefetch(k + kLanes * ld + kLanes, 0);
          }
          prefetch(row + v_col + 2 * cb, 1);
          prefetch(row + v_col + 2 * cb + kLanes, 1);
          prefetch(row + q_col + 2 * cb, 1);
          prefetch(row + q_col + 2 * cb + kLanes, 1);
          r[t] = to_bf16_pairs(_mm512_mul_ps(_mm512_loadu_ps(k), vscale),
                               _mm512_mul_ps(_mm512_loadu_ps(k + kLanes), vscale));
        } else {
          r[t] = _mm512_setzero_si512();
        }
      }
      transpose16(r);
      for (int u = 0; u < 16; ++u)
        _mm512_store_si512(kt + static_cast<std::int64_t>(cb + u) * padded + jb, r[u]);
    }

  // V: rows 2·j2 and 2·j2+1 interleaved column by column.
  const __m512i interleave =
      _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                       21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  for (int j2 = 0; j2 < vpairs; ++j2) {
    const float* v0 = qkv + (2 * j2) * ld + v_col;
    const float* v1 = v0 + ld;
    const bool second = 2 * j2 + 1 < len;
    for (int c = 0; c < d; c += kLanes) {
      const __m512 a = _mm512_loadu_ps(v0 + c);
      const __m512 b = second ? _mm512_loadu_ps(v1 + c) : _mm512_setzero_ps();
      _mm512_store_si512(vt + j2 * d + c,
                         _mm512_permutexvar_epi16(interleave, to_bf16_pairs(a, b)));
    }
  }
  // Pair rows up to padded/2 are zero: the AMX kernel multiplies whole 32-key tiles (by zero
  // probabilities, which must not meet NaN bit patterns).
  std::memset(vt + static_cast<std::int64_t>(vpairs) * d, 0,
              static_cast<std::size_t>(padded / 2 - vpairs) * static_cast<std::size_t>(d) * 4);
  if (amx) {
    attend_rows_amx(qkv, ld, len, d, q_col, ctx, ld_ctx, base, lay, kt, vt, rel, window);
    return;
  }

  for (int i = 0; i < len; i += kRowsBf16) {
    const int rows = std::min(kRowsBf16, len - i);
    for (int r = 0; r < rows; ++r) {
      const float* q = qkv + (i + r) * ld + q_col;
      for (int c = 0; c < d; c += 2 * kLanes)
        _mm512_store_si512(qb + r * d2 + c / 2,
                           to_bf16_pairs(_mm512_loadu_ps(q + c), _mm512_loadu_ps(q + c + kLanes)));
    }
    if (prefetch_next)
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < d; c += kLanes) {
          const float* row = qkv + (i + r) * ld + d + c;
          prefetch(row + q_col, 1);
          prefetch(row + k_col, 1);
          prefetch(row + v_col, 1);
        }
    kScoresRows[rows](qb, d2, kt, padded, scores);
    if (rel || window > 0) bias_scores(scores, padded, rows, i, len, rel, window);
    float inv[kRowsBf16];
    for (int r = 0; r < rows; ++r)
      inv[r] = softmax_to_bf16(scores + r * padded, len, padded, pb + r * padded / 2);
    kPvRows[rows](pb, padded / 2, vt, d, vpairs, inv, ctx + i * ld_ctx, ld_ctx);
  }
}

#endif  // ENCORE_ATTENTION_BF16

}  // namespace

bool attention_bf16_supported() {
#if ENCORE_ATTENTION_BF16
  // ENCORE_NO_BF16=1 behaves as a CPU without BF16 instructions (tests of the fallback).
  if (env_flag("ENCORE_NO_BF16")) return false;
  const CpuFeatures& f = cpu_features();
  return f.has_avx512_core() && f.avx512_bf16;
#else
  return false;
#endif
}

bool attention_amx_supported() {
  const CpuFeatures& f = cpu_features();
  return attention_bf16_supported() && f.amx_tile && f.amx_bf16;
}

namespace {

// The BF16 path over a whole ragged batch, on AVX512_BF16 dot products or on AMX tiles.
void attention_bf16_batch(const float* qkv, const std::int32_t* seq_begin, std::int32_t num_seqs,
                          AttentionShape shape, float* ctx, float* scratch, int threads,
                          const AttentionBias& bias, bool amx);

// AMX or AVX512_BF16 for head size d: timed once per CPU model on a 4 x 128-token batch
// (KernelChoices); ENCORE_ATTENTION_KERNEL=amx|avx512_bf16 forces one.
bool bf16_attention_on_amx(std::int32_t d, int threads) {
  if (!attention_amx_supported()) return false;
  const char* e = std::getenv("ENCORE_ATTENTION_KERNEL");
  const std::string forced =
      e && (std::string(e) == "amx" || std::string(e) == "avx512_bf16") ? e : "";
  const std::string winner = KernelChoices::instance().choose(
      "attention.bf16.d" + std::to_string(d), {"avx512_bf16", "amx"},
      [&](const std::string& c) {
        const std::int32_t heads = std::max(1, 768 / d), len = 128, seqs = 4;
        const AttentionShape shape{heads * d, heads};
        const auto tokens = static_cast<std::size_t>(len * seqs);
        std::vector<float> qkv(tokens * 3 * static_cast<std::size_t>(shape.hidden));
        for (std::size_t i = 0; i < qkv.size(); ++i)
          qkv[i] = 0.05f * static_cast<float>(static_cast<int>(i * 7919 % 41) - 20);
        std::vector<float> out(tokens * static_cast<std::size_t>(shape.hidden));
        std::vector<float> scratch(
            attention_scratch_floats(len, shape, threads, AttentionPrecision::BF16));
        const std::int32_t begin[] = {0, len, 2 * len, 3 * len, 4 * len};
        double best = 1e30;
        for (int run = 0; run < 4; ++run) {
          const auto t0 = std::chrono::steady_clock::now();
          attention_bf16_batch(qkv.data(), begin, seqs, shape, out.data(), scratch.data(), threads,
                               {}, c == "amx");
          const double t =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          if (run > 0) best = std::min(best, t);
        }
        return best;
      },
      forced);
  return winner == "amx";
}

}  // namespace

std::string attention_kernel_name(AttentionPrecision precision, std::int32_t head_size) {
  if (precision == AttentionPrecision::BF16 && bf16_head_size(head_size) &&
      attention_bf16_supported())
    return bf16_attention_on_amx(head_size, omp_get_max_threads())
               ? "encore bf16 (amx_bf16 tdpbf16ps, measured)"
               : "encore bf16 (avx512_bf16 vdpbf16ps)";
  // The FP32 loops are function clones: the loader picks the CPU's level.
  return "encore fp32 (" + cpu_features().isa_level() + " clone)";
}

std::size_t attention_scratch_floats(std::int32_t max_len, AttentionShape shape, int threads,
                                     AttentionPrecision precision) {
  const std::int32_t d = shape.hidden / shape.heads;
  std::size_t per_thread = per_thread_floats(max_len, d);
  if (precision == AttentionPrecision::BF16 && bf16_head_size(d))
    per_thread = std::max(per_thread, bf16_layout(max_len, d).total);
  return static_cast<std::size_t>(std::max(threads, 1)) * per_thread;
}

namespace {

void attention_bf16_batch(const float* qkv, const std::int32_t* seq_begin, std::int32_t num_seqs,
                          AttentionShape shape, float* ctx, float* scratch, int threads,
                          const AttentionBias& bias, bool amx) {
#if ENCORE_ATTENTION_BF16
  const std::int32_t H = shape.hidden, heads = shape.heads, d = H / heads;
  const float scale = 1.f / std::sqrt(static_cast<float>(d));
  std::int32_t max_len = 0;
  for (std::int32_t s = 0; s < num_seqs; ++s)
    max_len = std::max(max_len, seq_begin[s + 1] - seq_begin[s]);
  const auto rel_of = [&](std::int32_t h) -> const float* {
    return bias.relative ? bias.relative + static_cast<std::int64_t>(h) * bias.relative_stride +
                               bias.relative_center
                         : nullptr;
  };
  const Bf16Layout lay = bf16_layout(max_len, d);
  // Work items are runs of `group` heads of one sequence, each head prefetching the next:
  // about 8 items per thread or more, for balance.
  const std::int64_t pairs = static_cast<std::int64_t>(num_seqs) * heads;
  const auto group = static_cast<std::int32_t>(
      std::clamp<std::int64_t>(pairs / (8 * std::max(threads, 1)), 1, heads));
  const std::int32_t groups = (heads + group - 1) / group;
  const std::int64_t items = static_cast<std::int64_t>(num_seqs) * groups;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (items > 1)
  for (std::int64_t it = 0; it < items; ++it) {
    const auto s = static_cast<std::int32_t>(it / groups);
    const std::int32_t h0 = static_cast<std::int32_t>(it % groups) * group;
    const std::int32_t h1 = std::min(heads, h0 + group);
    const std::int32_t begin = seq_begin[s], len = seq_begin[s + 1] - begin;
    if (len == 0) continue;
    const auto raw = reinterpret_cast<std::uintptr_t>(
        scratch + static_cast<std::size_t>(omp_get_thread_num()) * lay.total);
    float* base = reinterpret_cast<float*>((raw + 63) / 64 * 64);
    for (std::int32_t h = h0; h < h1; ++h)
      attend_bf16(qkv + static_cast<std::int64_t>(begin) * 3 * H, 3 * H, len, d, h * d, H + h * d,
                  2 * H + h * d, scale, ctx + static_cast<std::int64_t>(begin) * H + h * d, H, base,
                  lay, h + 1 < h1, rel_of(h), bias.window, amx);
  }
#else
  (void)qkv, (void)seq_begin, (void)num_seqs, (void)shape, (void)ctx, (void)scratch;
  (void)threads, (void)bias, (void)amx;
  throw std::logic_error("BF16 attention is not compiled for this target");
#endif
}

}  // namespace

void self_attention(const float* qkv, const std::int32_t* seq_begin, std::int32_t num_seqs,
                    AttentionShape shape, float* ctx, float* scratch, int threads,
                    AttentionPrecision precision, const AttentionBias& bias) {
  const std::int32_t H = shape.hidden, heads = shape.heads, d = H / heads;
  const auto rel_of = [&](std::int32_t h) -> const float* {
    return bias.relative ? bias.relative + static_cast<std::int64_t>(h) * bias.relative_stride +
                               bias.relative_center
                         : nullptr;
  };
  if (d > 256) throw std::invalid_argument("attention head size above 256 is not supported");
  const float scale = 1.f / std::sqrt(static_cast<float>(d));
  std::int32_t max_len = 0;
  for (std::int32_t s = 0; s < num_seqs; ++s)
    max_len = std::max(max_len, seq_begin[s + 1] - seq_begin[s]);
  if (precision == AttentionPrecision::BF16 && bf16_head_size(d) && attention_bf16_supported()) {
    attention_bf16_batch(qkv, seq_begin, num_seqs, shape, ctx, scratch, threads, bias,
                         bf16_attention_on_amx(d, threads));
    return;
  }

  const std::size_t per_thread = per_thread_floats(max_len, d);
  const std::size_t padded = (static_cast<std::size_t>(max_len) + kLanes - 1) / kLanes * kLanes;
  const AttendFn fn = pick(d);
  const std::int64_t pairs = static_cast<std::int64_t>(num_seqs) * heads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (pairs > 1)
  for (std::int64_t p = 0; p < pairs; ++p) {
    const auto s = static_cast<std::int32_t>(p / heads), h = static_cast<std::int32_t>(p % heads);
    const std::int32_t begin = seq_begin[s], len = seq_begin[s + 1] - begin;
    if (len == 0) continue;
    float* kt = scratch + static_cast<std::size_t>(omp_get_thread_num()) * per_thread;
    float* scores = kt + padded * static_cast<std::size_t>(d);
    fn(qkv + static_cast<std::int64_t>(begin) * 3 * H, 3 * H, len, d, h * d, H + h * d,
       2 * H + h * d, scale, ctx + static_cast<std::int64_t>(begin) * H + h * d, H, kt, scores,
       rel_of(h), bias.window);
  }
}

}  // namespace encore::kernels

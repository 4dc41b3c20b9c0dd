#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <omp.h>

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
ENCORE_INLINE void scores_rows(const float* const* q, const float* kt, int d, int padded, float* scores) {
  int col = 0;
  constexpr int kWide = 4 * kLanes;  // ROWS x 4 vectors: <= 16 accumulators
  for (; col + kWide <= padded; col += kWide) scores_block<ROWS, kWide>(q, kt, d, padded, col, scores, padded);
  for (; col < padded; col += kLanes) scores_block<ROWS, kLanes>(q, kt, d, padded, col, scores, padded);
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

// out[r] = (Σ_j p[r][j]·V[j]) · inv[r] for ROWS rows at once (D fixed at compile time).
template <int ROWS, int D>
ENCORE_INLINE void pv_rows(const float* scores, int padded, const float* qkv, std::int64_t ld, int len,
                           int v_col, const float* inv, float* ctx, std::int64_t ld_ctx) {
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
                          float* kt, float* scores) {
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
    float inv[kRows];
    for (int r = 0; r < rows; ++r) inv[r] = softmax_row(scores + r * padded, len);

    float* out = ctx + i * ld_ctx;
    if constexpr (D > 0) {
      int r = 0;
      for (; r + kPvRows <= rows; r += kPvRows)
        pv_rows<kPvRows, D>(scores + r * padded, padded, qkv, ld, len, v_col, inv + r, out + r * ld_ctx, ld_ctx);
      for (; r < rows; ++r)
        pv_rows<1, D>(scores + r * padded, padded, qkv, ld, len, v_col, inv + r, out + r * ld_ctx, ld_ctx);
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
#define ENCORE_ATTEND_ENTRY(NAME, D)                                                             \
  ENCORE_SIMD_CLONES void NAME(const float* qkv, std::int64_t ld, int len, int d, int q_col,   \
                               int k_col, int v_col, float scale, float* ctx,                   \
                               std::int64_t ld_ctx, float* kt, float* scores) {                 \
    attend<D>(qkv, ld, len, d, q_col, k_col, v_col, scale, ctx, ld_ctx, kt, scores);            \
  }
ENCORE_ATTEND_ENTRY(attend_d32, 32)
ENCORE_ATTEND_ENTRY(attend_d64, 64)
ENCORE_ATTEND_ENTRY(attend_d128, 128)
ENCORE_ATTEND_ENTRY(attend_any, 0)

using AttendFn = void (*)(const float*, std::int64_t, int, int, int, int, int, float, float*,
                          std::int64_t, float*, float*);

AttendFn pick(int d) {
  switch (d) {
    case 32: return attend_d32;
    case 64: return attend_d64;
    case 128: return attend_d128;
    default: return attend_any;
  }
}

std::size_t per_thread_floats(std::int32_t max_len, std::int32_t d) {
  const std::size_t padded = (static_cast<std::size_t>(max_len) + kLanes - 1) / kLanes * kLanes;
  return padded * (static_cast<std::size_t>(d) + kRows) + 64;
}

}  // namespace

std::size_t attention_scratch_floats(std::int32_t max_len, AttentionShape shape, int threads) {
  return static_cast<std::size_t>(std::max(threads, 1)) * per_thread_floats(max_len, shape.hidden / shape.heads);
}

void self_attention(const float* qkv, const std::int32_t* seq_begin, std::int32_t num_seqs,
                    AttentionShape shape, float* ctx, float* scratch, int threads) {
  const std::int32_t H = shape.hidden, heads = shape.heads, d = H / heads;
  if (d > 256) throw std::invalid_argument("attention head size above 256 is not supported");
  const float scale = 1.f / std::sqrt(static_cast<float>(d));
  std::int32_t max_len = 0;
  for (std::int32_t s = 0; s < num_seqs; ++s) max_len = std::max(max_len, seq_begin[s + 1] - seq_begin[s]);
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
    fn(qkv + static_cast<std::int64_t>(begin) * 3 * H, 3 * H, len, d, h * d, H + h * d, 2 * H + h * d,
       scale, ctx + static_cast<std::int64_t>(begin) * H + h * d, H, kt, scores);
  }
}

}  // namespace encore::kernels

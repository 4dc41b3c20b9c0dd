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

// Scores of one query row against `cols` (a multiple of kLanes) transposed keys, BLOCK
// columns at a time so the accumulators stay in registers.
template <int BLOCK>
ENCORE_INLINE void scores_block(const float* q, const float* kt, int d, int stride, int col,
                                float* out) {
  float acc[BLOCK] = {};
  for (int c = 0; c < d; ++c) {
    const float qc = q[c];
    const float* row = kt + static_cast<std::int64_t>(c) * stride + col;
    for (int t = 0; t < BLOCK; ++t) acc[t] += qc * row[t];
  }
  for (int t = 0; t < BLOCK; ++t) out[col + t] = acc[t];
}

// One (sequence, head): softmax(q·Kᵀ·scale)·V for every query row. K is transposed (and
// zero-padded to a multiple of 16 columns) once per head; only one row of scores exists at
// a time. D > 0 fixes the head size at compile time so the output row lives in registers.
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

  constexpr int kMaxD = 256;
  float acc_runtime[D > 0 ? 1 : kMaxD];
  for (int i = 0; i < len; ++i) {
    const float* q = qkv + i * ld + q_col;
    int col = 0;
    for (; col + 4 * kLanes <= padded; col += 4 * kLanes) scores_block<4 * kLanes>(q, kt, d, padded, col, scores);
    for (; col < padded; col += kLanes) scores_block<kLanes>(q, kt, d, padded, col, scores);

    // Softmax over the real columns, with 16 partial maxima / sums (vectorizable reductions).
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
    const float inv = 1.f / sum;

    float* out = ctx + i * ld_ctx;
    if constexpr (D > 0) {
      float acc[D] = {};
      for (int jj = 0; jj < len; ++jj) {
        const float p = scores[jj];
        const float* v = qkv + jj * ld + v_col;
        for (int c = 0; c < D; ++c) acc[c] += p * v[c];
      }
      for (int c = 0; c < D; ++c) out[c] = acc[c] * inv;
    } else {
      float* acc = acc_runtime;
      for (int c = 0; c < d; ++c) acc[c] = 0.f;
      for (int jj = 0; jj < len; ++jj) {
        const float p = scores[jj];
        const float* v = qkv + jj * ld + v_col;
        for (int c = 0; c < d; ++c) acc[c] += p * v[c];
      }
      for (int c = 0; c < d; ++c) out[c] = acc[c] * inv;
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
  return padded * (static_cast<std::size_t>(d) + 1) + 64;
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

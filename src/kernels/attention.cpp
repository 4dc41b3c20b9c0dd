#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <omp.h>

#include "kernels/simd.hpp"

namespace encore::kernels {
namespace {

// One (sequence, head) pair: scores for one query row at a time, so only S floats of
// scores live at once; K is transposed first so both products stream contiguous memory.
ENCORE_SIMD_CLONES
void attend_head(const float* qkv, std::int64_t ld, std::int32_t len, std::int32_t d,
                 std::int32_t q_col, std::int32_t k_col, std::int32_t v_col, float scale,
                 float* ctx, std::int64_t ld_ctx, float* kt, float* scores) {
  for (std::int32_t j = 0; j < len; ++j) {
    const float* k = qkv + j * ld + k_col;
    for (std::int32_t c = 0; c < d; ++c) kt[c * len + j] = k[c];
  }
  for (std::int32_t i = 0; i < len; ++i) {
    const float* q = qkv + i * ld + q_col;
    for (std::int32_t j = 0; j < len; ++j) scores[j] = 0.f;
    for (std::int32_t c = 0; c < d; ++c) {
      const float qc = q[c] * scale;
      const float* row = kt + c * len;
      for (std::int32_t j = 0; j < len; ++j) scores[j] += qc * row[j];
    }
    float max = scores[0];
    for (std::int32_t j = 1; j < len; ++j) max = std::max(max, scores[j]);
    float sum = 0.f;
    for (std::int32_t j = 0; j < len; ++j) {
      scores[j] = std::exp(scores[j] - max);
      sum += scores[j];
    }
    const float inv = 1.f / sum;
    float* out = ctx + i * ld_ctx;
    for (std::int32_t c = 0; c < d; ++c) out[c] = 0.f;
    for (std::int32_t j = 0; j < len; ++j) {
      const float p = scores[j] * inv;
      const float* v = qkv + j * ld + v_col;
      for (std::int32_t c = 0; c < d; ++c) out[c] += p * v[c];
    }
  }
}

}  // namespace

std::size_t attention_scratch_floats(std::int32_t max_len, AttentionShape shape, int threads) {
  const std::int32_t d = shape.hidden / shape.heads;
  return static_cast<std::size_t>(std::max(threads, 1)) *
         (static_cast<std::size_t>(max_len) * (d + 1) + 16);
}

void self_attention(const float* qkv, const std::int32_t* seq_begin, std::int32_t num_seqs,
                    AttentionShape shape, float* ctx, float* scratch, int threads) {
  const std::int32_t H = shape.hidden, heads = shape.heads, d = H / heads;
  const float scale = 1.f / std::sqrt(static_cast<float>(d));
  std::int32_t max_len = 0;
  for (std::int32_t s = 0; s < num_seqs; ++s)
    max_len = std::max(max_len, seq_begin[s + 1] - seq_begin[s]);
  const std::size_t per_thread = static_cast<std::size_t>(max_len) * (d + 1) + 16;
  const std::int64_t pairs = static_cast<std::int64_t>(num_seqs) * heads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (pairs > 1)
  for (std::int64_t p = 0; p < pairs; ++p) {
    const auto s = static_cast<std::int32_t>(p / heads), h = static_cast<std::int32_t>(p % heads);
    const std::int32_t begin = seq_begin[s], len = seq_begin[s + 1] - begin;
    if (len == 0) continue;
    const int t = omp_get_thread_num();
    float* kt = scratch + static_cast<std::size_t>(t) * per_thread;
    float* scores = kt + static_cast<std::size_t>(max_len) * d;
    attend_head(qkv + static_cast<std::int64_t>(begin) * 3 * H, 3 * H, len, d, h * d, H + h * d,
                2 * H + h * d, scale, ctx + static_cast<std::int64_t>(begin) * H + h * d, H, kt,
                scores);
  }
}

}  // namespace encore::kernels

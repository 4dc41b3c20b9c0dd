#include "kernels/disentangled_attention.hpp"

#include <algorithm>
#include <cmath>

#include <omp.h>

#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"

namespace encore::kernels {
namespace {

constexpr int kLanes = 16;

// Sixteen partial sums, so that the loop vectorizes without reassociation flags.
inline __attribute__((always_inline)) float dot(const float* a, const float* b, int n) {
  float part[kLanes] = {};
  int c = 0;
  for (; c + kLanes <= n; c += kLanes)
    for (int t = 0; t < kLanes; ++t) part[t] += a[c + t] * b[c + t];
  float s = 0.f;
  for (; c < n; ++c) s += a[c] * b[c];
  for (int t = 0; t < kLanes; ++t) s += part[t];
  return s;
}

// One (sequence, head): scores row by row, softmax, P·V.
ENCORE_SIMD_CLONES
void attend_disentangled(const float* qkv, std::int64_t ld, int len, int d, int h, int H,
                         const DisentangledTerms& t, float* ctx, std::int64_t ld_ctx,
                         float* scores) {
  const float* pk = t.pos_key ? t.pos_key + h * d : nullptr;
  const float* pq = t.pos_query ? t.pos_query + h * d : nullptr;
  for (int i = 0; i < len; ++i) {
    const float* q = qkv + i * ld + h * d;
    float max = -INFINITY;
    for (int j = 0; j < len; ++j) {
      const float* k = qkv + j * ld + H + h * d;
      const std::int64_t r = t.rel_index[t.center + i - j];
      float s = dot(q, k, d);
      if (pk) s += dot(q, pk + r * H, d);
      if (pq) s += dot(k, pq + r * H, d);
      s *= t.scale;
      scores[j] = s;
      max = std::max(max, s);
    }
    float sum = 0.f;
    for (int j = 0; j < len; ++j) {
      const float e = exp_nonpositive(scores[j] - max);
      scores[j] = e;
      sum += e;
    }
    float* out = ctx + i * ld_ctx;
    for (int c = 0; c < d; ++c) out[c] = 0.f;
    for (int j = 0; j < len; ++j) {
      const float* v = qkv + j * ld + 2 * H + h * d;
      const float p = scores[j];
      for (int c = 0; c < d; ++c) out[c] += p * v[c];
    }
    const float inv = 1.f / sum;
    for (int c = 0; c < d; ++c) out[c] *= inv;
  }
}

}  // namespace

std::size_t disentangled_scratch_floats(std::int32_t max_len, AttentionShape, int threads) {
  return static_cast<std::size_t>(std::max(threads, 1)) * (static_cast<std::size_t>(max_len) + 16);
}

void disentangled_attention(const float* qkv, const std::int32_t* seq_begin, std::int32_t num_seqs,
                            AttentionShape shape, const DisentangledTerms& terms, float* ctx,
                            float* scratch, int threads) {
  const std::int32_t H = shape.hidden, heads = shape.heads, d = H / heads;
  std::int32_t max_len = 0;
  for (std::int32_t s = 0; s < num_seqs; ++s)
    max_len = std::max(max_len, seq_begin[s + 1] - seq_begin[s]);
  const std::size_t per_thread = static_cast<std::size_t>(max_len) + 16;
  const std::int64_t pairs = static_cast<std::int64_t>(num_seqs) * heads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (pairs > 1)
  for (std::int64_t p = 0; p < pairs; ++p) {
    const auto s = static_cast<std::int32_t>(p / heads), h = static_cast<std::int32_t>(p % heads);
    const std::int32_t begin = seq_begin[s], len = seq_begin[s + 1] - begin;
    if (len == 0) continue;
    float* scores = scratch + static_cast<std::size_t>(omp_get_thread_num()) * per_thread;
    attend_disentangled(qkv + static_cast<std::int64_t>(begin) * 3 * H, 3 * H, len, d, h, H, terms,
                        ctx + static_cast<std::int64_t>(begin) * H + h * d, H, scores);
  }
}

std::int32_t deberta_log_bucket(std::int32_t relative, std::int32_t bucket_size,
                                std::int32_t max_position) {
  const std::int32_t mid = bucket_size / 2;
  const std::int32_t abs_pos = relative < mid && relative > -mid ? mid - 1 : std::abs(relative);
  if (abs_pos <= mid) return relative;
  const float log_pos =
      std::ceil(std::log(static_cast<float>(abs_pos) / static_cast<float>(mid)) /
                std::log(static_cast<float>(static_cast<double>(max_position - 1) / mid)) *
                static_cast<float>(mid - 1)) +
      static_cast<float>(mid);
  const std::int32_t sign = relative > 0 ? 1 : -1;
  return static_cast<std::int32_t>(log_pos) * sign;
}

}  // namespace encore::kernels

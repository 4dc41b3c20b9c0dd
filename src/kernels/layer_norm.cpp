#include "kernels/layer_norm.hpp"

#include <algorithm>

#include <cmath>

#include "kernels/simd.hpp"

namespace encore::kernels {
namespace {

// Sums over 16 interleaved partial accumulators: a plain `sum += v` is a serial dependency
// chain the compiler may not reorder (no -ffast-math), which left LayerNorm scalar.
constexpr int kParts = 16;

ENCORE_SIMD_CLONES
void add_layer_norm_row(const float* x, const float* residual, const float* gamma,
                        const float* beta, float eps, std::int64_t cols, float* out) {
  float part[kParts] = {};
  const std::int64_t body = cols / kParts * kParts;
  if (residual) {
    for (std::int64_t c = 0; c < cols; ++c) out[c] = x[c] + residual[c];
  } else if (out != x) {
    for (std::int64_t c = 0; c < cols; ++c) out[c] = x[c];
  }
  for (std::int64_t c = 0; c < body; c += kParts)
    for (int t = 0; t < kParts; ++t) part[t] += out[c + t];
  float sum = 0.f;
  for (int t = 0; t < kParts; ++t) sum += part[t];
  for (std::int64_t c = body; c < cols; ++c) sum += out[c];
  const float mean = sum / static_cast<float>(cols);
  // Two passes: no cancellation for large means.
  for (int t = 0; t < kParts; ++t) part[t] = 0.f;
  for (std::int64_t c = 0; c < body; c += kParts)
    for (int t = 0; t < kParts; ++t) {
      const float d = out[c + t] - mean;
      part[t] += d * d;
    }
  float var = 0.f;
  for (int t = 0; t < kParts; ++t) var += part[t];
  for (std::int64_t c = body; c < cols; ++c) {
    const float d = out[c] - mean;
    var += d * d;
  }
  const float inv = 1.f / std::sqrt(var / static_cast<float>(cols) + eps);
  for (std::int64_t c = 0; c < cols; ++c) out[c] = (out[c] - mean) * inv * gamma[c] + beta[c];
}

ENCORE_SIMD_CLONES
void add_span(float* x, const float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

void add_inplace(float* x, const float* y, std::int64_t n) {
  constexpr std::int64_t kChunk = 16384;
  const std::int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (std::int64_t c = 0; c < chunks; ++c)
    add_span(x + c * kChunk, y + c * kChunk, std::min(kChunk, n - c * kChunk));
}

void add_layer_norm(const float* x, const float* residual, const float* gamma, const float* beta,
                    float eps, std::int64_t rows, std::int64_t cols, float* out) {
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
  for (std::int64_t r = 0; r < rows; ++r) {
    add_layer_norm_row(x + r * cols, residual ? residual + r * cols : nullptr, gamma, beta, eps,
                       cols, out + r * cols);
  }
}

}  // namespace encore::kernels

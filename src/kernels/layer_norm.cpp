#include "kernels/layer_norm.hpp"

#include <cmath>

#include "kernels/simd.hpp"

namespace encore::kernels {
namespace {

ENCORE_SIMD_CLONES
void add_layer_norm_row(const float* x, const float* residual, const float* gamma,
                        const float* beta, float eps, std::int64_t cols, float* out) {
  float sum = 0.f;
  if (residual) {
    for (std::int64_t c = 0; c < cols; ++c) {
      out[c] = x[c] + residual[c];
      sum += out[c];
    }
  } else {
    for (std::int64_t c = 0; c < cols; ++c) {
      out[c] = x[c];
      sum += out[c];
    }
  }
  const float mean = sum / static_cast<float>(cols);
  float var = 0.f;  // two passes: no cancellation for large means
  for (std::int64_t c = 0; c < cols; ++c) {
    const float d = out[c] - mean;
    var += d * d;
  }
  const float inv = 1.f / std::sqrt(var / static_cast<float>(cols) + eps);
  for (std::int64_t c = 0; c < cols; ++c) out[c] = (out[c] - mean) * inv * gamma[c] + beta[c];
}

}  // namespace

void add_layer_norm(const float* x, const float* residual, const float* gamma, const float* beta,
                    float eps, std::int64_t rows, std::int64_t cols, float* out) {
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
  for (std::int64_t r = 0; r < rows; ++r) {
    add_layer_norm_row(x + r * cols, residual ? residual + r * cols : nullptr, gamma, beta, eps,
                       cols, out + r * cols);
  }
}

}  // namespace encore::kernels

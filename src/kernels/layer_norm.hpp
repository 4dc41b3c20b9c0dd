#pragma once

#include <cstdint>

namespace encore::kernels {

// out[r] = LayerNorm(x[r] + residual[r]) * gamma + beta over `cols` features, for each row.
// `residual` may be null; `out` may alias `x` or `residual`.
void add_layer_norm(const float* x, const float* residual, const float* gamma, const float* beta,
                    float eps, std::int64_t rows, std::int64_t cols, float* out);

// x[i] += y[i] for n floats: the residual of pre-LN layers.
void add_inplace(float* x, const float* y, std::int64_t n);

}  // namespace encore::kernels

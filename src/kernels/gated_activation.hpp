// Activations outside a GEMM's epilogue. Gated feed-forward activations (GeGLU, SwiGLU): the
// up-projection produces a value half and a gate half per row, and the FFN continues with
// act(value) * gate.
#pragma once

#include <cstdint>

#include "kernels/activation.hpp"

namespace encore::kernels {

// out[r][c] = act(in[r][c]) * in[r][width + c] for in [rows, 2*width], out [rows, width].
void gated_activation(const float* in, std::int64_t rows, std::int64_t width, Activation act,
                      float* out);

// x[i] = act(x[i]) for n floats (activations outside a GEMM, e.g. after DeBERTa's conv).
void activation_inplace(float* x, std::int64_t n, Activation act);

}  // namespace encore::kernels

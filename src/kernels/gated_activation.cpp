#include "kernels/gated_activation.hpp"

#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"

namespace encore::kernels {
namespace {

ENCORE_SIMD_CLONES
void gate_row(const float* value, const float* gate, std::int64_t n, Activation act, float* out) {
  with_activation(
      act, [&](auto a) __attribute__((always_inline)) {
        constexpr Activation A = decltype(a)::value;
        for (std::int64_t c = 0; c < n; ++c) out[c] = activate<A>(value[c]) * gate[c];
      });
}

}  // namespace

void gated_activation(const float* in, std::int64_t rows, std::int64_t width, Activation act,
                      float* out) {
#pragma omp parallel for schedule(static) if (rows * width > 32768)
  for (std::int64_t r = 0; r < rows; ++r)
    gate_row(in + r * 2 * width, in + r * 2 * width + width, width, act, out + r * width);
}

}  // namespace encore::kernels

#include "kernels/gated_activation.hpp"

#include <algorithm>

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

ENCORE_SIMD_CLONES
void activate_span(float* x, std::int64_t n, Activation act) {
  with_activation(act, [&](auto a) __attribute__((always_inline)) {
    constexpr Activation A = decltype(a)::value;
    for (std::int64_t c = 0; c < n; ++c) x[c] = activate<A>(x[c]);
  });
}

}  // namespace

void activation_inplace(float* x, std::int64_t n, Activation act) {
  constexpr std::int64_t kChunk = 16384;
  const std::int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (std::int64_t c = 0; c < chunks; ++c)
    activate_span(x + c * kChunk, std::min(kChunk, n - c * kChunk), act);
}

void gated_activation(const float* in, std::int64_t rows, std::int64_t width, Activation act,
                      float* out) {
#pragma omp parallel for schedule(static) if (rows * width > 32768)
  for (std::int64_t r = 0; r < rows; ++r)
    gate_row(in + r * 2 * width, in + r * 2 * width + width, width, act, out + r * width);
}

}  // namespace encore::kernels

#include "kernels/rotary.hpp"

#include <cmath>

#include "kernels/simd.hpp"

namespace encore::kernels {
namespace {

ENCORE_SIMD_CLONES
void rotate(float* x, const float* cos, const float* sin, std::int32_t half) {
  float* hi = x + half;
  for (std::int32_t c = 0; c < half; ++c) {
    const float a = x[c], b = hi[c];
    x[c] = a * cos[c] - b * sin[c];
    hi[c] = b * cos[c] + a * sin[c];
  }
}

}  // namespace

RotaryTable RotaryTable::make(double base, std::int32_t head_dim, std::int32_t positions) {
  RotaryTable t;
  t.head_dim = head_dim;
  const std::int32_t half = head_dim / 2;
  std::vector<float> inv(static_cast<std::size_t>(half));
  for (std::int32_t c = 0; c < half; ++c)
    inv[static_cast<std::size_t>(c)] =
        1.0f / std::pow(static_cast<float>(base),
                        static_cast<float>(2 * c) / static_cast<float>(head_dim));
  t.cos.resize(static_cast<std::size_t>(positions) * static_cast<std::size_t>(half));
  t.sin.resize(t.cos.size());
  for (std::int32_t p = 0; p < positions; ++p)
    for (std::int32_t c = 0; c < half; ++c) {
      const float angle = inv[static_cast<std::size_t>(c)] * static_cast<float>(p);
      const std::size_t at = static_cast<std::size_t>(p) * static_cast<std::size_t>(half) +
                             static_cast<std::size_t>(c);
      t.cos[at] = std::cos(angle);
      t.sin[at] = std::sin(angle);
    }
  return t;
}

void apply_rotary(float* qkv, const std::int32_t* positions, std::int64_t tokens,
                  std::int32_t hidden, std::int32_t heads, const RotaryTable& table) {
  const std::int32_t d = hidden / heads, half = d / 2;
#pragma omp parallel for schedule(static) if (tokens * hidden > 32768)
  for (std::int64_t t = 0; t < tokens; ++t) {
    const std::size_t at = static_cast<std::size_t>(positions[t]) * static_cast<std::size_t>(half);
    float* row = qkv + t * 3 * hidden;
    for (std::int32_t part = 0; part < 2; ++part)  // Q, then K
      for (std::int32_t h = 0; h < heads; ++h)
        rotate(row + part * hidden + h * d, table.cos.data() + at, table.sin.data() + at, half);
  }
}

}  // namespace encore::kernels

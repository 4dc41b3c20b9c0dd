#include "kernels/quantize.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"

namespace encore::kernels {
namespace {

// Floor for computed scales: keeps 1/scale finite (and x·(1/scale) free of inf·0) for rows whose
// range is denormal-sized.
constexpr float kMinScale = 1e-30f;

// Round to nearest, ties to even, for |v| < 2^22: adding 1.5·2^23 leaves no fraction bits.
// Plain adds (no libm call), so loops using it vectorize. Needs IEEE semantics (no -ffast-math).
inline __attribute__((always_inline)) float round_even(float v) {
  return (v + 12582912.0f) - 12582912.0f;
}

// Scale and zero point for a range that already contains 0.
U8Params params_for(float lo, float hi) {
  if (!(hi > lo)) return {1.f, 0};
  const float scale = std::max((hi - lo) / 255.f, kMinScale);
  const float zp = std::clamp(std::nearbyint(-lo / scale), 0.f, 255.f);
  return {scale, static_cast<std::int32_t>(zp)};
}

// q = clamp(round(x·inv) + zp, 0, 255). zp is an integer, so it is added before rounding.
// After adding 1.5·2^23 the float's low mantissa bits are round(v) (for |v| < 2^22), and the
// bit pattern is monotonic in v (so values far outside, even ±Inf, still clamp to 0 / 255):
// the clamp is an integer clamp on the pattern, with no float select (see vec_math.hpp) and
// no float-to-int conversion that could overflow.
inline __attribute__((always_inline)) void quantize_span(const float* x, std::int64_t cols,
                                                         float inv, float zp, std::uint8_t* out) {
  constexpr std::int32_t lo = std::bit_cast<std::int32_t>(12582912.0f), hi = lo + 255;
  for (std::int64_t c = 0; c < cols; ++c) {
    std::int32_t b = std::bit_cast<std::int32_t>((x[c] * inv + zp) + 12582912.0f);
    b = b < lo ? lo : b;
    b = b > hi ? hi : b;
    out[c] = static_cast<std::uint8_t>(b - lo);
  }
}

ENCORE_SIMD_CLONES
void bf16_row(const float* x, std::int64_t cols, std::uint16_t* out) {
  for (std::int64_t c = 0; c < cols; ++c) {
    const std::uint32_t b = std::bit_cast<std::uint32_t>(x[c]);
    // Adding 0x7FFF plus the lowest kept bit rounds to nearest even on the bit pattern.
    const std::uint32_t rounded = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
    // A NaN could round into Inf (or wrap the sign): keep its top bits and force it quiet.
    const std::uint32_t nan = (b >> 16) | 0x40u;
    out[c] = static_cast<std::uint16_t>((b & 0x7FFFFFFFu) > 0x7F800000u ? nan : rounded);
  }
}

ENCORE_SIMD_CLONES
void quantize_row_dynamic(const float* x, std::int64_t cols, std::uint8_t* out, float* scale,
                          std::int32_t* zero_point) {
  // max(0, max x) and max(0, max -x) as integer max reductions over the bit patterns
  // (non-negative floats order like their patterns, negative ones are negative int32): these
  // vectorize on every target, a float min/max reduction would not (NaN semantics). Starting
  // at 0 puts 0 in the range, so zero is exactly representable.
  std::int32_t hi_bits = 0, neg_lo_bits = 0;
  for (std::int64_t c = 0; c < cols; ++c) {
    const auto b = std::bit_cast<std::int32_t>(x[c]);
    hi_bits = std::max(hi_bits, b);
    neg_lo_bits = std::max(neg_lo_bits, b ^ INT32_MIN);  // the pattern of -x[c]
  }
  const float lo = -std::bit_cast<float>(neg_lo_bits), hi = std::bit_cast<float>(hi_bits);
  const U8Params p = params_for(lo, hi);
  *scale = p.scale;
  *zero_point = p.zero_point;
  quantize_span(x, cols, 1.f / p.scale, static_cast<float>(p.zero_point), out);
}

// quantize_span and quantize_row_dynamic for x·col_scale (smoothed inputs); the product is
// formed the same way in both loops, so the range and the quantized values agree.
inline __attribute__((always_inline)) void quantize_span_scaled(const float* x, const float* cs,
                                                                std::int64_t cols, float inv,
                                                                float zp, std::uint8_t* out) {
  constexpr std::int32_t lo = std::bit_cast<std::int32_t>(12582912.0f), hi = lo + 255;
  for (std::int64_t c = 0; c < cols; ++c) {
    std::int32_t b = std::bit_cast<std::int32_t>(((x[c] * cs[c]) * inv + zp) + 12582912.0f);
    b = b < lo ? lo : b;
    b = b > hi ? hi : b;
    out[c] = static_cast<std::uint8_t>(b - lo);
  }
}

ENCORE_SIMD_CLONES
void quantize_row_dynamic_scaled(const float* x, const float* cs, std::int64_t cols,
                                 std::uint8_t* out, float* scale, std::int32_t* zero_point) {
  std::int32_t hi_bits = 0, neg_lo_bits = 0;
  for (std::int64_t c = 0; c < cols; ++c) {
    const auto b = std::bit_cast<std::int32_t>(x[c] * cs[c]);
    hi_bits = std::max(hi_bits, b);
    neg_lo_bits = std::max(neg_lo_bits, b ^ INT32_MIN);
  }
  const float lo = -std::bit_cast<float>(neg_lo_bits), hi = std::bit_cast<float>(hi_bits);
  const U8Params p = params_for(lo, hi);
  *scale = p.scale;
  *zero_point = p.zero_point;
  quantize_span_scaled(x, cs, cols, 1.f / p.scale, static_cast<float>(p.zero_point), out);
}

ENCORE_SIMD_CLONES
void quantize_row_static_scaled(const float* x, const float* cs, std::int64_t cols, float inv,
                                float zp, std::uint8_t* out) {
  quantize_span_scaled(x, cs, cols, inv, zp, out);
}

ENCORE_SIMD_CLONES
void quantize_row_static(const float* x, std::int64_t cols, float inv, float zp,
                         std::uint8_t* out) {
  quantize_span(x, cols, inv, zp, out);
}

ENCORE_SIMD_CLONES
void quantize_weight_row(const float* w, std::int64_t in, const float* given, bool reduced_range,
                         std::int8_t* q, float* scale, std::int32_t* col_sum) {
  float s;
  if (given) {
    s = *given;
  } else {
    std::int32_t amax_bits = 0;  // max |w| as an integer max over the patterns, as above
    for (std::int64_t i = 0; i < in; ++i)
      amax_bits = std::max(amax_bits, std::bit_cast<std::int32_t>(w[i]) & INT32_MAX);
    const float amax = std::bit_cast<float>(amax_bits);
    s = amax > 0.f ? std::max(amax / 127.f, kMinScale) : 1.f;
  }
  const float inv = 1.f / s;
  std::int32_t sum = 0;
  for (std::int64_t i = 0; i < in; ++i) {
    const float v = w[i] * inv;
    // Clamp and round |v|, then put the sign back: no float select (see vec_math.hpp).
    float mag = round_even(min_nonneg(std::fabs(v), 127.f));
    // Halving the 8-bit level (exact in float) keeps a 7-bit weight a function of the 8-bit
    // one, so a plan's stored weights give the same 7-bit weights as the float model.
    if (reduced_range) mag = round_even(mag * 0.5f);
    const auto qi = static_cast<std::int32_t>(std::copysign(mag, v));
    q[i] = static_cast<std::int8_t>(qi);
    sum += qi;
  }
  *scale = reduced_range ? 2.f * s : s;  // after reading *given: the two may alias
  *col_sum = sum;
}

// acc - zp·col_sum is formed in int32 (exact; |value| < 2^31 for in < 66000) and converted
// once, so the zero-point correction adds no rounding of its own.
template <Activation A>
inline __attribute__((always_inline)) void epilogue_span(float* y, std::int64_t cols, float rs,
                                                         std::int32_t zp,
                                                         const std::int32_t* col_sum,
                                                         const float* w_scale, const float* bias) {
  if (bias) {
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int32_t acc = std::bit_cast<std::int32_t>(y[c]) - zp * col_sum[c];
      y[c] = activate<A>(static_cast<float>(acc) * (rs * w_scale[c]) + bias[c]);
    }
  } else {
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int32_t acc = std::bit_cast<std::int32_t>(y[c]) - zp * col_sum[c];
      y[c] = activate<A>(static_cast<float>(acc) * (rs * w_scale[c]));
    }
  }
}

// One row; the activation is dispatched once per row, each case is its own vectorized loop.
ENCORE_SIMD_CLONES
void epilogue_row(float* y, std::int64_t cols, float rs, std::int32_t zp,
                  const std::int32_t* col_sum, const float* w_scale, const float* bias,
                  Activation act) {
  with_activation(
      act, [&](auto a) __attribute__((always_inline)) {
        epilogue_span<decltype(a)::value>(y, cols, rs, zp, col_sum, w_scale, bias);
      });
}

}  // namespace

void convert_to_bf16(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                     std::uint16_t* out, std::int64_t out_ld) {
  if (out_ld == 0) out_ld = cols;
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
  for (std::int64_t r = 0; r < rows; ++r) {
    bf16_row(x + r * ld, cols, out + r * out_ld);
    std::fill(out + r * out_ld + cols, out + (r + 1) * out_ld, std::uint16_t{0});
  }
}

void quantize_rows_u8(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                      std::uint8_t* out, float* scale, std::int32_t* zero_point,
                      std::int64_t out_ld, const float* col_scale) {
  if (out_ld == 0) out_ld = cols;
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
  for (std::int64_t r = 0; r < rows; ++r) {
    if (col_scale)
      quantize_row_dynamic_scaled(x + r * ld, col_scale, cols, out + r * out_ld, scale + r,
                                  zero_point + r);
    else
      quantize_row_dynamic(x + r * ld, cols, out + r * out_ld, scale + r, zero_point + r);
    std::fill(out + r * out_ld + cols, out + (r + 1) * out_ld, std::uint8_t{0});
  }
}

void quantize_u8(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float scale,
                 std::int32_t zero_point, std::uint8_t* out, std::int64_t out_ld,
                 const float* col_scale) {
  if (out_ld == 0) out_ld = cols;
  const float inv = 1.f / scale, zp = static_cast<float>(zero_point);
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
  for (std::int64_t r = 0; r < rows; ++r) {
    if (col_scale)
      quantize_row_static_scaled(x + r * ld, col_scale, cols, inv, zp, out + r * out_ld);
    else
      quantize_row_static(x + r * ld, cols, inv, zp, out + r * out_ld);
    std::fill(out + r * out_ld + cols, out + (r + 1) * out_ld, std::uint8_t{0});
  }
}

void scale_weight_columns(float* w, std::int64_t rows, std::int64_t cols, const float* s) {
  for (std::int64_t o = 0; o < rows; ++o)
    for (std::int64_t j = 0; j < cols; ++j) w[o * cols + j] *= s[j];
}

U8Params u8_params(float lo, float hi) {
  return params_for(std::min(lo, 0.f), std::max(hi, 0.f));
}

void quantize_weights_s8(const float* w, std::int64_t out, std::int64_t in,
                         const float* given_scale, std::int8_t* q, float* scale,
                         std::int32_t* col_sum, bool reduced_range) {
#pragma omp parallel for schedule(static) if (out * in > 32768)
  for (std::int64_t o = 0; o < out; ++o)
    quantize_weight_row(w + o * in, in, given_scale ? given_scale + o : nullptr, reduced_range,
                        q + o * in, scale + o, col_sum + o);
}

void dequantize_epilogue(float* y, std::int64_t rows, std::int64_t cols, std::int64_t ldy,
                         const float* row_scale, const std::int32_t* zero_point, bool per_row,
                         const std::int32_t* col_sum, const float* w_scale, const float* bias,
                         Activation act) {
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t i = per_row ? r : 0;
    epilogue_row(y + r * ldy, cols, row_scale[i], zero_point[i], col_sum, w_scale, bias, act);
  }
}

}  // namespace encore::kernels

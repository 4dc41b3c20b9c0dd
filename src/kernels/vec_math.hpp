// Elementwise math for the kernels' inner loops, in plain arithmetic without branches: GCC
// vectorizes a loop that calls these, on every target_clones target (a std::exp / std::erf /
// std::tanh call would be one scalar libm call per element).
//
// Accuracy against double precision (tests/kernels/test_quantize.cpp): exp_nonpositive 2.5e-7
// relative; erf_approx 9e-8 absolute; gelu_erf, gelu_tanh, silu, tanh_approx <= 1.6e-7 relative
// to max(1, |f(x)|). Inputs are assumed finite (infinities are handled, NaN is not promised).
#pragma once

#include <bit>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/activation.hpp"

namespace encore::kernels {

// Branch-free building blocks. A plain `c ? a : b` becomes a branch in GIMPLE; GCC then
// sinks the work for a and b into the two arms (or folds a constant arm into what follows),
// and with trapping math (the default) it can turn that back into straight-line vector code
// only with AVX-512 mask registers: the AVX2 and baseline clones would stay scalar. Integer
// min/max and bitwise blends are no branch, so every clone vectorizes.

// c ? a : b on the bit patterns.
inline __attribute__((always_inline)) float blend(bool c, float a, float b) {
  const std::int32_t m = -static_cast<std::int32_t>(c);
  return std::bit_cast<float>((std::bit_cast<std::int32_t>(a) & m) |
                              (std::bit_cast<std::int32_t>(b) & ~m));
}

// min(a, b) for a, b >= +0: non-negative floats order like their bit patterns.
inline __attribute__((always_inline)) float min_nonneg(float a, float b) {
  const auto ia = std::bit_cast<std::int32_t>(a), ib = std::bit_cast<std::int32_t>(b);
  return std::bit_cast<float>(ia < ib ? ia : ib);
}

// exp(x) for x <= 0 (softmax scores minus their max, and -|y| below). Range reduction
// x = n·ln2 + r, degree-6 polynomial on |r| <= ln2/2 (relative error ~2e-7), 2^n built in the
// exponent bits. Clamped at -87 so 2^n stays a normal float (exp(-87) ~ 1.6e-38). Same as
// attention.cpp's copy except that the clamp is done on the bit pattern (same results).
inline __attribute__((always_inline)) float exp_nonpositive(float x) {
  // max(x, -87) for every non-NaN x: as unsigned, +0 and positives sit below every negative
  // pattern, and negative patterns grow with the magnitude.
  const auto bits_x = std::bit_cast<std::uint32_t>(x), bits_min = std::bit_cast<std::uint32_t>(-87.0f);
  x = std::bit_cast<float>(bits_x < bits_min ? bits_x : bits_min);
  const float t = x * 1.44269504088896341f;
  const float n = (t + 12582912.0f) - 12582912.0f;  // round to nearest (|t| < 2^22)
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// erf is split at |z| = 0.927734375 as in N. Juffa's faithfully-rounded erff
// (stackoverflow.com/a/35148199): below, z·(1 + P(z²)); above, 1 - exp(Q(|z|)) where
// exp(Q(t)) ~ erfc(t). Both halves are computed and one is selected, so the loop stays
// branch-free. Coefficients are Juffa's (fitted with FMA; without it the error grows slightly).
constexpr float kErfSplit = 0.927734375f;

// z + z·P(z²): erf(z) for |z| <= kErfSplit.
inline __attribute__((always_inline)) float erf_small(float z) {
  const float s = z * z;
  float r = -5.96761703e-4f;
  r = r * s + 4.99119423e-3f;
  r = r * s - 2.67681349e-2f;
  r = r * s + 1.12819925e-1f;
  r = r * s - 3.76125336e-1f;
  r = r * s + 1.28379166e-1f;
  return r * z + z;
}

// exp(Q(t)) ~ erfc(t) for t >= kErfSplit, so erf(t) = 1 - erfc_large(t).
inline __attribute__((always_inline)) float erfc_large(float t) {
  const float s = t * t;
  float r = -1.72853470e-5f * t + 3.83197126e-4f;
  const float u = -3.88396438e-3f * t + 2.42546219e-2f;
  r = r * s + u;
  r = r * t - 1.06777877e-1f;
  r = r * t - 6.34846687e-1f;
  r = r * t - 1.28717512e-1f;
  r = r * t - t;
  return exp_nonpositive(r);
}

// erf(z), max abs error ~1e-7 (see the test for the measured value).
inline __attribute__((always_inline)) float erf_approx(float z) {
  // erf(4) rounds to 1 in float; capping t also keeps t·t finite.
  const float t = min_nonneg(std::fabs(z), 4.0f);
  const float large = 1.0f - erfc_large(t);
  const float small = erf_small(z);
  return blend(t > kErfSplit, std::copysign(large, z), small);
}

// 0.5·x·(1 + erf(x/√2)), the exact GELU. For z = x/√2 < -kErfSplit, 1 + erf(z) = erfc(|z|) is
// taken directly from the exp, not as 1 - (1 - e): no cancellation, so the small negative
// tail keeps its relative accuracy.
inline __attribute__((always_inline)) float gelu_erf(float x) {
  const float z = x * 0.70710678118654752f;
  // The cap keeps t·t finite; erfc(9) ~ 4e-37 is already near the exp's clamp (exp(-87)).
  const float t = min_nonneg(std::fabs(z), 9.0f);
  const float e = erfc_large(t);
  const float one_plus_large = blend(z < 0, e, 2.0f - e);
  const float one_plus = blend(t > kErfSplit, one_plus_large, 1.0f + erf_small(z));
  return 0.5f * x * one_plus;
}

// 1 / (1 + exp(-z)). exp is only taken of -|z| (never overflows); for z < 0 the result is
// e / (1 + e), which keeps relative accuracy far into the tail.
inline __attribute__((always_inline)) float sigmoid(float z) {
  const float e = exp_nonpositive(-std::fabs(z));
  const float d = 1.0f / (1.0f + e);
  return blend(z < 0, e * d, d);
}

// 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) = x·sigmoid(2u): the tanh form of GELU.
inline __attribute__((always_inline)) float gelu_tanh(float x) {
  const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
  return x * sigmoid(2.0f * u);
}

// x·sigmoid(x) (SiLU / swish).
inline __attribute__((always_inline)) float silu(float x) { return x * sigmoid(x); }

// tanh(y) = sign(y)·(1 - e)/(1 + e), e = exp(-2|y|). Below |y| = 0.25 the subtraction 1 - e
// cancels, so there a Taylor polynomial to y⁹ is used (truncation < 1e-8 relative).
inline __attribute__((always_inline)) float tanh_approx(float y) {
  const float t = std::fabs(y);
  const float e = exp_nonpositive(-2.0f * t);
  const float large = (1.0f - e) / (1.0f + e);
  const float s = y * y;
  float p = 62.0f / 2835;
  p = p * s - 17.0f / 315;
  p = p * s + 2.0f / 15;
  p = p * s - 1.0f / 3;
  const float small = p * s * y + y;
  return blend(t < 0.25f, small, std::copysign(large, y));
}

// Calls f(std::integral_constant<Activation, A>) for the runtime activation `a`: one
// instantiation (one vectorized loop) per case, and one switch for every caller. Callers pass
// an always_inline lambda, so its loop is compiled for the caller's SIMD clone.
template <class F>
inline __attribute__((always_inline)) void with_activation(Activation a, F&& f) {
  switch (a) {
    case Activation::None: f(std::integral_constant<Activation, Activation::None>{}); break;
    case Activation::GeluErf: f(std::integral_constant<Activation, Activation::GeluErf>{}); break;
    case Activation::GeluTanh: f(std::integral_constant<Activation, Activation::GeluTanh>{}); break;
    case Activation::Relu: f(std::integral_constant<Activation, Activation::Relu>{}); break;
    case Activation::Silu: f(std::integral_constant<Activation, Activation::Silu>{}); break;
    case Activation::Tanh: f(std::integral_constant<Activation, Activation::Tanh>{}); break;
  }
}

// The activation A, for loops the compiler vectorizes (one instantiation per case).
template <Activation A>
inline __attribute__((always_inline)) float activate(float v) {
  if constexpr (A == Activation::GeluErf) return gelu_erf(v);
  else if constexpr (A == Activation::GeluTanh) return gelu_tanh(v);
  else if constexpr (A == Activation::Relu) return v < 0.f ? 0.f : v;
  else if constexpr (A == Activation::Silu) return silu(v);
  else if constexpr (A == Activation::Tanh) return tanh_approx(v);
  else return v;
}


}  // namespace encore::kernels

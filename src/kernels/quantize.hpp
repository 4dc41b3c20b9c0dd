// Conversions around the BF16 and INT8 GEMMs: f32 activations to bf16 or u8 (before the
// GEMM), weights to s8 (once, at load), and the int32 accumulators back to f32 with bias and
// activation (after the GEMM). Rounding is to nearest, ties to even, everywhere. Inputs are
// assumed finite. Rows are processed in parallel (OpenMP) when the matrix is large.
#pragma once

#include <cstdint>

#include "kernels/activation.hpp"

namespace encore::kernels {

// f32 rows [rows, cols] with leading dimension ld -> bf16 [rows, cols] (uint16_t bits) with
// leading dimension out_ld (0: cols; the columns past cols are zeroed), round to nearest
// even. NaN stays a (quiet) NaN; denormals are rounded like any other value (vcvtneps2bf16
// would flush them to zero).
void convert_to_bf16(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                     std::uint16_t* out, std::int64_t out_ld = 0);

// Per-row (per-token) asymmetric u8 quantization: for each row r, lo=min(0,min x), hi=max(0,max x),
// scale[r]=(hi-lo)/255 (1 if hi==lo), zero_point[r]=clamp(round(-lo/scale),0,255),
// q = clamp(round(x/scale)+zp, 0, 255). out is [rows, cols] with leading dimension out_ld
// (0: cols); bytes between cols and out_ld are set to 0.
// (scale is floored at 1e-30 so that 1/scale stays finite for rows of denormal-sized values.)
// `col_scale` (optional, `cols` entries): quantizes x[r,c]·col_scale[c] instead of x (INT8
// smoothing: 1/s_j per input channel, applied in this pass rather than in one of its own).
void quantize_rows_u8(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                      std::uint8_t* out, float* scale, std::int32_t* zero_point,
                      std::int64_t out_ld = 0, const float* col_scale = nullptr);

// Same with one fixed (static, calibrated) scale (> 0) and zero point for all rows.
void quantize_u8(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float scale,
                 std::int32_t zero_point, std::uint8_t* out, std::int64_t out_ld = 0,
                 const float* col_scale = nullptr);

// w[o, j] *= s[j] for w [rows, cols] row-major: an INT8 smoothing factor moved into a weight's
// input columns (the engine and `encore build` share it so plans stay bit-identical).
void scale_weight_columns(float* w, std::int64_t rows, std::int64_t cols, const float* s);

// Quantization parameters for a calibrated range [lo, hi] (lo<=0<=hi enforced by widening).
struct U8Params {
  float scale;
  std::int32_t zero_point;
};
U8Params u8_params(float lo, float hi);

// Symmetric per-output-channel s8 weights: w is [out, in] row-major f32. scale[o]=max|w[o,:]|/127
// (1 if all zero) unless `given_scale` is non-null, in which case those scales (> 0) are used
// (scale may alias given_scale). q[o,i]=clamp(round(w/scale),-127,127).
// col_sum[o]=sum_i q[o,i] (for the zero-point compensation).
// `reduced_range` (CPUs without VNNI): q is then round(q8/2) in [-64, 64] and scale doubles.
// Their u8 x s8 products go through vpmaddubsw, whose pairwise s16 sums saturate beyond
// 255·64·2; full 8-bit weights there gave cosines down to 0.987 on plain random rows.
void quantize_weights_s8(const float* w, std::int64_t out, std::int64_t in,
                         const float* given_scale, std::int8_t* q, float* scale,
                         std::int32_t* col_sum, bool reduced_range = false);

// Int8 GEMM epilogue, in place: y holds int32 accumulators acc[r,c] (as int32 bits in the float
// buffer, leading dimension ldy). Writes
//   y[r,c] = act( (acc - zp[r]*col_sum[c]) * row_scale[r]*w_scale[c] + bias[c] ).
// row_scale/zero_point have one entry per row, or if `per_row` is false a single entry used for
// all rows. bias may be null. One pass over y; the activation is fused.
void dequantize_epilogue(float* y, std::int64_t rows, std::int64_t cols, std::int64_t ldy,
                         const float* row_scale, const std::int32_t* zero_point, bool per_row,
                         const std::int32_t* col_sum, const float* w_scale, const float* bias,
                         Activation act);

}  // namespace encore::kernels

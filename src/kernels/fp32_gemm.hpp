// encore's own FP32 GEMM, y[r,c] = act(Σ_k x[r,k]·w[c,k] + bias[c]), with the bias and
// activation fused, for AVX-512 and for AVX2+FMA. Why not only oneDNN: at the few-row shapes
// of online traffic (1x16) oneDNN 2.6's brgemm streamed BERT-base's weights at ~57% of the
// memory bandwidth, and its AVX2 gemm:jit splits k differently with the row count (a row's
// result then depends on its batch) and builds a primitive for every new row count; this
// kernel is a measured candidate per layer shape (Linear).
// AVX-512: 6-row x 64-column tiles keep 24 zmm accumulators over all of k, each weight vector
// feeding 6 FMAs; with few rows, the tiles after a panel's first prefetch the next panel, so
// that the weights stream from memory without pause. AVX2: 6-row x 16-column tiles, 12 ymm
// accumulators (fp32_gemm_avx2.cpp). Each output sums its k terms in order, one FMA at a
// time: a row's result never depends on its batch, its row grouping or the threads (bit for
// bit); without an activation both ISAs give the same bits (the same FMAs in the same order).
//
// Weights are packed once: panels of 16 output columns, within a panel k rows of 16 floats
// (an AVX-512 tile reads 4 neighbouring panels, an AVX2 tile one). N is padded to 64 with
// zeros.
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/activation.hpp"

namespace encore::kernels {

enum class Fp32GemmIsa { Avx2, Avx512 };

// True when this CPU has AVX2 and FMA (or AVX-512 F, BW, DQ, VL), which a variant needs.
bool fp32_gemm_supported();
bool fp32_gemm_supported(Fp32GemmIsa isa);
// The best variant this CPU has (AVX-512 over AVX2); ENCORE_FP32_ISA=avx2 picks AVX2 on an
// AVX-512 CPU (A/B runs, tests). Call only when fp32_gemm_supported().
Fp32GemmIsa fp32_gemm_isa();
const char* to_string(Fp32GemmIsa isa);

class PackedF32 {
 public:
  // w: [n, k] row-major (PyTorch's [out, in]).
  PackedF32(const float* w, int n, int k);

  int n() const { return n_; }
  int k() const { return k_; }
  int padded_n() const { return np_; }
  std::size_t bytes() const { return bytes_; }
  const float* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(float* p) const;
  };
  int n_, k_, np_;
  std::size_t bytes_;
  std::unique_ptr<float, Free> data_;
};

// x: [rows, k] (ldx), y: [rows, n] (ldy); bias: padded_n() floats (zeros where the layer has
// none). Runs on up to `threads` OpenMP threads, with the `isa` variant.
void fp32_gemm(const float* x, std::int64_t rows, std::int64_t ldx, const PackedF32& w,
               const float* bias, Activation activation, float* y, std::int64_t ldy, int threads,
               Fp32GemmIsa isa = fp32_gemm_isa());

namespace detail {
void fp32_gemm_avx2(const float* x, std::int64_t rows, std::int64_t ldx, const PackedF32& w,
                    const float* bias, Activation activation, float* y, std::int64_t ldy,
                    int threads);
}  // namespace detail

}  // namespace encore::kernels

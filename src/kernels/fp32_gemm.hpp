// encore's own FP32 GEMM for AVX-512, y[r,c] = act(Σ_k x[r,k]·w[c,k] + bias[c]), with the bias
// and activation fused. Why not only oneDNN: at the few-row shapes of online traffic (1x16)
// oneDNN 2.6's brgemm streamed BERT-base's weights at ~57% of the memory bandwidth; this
// kernel is a measured candidate per layer shape (Linear).
// 6-row x 64-column tiles keep 24 zmm accumulators over all of k, each weight vector feeding
// 6 FMAs; with few rows, the tiles after a panel's first prefetch the next panel, so that the
// weights stream from memory without pause. Each output sums its k terms in order, one FMA
// at a time: a row's result never depends on its batch, its row grouping or the threads
// (bit for bit).
//
// Weights are packed once: panels of 16 output columns, within a panel k rows of 16 floats
// (a tile reads 4 neighbouring panels). N is padded to 64 with zeros.
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/activation.hpp"

namespace encore::kernels {

// True when this CPU has AVX-512 (F, BW, DQ, VL) and FMA, which the kernel needs.
bool fp32_gemm_supported();

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
// none). Runs on up to `threads` OpenMP threads.
void fp32_gemm(const float* x, std::int64_t rows, std::int64_t ldx, const PackedF32& w,
               const float* bias, Activation activation, float* y, std::int64_t ldy, int threads);

}  // namespace encore::kernels

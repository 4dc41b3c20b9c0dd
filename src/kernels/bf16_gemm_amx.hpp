// encore's BF16 GEMM on AMX (tdpbf16ps), y[r,c] = act(Σ_k x[r,k]·w[c,k] + bias[c]) with bf16
// inputs, fp32 accumulation and output, and the bias/activation epilogue fused (the tiles'
// sums are finished in L1). It exists because oneDNN 2.6's BF16 brgemm reached ~1.5 TFLOP/s
// on BERT-base's shapes where the same blocking as the INT8 AMX kernel does better.
//
// Weights are packed once, in the INT8 kernels' panel layout: panels of 64 output columns;
// within a panel, for each pair of k, 64 columns x 2 bf16 (the tdpbf16ps operand order). N is
// padded to 64 and K to 32 with zeros.
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/activation.hpp"

namespace encore::kernels {

// True when this CPU (and OS) run AMX-BF16 tiles, which the kernel needs.
bool bf16_gemm_amx_supported();

class PackedBf16 {
 public:
  // w: [n, k] row-major fp32 (PyTorch's [out, in]), rounded to bf16 (nearest even).
  PackedBf16(const float* w, int n, int k);

  int n() const { return n_; }
  int k() const { return k_; }
  int padded_n() const { return np_; }
  // Row stride (in bf16 elements) the input must have: k rounded up to 32; the padding must
  // hold finite values (zeros), since it meets zero weights.
  int padded_k() const { return kp_; }
  std::size_t bytes() const { return bytes_; }
  const std::uint16_t* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(std::uint16_t* p) const;
  };
  int n_, k_, np_, kp_;
  std::size_t bytes_;
  std::unique_ptr<std::uint16_t, Free> data_;
};

// x: [rows, ldx] bf16 (ldx >= padded_k), y: [rows, n] f32 (ldy); bias: padded_n() floats
// (zeros where the layer has none). Runs on up to `threads` OpenMP threads.
void bf16_gemm_amx(const std::uint16_t* x, std::int64_t rows, std::int64_t ldx, const PackedBf16& w,
                   const float* bias, Activation activation, float* y, std::int64_t ldy,
                   int threads);

}  // namespace encore::kernels

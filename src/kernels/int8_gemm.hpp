// encore's own u8 x s8 GEMM for AVX-512 VNNI (vpdpbusd), with the dequantizing epilogue fused:
//   y[r,c] = act( (Σ_k x[r,k]·w[c,k] - zp[r]·col_sum[c]) · row_scale[r]·w_scale[c] + bias[c] )
// Why not oneDNN for this: oneDNN 2.6 cannot scale per row, so its s32 output made a second
// pass over memory, and at the few-row shapes of online traffic (1x16) its u8s8 brgemm
// streamed the weights at under half the memory bandwidth. Here the accumulators of a
// 6-row x 64-column tile stay in registers and are finished in place.
//
// Weights are packed once: panels of 64 output columns; within a panel, for each group of 4
// k, 64 columns x 4 bytes (the vpdpbusd operand order). N and K are padded to 64 with zeros
// (K to 64 so the AMX kernel, int8_gemm_amx, reads the same packing in whole tiles).
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/activation.hpp"

namespace encore::kernels {

// True when this CPU has AVX-512 VNNI (and BW), which the kernel needs.
bool int8_gemm_supported();
// True when this CPU (and OS) run AMX-INT8 tiles, which int8_gemm_amx needs.
bool int8_gemm_amx_supported();

struct Int8Epilogue {
  const float* row_scale;          // one per row, or one for all rows (per_row false)
  const std::int32_t* zero_point;  // idem
  bool per_row;
  const std::int32_t* col_sum;  // Σ_k w[c,k], padded to padded_n()
  const float* w_scale;         // idem
  const float* bias;            // idem (zeros when the layer has none)
  Activation activation;
};

class PackedS8 {
 public:
  // q: [n, k] row-major s8 (PyTorch's [out, in]).
  PackedS8(const std::int8_t* q, int n, int k);

  int n() const { return n_; }
  int k() const { return k_; }
  int padded_n() const { return np_; }
  // Row stride the u8 input must have: k rounded up to 64 (pad bytes may hold anything:
  // the packed weights are zero there).
  int padded_k() const { return kp_; }
  std::size_t bytes() const { return bytes_; }
  const std::int8_t* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(std::int8_t* p) const;
  };
  int n_, k_, np_, kp_;
  std::size_t bytes_;
  std::unique_ptr<std::int8_t, Free> data_;
};

// x: [rows, padded_k] u8 (leading dimension ldx >= padded_k), y: [rows, n] f32 (ldy).
// Runs on up to `threads` OpenMP threads.
void int8_gemm(const std::uint8_t* x, std::int64_t rows, std::int64_t ldx, const PackedS8& w,
               const Int8Epilogue& epilogue, float* y, std::int64_t ldy, int threads);
// The same on AMX tiles (int8_gemm_amx_supported()); bit-identical to int8_gemm.
void int8_gemm_amx(const std::uint8_t* x, std::int64_t rows, std::int64_t ldx, const PackedS8& w,
                   const Int8Epilogue& epilogue, float* y, std::int64_t ldy, int threads);

}  // namespace encore::kernels

// y = act(x · Wᵀ + b) through oneDNN matmul, in FP32, BF16 or INT8. The weight is converted
// and reordered once, at load, into the blocked layout oneDNN's brgemm kernels want;
// primitives are created per row count M (fixed shapes run the brgemm path, ~6x faster than
// runtime-M gemm at small M) and cached.
//
// Precisions (activations stay FP32 between operations; each Linear converts its own input):
// - FP32: f32 x f32, bias and activation fused: oneDNN's matmul (post-ops), or encore's kernel
//   (fp32_gemm.hpp): on AVX-512 CPUs where it timed faster than brgemm for the layer's shape
//   (KernelChoices), on AVX2 CPUs always, since oneDNN's gemm:jit there gives a row results
//   that depend on its batch (ENCORE_FP32_KERNEL=onednn|own forces).
// - BF16: x rounded to bf16, bf16 x bf16 with f32 accumulation and output, post-ops as FP32:
//   oneDNN's matmul, or on AMX CPUs encore's AMX kernel (bf16_gemm_amx.hpp) where it timed
//   faster for the layer's shape (KernelChoices; ENCORE_BF16_KERNEL=onednn|amx forces).
// - INT8: weights symmetric s8 per output channel; x asymmetric u8 with a scale and zero point
//   per row (dynamic) or one calibrated pair (static); u8 x s8 -> s32 on VNNI, then one pass
//   removes the zero point (zp·Σw per column), rescales, adds the bias and applies the
//   activation. On AVX-512 VNNI CPUs encore's own kernels (int8_gemm.hpp: VNNI, and AMX where
//   the CPU has it, chosen per row-count bucket by measurement) do both in one pass;
//   elsewhere oneDNN's u8s8 matmul and a separate epilogue pass (oneDNN 2.6 cannot scale per
//   row).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/activation.hpp"
#include "kernels/bf16_gemm_amx.hpp"
#include "kernels/fp32_gemm.hpp"
#include "kernels/int8_gemm.hpp"

namespace encore::kernels {

dnnl::engine& cpu_engine();

enum class LinearPrecision { FP32, BF16, Int8 };
const char* to_string(LinearPrecision p);

// True when oneDNN runs BF16 matmul natively here (AVX512_BF16 or AMX), not emulated.
bool cpu_has_native_bf16();
// True when INT8 matmul uses VNNI (vpdpbusd).
bool cpu_has_vnni();

struct LinearQuantization {
  LinearPrecision precision = LinearPrecision::FP32;
  // INT8 only: a calibrated input range makes activation scales static; without one they
  // are computed per row on every call.
  std::optional<std::pair<float, float>> input_range;
  // INT8 only: per-output-channel weight scales to use instead of max|w|/127 (a plan stores
  // the quantized weights; re-quantizing w = q·s with s reproduces q exactly).
  const float* weight_scales = nullptr;
  // INT8 only: SmoothQuant factors s_j (in_features entries, > 0) for the input channels:
  // the quantization pass reads x_j / s_j and the weight's columns are multiplied by s_j
  // (unless `smoothing_in_weights`: a plan's weights already carry them).
  const float* input_smoothing = nullptr;
  bool smoothing_in_weights = false;
};

class Linear {
 public:
  // `weight` is [out, in] row-major (PyTorch's nn.Linear layout); `bias` may be null.
  Linear(const float* weight, const float* bias, int in_features, int out_features,
         Activation activation, const LinearQuantization& quantization = {});
  Linear(Linear&&) = delete;

  int in_features() const { return in_; }
  int out_features() const { return out_; }
  Activation activation() const { return activation_; }
  LinearPrecision precision() const { return precision_; }
  bool static_input() const { return static_scale_ > 0; }
  bool smoothed_input() const { return !inv_smooth_.empty(); }

  // x: [rows, in] with leading dimension `ldx`; y: [rows, out] with leading dimension `ldy`.
  // `scratch` must hold scratchpad_bytes(rows) bytes.
  void forward(const float* x, std::int64_t rows, float* y, dnnl::stream& stream, void* scratch,
               std::int64_t ldx = 0, std::int64_t ldy = 0) const;
  std::size_t scratchpad_bytes(std::int64_t rows) const;

  // Bytes of the packed weight (for memory reports).
  std::size_t packed_bytes() const {
    return own_        ? own_->bytes()
           : own_bf16_ ? own_bf16_->bytes()
           : own_f32_  ? own_f32_->bytes()
                       : weights_.get_desc().get_size();
  }
  // INT8: 8, or 7 on CPUs without VNNI (see quantize_weights_s8's reduced_range).
  int weight_bits() const { return weight_bits_; }
  // The implementation that runs this linear for `rows` rows, e.g. "oneDNN brg:avx2" or
  // "encore int8 avx512_vnni" (inspect, --profile).
  std::string kernel_name(std::int64_t rows) const;
  // True when INT8 runs encore's own kernels rather than oneDNN's matmul.
  bool uses_own_int8_kernel() const { return own_ != nullptr; }
  // encore's INT8 kernels; which one runs depends on the row count (measured per CPU model).
  enum class Int8Kernel : std::uint8_t { Vnni, Amx };
  // Upper row counts of the buckets a choice is made for, and the row count timed for each.
  static constexpr std::array<std::int64_t, 4> kRowBuckets = {
      8, 32, 128, std::numeric_limits<std::int64_t>::max()};
  static constexpr std::array<std::int64_t, 4> kBucketProbe = {4, 16, 64, 512};

 private:
  struct Prepared {
    dnnl::matmul primitive;
    dnnl::memory::desc scratch_desc;
    std::size_t scratchpad = 0;
    std::string impl;  // oneDNN's implementation name, e.g. "brg:avx512_core"
  };
  // FP32 reads x in place (ldx matters); BF16/INT8 read their dense converted copy.
  const Prepared& prepared(std::int64_t rows, std::int64_t ldx, std::int64_t ldy) const;
  dnnl::matmul::primitive_desc make_pd(std::int64_t rows, std::int64_t ldx, std::int64_t ldy,
                                       const dnnl::memory::desc& weights) const;
  // FP32 on gemm:jit: the plain weight layout ("gemm-ab" K-major or "gemm-ba" N-major) that
  // timed faster for this shape on this CPU (KernelChoices).
  dnnl::memory::desc choose_plain_layout(const float* weight);
  double time_layout(const float* weight, const dnnl::memory::desc& layout) const;
  // Bytes of the converted input (bf16 or u8 rows, plus per-row scales) for `rows` rows.
  std::size_t input_bytes(std::int64_t rows) const;
  // The own INT8 kernel for each row bucket: timed candidates (KernelChoices), or forced by
  // ENCORE_INT8_KERNEL=vnni|amx.
  void choose_int8_kernels();
  double time_int8_kernel(Int8Kernel kernel, std::int64_t rows) const;
  Int8Kernel int8_kernel_for(std::int64_t rows) const;
  // FP32 and BF16 on AMX CPUs: encore's kernel (`slot`, named `own_name`) or oneDNN,
  // whichever timed faster for this shape (geometric mean over 16 and 512 rows, the whole
  // forward), or encore's without timing when `only_own_is_batch_invariant`; `env_name` may
  // force "onednn" or `own_name`. Keeps only the winner's weights.
  // `onednn_margin`: oneDNN wins only if its score beats encore's by this factor.
  template <class Packed>
  void choose_own_or_onednn(std::unique_ptr<Packed>& slot, const float* weight,
                            const char* env_name, const std::string& own_name,
                            bool only_own_is_batch_invariant = false, double onednn_margin = 1.0);
  // FP32 on AVX-512: the two timed alike within the timing's run-to-run noise (two `encore
  // tune` runs on Zen 4 flipped BERT-base's 768x768 and 3072x768 choices, by 0.3-1.5%), while
  // in the whole forward encore's kernel was the faster at every shape (1x16 15.5 vs 16.0 ms,
  // 8x128 824 vs 840 ms, 3 alternating runs each). So oneDNN must be 5% faster to be chosen.
  static constexpr double kFp32OneDnnMargin = 1.05;
  double time_forward(std::int64_t rows) const;
  void evict_packed_weights() const;
  // Row stride of the u8 input: encore's kernels want k padded to 64.
  std::int64_t int8_ld() const { return own_ ? own_->padded_k() : in_; }

  int in_, out_;
  Activation activation_;
  LinearPrecision precision_;
  int weight_bits_ = 8;
  std::string layout_;                    // set by choose_plain_layout
  dnnl::memory weights_;                  // packed (oneDNN layout)
  std::unique_ptr<PackedS8> own_;         // or packed for int8_gemm / int8_gemm_amx
  std::unique_ptr<PackedBf16> own_bf16_;  // or packed for bf16_gemm_amx
  std::unique_ptr<PackedF32> own_f32_;    // or packed for fp32_gemm
  std::array<Int8Kernel, kRowBuckets.size()> own_kernel_{};
  bool own_kernel_measured_ = false;
  dnnl::memory bias_;
  dnnl::memory::desc packed_desc_;
  // INT8: weight scales, Σ_k q[n,k] per output column (both zero-padded to the kernel's
  // padded N), static input scale/zero point.
  std::vector<float> w_scale_, bias_f32_;
  std::vector<float> inv_smooth_;  // 1/s_j of a smoothed INT8 input, else empty
  std::vector<std::int32_t> col_sum_;
  float static_scale_ = 0;
  std::int32_t static_zero_point_ = 0;

  // oneDNN fixes a primitive's thread partitioning when it is created.
  struct Key {
    std::int64_t rows, ldx, ldy;
    int threads;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::int64_t>()(k.rows * 1000003 + k.ldx * 131 + k.ldy +
                                       (std::int64_t{k.threads} << 40));
    }
  };
  mutable std::mutex mutex_;
  mutable std::unordered_map<Key, std::unique_ptr<Prepared>, KeyHash> cache_;
};

}  // namespace encore::kernels

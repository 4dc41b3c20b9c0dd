// Multi-head self-attention over a ragged batch: the tokens of all sequences are packed back
// to back, so each sequence attends only to its own tokens and no padding is ever computed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace encore::kernels {

struct AttentionShape {
  std::int32_t hidden;  // H = heads * head_dim
  std::int32_t heads;
};

// Arithmetic of the two matrix products (Q·Kᵀ and P·V). BF16 rounds their inputs to bf16
// (round to nearest even) and accumulates in fp32 with AVX512_BF16 dot products or AMX-BF16
// tiles; the softmax
// stays fp32. BF16 runs only where attention_bf16_supported() and the head size is a multiple
// of 32 (up to 256); elsewhere the request silently runs the FP32 path.
enum class AttentionPrecision { FP32, BF16 };

// What is added to the scores q·kᵀ/√d besides nothing (the default): a per-head bias by
// relative position (MPNet's bucketed bias, expanded for the batch), and a sliding window
// (ModernBERT's local layers). Masked keys get probability ~1e-38 (the softmax's exp clamps
// at -87), which no output can see.
struct AttentionBias {
  // relative[h * relative_stride + relative_center + (j - i)] is added to the score of query
  // i and key j in head h; relative_center >= longest sequence - 1.
  const float* relative = nullptr;
  std::int32_t relative_stride = 0, relative_center = 0;
  // > 0: keys farther than `window` positions from the query are masked.
  std::int32_t window = 0;
  bool any() const { return relative != nullptr || window > 0; }
};

// True when the CPU has AVX512_BF16 and ENCORE_NO_BF16 is unset, empty or "0" (the variable
// makes the engine behave as on a CPU without BF16 instructions). Reads the variable each call.
bool attention_bf16_supported();
// True where the BF16 path may also run its two products on AMX-BF16 tiles (which of the two
// runs is measured per head size and CPU model: KernelChoices "attention.bf16.d<d>";
// ENCORE_ATTENTION_KERNEL=amx|avx512_bf16 forces one).
bool attention_amx_supported();

// Which code path self_attention runs for this request here (inspect, --profile).
std::string attention_kernel_name(AttentionPrecision precision, std::int32_t head_size);

// qkv: [tokens, 3H] rows (Q | K | V, head h at columns h*d of each third).
// seq_begin: num_seqs + 1 token offsets. ctx: [tokens, H] output.
// scratch: attention_scratch_floats(max_len, shape, threads, precision) floats.
// Each output row depends only on its own sequence (not on the rest of the batch) and not on
// the thread count.
void self_attention(const float* qkv, const std::int32_t* seq_begin, std::int32_t num_seqs,
                    AttentionShape shape, float* ctx, float* scratch, int threads,
                    AttentionPrecision precision = AttentionPrecision::FP32,
                    const AttentionBias& bias = {});

// Scratch floats self_attention needs for sequences up to max_len tokens; with BF16 enough for
// either path (the BF16 request may fall back to FP32).
std::size_t attention_scratch_floats(std::int32_t max_len, AttentionShape shape, int threads,
                                     AttentionPrecision precision = AttentionPrecision::FP32);

}  // namespace encore::kernels

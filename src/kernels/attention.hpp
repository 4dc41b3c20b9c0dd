// Multi-head self-attention over a ragged batch: the tokens of all sequences are packed back
// to back, so each sequence attends only to its own tokens and no padding is ever computed.
#pragma once

#include <cstdint>

namespace encore::kernels {

struct AttentionShape {
  std::int32_t hidden;  // H = heads * head_dim
  std::int32_t heads;
};

// qkv: [tokens, 3H] rows (Q | K | V, head h at columns h*d of each third).
// seq_begin: num_seqs + 1 token offsets. ctx: [tokens, H] output.
// scratch: attention_scratch_floats(max_len, shape, threads) floats.
void self_attention(const float* qkv, const std::int32_t* seq_begin, std::int32_t num_seqs,
                    AttentionShape shape, float* ctx, float* scratch, int threads);

std::size_t attention_scratch_floats(std::int32_t max_len, AttentionShape shape, int threads);

}  // namespace encore::kernels

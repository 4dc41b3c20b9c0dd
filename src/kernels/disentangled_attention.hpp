// DeBERTa's disentangled self-attention over a ragged batch (no padding): the score of query
// i and key j adds to q_i·k_j a content-to-position term q_i·Kr[r] and a position-to-content
// term k_j·Qr[r], where r indexes the relative position i - j (bucketed) and Kr, Qr are the
// relative embeddings projected by the layer's key and query projections (computed once at
// load). All three are scaled by 1/sqrt(d * (1 + c2p + p2c)).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/attention.hpp"

namespace encore::kernels {

struct DisentangledTerms {
  const float* pos_key = nullptr;    // [2 * span, H] (c2p), null: no c2p term
  const float* pos_query = nullptr;  // [2 * span, H] (p2c), null: no p2c term
  // rel_index[center + (i - j)]: the row of pos_key / pos_query for query i and key j;
  // center >= longest sequence - 1.
  const std::int32_t* rel_index = nullptr;
  std::int32_t center = 0;
  float scale = 1.f;
};

// qkv: [tokens, 3H] (Q | K | V); ctx: [tokens, H]. Each row depends only on its own sequence.
void disentangled_attention(const float* qkv, const std::int32_t* seq_begin, std::int32_t num_seqs,
                            AttentionShape shape, const DisentangledTerms& terms, float* ctx,
                            float* scratch, int threads);

std::size_t disentangled_scratch_floats(std::int32_t max_len, AttentionShape shape, int threads);

// transformers' make_log_bucket_position for relative position `relative`, in float32 as
// there: exact inside (-bucket_size/2, bucket_size/2), log-spaced buckets up to max_position.
std::int32_t deberta_log_bucket(std::int32_t relative, std::int32_t bucket_size,
                                std::int32_t max_position);

}  // namespace encore::kernels

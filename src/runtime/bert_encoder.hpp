// The BERT encoder on CPU in FP32: embeddings, N layers (fused QKV GEMM, ragged attention,
// output GEMM + residual LayerNorm, FFN GEMM with fused bias+GELU, GEMM + residual
// LayerNorm), then the optional pooler and classifier. Weights are packed for oneDNN once,
// here; forward() allocates nothing once the context's arena has grown to the batch size.
#pragma once

#include <memory>
#include <vector>

#include "kernels/linear.hpp"
#include "model/bert_config.hpp"
#include "model/bert_weights.hpp"
#include "runtime/context.hpp"
#include "runtime/packed_batch.hpp"

namespace encore::runtime {

class BertEncoder {
 public:
  // Takes the host weights: linear weights are packed and their host copies released.
  BertEncoder(const BertConfig& config, BertWeights weights, int threads);

  struct Outputs {
    const float* hidden = nullptr;  // [tokens, H], last_hidden_state
    const float* pooled = nullptr;  // [sequences, H], pooler_output (when requested)
    const float* logits = nullptr;  // [sequences, labels] (when requested)
  };
  // Pointers stay valid until the next forward() on the same context.
  Outputs forward(const PackedBatch& batch, Context& ctx, bool want_pooler,
                  bool want_logits) const;

  bool has_pooler() const { return pooler_ != nullptr; }
  bool has_classifier() const { return classifier_ != nullptr; }
  std::int64_t hidden_size() const { return H_; }
  std::int64_t num_labels() const { return classifier_ ? classifier_->out_features() : 0; }
  std::size_t packed_bytes() const;
  int threads() const { return threads_; }

 private:
  struct Layer {
    std::unique_ptr<kernels::Linear> qkv, attn_out, ffn_in, ffn_out;
    HostTensor attn_ln_g, attn_ln_b, out_ln_g, out_ln_b;
  };

  BertConfig config_;
  std::int64_t H_, I_;
  int threads_;
  HostTensor word_, position_, token_type_, emb_ln_g_, emb_ln_b_;
  std::vector<Layer> layers_;
  std::unique_ptr<kernels::Linear> pooler_, classifier_;
};

}  // namespace encore::runtime

// The encoder on CPU, for every architecture (model/architecture.hpp): embeddings (learned
// positions or none, token types or none, an optional projection), N layers (fused QKV GEMM,
// rotary or relative-position or windowed ragged attention, output GEMM, FFN GEMM with fused
// bias+activation or a gated FFN, residual LayerNorms post- or pre-LN), then the optional
// pooler and classification head. Weights are packed once, here; forward() allocates nothing
// once the context's arena has grown to the batch size.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "kernels/attention.hpp"
#include "kernels/disentangled_attention.hpp"
#include "kernels/linear.hpp"
#include "kernels/rotary.hpp"
#include "model/encoder_config.hpp"
#include "model/encoder_weights.hpp"
#include "runtime/context.hpp"
#include "runtime/packed_batch.hpp"

namespace encore::runtime {

// The four linear layers of an encoder layer, in execution order.
enum class LinearSlot { Qkv = 0, AttnOut = 1, FfnIn = 2, FfnOut = 3 };
constexpr int kLinearSlots = 4;
const char* to_string(LinearSlot s);

// How one encoder layer computes its linears. Embeddings, LayerNorm, softmax, GELU, the
// pooler and the classifier always run in FP32. Attention's two products (Q·Kᵀ, P·V) run in
// BF16 in BF16 and INT8 layers where the CPU has AVX512_BF16 (ENCORE_FP32_ATTENTION=1 keeps
// them FP32, for A/B measurements), in FP32 otherwise.
struct LayerPrecision {
  kernels::LinearPrecision precision = kernels::LinearPrecision::FP32;
  // INT8 with calibrated (static) activation ranges, one per linear input, by LinearSlot.
  std::optional<std::array<std::pair<float, float>, kLinearSlots>> input_ranges;
  // INT8 SmoothQuant factors s_j per input channel of each linear, by LinearSlot (empty:
  // none); no pass is added to the forward for either kind:
  // - AttnOut (the attention context): folded into the weights at load
  //   (fold_attention_smoothing).
  // - Qkv, FfnIn (LayerNorm outputs), FfnOut (GELU's output): the linear's u8 quantization
  //   pass reads x_j / s_j and its weight columns carry s_j. Folding 1/s into the LayerNorm's
  //   gamma/beta instead would also scale the residual (in BERT's post-LN layers the
  //   LayerNorm output is both the next GEMM's input and the residual the next LayerNorm
  //   normalizes), and GELU is not homogeneous; the quantization pass reads x anyway.
  std::array<std::vector<float>, kLinearSlots> input_smoothing;
  // True when a plan's weights already carry the AttnOut factors (`encore build`); the other
  // slots' factors travel as tensors with the weights (LayerWeights::*_input_smoothing).
  bool smoothing_folded = false;
  bool operator==(const LayerPrecision&) const = default;
};

// Moves per-channel scale out of the attention context into the attention-output weight:
// the value projection's output rows (weight and bias) are divided by s_j and the output
// dense's input columns multiplied by s_j. The context is Σ_t p_t·V_t per head, linear in
// V, so context channel j becomes ctx_j / s_j exactly and W_o·ctx is unchanged (up to
// rounding). Unlike folding into a LayerNorm's gamma/beta, nothing else reads V, so no other
// path (BERT's post-LN residual reads the LayerNorm output) changes. The V rows quantize per
// output channel, so dividing a row by s_j costs them no precision.
void fold_attention_smoothing(LayerWeights& layer, std::int64_t hidden,
                              const std::vector<float>& s);

// DeBERTa: the relative position embeddings after their LayerNorm (norm_rel_ebd), and their
// projections through layer `lw`'s key (c2p) and query (p2c) projections, [2 * span, H] each
// (empty when the term is off). Computed from FP32 weights, before any smoothing or rounding.
std::vector<float> normed_relative_embeddings(const EncoderConfig& config, const EncoderWeights& w);
std::pair<HostTensor, HostTensor> relative_projections(const EncoderConfig& config,
                                                       const std::vector<float>& rel,
                                                       const LayerWeights& lw);

// Sees intermediate tensors of a forward pass (calibration, per-layer error reports).
class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;
  // The input of a linear: [rows, cols] with leading dimension ld.
  virtual void linear_input(int /*layer*/, LinearSlot, const float* /*x*/, std::int64_t /*rows*/,
                            std::int64_t /*cols*/, std::int64_t /*ld*/) {}
  // A layer's output hidden states [rows, cols], dense.
  virtual void layer_output(int /*layer*/, const float* /*x*/, std::int64_t /*rows*/,
                            std::int64_t /*cols*/) {}
};

class Encoder {
 public:
  // Takes the host weights: linear weights are packed and their host copies released.
  // `precision` has one entry per layer, or is empty for FP32 everywhere.
  Encoder(const EncoderConfig& config, EncoderWeights weights, int threads,
          const std::vector<LayerPrecision>& precision = {});

  struct Outputs {
    const float* hidden = nullptr;  // [tokens, H], last_hidden_state
    const float* pooled = nullptr;  // [sequences, H], pooler_output (when requested)
    const float* logits = nullptr;  // [sequences, labels] (when requested)
  };
  // Offsets of a batch's arena regions (defined in encoder.cpp).
  struct ArenaPlan;
  // Floats of arena a forward of `tokens` tokens in `sequences` rows, the longest `max_len`,
  // needs at most (with every thread): what a server reserves once for its batch budget.
  std::size_t arena_floats(std::int64_t tokens, std::int64_t sequences, std::int32_t max_len) const;

  // Pointers stay valid until the next forward() on the same context.
  Outputs forward(const PackedBatch& batch, Context& ctx, bool want_pooler, bool want_logits,
                  ForwardObserver* observer = nullptr) const;

  bool has_pooler() const { return pooler_ != nullptr; }
  bool has_classifier() const { return classifier_ != nullptr; }
  std::int64_t hidden_size() const { return H_; }
  std::int64_t num_labels() const { return classifier_ ? classifier_->out_features() : 0; }
  std::size_t packed_bytes() const;
  // Bytes of the linears' packed weights: what one forward streams from memory at least.
  std::size_t streamed_weight_bytes() const;
  int threads() const { return threads_; }
  const std::vector<LayerPrecision>& precision() const { return precision_; }
  const EncoderConfig& config() const { return config_; }
  // Layers with their own packed weights (ALBERT's groups share them where layers run alike).
  int distinct_layer_weights() const;
  // GEMMs whose INT8 input is smoothed, for inspect.
  int smoothed_gemms() const { return smoothed_gemms_; }
  // The kernel each operation of layer `layer` runs for a batch of `tokens` tokens:
  // {op name, implementation} in forward order (inspect, bench, --profile).
  std::vector<std::pair<std::string, std::string>> kernels(int layer, std::int64_t tokens) const;

 private:
  struct Layer {
    // Shared between the layers of an ALBERT weight group that run alike.
    std::shared_ptr<const kernels::Linear> qkv, attn_out, ffn_in, ffn_out;
    kernels::AttentionPrecision attention = kernels::AttentionPrecision::FP32;
    HostTensor attn_ln_g, attn_ln_b, out_ln_g, out_ln_b;
    bool has_attn_ln = true;
    const kernels::RotaryTable* rotary = nullptr;
    std::int32_t window = 0;  // sliding-window half width (0: global)
    // DeBERTa: the relative embeddings through this layer's key / query projections.
    HostTensor pos_key, pos_query;  // [2 * span, H]
  };
  ArenaPlan arena_plan(std::int64_t tokens, std::int64_t sequences, std::int32_t max_len,
                       int threads) const;
  // Positions of the batch's tokens as the embeddings and rotary tables index them.
  void positions(const PackedBatch& batch, std::int32_t* out) const;

  EncoderConfig config_;
  std::int64_t H_, I_, E_;
  int threads_;
  HostTensor word_, position_, token_type_, emb_ln_g_, emb_ln_b_;
  std::unique_ptr<kernels::Linear> emb_proj_;
  HostTensor relative_bias_;  // [buckets, heads]
  // DeBERTa's ConvLayer after layer 0: the K kernel taps as one [K*H, H] linear, then
  // bias, activation, residual LayerNorm.
  std::unique_ptr<kernels::Linear> conv_;
  HostTensor conv_bias_, conv_norm_g_, conv_norm_b_;
  std::vector<kernels::RotaryTable> rotary_;  // global, local
  std::vector<Layer> layers_;
  HostTensor final_g_, final_b_;
  std::vector<LayerPrecision> precision_;
  std::unique_ptr<kernels::Linear> pooler_, head_dense_, classifier_;
  HostTensor head_norm_g_, head_norm_b_;
  kernels::AttentionPrecision scratch_attention_ = kernels::AttentionPrecision::FP32;
  int smoothed_gemms_ = 0;
};

}  // namespace encore::runtime

// How one Hugging Face `model_type` maps onto encore's single encoder: what its config.json
// fields are called, which variant of each part it uses, and the name of every tensor. The
// config reader, the weight loader and the encoder read this description; none of them has a
// branch per model type. Adding an architecture is adding one entry in architecture.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "encore/model_config.hpp"

namespace encore {

// Where token positions enter the model.
enum class PositionKind {
  Learned,  // a position embedding table added to the word embeddings
  None,     // no absolute positions (DeBERTa-v3 relies on relative attention)
  Rotary,   // rotary embeddings applied to queries and keys (ModernBERT)
};

// Where each sub-layer's LayerNorm sits.
enum class NormPlacement {
  Post,  // x = LN(x + f(x))            (BERT, RoBERTa, DistilBERT, ...)
  Pre,   // x = x + f(LN(x)); final LN  (ModernBERT)
};

// What is added to the attention scores besides q·kᵀ/√d.
enum class AttentionKind {
  Plain,
  RelativeBucketBias,  // MPNet: a learned per-head bias per relative-position bucket
  Disentangled,        // DeBERTa: content-to-position and position-to-content terms
};

// The classification head: [pooling] -> dense -> activation -> [norm] -> out.
enum class HeadKind {
  Pooler,  // BERT, ALBERT: the pooler (dense+tanh on token 0) feeds the classifier
  Dense,   // every other: its own dense layer on the pooled token(s)
};

// config.json spellings of the hyper-parameters (DistilBERT calls them dim, n_layers, ...).
struct ConfigKeys {
  const char* hidden_size = "hidden_size";
  const char* num_layers = "num_hidden_layers";
  const char* num_heads = "num_attention_heads";
  const char* intermediate_size = "intermediate_size";
  const char* activation = "hidden_act";
  const char* layer_norm_eps = "layer_norm_eps";  // nullptr: the model fixes it
  double default_layer_norm_eps = 1e-12;
};

// Tensor names without the ".weight"/".bias" suffix. Each is tried after every prefix in
// `prefixes` (the base model's attribute name, e.g. "roberta.", then ""), so base-model and
// *ForSequenceClassification checkpoints load alike. In `layer`, "{i}" is the layer index
// (ALBERT: "{g}" the index of the layer's weight group). An empty name: the part is absent.
struct TensorNames {
  std::vector<std::string> prefixes;
  std::string word, position, token_type, embedding_norm, embedding_projection;
  std::string layer;
  std::string query, key, value, qkv;  // separate projections, or one fused Wqkv
  std::string attention_output, attention_norm, ffn_in, ffn_out, ffn_norm;
  std::string relative_bias;  // MPNet's shared bucket table [buckets, heads]
  // DeBERTa: relative position embeddings [2 * span, H] and their LayerNorm; per layer the
  // separate position projections (when share_att_key is false); the ConvLayer after layer 0.
  std::string relative_embeddings, relative_norm, pos_key, pos_query, conv, conv_norm;
  std::string final_norm;
  std::string pooler;  // dense + tanh on token 0: pooler_output
  std::string head_dense, head_norm, classifier;
};

struct Architecture {
  std::string_view model_type;
  // Class names for configs older than the "model_type" field ("Bert" for BertModel, ...).
  std::string_view class_prefix;
  ConfigKeys keys;
  TensorNames names;
  PositionKind positions = PositionKind::Learned;
  // RoBERTa, XLM-R, CamemBERT, MPNet number positions from padding_idx + 1 and give padding
  // tokens position padding_idx (transformers' create_position_ids_from_input_ids).
  bool positions_after_padding = false;
  bool token_types = true;  // a token-type table exists (when type_vocab_size > 0)
  std::int64_t default_type_vocab_size = 2;
  // Config field that must be true for the learned positions to be added (DeBERTa's
  // position_biased_input); nullptr: always added.
  const char* positions_flag = nullptr;
  bool embedding_size = false;  // "embedding_size" may differ from hidden_size (ELECTRA, ALBERT)
  // Where the E -> H projection sits when they differ: after the embeddings' LayerNorm (over
  // E; ELECTRA, ALBERT, with a bias) or before it (the norm is over H; DeBERTa's embed_proj,
  // without a bias).
  bool projection_before_norm = false;
  bool projection_bias = true;
  NormPlacement norm = NormPlacement::Post;
  AttentionKind attention = AttentionKind::Plain;
  bool gated_ffn = false;     // ffn_in produces [value | gate] halves: act(value) * gate
  bool layer_groups = false;  // ALBERT: layers share num_hidden_groups weight sets
  HeadKind head = HeadKind::Pooler;
  Activation head_activation = Activation::Tanh;
  const char* head_activation_key = nullptr;  // config field overriding head_activation
};

// nullptr for a model_type encore does not implement.
const Architecture* find_architecture(std::string_view model_type);
// The architecture whose class_prefix starts one of `architectures` (old configs).
const Architecture* architecture_from_classes(const std::vector<std::string>& architectures);
// "'bert', 'distilbert', ..." for messages.
std::string supported_model_types();

// `pattern` with "{i}" replaced by `index` (and "{g}" by `group`).
std::string layer_name(const std::string& pattern, long index, long group);

}  // namespace encore

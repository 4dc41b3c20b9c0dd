// An encoder's hyper-parameters, read from a Hugging Face config.json through its
// architecture's description (model/architecture.hpp), plus the sentence-transformers
// pooling and normalisation when the folder has them; validated up front, so the weight
// loader and the runtime can rely on them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/model_config.hpp"
#include "model/architecture.hpp"

namespace encore {

struct EncoderConfig {
  std::filesystem::path source;  // the config.json it came from, for messages

  std::string model_type = "bert";
  std::vector<std::string> architectures;  // e.g. {"BertForSequenceClassification"}
  const Architecture* arch = nullptr;      // never null after load/from_json

  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t max_position_embeddings = 0;
  std::int64_t type_vocab_size = 2;  // 0: no token-type table
  Activation hidden_act = Activation::Gelu;
  double layer_norm_eps = 1e-12;
  std::optional<std::int64_t> pad_token_id;  // HF default 0; null in the file: none

  // Width of the embedding tables: hidden_size unless the architecture projects them
  // (ELECTRA, ALBERT "embedding_size").
  std::int64_t embedding_size = 0;
  // Learned positions of RoBERTa-style models start at padding_idx + 1.
  std::int64_t position_offset = 0;
  // ModernBERT: LayerNorms and linears without bias.
  bool norm_bias = true, attention_bias = true, mlp_bias = true;
  // ALBERT: the layers share this many weight sets, in consecutive runs.
  std::int64_t num_hidden_groups = 1;
  // MPNet: the bias table's bucket count (the bucketing itself always uses 32 buckets and a
  // maximum distance of 128, as transformers' compute_position_bias does).
  std::int64_t relative_attention_num_buckets = 32;
  // ModernBERT: rotary bases, and the sliding window (tokens attend to keys at distance <=
  // local_attention / 2) of every layer whose index is not a multiple of
  // global_attn_every_n_layers.
  double global_rope_theta = 10000, local_rope_theta = 10000;
  std::int64_t local_attention = 0, global_attn_every_n_layers = 1;
  // Whether the learned position table is added (false: DeBERTa with
  // position_biased_input false, or an architecture without one).
  bool learned_positions = true;
  // DeBERTa's disentangled attention: relative positions i - j bucketed (log buckets when
  // position_buckets > 0) into [0, 2 * relative_span); content-to-position (c2p) and
  // position-to-content (p2c) terms; position projections shared with the content ones
  // (share_att_key) or separate; relative embeddings layer-normed (norm_rel_ebd); a ConvLayer
  // (conv_kernel_size > 0) after layer 0.
  bool relative_attention = false, c2p = false, p2c = false, share_att_key = false,
       relative_norm = false;
  std::int64_t position_buckets = -1, max_relative_positions = 0, relative_span = 0;
  std::int64_t conv_kernel_size = 0;
  Activation conv_act = Activation::Tanh;
  // Classification head (HeadKind::Dense): which token(s) it reads, its activation, and
  // whether its dense layer has a bias.
  Pooling head_pooling = Pooling::Cls;
  Activation head_activation = Activation::Tanh;
  bool head_bias = true;

  // Classification head description. As in Hugging Face's PretrainedConfig: id2label, when
  // present, decides num_labels (a disagreeing "num_labels" is ignored); otherwise
  // "num_labels", else 2, with names LABEL_0 .. LABEL_{n-1}.
  std::int64_t num_labels = 2;
  std::vector<std::string> id2label;
  std::map<std::string, std::int64_t> label2id;
  ProblemType problem_type = ProblemType::Unspecified;

  // From 1_Pooling/config.json (sentence-transformers); None when absent.
  Pooling default_pooling = Pooling::None;
  // modules.json lists sentence_transformers.models.Normalize.
  bool default_normalize = false;

  bool is_local_layer(std::int64_t layer) const {
    return local_attention > 0 && layer % global_attn_every_n_layers != 0;
  }

  std::int64_t head_dim() const { return hidden_size / num_attention_heads; }

  // Reads `model_dir`/config.json (and `model_dir`/1_Pooling/config.json if present).
  // Throws encore::Error naming the file and the field for anything missing, mistyped,
  // out of range or unsupported.
  static EncoderConfig load(const std::filesystem::path& model_dir);

  // Validates an already parsed config.json; `source` names it in messages.
  static EncoderConfig from_json(const nlohmann::json& config, const std::filesystem::path& source);

  // Reads a sentence-transformers pooling config (1_Pooling/config.json).
  static Pooling pooling_from_json(const nlohmann::json& pooling, const std::string& source,
                                   std::int64_t hidden_size);
};

}  // namespace encore

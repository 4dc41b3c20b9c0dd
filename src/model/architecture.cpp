#include "model/architecture.hpp"

#include <array>

namespace encore {
namespace {

// BERT's layout, which RoBERTa, XLM-R, CamemBERT and ELECTRA keep under another prefix.
TensorNames bert_names(std::string prefix) {
  TensorNames n;
  n.prefixes = {std::move(prefix), ""};
  n.word = "embeddings.word_embeddings";
  n.position = "embeddings.position_embeddings";
  n.token_type = "embeddings.token_type_embeddings";
  n.embedding_norm = "embeddings.LayerNorm";
  n.layer = "encoder.layer.{i}.";
  n.query = "attention.self.query";
  n.key = "attention.self.key";
  n.value = "attention.self.value";
  n.attention_output = "attention.output.dense";
  n.attention_norm = "attention.output.LayerNorm";
  n.ffn_in = "intermediate.dense";
  n.ffn_out = "output.dense";
  n.ffn_norm = "output.LayerNorm";
  n.pooler = "pooler.dense";
  n.classifier = "classifier";
  return n;
}

Architecture bert() {
  Architecture a;
  a.model_type = "bert";
  a.class_prefix = "Bert";
  a.names = bert_names("bert.");
  return a;
}

// RobertaClassificationHead: dense -> tanh -> out_proj on token 0.
Architecture roberta_like(std::string_view type, std::string_view cls) {
  Architecture a;
  a.model_type = type;
  a.class_prefix = cls;
  a.names = bert_names("roberta.");
  a.names.head_dense = "classifier.dense";
  a.names.classifier = "classifier.out_proj";
  a.positions_after_padding = true;
  a.head = HeadKind::Dense;
  return a;
}

Architecture electra() {
  Architecture a;
  a.model_type = "electra";
  a.class_prefix = "Electra";
  a.names = bert_names("electra.");
  a.names.embedding_projection = "embeddings_project";
  a.names.head_dense = "classifier.dense";
  a.names.classifier = "classifier.out_proj";
  a.embedding_size = true;
  a.head = HeadKind::Dense;
  a.head_activation = Activation::Gelu;  // ElectraClassificationHead: get_activation("gelu")
  return a;
}

Architecture distilbert() {
  Architecture a;
  a.model_type = "distilbert";
  a.class_prefix = "DistilBert";
  a.keys.hidden_size = "dim";
  a.keys.num_layers = "n_layers";
  a.keys.num_heads = "n_heads";
  a.keys.intermediate_size = "hidden_dim";
  a.keys.activation = "activation";
  a.keys.layer_norm_eps = nullptr;  // nn.LayerNorm(eps=1e-12) in the modeling code
  TensorNames& n = a.names;
  n.prefixes = {"distilbert.", ""};
  n.word = "embeddings.word_embeddings";
  n.position = "embeddings.position_embeddings";  // also holds the sinusoidal table
  n.embedding_norm = "embeddings.LayerNorm";
  n.layer = "transformer.layer.{i}.";
  n.query = "attention.q_lin";
  n.key = "attention.k_lin";
  n.value = "attention.v_lin";
  n.attention_output = "attention.out_lin";
  n.attention_norm = "sa_layer_norm";
  n.ffn_in = "ffn.lin1";
  n.ffn_out = "ffn.lin2";
  n.ffn_norm = "output_layer_norm";
  n.head_dense = "pre_classifier";
  n.classifier = "classifier";
  a.token_types = false;
  a.head = HeadKind::Dense;
  a.head_activation = Activation::Relu;
  return a;
}

// BERT's embeddings and FFN names; its own attention names; no token types.
Architecture mpnet() {
  Architecture a;
  a.model_type = "mpnet";
  a.class_prefix = "MPNet";
  a.names = bert_names("mpnet.");
  TensorNames& n = a.names;
  n.token_type.clear();
  n.query = "attention.attn.q";
  n.key = "attention.attn.k";
  n.value = "attention.attn.v";
  n.attention_output = "attention.attn.o";
  n.attention_norm = "attention.LayerNorm";
  n.relative_bias = "encoder.relative_attention_bias";
  n.head_dense = "classifier.dense";
  n.classifier = "classifier.out_proj";
  a.positions_after_padding = true;
  a.token_types = false;
  a.attention = AttentionKind::RelativeBucketBias;
  a.head = HeadKind::Dense;
  return a;
}

// BERT's embedding names; one layer per weight group, with ALBERT's own names.
Architecture albert() {
  Architecture a;
  a.model_type = "albert";
  a.class_prefix = "Albert";
  a.names = bert_names("albert.");
  TensorNames& n = a.names;
  n.embedding_projection = "encoder.embedding_hidden_mapping_in";
  n.layer = "encoder.albert_layer_groups.{g}.albert_layers.0.";
  n.query = "attention.query";
  n.key = "attention.key";
  n.value = "attention.value";
  n.attention_output = "attention.dense";
  n.attention_norm = "attention.LayerNorm";
  n.ffn_in = "ffn";
  n.ffn_out = "ffn_output";
  n.ffn_norm = "full_layer_layer_norm";
  n.pooler = "pooler";
  a.embedding_size = true;
  a.layer_groups = true;
  return a;
}

Architecture modernbert() {
  Architecture a;
  a.model_type = "modernbert";
  a.class_prefix = "ModernBert";
  a.keys.activation = "hidden_activation";
  a.keys.layer_norm_eps = "norm_eps";
  a.keys.default_layer_norm_eps = 1e-5;
  TensorNames& n = a.names;
  n.prefixes = {"model.", ""};
  n.word = "embeddings.tok_embeddings";
  n.embedding_norm = "embeddings.norm";
  n.layer = "layers.{i}.";
  n.qkv = "attn.Wqkv";
  n.attention_output = "attn.Wo";
  n.attention_norm = "attn_norm";  // absent (Identity) in layer 0
  n.ffn_in = "mlp.Wi";
  n.ffn_out = "mlp.Wo";
  n.ffn_norm = "mlp_norm";
  n.final_norm = "final_norm";
  n.head_dense = "head.dense";
  n.head_norm = "head.norm";
  n.classifier = "classifier";
  a.positions = PositionKind::Rotary;
  a.token_types = false;
  a.norm = NormPlacement::Pre;
  a.gated_ffn = true;
  a.head = HeadKind::Dense;
  a.head_activation = Activation::Gelu;
  a.head_activation_key = "classifier_activation";
  return a;
}

Architecture deberta_v2() {
  Architecture a;
  a.model_type = "deberta-v2";
  a.class_prefix = "DebertaV2";
  a.names = bert_names("deberta.");
  TensorNames& n = a.names;
  n.query = "attention.self.query_proj";
  n.key = "attention.self.key_proj";
  n.value = "attention.self.value_proj";
  n.pooler.clear();
  n.relative_embeddings = "encoder.rel_embeddings";
  n.relative_norm = "encoder.LayerNorm";
  n.pos_key = "attention.self.pos_key_proj";
  n.pos_query = "attention.self.pos_query_proj";
  n.conv = "encoder.conv.conv";
  n.conv_norm = "encoder.conv.LayerNorm";
  n.head_dense = "pooler.dense";  // ContextPooler: dense -> act on token 0
  n.classifier = "classifier";
  n.embedding_projection = "embeddings.embed_proj";
  a.embedding_size = true;
  a.projection_before_norm = true;
  a.projection_bias = false;
  a.default_type_vocab_size = 0;
  a.positions_flag = "position_biased_input";
  a.attention = AttentionKind::Disentangled;
  a.head = HeadKind::Dense;
  a.head_activation = Activation::Gelu;
  a.head_activation_key = "pooler_hidden_act";
  return a;
}

const std::array<Architecture, 10>& table() {
  static const std::array<Architecture, 10> t = {
      bert(),
      distilbert(),
      roberta_like("roberta", "Roberta"),
      roberta_like("xlm-roberta", "XLMRoberta"),
      roberta_like("camembert", "Camembert"),
      electra(),
      mpnet(),
      albert(),
      modernbert(),
      deberta_v2(),
  };
  return t;
}

}  // namespace

const Architecture* find_architecture(std::string_view model_type) {
  for (const auto& a : table())
    if (a.model_type == model_type) return &a;
  return nullptr;
}

const Architecture* architecture_from_classes(const std::vector<std::string>& classes) {
  // Longest prefix first: "DistilBertModel" must not match "Bert".
  const Architecture* best = nullptr;
  for (const auto& c : classes)
    for (const auto& a : table())
      if (c.rfind(a.class_prefix, 0) == 0 &&
          (!best || a.class_prefix.size() > best->class_prefix.size()))
        best = &a;
  return best;
}

std::string supported_model_types() {
  std::string s;
  for (const auto& a : table()) s += (s.empty() ? "'" : ", '") + std::string(a.model_type) + "'";
  return s;
}

std::string layer_name(const std::string& pattern, long index, long group) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.compare(i, 3, "{i}") == 0) {
      out += std::to_string(index);
      i += 2;
    } else if (pattern.compare(i, 3, "{g}") == 0) {
      out += std::to_string(group);
      i += 2;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

}  // namespace encore

// A BERT model's hyper-parameters, read from a Hugging Face config.json (plus the
// sentence-transformers pooling config when the folder has one) and validated up front, so
// the weight loader and the runtime can rely on them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/model_config.hpp"

namespace encore {

struct BertConfig {
  std::filesystem::path source;  // the config.json it came from, for messages

  std::string model_type = "bert";
  std::vector<std::string> architectures;  // e.g. {"BertForSequenceClassification"}

  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t max_position_embeddings = 0;
  std::int64_t type_vocab_size = 2;
  Activation hidden_act = Activation::Gelu;
  double layer_norm_eps = 1e-12;
  std::optional<std::int64_t> pad_token_id;  // HF default 0; null in the file: none

  // Classification head description. As in Hugging Face's PretrainedConfig: id2label, when
  // present, decides num_labels (a disagreeing "num_labels" is ignored); otherwise
  // "num_labels", else 2, with names LABEL_0 .. LABEL_{n-1}.
  std::int64_t num_labels = 2;
  std::vector<std::string> id2label;
  std::map<std::string, std::int64_t> label2id;
  ProblemType problem_type = ProblemType::Unspecified;

  // From 1_Pooling/config.json (sentence-transformers); None when absent.
  Pooling default_pooling = Pooling::None;

  std::int64_t head_dim() const { return hidden_size / num_attention_heads; }

  // Reads `model_dir`/config.json (and `model_dir`/1_Pooling/config.json if present).
  // Throws encore::Error naming the file and the field for anything missing, mistyped,
  // out of range or unsupported.
  static BertConfig load(const std::filesystem::path& model_dir);

  // Validates an already parsed config.json; `source` names it in messages.
  static BertConfig from_json(const nlohmann::json& config, const std::filesystem::path& source);

  // Reads a sentence-transformers pooling config (1_Pooling/config.json).
  static Pooling pooling_from_json(const nlohmann::json& pooling, const std::string& source,
                                   std::int64_t hidden_size);
};

}  // namespace encore

// encore's main entry point: load a Hugging Face encoder folder once (BERT, DistilBERT,
// RoBERTa/XLM-R/CamemBERT, ELECTRA, MPNet, ALBERT, ModernBERT), then classify,
// embed or run raw forward passes on batches of texts. A loaded Model is immutable and may be
// used from several threads at once; each call borrows its own working memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "encore/model_config.hpp"
#include "encore/precision.hpp"
#include "encore/scores.hpp"
#include "encore/tokenizer.hpp"

namespace encore {

struct TextInput {
  std::string text;
  std::optional<std::string> pair;
};

// Texts that stand for the traffic, for INT8 static calibration and automatic fallback.
struct CalibrationOptions {
  std::vector<TextInput> texts;
  std::string source;                 // where the texts came from (recorded in plans)
  std::string method = "percentile";  // minmax | percentile | entropy
  double percentile = 99.99;
};

struct ModelOptions {
  int threads = 0;  // 0: the CPUs this process may use (affinity, cgroup quota)
  // nullopt: FP32 for a Hugging Face folder, the built precision for a plan.
  std::optional<Precision> precision;
  CalibrationOptions calibration;  // texts required for Int8Static and fallback_auto
  // Keep in BF16 each INT8 layer whose output's mean token cosine to FP32 on the
  // calibration texts falls below fallback_min_cosine.
  bool fallback_auto = false;
  double fallback_min_cosine = 0.995;
  // INT8: smooth attention-output GEMM inputs with outlier channels (SmoothQuant folded into
  // the weights) where that measurably lowers the error; false keeps plain INT8 (A/B).
  bool smooth_outliers = true;
};

struct BatchOptions {
  std::size_t batch_size = 32;          // sequences per forward pass
  std::size_t max_batch_tokens = 8192;  // tokens per forward pass (a longer input runs alone)
  std::size_t max_length = 0;           // 0: the model's default
  bool truncate = true;                 // false: inputs longer than max_length are an error
  TruncationDirection truncation_direction = TruncationDirection::Right;  // Left keeps the end
};

// Per input row, the tensors `encore run` writes (names as in ../shared/reference).
struct RowOutput {
  std::vector<std::int32_t> input_ids, token_type_ids;
  std::vector<float> last_hidden_state;  // [tokens, hidden]
  std::vector<float> cls, mean_pooled;   // [hidden]
  std::vector<float> pooler_output;      // [hidden], when the model has a pooler
  std::vector<float> logits;             // [labels], when the model has a classifier
  // [hidden], for sentence-transformers folders: their 1_Pooling mode, then L2
  // normalisation when modules.json lists Normalize.
  std::vector<float> sentence_embedding;
  bool truncated = false;
};

struct Classification {
  std::vector<LabelScore> labels;  // best first (top-k, or all)
  std::vector<float> logits;
  bool truncated = false;
};

enum class EmbeddingPooling { Cls, Mean, Pooler };

class Model {
 public:
  static std::shared_ptr<const Model> load(const std::filesystem::path& dir,
                                           const ModelOptions& options = {});
  ~Model();

  const Tokenizer& tokenizer() const;
  std::size_t max_length() const;  // default truncation length
  std::int64_t hidden_size() const;
  std::int64_t num_layers() const;
  std::int64_t num_labels() const;  // 0 without a classifier
  const std::vector<std::string>& labels() const;
  std::optional<std::int64_t> label_id(const std::string& label) const;
  bool has_pooler() const;
  bool has_classifier() const;
  ProblemType problem_type() const;
  Pooling default_pooling() const;
  bool default_normalize() const;  // modules.json lists sentence_transformers' Normalize
  const std::string& model_type() const;
  int threads() const;
  std::int64_t parameter_count() const;
  Precision precision() const;
  // Per encoder layer: "fp32", "bf16" or "int8" (after any fallback).
  std::vector<std::string> layer_precisions() const;
  // Things the user should know about how the model runs (e.g. BF16 falling back to FP32
  // on a CPU without BF16 instructions), one sentence each.
  const std::vector<std::string>& notices() const;
  bool is_plan() const;  // loaded from an `encore build` folder

  std::vector<RowOutput> forward(std::span<const TextInput> inputs,
                                 const BatchOptions& batching = {}) const;
  // Tokenizes `inputs` as forward/classify/embed do (max_length, truncate), for callers that
  // batch tokenized rows themselves (a server tokenizes on its own threads).
  std::vector<Encoding> encode(std::span<const TextInput> inputs,
                               const BatchOptions& batching = {}) const;
  // forward() on tokenized rows (from encode()); with `hidden_states` false, each row's
  // last_hidden_state stays empty (its cls, mean_pooled and head outputs are still filled).
  std::vector<RowOutput> forward_encoded(std::span<const Encoding> rows,
                                         const BatchOptions& batching = {},
                                         bool hidden_states = true) const;
  // Allocates and touches the working memory of the largest batch `max_batch_tokens` allows
  // (its rows as short as the tokenizer's special tokens make them), for one caller at a time:
  // a server's memory is then at its peak from the start instead of creeping up to it.
  void reserve(std::size_t max_batch_tokens) const;
  // Throws InputError naming the first row that forward_encoded would refuse: empty, token or
  // type ids outside the model's tables, or longer than max_length().
  void check_encoded(std::span<const Encoding> rows) const;
  // Scores by `scores` (Default: softmax for single-label models, sigmoid for multi-label and
  // one-logit models, raw values for regression). top_k 0 returns every label.
  std::vector<Classification> classify(std::span<const TextInput> inputs, std::size_t top_k = 1,
                                       const BatchOptions& batching = {},
                                       ScoreFunction scores = ScoreFunction::Default) const;
  std::vector<std::vector<float>> embed(std::span<const TextInput> inputs, EmbeddingPooling pooling,
                                        bool normalize, const BatchOptions& batching = {}) const;

  // encore's own tools reach the encoder through this (src/runtime/model_impl.hpp).
  struct Impl;
  const Impl& internals() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace encore

// From a classifier's logits to what callers show: Hugging Face's function_to_apply, labels
// ranked best first, and L2 normalisation of embeddings. One definition for Model::classify,
// the Python module and the server.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "encore/model_config.hpp"

namespace encore {

struct LabelScore {
  std::string label;
  float score;
};

// Default follows the text-classification pipeline: sigmoid for multi-label and one-logit
// models, raw values for regression, softmax otherwise.
enum class ScoreFunction { Default, Softmax, Sigmoid, None };

std::vector<float> label_scores(std::span<const float> logits, ProblemType problem,
                                ScoreFunction f = ScoreFunction::Default);

// The `top_k` best labels (0: all), ties in label order; ids past `names` are "LABEL_<id>".
std::vector<LabelScore> ranked_labels(std::span<const float> scores,
                                      const std::vector<std::string>& names, std::size_t top_k);
// The same ranking as label ids, and the name of one id.
std::vector<std::size_t> ranked_label_ids(std::span<const float> scores, std::size_t top_k);
std::string label_name(const std::vector<std::string>& names, std::size_t id);

// v / |v|; a zero vector stays zero.
void normalize_l2(std::span<float> v);

}  // namespace encore

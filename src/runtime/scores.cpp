#include "encore/scores.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace encore {

std::vector<float> label_scores(std::span<const float> logits, ProblemType problem,
                                ScoreFunction f) {
  std::vector<float> s(logits.begin(), logits.end());
  if (f == ScoreFunction::Default) {
    if (problem == ProblemType::Regression)
      f = ScoreFunction::None;
    else if (problem == ProblemType::MultiLabel || s.size() == 1)
      f = ScoreFunction::Sigmoid;
    else
      f = ScoreFunction::Softmax;
  }
  if (f == ScoreFunction::Sigmoid) {
    for (auto& v : s) v = 1.f / (1.f + std::exp(-v));
  } else if (f == ScoreFunction::Softmax && !s.empty()) {
    const float m = *std::max_element(s.begin(), s.end());
    float sum = 0.f;
    for (auto& v : s) sum += (v = std::exp(v - m));
    for (auto& v : s) v /= sum;
  }
  return s;
}

std::vector<std::size_t> ranked_label_ids(std::span<const float> scores, std::size_t top_k) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  if (top_k != 0 && top_k < order.size()) order.resize(top_k);
  return order;
}

std::string label_name(const std::vector<std::string>& names, std::size_t id) {
  return id < names.size() ? names[id] : "LABEL_" + std::to_string(id);
}

std::vector<LabelScore> ranked_labels(std::span<const float> scores,
                                      const std::vector<std::string>& names, std::size_t top_k) {
  std::vector<LabelScore> out;
  for (const std::size_t id : ranked_label_ids(scores, top_k))
    out.push_back({label_name(names, id), scores[id]});
  return out;
}

void normalize_l2(std::span<float> v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.f;
  for (auto& x : v) x *= inv;
}

}  // namespace encore

// Accuracy of a classifier on labelled data, per precision: what `eval` prints, what
// `--precision auto` decides on, and what `eval --layer-report` adds.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "encore/model.hpp"
#include "jsonl_inputs.hpp"
#include "model_args.hpp"

namespace encore::cli {

struct Metrics {
  std::size_t rows = 0, correct = 0;
  double accuracy = 0, macro_f1 = 0;
};

// Macro-F1 over the classes that occur as gold or prediction (scikit-learn's convention).
Metrics score(const std::vector<std::int64_t>& gold, const std::vector<std::int64_t>& pred);

// --data read with the label fields, labels mapped to the model's ids (InputError naming
// the line for a label the model does not have).
struct LabelledData {
  JsonlRows rows;
  std::vector<std::int64_t> gold;
};
LabelledData read_labelled(const ModelArgs& a, const Model& model);

struct EvalResult {
  std::string precision;
  Metrics metrics;
  std::vector<std::int64_t> pred;
  double seconds = 0;  // classify wall time, tokenization included
  double load_ms = 0;
  std::size_t truncated = 0;
  std::vector<std::string> layers;  // per-layer precision
};
EvalResult evaluate(const Model& model, const LabelledData& data, const BatchOptions& b, bool progress);

// --precision auto: evaluates fp32, bf16, int8-dynamic (and int8-static with --calibration)
// on --data; returns the model (already loaded) of the fastest whose accuracy is at most
// --max-accuracy-drop points below FP32's, printing the candidates to stderr.
std::shared_ptr<const Model> choose_precision(const ModelArgs& a);

}  // namespace encore::cli

// Flags shared by every command that runs a model, and the helpers to act on them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "encore/model.hpp"

namespace encore::cli {

struct ModelArgs {
  std::string model;
  int threads = 0;
  std::size_t max_length = 0;
  std::size_t batch_size = 32;
  std::size_t max_batch_tokens = 8192;
  bool no_truncate = false;
  std::vector<std::string> texts;  // positional TEXT arguments
  std::string pair;
  std::string input;  // --input FILE.jsonl
  std::string profile;  // --profile FILE.json (Chrome trace)
  // Precision (`--precision`), INT8 calibration and fallback.
  std::string precision;  // empty: fp32 (or a plan's); "auto": chosen on --data
  std::string calibration, calibration_method = "percentile";
  double percentile = 99.99;
  std::size_t calibration_limit = 0;
  std::string fallback = "none";
  double fallback_min_cosine = 0.995;
  double max_accuracy_drop = 0.5;  // points, for --precision auto
  std::string data, text_field = "text", pair_field, label_field = "intent";  // labelled data
};

// Enables the profiler when --profile was given (call before loading the model).
void start_profile(const ModelArgs& a);
// Writes the Chrome trace when --profile was given.
void finish_profile(const ModelArgs& a);

// Adds --model and --threads (commands that load a model but run no texts, as build).
void add_model_folder_options(CLI::App* cmd, ModelArgs& a);

// Adds add_model_folder_options' plus --max-length --batch-size --max-batch-tokens --no-truncate and,
// when `with_texts`, positional TEXT... plus --pair and --input.
void add_model_options(CLI::App* cmd, ModelArgs& a, bool with_texts);

// Loads --model in --precision; "auto" evaluates the candidates on --data first and says on
// stderr which it chose. Notices (e.g. a BF16 fallback) go to stderr.
std::shared_ptr<const Model> load_model(const ModelArgs& a);
// load_model for one given precision (calibration and fallback flags apply).
std::shared_ptr<const Model> load_model(const ModelArgs& a, Precision precision);
// --model with explicit options (model_options(a), possibly adjusted).
std::shared_ptr<const Model> load_model(const ModelArgs& a, const ModelOptions& options);
ModelOptions model_options(const ModelArgs& a);

// Adds --precision (with `all` when allow_all) and the calibration/fallback flags.
void add_precision_options(CLI::App* cmd, ModelArgs& a, bool allow_all);
// Adds --data --text-field --pair-field --label-field.
void add_data_options(CLI::App* cmd, ModelArgs& a, const std::string& what);
BatchOptions batch_options(const ModelArgs& a);

// The inputs given as arguments or as --input (exactly one of the two).
std::vector<TextInput> collect_inputs(const ModelArgs& a);

// One stderr line when some inputs were cut to the maximum length.
void report_truncations(std::size_t truncated, std::size_t max_length);

// Writes `s` to stdout in one go (no partial output on a later error: callers build all
// lines first).
void write_stdout(const std::string& s);

}  // namespace encore::cli

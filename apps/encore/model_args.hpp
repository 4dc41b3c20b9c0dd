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
};

// Enables the profiler when --profile was given (call before loading the model).
void start_profile(const ModelArgs& a);
// Writes the Chrome trace when --profile was given.
void finish_profile(const ModelArgs& a);

// Adds --model --threads --max-length --batch-size --max-batch-tokens --no-truncate and,
// when `with_texts`, positional TEXT... plus --pair and --input.
void add_model_options(CLI::App* cmd, ModelArgs& a, bool with_texts);

std::shared_ptr<const Model> load_model(const ModelArgs& a);
BatchOptions batch_options(const ModelArgs& a);

// The inputs given as arguments or as --input (exactly one of the two).
std::vector<TextInput> collect_inputs(const ModelArgs& a);

// One stderr line when some inputs were cut to the maximum length.
void report_truncations(std::size_t truncated, std::size_t max_length);

// Writes `s` to stdout in one go (no partial output on a later error: callers build all
// lines first).
void write_stdout(const std::string& s);

}  // namespace encore::cli

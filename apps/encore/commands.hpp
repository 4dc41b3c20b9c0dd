// Sub-command registration for the `encore` binary.
#pragma once

#include <CLI/CLI.hpp>

namespace encore::cli {

// The embedded demo model, used when --model is not given (ENCORE_MODEL overrides).
std::string default_model_dir();

void add_tokenize_command(CLI::App& app);
void add_classify_command(CLI::App& app);
void add_embed_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_build_command(CLI::App& app);
void add_tune_command(CLI::App& app);
void add_serve_command(CLI::App& app);

}  // namespace encore::cli

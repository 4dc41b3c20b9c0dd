#include "model_args.hpp"

#include <iostream>

#include "commands.hpp"
#include "core/profiler.hpp"
#include "jsonl_inputs.hpp"

namespace encore::cli {

void add_model_options(CLI::App* cmd, ModelArgs& a, bool with_texts) {
  cmd->add_option("--model", a.model, "Hugging Face model folder (default: the embedded demo model)");
  cmd->add_option("--threads", a.threads, "Threads (default: CPUs available to this process)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-length", a.max_length, "Maximum tokens per input (default: the model's)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch-size", a.batch_size, "Sequences per forward pass")->check(CLI::PositiveNumber);
  cmd->add_option("--max-batch-tokens", a.max_batch_tokens, "Tokens per forward pass")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-truncate", a.no_truncate, "Fail on inputs longer than the maximum instead of truncating");
  cmd->add_option("--profile", a.profile, "Write a Chrome trace (chrome://tracing) of every operation");
  if (with_texts) {
    cmd->add_option("text", a.texts, "Texts to process");
    cmd->add_option("--pair", a.pair, "Second text of a pair (with a single TEXT)");
    cmd->add_option("--input", a.input, "JSON lines {\"text\", \"text_pair\"?} ('-': stdin)");
  }
}

void start_profile(const ModelArgs& a) {
  if (!a.profile.empty()) Profiler::instance().enable();
}

void finish_profile(const ModelArgs& a) {
  if (!a.profile.empty()) Profiler::instance().write_chrome_trace(a.profile);
}

std::shared_ptr<const Model> load_model(const ModelArgs& a) {
  ModelOptions o;
  o.threads = a.threads;
  return Model::load(a.model.empty() ? default_model_dir() : a.model, o);
}

BatchOptions batch_options(const ModelArgs& a) {
  BatchOptions b;
  b.batch_size = a.batch_size;
  b.max_batch_tokens = a.max_batch_tokens;
  b.max_length = a.max_length;
  b.truncate = !a.no_truncate;
  return b;
}

std::vector<TextInput> collect_inputs(const ModelArgs& a) {
  if (!a.texts.empty() && !a.input.empty()) throw InputError("give either TEXT arguments or --input, not both");
  if (a.texts.empty() && a.input.empty()) throw InputError("give TEXT arguments or --input FILE.jsonl");
  if (!a.pair.empty() && a.texts.size() != 1) throw InputError("--pair needs exactly one TEXT");
  if (!a.input.empty()) return read_jsonl(a.input).inputs;
  std::vector<TextInput> out;
  for (std::size_t i = 0; i < a.texts.size(); ++i) {
    check_utf8(a.texts[i], "TEXT " + std::to_string(i + 1));
    out.push_back({a.texts[i], std::nullopt});
  }
  if (!a.pair.empty()) {
    check_utf8(a.pair, "--pair");
    out[0].pair = a.pair;
  }
  return out;
}

void report_truncations(std::size_t truncated, std::size_t max_length) {
  if (truncated > 0) {
    std::cerr << "encore: " << truncated << " input" << (truncated == 1 ? " was" : "s were")
              << " truncated to " << max_length << " tokens (--no-truncate makes this an error)\n";
  }
}

void write_stdout(const std::string& s) {
  std::cout << s << std::flush;
}

}  // namespace encore::cli

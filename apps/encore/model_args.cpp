#include "model_args.hpp"

#include <iostream>

#include "commands.hpp"
#include "core/profiler.hpp"
#include "jsonl_inputs.hpp"
#include "precision_eval.hpp"

namespace encore::cli {

void add_model_folder_options(CLI::App* cmd, ModelArgs& a) {
  cmd->add_option("--model", a.model, "Hugging Face model folder (default: the embedded demo model)");
  cmd->add_option("--threads", a.threads, "Threads (default: CPUs available to this process)")
      ->check(CLI::NonNegativeNumber);
}

void add_model_options(CLI::App* cmd, ModelArgs& a, bool with_texts) {
  add_model_folder_options(cmd, a);
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

void add_precision_options(CLI::App* cmd, ModelArgs& a, bool allow_all) {
  cmd->add_option("--precision", a.precision,
                  std::string("fp32 | bf16 | int8 (= int8-dynamic) | int8-static | auto") +
                      (allow_all ? " | all" : "") +
                      " (auto: the fastest whose accuracy on --data drops at most --max-accuracy-drop)");
  cmd->add_option("--calibration", a.calibration, "JSON lines texts for int8-static calibration and --fallback auto");
  cmd->add_option("--calibration-method", a.calibration_method, "minmax | percentile | entropy")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy"}));
  cmd->add_option("--percentile", a.percentile, "Percentile kept by --calibration-method percentile")
      ->check(CLI::Range(50.0, 100.0));
  cmd->add_option("--calibration-limit", a.calibration_limit, "Use only the first N calibration texts (0: all)");
  cmd->add_option("--fallback", a.fallback, "none | auto: INT8 layers that drift from FP32 on the calibration texts run in BF16")
      ->check(CLI::IsMember({"none", "auto"}));
  cmd->add_option("--fallback-min-cosine", a.fallback_min_cosine,
                  "--fallback auto keeps a layer INT8 while its mean token cosine to FP32 is at least this")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-accuracy-drop", a.max_accuracy_drop, "--precision auto: accuracy points allowed to be lost")
      ->check(CLI::NonNegativeNumber);
}

void add_data_options(CLI::App* cmd, ModelArgs& a, const std::string& what) {
  cmd->add_option("--data", a.data, what);
  cmd->add_option("--text-field", a.text_field, "Field of --data holding the text");
  cmd->add_option("--pair-field", a.pair_field, "Field of --data holding the second text of a pair");
  cmd->add_option("--label-field", a.label_field, "Field of --data holding the gold label name");
}

ModelOptions model_options(const ModelArgs& a) {
  ModelOptions o;
  o.threads = a.threads;
  if (!a.calibration.empty()) {
    o.calibration.texts = read_jsonl(a.calibration).inputs;
    if (a.calibration_limit && o.calibration.texts.size() > a.calibration_limit)
      o.calibration.texts.resize(a.calibration_limit);
    o.calibration.source = std::filesystem::path(a.calibration).filename().string();
  }
  o.calibration.method = a.calibration_method;
  o.calibration.percentile = a.percentile;
  o.fallback_auto = a.fallback == "auto";
  o.fallback_min_cosine = a.fallback_min_cosine;
  return o;
}

std::shared_ptr<const Model> load_model(const ModelArgs& a, const ModelOptions& o) {
  auto model = Model::load(a.model.empty() ? default_model_dir() : a.model, o);
  for (const auto& n : model->notices()) std::cerr << "encore: " << n << "\n";
  return model;
}

std::shared_ptr<const Model> load_model(const ModelArgs& a, Precision precision) {
  ModelOptions o = model_options(a);
  o.precision = precision;
  return load_model(a, o);
}

std::shared_ptr<const Model> load_model(const ModelArgs& a) {
  if (a.precision == "all") throw InputError("--precision all is for eval; choose one precision here");
  if (a.precision == "auto") return choose_precision(a);
  ModelOptions o = model_options(a);
  if (!a.precision.empty()) o.precision = parse_precision(a.precision);
  return load_model(a, o);
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

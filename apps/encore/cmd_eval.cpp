// encore eval: accuracy and macro-F1 of a classifier on a labelled JSON lines file.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "jsonl_inputs.hpp"
#include "model_args.hpp"

namespace encore::cli {
namespace {

struct Metrics {
  std::size_t rows = 0, correct = 0;
  double accuracy = 0, macro_f1 = 0;
};

// Macro-F1 over the classes that occur as gold or prediction (scikit-learn's convention).
Metrics score(const std::vector<std::int64_t>& gold, const std::vector<std::int64_t>& pred) {
  Metrics m;
  m.rows = gold.size();
  std::map<std::int64_t, std::size_t> tp, fp, fn;
  std::set<std::int64_t> classes;
  for (std::size_t i = 0; i < gold.size(); ++i) {
    classes.insert(gold[i]);
    classes.insert(pred[i]);
    if (gold[i] == pred[i]) {
      ++m.correct;
      ++tp[gold[i]];
    } else {
      ++fp[pred[i]];
      ++fn[gold[i]];
    }
  }
  m.accuracy = m.rows ? static_cast<double>(m.correct) / static_cast<double>(m.rows) : 0;
  double f1_sum = 0;
  for (auto c : classes) {
    const double t = static_cast<double>(tp[c]);
    const double denom = 2 * t + static_cast<double>(fp[c] + fn[c]);
    f1_sum += denom > 0 ? 2 * t / denom : 0;
  }
  m.macro_f1 = classes.empty() ? 0 : f1_sum / static_cast<double>(classes.size());
  return m;
}

void progress(std::size_t done, std::size_t total) {
  const int width = 40;
  const int filled = total ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), done, total);
  if (done == total) std::fprintf(stderr, "\n");
}

}  // namespace

void add_eval_command(CLI::App& app) {
  struct Args : ModelArgs {
    std::string data, text_field = "text", pair_field, label_field = "intent";
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("eval", "Accuracy and macro-F1 on a labelled JSON lines file");
  add_model_options(cmd, *a, false);
  cmd->add_option("--data", a->data, "Labelled JSON lines file")->required();
  cmd->add_option("--text-field", a->text_field, "Field holding the text");
  cmd->add_option("--pair-field", a->pair_field, "Field holding the second text of a pair");
  cmd->add_option("--label-field", a->label_field, "Field holding the gold label name");
  cmd->add_flag("--json", a->json, "Print the metrics as JSON");
  cmd->callback([a] {
    const JsonlRows rows = read_jsonl(a->data, a->text_field, a->pair_field, a->label_field);
    const auto model = load_model(*a);
    if (!model->has_classifier()) throw Error("eval needs a model with a classification head");
    std::vector<std::int64_t> gold(rows.inputs.size());
    for (std::size_t i = 0; i < rows.labels.size(); ++i) {
      const auto id = model->label_id(rows.labels[i]);
      if (!id) {
        throw InputError(a->data + ":" + std::to_string(rows.line_numbers[i]) + ": label '" +
                         rows.labels[i] + "' is not one of the model's labels");
      }
      gold[i] = *id;
    }
    const bool tty = isatty(STDERR_FILENO);
    const BatchOptions b = batch_options(*a);
    std::vector<std::int64_t> pred;
    pred.reserve(gold.size());
    std::size_t truncated = 0;
    const std::size_t chunk = 512;
    for (std::size_t first = 0; first < rows.inputs.size(); first += chunk) {
      const std::size_t n = std::min(chunk, rows.inputs.size() - first);
      const auto results = model->classify(std::span(rows.inputs).subspan(first, n), 1, b);
      for (const auto& r : results) {
        pred.push_back(*model->label_id(r.labels[0].label));
        truncated += r.truncated;
      }
      if (tty) progress(first + n, rows.inputs.size());
    }
    const Metrics m = score(gold, pred);
    report_truncations(truncated, a->max_length ? std::min(a->max_length, model->max_length()) : model->max_length());
    if (a->json) {
      nlohmann::json j{{"data", a->data},         {"rows", m.rows},
                       {"correct", m.correct},    {"accuracy", m.accuracy},
                       {"macro_f1", m.macro_f1}};
      write_stdout(j.dump() + "\n");
    } else {
      char buf[256];
      std::snprintf(buf, sizeof buf, "rows      %zu\naccuracy  %.6f (%zu/%zu)\nmacro_f1  %.6f\n", m.rows,
                    m.accuracy, m.correct, m.rows, m.macro_f1);
      write_stdout(buf);
    }
  });
}

}  // namespace encore::cli

#include "precision_eval.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

namespace encore::cli {

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

LabelledData read_labelled(const ModelArgs& a, const Model& model) {
  if (a.data.empty()) throw InputError("give a labelled --data FILE.jsonl");
  if (!model.has_classifier()) throw Error("accuracy needs a model with a classification head");
  LabelledData d{read_jsonl(a.data, a.text_field, a.pair_field, a.label_field), {}};
  d.gold.resize(d.rows.inputs.size());
  for (std::size_t i = 0; i < d.rows.labels.size(); ++i) {
    const auto id = model.label_id(d.rows.labels[i]);
    if (!id)
      throw InputError(a.data + ":" + std::to_string(d.rows.line_numbers[i]) + ": label '" + d.rows.labels[i] +
                       "' is not one of the model's labels");
    d.gold[i] = *id;
  }
  return d;
}

namespace {
void progress_bar(std::size_t done, std::size_t total) {
  const int width = 40;
  const int filled = total ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), done, total);
  if (done == total) std::fprintf(stderr, "\n");
}
}  // namespace

EvalResult evaluate(const Model& model, const LabelledData& data, const BatchOptions& b, bool progress) {
  EvalResult r;
  r.precision = to_string(model.precision());
  r.layers = model.layer_precisions();
  r.pred.reserve(data.gold.size());
  const auto& inputs = data.rows.inputs;
  const std::size_t chunk = 512;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t first = 0; first < inputs.size(); first += chunk) {
    const std::size_t n = std::min(chunk, inputs.size() - first);
    const auto results = model.classify(std::span(inputs).subspan(first, n), 1, b);
    for (const auto& c : results) {
      r.pred.push_back(*model.label_id(c.labels[0].label));
      r.truncated += c.truncated;
    }
    if (progress) progress_bar(first + n, inputs.size());
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.metrics = score(data.gold, r.pred);
  return r;
}

std::shared_ptr<const Model> choose_precision(const ModelArgs& a) {
  if (a.data.empty())
    throw InputError("--precision auto needs a labelled --data FILE.jsonl to measure accuracy on");
  std::vector<Precision> candidates{Precision::FP32, Precision::BF16, Precision::Int8Dynamic};
  if (!a.calibration.empty()) candidates.push_back(Precision::Int8Static);
  std::optional<LabelledData> data;
  std::optional<double> base;  // FP32 accuracy
  std::shared_ptr<const Model> best;
  double best_seconds = 0;
  for (Precision p : candidates) {
    auto model = load_model(a, p);
    if (model->precision() != p) continue;  // e.g. BF16 unavailable: said by a notice
    if (!data) {
      data = read_labelled(a, *model);
      std::cerr << "encore: --precision auto on " << a.data << " (" << data->gold.size() << " rows):\n";
    }
    const EvalResult r = evaluate(*model, *data, batch_options(a), false);
    if (!base) base = r.metrics.accuracy;
    const double drop = 100.0 * (*base - r.metrics.accuracy);
    const bool ok = drop <= a.max_accuracy_drop + 1e-9;
    char line[200];
    std::snprintf(line, sizeof line, "  %-13s accuracy %.4f  drop %+.2f pts  %.2f s%s\n", to_string(p).c_str(),
                  r.metrics.accuracy, drop, r.seconds, ok ? "" : "  (over --max-accuracy-drop)");
    std::cerr << line;
    // Keep only the best model so far loaded: the chosen one is returned, not loaded again.
    if (!best || (ok && r.seconds < best_seconds)) {
      best = std::move(model);
      best_seconds = r.seconds;
    }
  }
  std::cerr << "encore: --precision auto chose " << to_string(best->precision()) << "\n";
  return best;
}

}  // namespace encore::cli

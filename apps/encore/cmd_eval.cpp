// encore eval: accuracy and macro-F1 of a classifier on a labelled JSON lines file, in one
// precision or side by side in all of them (--precision all), with an optional per-layer
// drift report against FP32 (--layer-report).
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "model_args.hpp"
#include "precision_eval.hpp"
#include "quant/layer_report.hpp"
#include "runtime/model_impl.hpp"

namespace encore::cli {
namespace {

// Per layer, each model's agreement with models[0] (FP32) on the data, tokenized once for all.
std::vector<std::vector<quant::LayerAgreement>> layer_reports(const std::vector<std::shared_ptr<const Model>>& models,
                                                              const LabelledData& d) {
  const Model& fp32 = *models[0];
  const auto rows = fp32.internals().encode_all(d.rows.inputs, BatchOptions{});
  std::vector<std::vector<quant::LayerAgreement>> out(models.size());
  for (std::size_t i = 1; i < models.size(); ++i)
    out[i] = quant::compare_layers(*fp32.internals().encoder, *models[i]->internals().encoder,
                                   static_cast<int>(fp32.num_layers()), rows);
  return out;
}

}  // namespace

void add_eval_command(CLI::App& app) {
  struct Args : ModelArgs {
    bool json = false, layer_report = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("eval", "Accuracy and macro-F1 on a labelled JSON lines file, per precision");
  add_model_options(cmd, *a, false);
  add_precision_options(cmd, *a, true);
  add_data_options(cmd, *a, "Labelled JSON lines file");
  cmd->get_option("--data")->required();
  cmd->add_flag("--json", a->json, "Print the metrics as JSON");
  cmd->add_flag("--layer-report", a->layer_report,
                "Per layer: cosine similarity of its output to FP32's on --data, for each non-FP32 precision");
  cmd->callback([a] {
    const bool tty = isatty(STDERR_FILENO);
    const BatchOptions b = batch_options(*a);
    std::vector<Precision> precisions;
    if (a->precision == "all") {
      precisions = {Precision::FP32, Precision::BF16, Precision::Int8Dynamic};
      if (!a->calibration.empty()) precisions.push_back(Precision::Int8Static);
      else std::cerr << "encore: int8-static skipped: give --calibration FILE.jsonl (never the test set)\n";
    }
    std::vector<std::shared_ptr<const Model>> models;
    if (precisions.empty()) {
      models.push_back(load_model(*a));
      if (a->layer_report && models[0]->precision() != Precision::FP32)
        models.insert(models.begin(), load_model(*a, Precision::FP32));
    } else {
      for (Precision p : precisions) {
        auto m = load_model(*a, p);
        if (m->precision() != p) continue;  // unavailable here; a notice said so
        models.push_back(std::move(m));
      }
    }
    const LabelledData data = read_labelled(*a, *models.back());
    std::vector<EvalResult> results;
    for (const auto& m : models) {
      if (tty && models.size() > 1) std::cerr << to_string(m->precision()) << ":\n";
      results.push_back(evaluate(*m, data, b, tty));
      results.back().load_ms = m->internals().load_ms;
    }
    report_truncations(results.back().truncated,
                       a->max_length ? std::min(a->max_length, models[0]->max_length()) : models[0]->max_length());
    const bool has_fp32 = models[0]->precision() == Precision::FP32 && models.size() > 1;
    std::vector<std::vector<quant::LayerAgreement>> layers(models.size());
    if (a->layer_report) {
      if (!has_fp32) throw InputError("--layer-report compares with FP32; run it with a non-fp32 --precision or all");
      layers = layer_reports(models, data);
    }

    if (a->json) {
      nlohmann::json out = nlohmann::json::array();
      for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        nlohmann::json j{{"data", a->data},         {"precision", r.precision},     {"rows", r.metrics.rows},
                         {"correct", r.metrics.correct}, {"accuracy", r.metrics.accuracy},
                         {"macro_f1", r.metrics.macro_f1}, {"seconds", r.seconds},
                         {"seq_per_s", r.seconds > 0 ? static_cast<double>(r.metrics.rows) / r.seconds : 0.0},
                         {"load_ms", r.load_ms},          {"layers", r.layers}};
        if (has_fp32) {
          std::size_t agree = 0;
          for (std::size_t k = 0; k < r.pred.size(); ++k) agree += r.pred[k] == results[0].pred[k];
          j["accuracy_drop_points"] = 100.0 * (results[0].metrics.accuracy - r.metrics.accuracy);
          j["argmax_agreement_with_fp32"] = r.pred.empty() ? 1.0 : static_cast<double>(agree) / static_cast<double>(r.pred.size());
        }
        if (!layers[i].empty()) {
          nlohmann::json lr = nlohmann::json::array();
          for (const auto& l : layers[i]) lr.push_back({{"mean_cosine", l.mean_cosine}, {"min_cosine", l.min_cosine}});
          j["layer_report"] = lr;
        }
        out.push_back(j);
      }
      write_stdout((results.size() == 1 && !a->layer_report ? out[0] : out).dump() + "\n");
      return;
    }
    std::string s;
    if (results.size() == 1) {
      const Metrics& m = results[0].metrics;
      char buf[256];
      std::snprintf(buf, sizeof buf, "rows      %zu\naccuracy  %.6f (%zu/%zu)\nmacro_f1  %.6f\n", m.rows, m.accuracy,
                    m.correct, m.rows, m.macro_f1);
      s += buf;
    } else {
      s += "data: " + a->data + " (" + std::to_string(data.gold.size()) + " rows), " +
           std::to_string(models[0]->threads()) + " threads\n";
      char buf[256];
      std::snprintf(buf, sizeof buf, "%-13s %10s %9s %10s %8s %9s %9s %8s  %s\n", "precision", "accuracy", "macro-F1",
                    "drop pts", "agree", "time s", "seq/s", "load ms", "layers");
      s += buf;
      for (const auto& r : results) {
        std::size_t agree = 0;
        for (std::size_t k = 0; k < r.pred.size(); ++k) agree += r.pred[k] == results[0].pred[k];
        std::string lay;
        for (const auto& l : r.layers) lay += (lay.empty() ? "" : ",") + l;
        std::snprintf(buf, sizeof buf, "%-13s %10.6f %9.6f %+10.2f %7.2f%% %9.2f %9.1f %8.0f  %s\n", r.precision.c_str(),
                      r.metrics.accuracy, r.metrics.macro_f1, 100.0 * (results[0].metrics.accuracy - r.metrics.accuracy),
                      r.pred.empty() ? 100.0 : 100.0 * static_cast<double>(agree) / static_cast<double>(r.pred.size()),
                      r.seconds, r.seconds > 0 ? static_cast<double>(r.metrics.rows) / r.seconds : 0.0, r.load_ms,
                      lay.c_str());
        s += buf;
      }
    }
    for (std::size_t i = 1; i < models.size(); ++i) {
      if (layers[i].empty()) continue;
      s += "\nlayer report " + results[i].precision + " vs fp32 (token cosine of each layer's output)\n";
      s += "layer  precision  mean cosine  min cosine\n";
      for (std::size_t l = 0; l < layers[i].size(); ++l) {
        char line[128];
        std::snprintf(line, sizeof line, "%5zu  %-11s%11.6f%12.6f\n", l, results[i].layers[l].c_str(),
                      layers[i][l].mean_cosine, layers[i][l].min_cosine);
        s += line;
      }
    }
    write_stdout(s);
  });
}

}  // namespace encore::cli

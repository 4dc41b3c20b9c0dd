// encore bench: forward-pass speed on fixed shapes and real workloads, with the machine's
// GEMM peak, memory, load time and (optionally) accuracy, as a table, JSON, markdown and SVG.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "bench/benchmark.hpp"
#include "bench/machine.hpp"
#include "bench/report.hpp"
#include "commands.hpp"
#include "jsonl_inputs.hpp"
#include "model_args.hpp"
#include "runtime/model_impl.hpp"
#include "runtime/threads.hpp"

namespace encore::cli {
namespace {

std::vector<bench::Row> read_ids_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot open ids file '" + path + "'");
  std::vector<bench::Row> rows;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      const auto j = nlohmann::json::parse(line);
      bench::Row r{j.at("ids").get<std::vector<std::int32_t>>(), {}};
      r.type_ids = j.contains("type_ids") ? j["type_ids"].get<std::vector<std::int32_t>>()
                                          : std::vector<std::int32_t>(r.ids.size(), 0);
      if (r.type_ids.size() != r.ids.size()) throw std::runtime_error("ids/type_ids lengths differ");
      rows.push_back(std::move(r));
    } catch (const std::exception& e) {
      throw InputError(path + ":" + std::to_string(n) + ": bad ids line (" + e.what() + ")");
    }
  }
  return rows;
}

nlohmann::json to_json(const bench::Result& r, double peak) {
  const auto& l = r.latency_ms;
  nlohmann::json j{{"precision", r.precision}, {"name", r.name}, {"batch", r.batch}, {"seq", r.seq},
                   {"sequences", r.sequences}, {"tokens", r.tokens}, {"runs", r.runs}, {"wall_s", r.wall_s},
                   {"latency_ms", {{"mean", l.mean}, {"std", l.std}, {"min", l.min}, {"p50", l.p50},
                                   {"p95", l.p95}, {"p99", l.p99}, {"max", l.max}}},
                   {"seq_per_s", r.seq_per_s}, {"tokens_per_s", r.tokens_per_s}, {"gflops", r.gflops},
                   {"peak_fraction", peak > 0 ? nlohmann::json(r.gflops / peak) : nlohmann::json(nullptr)}};
  return j;
}

void write_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    if (!f) throw InputError("cannot write '" + path + "'");
    f << text;
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  struct Args : ModelArgs {
    std::string shapes, ids, json, markdown, svg, data, label_field = "intent";
    bool peak = false;
    bench::TimingOptions timing;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("bench", "Measure latency, throughput, GFLOP/s, memory and accuracy");
  add_model_options(cmd, *a, false);
  cmd->add_option("--shapes", a->shapes, "Fixed shapes BATCHxSEQ,... with random valid token ids");
  cmd->add_option("--input", a->input, "Workload: texts (JSON lines) in file order, in batches");
  cmd->add_option("--ids", a->ids, "Workload: pre-tokenized rows {\"ids\", \"type_ids\"} (JSON lines)");
  cmd->add_option("--warmup", a->timing.warmup, "Untimed runs first")->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-runs", a->timing.min_runs, "Timed runs per shape, at least")->check(CLI::PositiveNumber);
  cmd->add_option("--min-time", a->timing.min_time_s, "Seconds per shape, at least")->check(CLI::NonNegativeNumber);
  cmd->add_option("--passes", a->timing.passes, "Passes over a workload (median reported)")->check(CLI::PositiveNumber);
  cmd->add_flag("--peak", a->peak, "Measure this machine's FP32 GEMM peak (stored and reused by later runs)");
  cmd->add_option("--data", a->data, "Labelled JSON lines: add accuracy");
  cmd->add_option("--label-field", a->label_field, "Label field of --data");
  cmd->add_option("--json", a->json, "Write the results as JSON");
  cmd->add_option("--markdown", a->markdown, "Write the results as a markdown table");
  cmd->add_option("--svg", a->svg, "Write a picture: latency distribution and throughput");
  cmd->callback([a] {
    start_profile(*a);
    const bool tty = isatty(STDERR_FILENO);
    auto note = [&](const std::string& s) {
      if (tty) std::cerr << "\r\033[K" << s << std::flush;
    };
    const int threads = a->threads > 0 ? a->threads : runtime::available_cpus();
    double peak = bench::cached_gemm_peak(threads);
    if (a->peak) {
      note("measuring the FP32 GEMM peak...");
      peak = bench::measure_gemm_peak(threads);
      bench::store_gemm_peak(threads, peak);
      std::printf("FP32 GEMM peak (oneDNN, %d threads): %.1f GFLOP/s\n", threads, peak);
      if (a->shapes.empty() && a->input.empty() && a->ids.empty() && a->data.empty()) return;
    }
    if (a->shapes.empty() && a->input.empty() && a->ids.empty()) a->shapes = "1x16,1x128,8x128,32x32";
    const auto shapes = a->shapes.empty() ? decltype(bench::parse_shapes("")){} : bench::parse_shapes(a->shapes);

    note("loading the model...");
    const auto t_load = std::chrono::steady_clock::now();
    const auto model = load_model(*a);
    const double rss_after_load = bench::rss_mb();
    const auto& impl = model->internals();
    // Time to first result: load, then one single-row classification/forward of a short text.
    {
      const TextInput first{"hello world", std::nullopt};
      if (model->has_classifier()) model->classify(std::span(&first, 1));
      else model->forward(std::span(&first, 1));
    }
    const double first_result_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();

    std::vector<bench::Result> results;
    for (const auto& [b, s] : shapes) {
      note("bench " + std::to_string(b) + "x" + std::to_string(s) + "...");
      results.push_back(bench::bench_shape(*model, b, s, a->timing));
    }
    auto workload = [&](const std::string& path, std::vector<bench::Row> rows) {
      note("bench workload " + path + "...");
      const std::string name = std::filesystem::path(path).filename().string();
      results.push_back(bench::bench_rows(*model, name, rows, static_cast<std::int64_t>(a->batch_size), a->timing));
    };
    if (!a->ids.empty()) workload(a->ids, read_ids_file(a->ids));
    if (!a->input.empty()) {
      const auto inputs = read_jsonl(a->input).inputs;
      EncodeOptions o;
      if (!a->no_truncate)
        o.truncation = Truncation{a->max_length ? std::min(a->max_length, model->max_length()) : model->max_length()};
      std::vector<bench::Row> rows;
      for (const auto& in : inputs) {
        auto e = in.pair ? model->tokenizer().encode_pair(in.text, *in.pair, o) : model->tokenizer().encode(in.text, o);
        rows.push_back({std::move(e.ids), std::move(e.type_ids)});
      }
      workload(a->input, std::move(rows));
    }
    nlohmann::json accuracy = nullptr;
    if (!a->data.empty()) {
      note("accuracy on " + a->data + "...");
      const JsonlRows data = read_jsonl(a->data, "text", "text_pair", a->label_field);
      const auto preds = model->classify(data.inputs, 1, batch_options(*a));
      std::size_t correct = 0;
      for (std::size_t i = 0; i < preds.size(); ++i) {
        if (!model->label_id(data.labels[i]))
          throw InputError(a->data + ":" + std::to_string(data.line_numbers[i]) + ": label '" + data.labels[i] +
                           "' is not one of the model's labels");
        correct += preds[i].labels[0].label == data.labels[i];
      }
      accuracy = {{"data", a->data}, {"rows", preds.size()}, {"correct", correct},
                  {"accuracy", preds.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(preds.size())}};
    }
    note("");

    const auto m = bench::machine_info();
    std::printf("machine  %s, %d CPUs, %d threads, GEMM peak %s\n", m.cpu.c_str(), m.cores, model->threads(),
                peak > 0 ? (std::to_string(static_cast<int>(peak)) + " GFLOP/s").c_str() : "not measured (--peak)");
    std::printf("model    %s: %lld params, %.1f MB on disk, load %.0f ms, first result %.0f ms, RSS %.0f MB\n",
                impl.dir.string().c_str(), static_cast<long long>(model->parameter_count()),
                static_cast<double>(impl.bytes_on_disk) / 1e6, impl.load_ms, first_result_ms, rss_after_load);
    std::printf("%-24s %5s %6s %9s %8s %9s %9s %9s %10s %11s %8s %6s\n", "shape/workload", "prec", "runs",
                "mean ms", "std", "p50", "p95", "p99", "seq/s", "tokens/s", "GFLOP/s", "%peak");
    nlohmann::json jr = nlohmann::json::array();
    for (const auto& r : results) {
      const auto& l = r.latency_ms;
      std::printf("%-24s %5s %6d %9.2f %8.2f %9.2f %9.2f %9.2f %10.1f %11.0f %8.1f %6s\n", r.name.c_str(),
                  r.precision.c_str(), r.runs, l.mean, l.std, l.p50, l.p95, l.p99, r.seq_per_s, r.tokens_per_s,
                  r.gflops, peak > 0 ? std::to_string(static_cast<int>(100 * r.gflops / peak + 0.5)).c_str() : "-");
      jr.push_back(to_json(r, peak));
    }
    if (!accuracy.is_null())
      std::printf("accuracy %.6f (%zu/%zu) on %s\n", accuracy["accuracy"].get<double>(),
                  accuracy["correct"].get<std::size_t>(), accuracy["rows"].get<std::size_t>(), a->data.c_str());
    const double peak_rss = bench::peak_rss_mb();
    std::printf("memory   peak RSS %.0f MB\n", peak_rss);

    nlohmann::json out{
        {"machine", {{"cpu", m.cpu}, {"cores", m.cores}, {"threads", model->threads()}, {"isa", m.isa},
                     {"gemm_peak_gflops", peak > 0 ? nlohmann::json(peak) : nlohmann::json(nullptr)}}},
        {"model", {{"path", impl.dir.string()}, {"params", model->parameter_count()},
                   {"bytes_on_disk", impl.bytes_on_disk}, {"load_ms", impl.load_ms},
                   {"rss_after_load_mb", rss_after_load}, {"time_to_first_result_ms", first_result_ms}}},
        {"peak_rss_mb", peak_rss},
        {"results", jr}};
    if (!accuracy.is_null()) out["accuracy"] = accuracy;
    if (!a->json.empty()) write_text(a->json, out.dump(2) + "\n");
    const std::string title = "encore bench: " + impl.dir.filename().string() + ", " +
                              std::to_string(model->threads()) + " threads";
    if (!a->markdown.empty()) write_text(a->markdown, bench::markdown_report(results, title, peak));
    if (!a->svg.empty()) write_text(a->svg, bench::svg_report(results, title));
    finish_profile(*a);
  });
}

}  // namespace encore::cli

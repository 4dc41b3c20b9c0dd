// encore bench: forward-pass speed on fixed shapes and real workloads, with the machine's
// roofline (GEMM peaks per precision, read bandwidth), memory, load time and (optionally) accuracy, as a table, JSON, markdown and SVG.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/benchmark.hpp"
#include "bench/contention.hpp"
#include "core/cpu_features.hpp"
#include "bench/machine.hpp"
#include "bench/report.hpp"
#include "bench/roofline.hpp"
#include "commands.hpp"
#include "jsonl_inputs.hpp"
#include "model_args.hpp"
#include "precision_eval.hpp"
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

nlohmann::json to_json(const bench::Result& r) {
  const auto& l = r.latency_ms;
  nlohmann::json j{{"precision", r.precision}, {"name", r.name}, {"batch", r.batch}, {"seq", r.seq},
                   {"sequences", r.sequences}, {"tokens", r.tokens}, {"runs", r.runs}, {"wall_s", r.wall_s},
                   {"latency_ms", {{"mean", l.mean}, {"std", l.std}, {"min", l.min}, {"p50", l.p50},
                                   {"p95", l.p95}, {"p99", l.p99}, {"max", l.max}}},
                   {"seq_per_s", r.seq_per_s}, {"tokens_per_s", r.tokens_per_s}, {"gflops", r.gflops},
                   {"roofline_fraction", r.roofline_fraction > 0 ? nlohmann::json(r.roofline_fraction) : nlohmann::json(nullptr)},
                   {"roofline_bound", r.bound.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.bound)}};
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
    std::string shapes, ids, json, markdown, svg;
    bool peak = false;
    int contend = 0;
    bench::TimingOptions timing;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("bench", "Measure latency, throughput, GFLOP/s, memory and accuracy");
  add_model_options(cmd, *a, false);
  add_precision_options(cmd, *a, true);
  cmd->add_option("--shapes", a->shapes, "Fixed shapes BATCHxSEQ,... with random valid token ids");
  cmd->add_option("--input", a->input, "Workload: texts (JSON lines) in file order, in batches");
  cmd->add_option("--ids", a->ids, "Workload: pre-tokenized rows {\"ids\", \"type_ids\"} (JSON lines)");
  cmd->add_option("--warmup", a->timing.warmup, "Untimed runs first")->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-runs", a->timing.min_runs, "Timed runs per shape, at least")->check(CLI::PositiveNumber);
  cmd->add_option("--min-time", a->timing.min_time_s, "Seconds per shape, at least")->check(CLI::NonNegativeNumber);
  cmd->add_option("--passes", a->timing.passes, "Passes over a workload (median reported)")->check(CLI::PositiveNumber);
  cmd->add_option("--contend", a->contend,
                  "Run N competing processes that spin on the CPU while measuring (a shared machine)")
      ->check(CLI::Range(0, 256));
  cmd->add_flag("--peak", a->peak, "Measure the roofline: FP32/BF16/INT8 GEMM peaks and read bandwidth (cached per CPU)");
  add_data_options(cmd, *a, "Labelled JSON lines: add accuracy");
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
    bench::Roofline roof = bench::cached_roofline(threads);
    if (a->peak) {
      note("measuring the GEMM peaks and the read bandwidth...");
      roof = bench::measure_roofline(threads);
      bench::store_roofline(threads, roof);
      std::printf("FP32 GEMM peak (%d threads): %.1f GFLOP/s\n", threads, roof.fp32_gflops);
      if (roof.bf16_gflops > 0) std::printf("BF16 GEMM peak (%d threads): %.1f GFLOP/s\n", threads, roof.bf16_gflops);
      std::printf("INT8 GEMM peak (%d threads): %.1f GOP/s\n", threads, roof.int8_gops);
      std::printf("read bandwidth (%d threads): %.1f GB/s\n", threads, roof.read_gbs);
      if (a->shapes.empty() && a->input.empty() && a->ids.empty() && a->data.empty()) {
        finish_profile(*a);  // --profile still gets its trace
        return;
      }
    }
    if (a->shapes.empty() && a->input.empty() && a->ids.empty()) a->shapes = "1x16,1x128,8x128,32x32";
    const auto shapes = a->shapes.empty() ? decltype(bench::parse_shapes("")){} : bench::parse_shapes(a->shapes);

    // --precision: one, a comma-separated list, or all; each is loaded and measured in turn.
    std::vector<std::string> names;
    if (a->precision.empty()) {
      names = {""};
    } else if (a->precision == "all") {
      names = {"fp32", "bf16", "int8-dynamic"};
      if (!a->calibration.empty()) names.push_back("int8-static");
    } else {
      std::stringstream ss(a->precision);
      for (std::string item; std::getline(ss, item, ',');) names.push_back(item);
    }
    struct Loaded {
      std::string precision;
      nlohmann::json info;
      nlohmann::json accuracy;
    };
    std::vector<Loaded> loaded;
    std::vector<bench::Result> results;
    // Started after the peak measurement and before the loads: load time is measured under
    // the same competition as the forwards.
    const bench::Contention contention(a->contend);
    std::string model_dir;
    int model_threads = 0;
    for (const auto& name : names) {
      note("loading the model (" + (name.empty() ? std::string("default precision") : name) + ")...");
      ModelArgs args = *a;
      args.precision = name;
      const auto t_load = std::chrono::steady_clock::now();
      const auto model = load_model(args);
      const double rss_after_load = bench::rss_mb();
      const auto& impl = model->internals();
      model_dir = impl.dir.filename().string();
      model_threads = model->threads();
      const std::string prec = to_string(model->precision());
      // Time to first result: load, then one single-row classification/forward of a short text.
      {
        const TextInput first{"hello world", std::nullopt};
        if (model->has_classifier()) model->classify(std::span(&first, 1));
        else model->forward(std::span(&first, 1));
      }
      const double first_result_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();
      const std::size_t first_result = results.size();
      for (const auto& [b, s] : shapes) {
        note("bench " + prec + " " + std::to_string(b) + "x" + std::to_string(s) + "...");
        results.push_back(bench::bench_shape(*model, b, s, a->timing));
      }
      auto workload = [&](const std::string& path, std::vector<bench::Row> rows) {
        note("bench " + prec + " workload " + path + "...");
        const std::string wname = std::filesystem::path(path).filename().string();
        results.push_back(bench::bench_rows(*model, wname, rows, static_cast<std::int64_t>(a->batch_size), a->timing));
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
      // Each call streams every linear's packed weights once; a workload pass makes one call
      // per batch.
      const double weight_bytes = static_cast<double>(impl.encoder->streamed_weight_bytes());
      for (std::size_t i = first_result; i < results.size(); ++i) {
        bench::Result& r = results[i];
        r.precision = prec;
        const std::int64_t calls = r.seq ? 1 : (r.sequences + r.batch - 1) / std::max<std::int64_t>(r.batch, 1);
        const bench::RooflineBound b = bench::roofline_time(roof, prec, r.flops, weight_bytes * static_cast<double>(calls));
        if (b.time_s > 0 && r.wall_s > 0) {
          r.roofline_fraction = b.time_s / r.wall_s;
          r.bound = b.bound;
        }
      }
      Loaded l;
      l.precision = prec;
      l.info = {{"path", impl.dir.string()}, {"precision", prec}, {"layers", model->layer_precisions()},
                {"params", model->parameter_count()}, {"bytes_on_disk", impl.bytes_on_disk},
                {"packed_bytes", impl.encoder->packed_bytes()},
                {"streamed_weight_bytes", impl.encoder->streamed_weight_bytes()}, {"load_ms", impl.load_ms},
                {"rss_after_load_mb", rss_after_load}, {"time_to_first_result_ms", first_result_ms}};
      if (impl.config.num_hidden_layers > 0) {
        nlohmann::json k = nlohmann::json::object();
        for (std::int64_t tokens : {16, 1024}) {
          nlohmann::json ops = nlohmann::json::object();
          for (const auto& [op, kernel] : impl.encoder->kernels(0, tokens)) ops[op] = kernel;
          k[std::to_string(tokens) + "_tokens"] = ops;
        }
        l.info["kernels"] = k;
      }
      if (!a->data.empty()) {
        note("accuracy (" + prec + ") on " + a->data + "...");
        const LabelledData data = read_labelled(*a, *model);
        const EvalResult r = evaluate(*model, data, batch_options(*a), false);
        l.accuracy = {{"data", a->data}, {"rows", r.metrics.rows}, {"correct", r.metrics.correct},
                      {"accuracy", r.metrics.accuracy}, {"macro_f1", r.metrics.macro_f1}};
      }
      loaded.push_back(std::move(l));
    }
    note("");

    const auto m = bench::machine_info();
    std::printf("machine  %s, %s, %d CPUs, %d threads%s\n", m.cpu.c_str(), cpu_features().summary().c_str(), m.cores,
                model_threads,
                a->contend ? (", " + std::to_string(a->contend) + " competing spinning processes").c_str() : "");
    if (roof.fp32_gflops > 0) {
      std::printf("roofline GEMM peaks FP32 %.0f GFLOP/s, BF16 %s, INT8 %.0f GOP/s; read bandwidth %.1f GB/s\n",
                  roof.fp32_gflops,
                  roof.bf16_gflops > 0 ? (std::to_string(static_cast<int>(roof.bf16_gflops)) + " GFLOP/s").c_str() : "-",
                  roof.int8_gops, roof.read_gbs);
    } else {
      std::printf("roofline not measured (bench --peak)\n");
    }
    for (const auto& l : loaded) {
      const auto& i = l.info;
      std::printf("model    %s [%s]: %lld params, %.1f MB on disk, %.1f MB packed, load %.0f ms, first result %.0f ms, "
                  "RSS %.0f MB\n",
                  i["path"].get<std::string>().c_str(), l.precision.c_str(),
                  static_cast<long long>(i["params"].get<std::int64_t>()),
                  static_cast<double>(i["bytes_on_disk"].get<std::uintmax_t>()) / 1e6,
                  static_cast<double>(i["packed_bytes"].get<std::size_t>()) / 1e6, i["load_ms"].get<double>(),
                  i["time_to_first_result_ms"].get<double>(), i["rss_after_load_mb"].get<double>());
    }
    std::printf("%-24s %12s %6s %9s %8s %9s %9s %9s %10s %11s %8s %6s\n", "shape/workload", "precision", "runs",
                "mean ms", "std", "p50", "p95", "p99", "seq/s", "tokens/s", "GFLOP/s", "%roof");
    nlohmann::json jr = nlohmann::json::array();
    for (const auto& r : results) {
      const auto& l = r.latency_ms;
      std::printf("%-24s %12s %6d %9.2f %8.2f %9.2f %9.2f %9.2f %10.1f %11.0f %8.1f %6s\n", r.name.c_str(),
                  r.precision.c_str(), r.runs, l.mean, l.std, l.p50, l.p95, l.p99, r.seq_per_s, r.tokens_per_s,
                  r.gflops,
                  r.roofline_fraction > 0
                      ? (std::to_string(static_cast<int>(100 * r.roofline_fraction + 0.5)) + (r.bound == "memory" ? "m" : "c")).c_str()
                      : "-");
      jr.push_back(to_json(r));
    }
    for (const auto& l : loaded)
      if (!l.accuracy.is_null())
        std::printf("accuracy [%s] %.6f (%zu/%zu), macro-F1 %.6f on %s\n", l.precision.c_str(),
                    l.accuracy["accuracy"].get<double>(), l.accuracy["correct"].get<std::size_t>(),
                    l.accuracy["rows"].get<std::size_t>(), l.accuracy["macro_f1"].get<double>(), a->data.c_str());
    const double peak_rss = bench::peak_rss_mb();
    std::printf("memory   peak RSS %.0f MB\n", peak_rss);

    nlohmann::json out{
        {"machine", {{"cpu", m.cpu}, {"cores", m.cores}, {"threads", model_threads}, {"isa", m.isa},
                     {"isa_level", m.isa_level}, {"cpu_features", cpu_features().to_json()},
                     {"competing_processes", a->contend},
                     {"gemm_peak_gflops", roof.fp32_gflops > 0 ? nlohmann::json(roof.fp32_gflops) : nlohmann::json(nullptr)},
                     {"roofline", roof.to_json()}}},
        {"model", loaded.front().info},
        {"peak_rss_mb", peak_rss},
        {"results", jr}};
    // One entry per precision measured; "model" and "accuracy" hold the first.
    nlohmann::json models = nlohmann::json::array(), accuracies = nlohmann::json::object();
    for (const auto& l : loaded) {
      models.push_back(l.info);
      if (!l.accuracy.is_null()) accuracies[l.precision] = l.accuracy;
    }
    out["models"] = models;
    if (!loaded.front().accuracy.is_null()) {
      out["accuracy"] = loaded.front().accuracy;
      out["accuracy_by_precision"] = accuracies;
    }
    if (!a->json.empty()) write_text(a->json, out.dump(2) + "\n");
    const std::string title = "encore bench: " + model_dir + ", " + std::to_string(model_threads) + " threads";
    if (!a->markdown.empty()) write_text(a->markdown, bench::markdown_report(results, title));
    if (!a->svg.empty()) write_text(a->svg, bench::svg_report(results, title));
    finish_profile(*a);
  });
}

}  // namespace encore::cli

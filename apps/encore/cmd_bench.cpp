// encore bench: forward-pass speed on fixed shapes and on real workloads.
#include <cstdio>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "bench/benchmark.hpp"
#include "commands.hpp"
#include "jsonl_inputs.hpp"
#include "model_args.hpp"

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
  return {{"precision", "fp32"}, {"name", r.name}, {"batch", r.batch}, {"seq", r.seq},
          {"sequences", r.sequences}, {"tokens", r.tokens}, {"runs", r.runs}, {"wall_s", r.wall_s},
          {"latency_ms", {{"mean", l.mean}, {"std", l.std}, {"min", l.min}, {"p50", l.p50},
                          {"p95", l.p95}, {"p99", l.p99}, {"max", l.max}}},
          {"seq_per_s", r.seq_per_s}, {"tokens_per_s", r.tokens_per_s}};
}

}  // namespace

void add_bench_command(CLI::App& app) {
  struct Args : ModelArgs {
    std::string shapes, ids, json;
    bench::TimingOptions timing;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("bench", "Measure forward-pass latency and throughput");
  add_model_options(cmd, *a, false);
  cmd->add_option("--shapes", a->shapes, "Fixed shapes BATCHxSEQ,... with random valid token ids");
  cmd->add_option("--input", a->input, "Workload: texts (JSON lines) in file order, in batches");
  cmd->add_option("--ids", a->ids, "Workload: pre-tokenized rows {\"ids\", \"type_ids\"} (JSON lines)");
  cmd->add_option("--warmup", a->timing.warmup, "Untimed runs first")->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-runs", a->timing.min_runs, "Timed runs per shape, at least")->check(CLI::PositiveNumber);
  cmd->add_option("--min-time", a->timing.min_time_s, "Seconds per shape, at least")->check(CLI::NonNegativeNumber);
  cmd->add_option("--passes", a->timing.passes, "Passes over a workload (median reported)")->check(CLI::PositiveNumber);
  cmd->add_option("--json", a->json, "Also write the results as JSON to this file");
  cmd->callback([a] {
    start_profile(*a);
    if (a->shapes.empty() && a->input.empty() && a->ids.empty()) a->shapes = "1x16,1x128,8x128,32x32";
    const auto shapes = a->shapes.empty() ? decltype(bench::parse_shapes("")){} : bench::parse_shapes(a->shapes);
    const auto model = load_model(*a);
    std::vector<bench::Result> results;
    for (const auto& [b, s] : shapes) results.push_back(bench::bench_shape(*model, b, s, a->timing));
    auto workload = [&](const std::string& path, std::vector<bench::Row> rows) {
      const std::string name = std::filesystem::path(path).filename().string();
      results.push_back(bench::bench_rows(*model, name, rows, static_cast<std::int64_t>(a->batch_size), a->timing));
    };
    if (!a->ids.empty()) workload(a->ids, read_ids_file(a->ids));
    if (!a->input.empty()) {
      const auto inputs = read_jsonl(a->input).inputs;
      EncodeOptions o;
      if (!a->no_truncate) o.truncation = Truncation{a->max_length ? std::min(a->max_length, model->max_length()) : model->max_length()};
      std::vector<bench::Row> rows;
      for (const auto& in : inputs) {
        auto e = in.pair ? model->tokenizer().encode_pair(in.text, *in.pair, o) : model->tokenizer().encode(in.text, o);
        rows.push_back({std::move(e.ids), std::move(e.type_ids)});
      }
      workload(a->input, std::move(rows));
    }
    std::printf("%-24s %6s %9s %9s %9s %9s %9s %10s %11s\n", "shape/workload", "runs", "mean ms",
                "std", "p50", "p95", "p99", "seq/s", "tokens/s");
    nlohmann::json out{{"machine", {{"threads", model->threads()}}},
                       {"model", {{"path", a->model.empty() ? default_model_dir() : a->model},
                                  {"params", model->parameter_count()}}},
                       {"results", nlohmann::json::array()}};
    for (const auto& r : results) {
      const auto& l = r.latency_ms;
      std::printf("%-24s %6d %9.2f %9.2f %9.2f %9.2f %9.2f %10.1f %11.0f\n", r.name.c_str(), r.runs,
                  l.mean, l.std, l.p50, l.p95, l.p99, r.seq_per_s, r.tokens_per_s);
      out["results"].push_back(to_json(r));
    }
    if (!a->json.empty()) {
      std::ofstream f(a->json);
      if (!f) throw InputError("cannot write '" + a->json + "'");
      f << out.dump(2) << "\n";
    }
    finish_profile(*a);
  });
}

}  // namespace encore::cli

// Single-threaded tokenization throughput on the CLINC test texts and on long documents,
// the workloads scripts/hf_reference/bench_hf.mjs times for Hugging Face tokenizers.
//
//   build/bench/bench_tokenizer [--tokenizer PATH] [google benchmark flags]
#include <benchmark/benchmark.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/tokenizer.hpp"

namespace {

std::string g_tokenizer_path =
    std::string(ENCORE_SHARED_DIR) + "/vocab/bert-base-uncased/tokenizer.json";

const std::vector<std::string>& clinc_texts() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    std::ifstream in(std::string(ENCORE_SHARED_DIR) + "/data/clinc150/test.jsonl");
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) out.push_back(nlohmann::json::parse(line)["text"].get<std::string>());
    if (out.empty()) throw std::runtime_error("no CLINC texts under " ENCORE_SHARED_DIR);
    return out;
  }();
  return texts;
}

// CLINC texts in file order joined by single spaces into documents of >= 50,000 bytes;
// only complete documents, the first 10 (same recipe as bench_hf.mjs).
const std::vector<std::string>& long_documents() {
  static const std::vector<std::string> docs = [] {
    std::vector<std::string> out;
    std::string cur;
    for (const auto& t : clinc_texts()) {
      if (!cur.empty()) cur += ' ';
      cur += t;
      if (cur.size() >= 50000) {
        out.push_back(std::move(cur));
        cur.clear();
        if (out.size() == 10) break;
      }
    }
    return out;
  }();
  return docs;
}

const encore::Tokenizer& tokenizer() {
  static const encore::Tokenizer tok = encore::Tokenizer::from_file(g_tokenizer_path);
  return tok;
}

void run(benchmark::State& state, const std::vector<std::string>& texts) {
  const auto& tok = tokenizer();
  encore::EncodeOptions opts;  // no truncation, special tokens added
  std::size_t tokens = 0, bytes = 0;
  for (const auto& t : texts) bytes += t.size();
  for (auto _ : state) {
    tokens = 0;
    for (const auto& t : texts) {
      auto e = tok.encode(t, opts);
      tokens += e.size();
      benchmark::DoNotOptimize(e.ids.data());
    }
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens) * iters, benchmark::Counter::kIsRate);
  state.counters["texts/s"] = benchmark::Counter(static_cast<double>(texts.size()) * iters, benchmark::Counter::kIsRate);
  state.counters["tokens"] = static_cast<double>(tokens);
  state.SetBytesProcessed(static_cast<int64_t>(bytes * state.iterations()));
}

void BM_EncodeClincTest(benchmark::State& state) { run(state, clinc_texts()); }
void BM_EncodeLongDocuments(benchmark::State& state) { run(state, long_documents()); }
void BM_LoadTokenizerJson(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(encore::Tokenizer::from_file(g_tokenizer_path));
}

BENCHMARK(BM_EncodeClincTest)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_EncodeLongDocuments)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_LoadTokenizerJson)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--tokenizer") == 0 && i + 1 < argc) {
      g_tokenizer_path = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

#include "bench/benchmark.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "runtime/model_impl.hpp"

namespace encore::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double pos = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

runtime::PackedBatch pack(const std::vector<Row>& rows, std::size_t first, std::size_t last) {
  runtime::PackedBatch b;
  for (std::size_t i = first; i < last; ++i) b.add(rows[i].ids, rows[i].type_ids);
  return b;
}

}  // namespace

double forward_flops(const Model& model, const std::vector<std::int64_t>& lengths) {
  const auto& c = model.internals().config;
  const double H = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size),
               L = static_cast<double>(c.num_hidden_layers),
               E = static_cast<double>(c.embedding_size > 0 ? c.embedding_size : c.hidden_size);
  // Per layer: QKV + output (4H²), FFN up (gated: [value | gate], 2I wide) and down.
  const double ffn = c.arch->gated_ffn ? 3 * H * I : 2 * H * I;
  double per_token = 2.0 * L * (4 * H * H + ffn);
  if (E != H) per_token += 2.0 * E * H;                                          // projection
  if (c.conv_kernel_size > 0) per_token += 2.0 * static_cast<double>(c.conv_kernel_size) * H * H;
  // QKᵀ and PV; DeBERTa adds a q·Kr and a k·Qr product per score.
  const double attention =
      c.relative_attention ? (2.0 + (c.c2p ? 1 : 0) + (c.p2c ? 1 : 0)) / 2.0 : 1.0;
  double f = 0;
  for (auto s : lengths) {
    const double S = static_cast<double>(s);
    f += S * per_token + 4.0 * S * S * H * L * attention;
  }
  return f;
}

LatencyStats summarize(std::vector<double> ms) {
  LatencyStats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  const double n = static_cast<double>(ms.size());
  s.mean = std::accumulate(ms.begin(), ms.end(), 0.0) / n;
  double var = 0;
  for (double v : ms) var += (v - s.mean) * (v - s.mean);
  s.std = ms.size() > 1 ? std::sqrt(var / (n - 1)) : 0;
  s.min = ms.front();
  s.max = ms.back();
  s.p50 = percentile(ms, 50);
  s.p95 = percentile(ms, 95);
  s.p99 = percentile(ms, 99);
  return s;
}

std::vector<std::pair<std::int64_t, std::int64_t>> parse_shapes(const std::string& spec) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    const std::size_t comma = std::min(spec.find(',', pos), spec.size());
    const std::string item = spec.substr(pos, comma - pos);
    const std::size_t x = item.find('x');
    long long b = 0, s = 0;
    try {
      if (x == std::string::npos) throw std::invalid_argument(item);
      std::size_t used1 = 0, used2 = 0;
      b = std::stoll(item.substr(0, x), &used1);
      s = std::stoll(item.substr(x + 1), &used2);
      if (used1 != x || used2 != item.size() - x - 1) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw InputError("bad shape '" + item + "' (expected BATCHxSEQ, e.g. 8x128)");
    }
    if (b <= 0 || s <= 0) throw InputError("bad shape '" + item + "': sizes must be positive");
    out.push_back({b, s});
    pos = comma + 1;
  }
  return out;
}

Result bench_shape(const Model& model, std::int64_t batch, std::int64_t seq, const TimingOptions& t) {
  const auto& impl = model.internals();
  if (seq > static_cast<std::int64_t>(impl.config.max_position_embeddings))
    throw InputError("shape " + std::to_string(batch) + "x" + std::to_string(seq) +
                     " is longer than the model's " +
                     std::to_string(impl.config.max_position_embeddings) + " positions");
  std::mt19937 rng(1234);
  std::uniform_int_distribution<std::int32_t> id(0, static_cast<std::int32_t>(impl.config.vocab_size - 1));
  std::vector<Row> rows(static_cast<std::size_t>(batch));
  for (auto& r : rows) {
    r.ids.resize(static_cast<std::size_t>(seq));
    for (auto& v : r.ids) v = id(rng);
    r.type_ids.assign(static_cast<std::size_t>(seq), 0);
  }
  const auto packed = pack(rows, 0, rows.size());
  auto ctx = impl.acquire();
  for (int i = 0; i < t.warmup; ++i) impl.encoder->forward(packed, *ctx, false, false);
  std::vector<double> ms;
  const auto start = Clock::now();
  while (static_cast<int>(ms.size()) < t.min_runs || ms_since(start) < t.min_time_s * 1000) {
    const auto t0 = Clock::now();
    impl.encoder->forward(packed, *ctx, false, false);
    ms.push_back(ms_since(t0));
  }
  impl.release(std::move(ctx));
  Result r;
  r.name = std::to_string(batch) + "x" + std::to_string(seq);
  r.batch = batch;
  r.seq = seq;
  r.sequences = batch;
  r.tokens = batch * seq;
  r.runs = static_cast<int>(ms.size());
  r.latency_ms = summarize(ms);
  r.wall_s = r.latency_ms.p50 / 1000;
  r.seq_per_s = static_cast<double>(r.sequences) / r.wall_s;
  r.tokens_per_s = static_cast<double>(r.tokens) / r.wall_s;
  r.flops = forward_flops(model, std::vector<std::int64_t>(static_cast<std::size_t>(batch), seq));
  r.gflops = r.flops / r.wall_s / 1e9;
  return r;
}

Result bench_rows(const Model& model, const std::string& name, const std::vector<Row>& rows,
                  std::int64_t batch_size, const TimingOptions& t) {
  const auto& impl = model.internals();
  std::vector<runtime::PackedBatch> batches;
  std::int64_t tokens = 0;
  for (std::size_t first = 0; first < rows.size(); first += static_cast<std::size_t>(batch_size)) {
    batches.push_back(pack(rows, first, std::min(rows.size(), first + static_cast<std::size_t>(batch_size))));
    tokens += batches.back().tokens();
  }
  auto ctx = impl.acquire();
  for (int i = 0; i < std::min<int>(t.warmup, static_cast<int>(batches.size())); ++i)
    impl.encoder->forward(batches[static_cast<std::size_t>(i)], *ctx, false, false);
  std::vector<double> pass_s, call_ms;
  for (int p = 0; p < std::max(t.passes, 1); ++p) {
    const auto t0 = Clock::now();
    for (const auto& b : batches) {
      const auto c0 = Clock::now();
      impl.encoder->forward(b, *ctx, false, false);
      call_ms.push_back(ms_since(c0));
    }
    pass_s.push_back(ms_since(t0) / 1000);
  }
  impl.release(std::move(ctx));
  std::sort(pass_s.begin(), pass_s.end());
  Result r;
  r.name = name;
  r.batch = batch_size;
  r.sequences = static_cast<std::int64_t>(rows.size());
  r.tokens = tokens;
  r.runs = static_cast<int>(pass_s.size());
  r.wall_s = pass_s[pass_s.size() / 2];
  r.latency_ms = summarize(call_ms);
  r.seq_per_s = static_cast<double>(r.sequences) / r.wall_s;
  r.tokens_per_s = static_cast<double>(r.tokens) / r.wall_s;
  std::vector<std::int64_t> lengths;
  for (const auto& row : rows) lengths.push_back(static_cast<std::int64_t>(row.ids.size()));
  r.flops = forward_flops(model, lengths);
  r.gflops = r.flops / r.wall_s / 1e9;
  return r;
}

}  // namespace encore::bench

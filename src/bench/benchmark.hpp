// Timing encore's forward pass the way the peers (ONNX Runtime, PyTorch) are timed: fixed
// shapes with random valid token ids, or a real workload of tokenized rows sent in file order
// in batches. Tokenization happens before timing; only forward passes are timed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "encore/model.hpp"

namespace encore::bench {

struct TimingOptions {
  int warmup = 3;
  int min_runs = 20;
  double min_time_s = 5.0;
  int passes = 3;  // workloads: full passes over the rows; the median is reported
};

struct LatencyStats {
  double mean = 0, std = 0, min = 0, p50 = 0, p95 = 0, p99 = 0, max = 0;
};
LatencyStats summarize(std::vector<double> ms);

struct Result {
  std::string precision = "fp32";
  std::string name;       // "8x128" or the workload file's name
  std::int64_t batch = 0, seq = 0;  // fixed shapes; batch size for workloads
  std::int64_t sequences = 0;       // per timed unit (a call, or a pass)
  std::int64_t tokens = 0;          // real tokens per timed unit
  int runs = 0;
  double wall_s = 0;                // median time of one unit (call or pass)
  LatencyStats latency_ms;          // per forward call
  double seq_per_s = 0, tokens_per_s = 0;
  double flops = 0;  // per timed unit
  double gflops = 0;  // achieved, flops / wall_s
  // The roofline's least time for this unit over the measured time (0: roofline unknown),
  // and what bounds it ("compute" or "memory").
  double roofline_fraction = 0;
  std::string bound;
};

// FLOPs of one forward pass over sequences of these lengths (GEMMs + attention products).
double forward_flops(const Model& model, const std::vector<std::int64_t>& lengths);

struct Row {
  std::vector<std::int32_t> ids, type_ids;
};

// "8x128,1x16" -> {{8,128},{1,16}}; throws InputError on a malformed list.
std::vector<std::pair<std::int64_t, std::int64_t>> parse_shapes(const std::string& spec);

Result bench_shape(const Model& model, std::int64_t batch, std::int64_t seq, const TimingOptions& t);
Result bench_rows(const Model& model, const std::string& name, const std::vector<Row>& rows,
                  std::int64_t batch_size, const TimingOptions& t);

}  // namespace encore::bench

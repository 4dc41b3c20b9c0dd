// The server's Prometheus metrics: counters by label, and histograms with fixed buckets, in
// the text exposition format (version 0.0.4). Thread-safe; cheap enough to update per request.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace encore::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // `name`_bucket{le=...}, _sum and _count lines.
  std::string render(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket (not cumulative), +Inf last
  double sum_ = 0;
  std::uint64_t count_ = 0;
  mutable std::mutex mutex_;
};

class Metrics {
 public:
  Metrics();
  // One finished request: its route and status ("success", or the error type).
  void request(const std::string& route, int status);
  void timings(double tokenization_s, double queue_s, double inference_s, double total_s);
  void batch(std::size_t requests, std::size_t rows, std::size_t tokens);
  std::string render(std::size_t queue_depth, std::size_t in_flight,
                     std::uint64_t cancelled_rows) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  Histogram tokenization_, queue_, inference_, total_, batch_rows_, batch_tokens_, batch_requests_;
};

}  // namespace encore::serve

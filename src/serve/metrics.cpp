#include "serve/metrics.hpp"

#include <cstdio>

namespace encore::serve {
namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::vector<double> seconds_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> powers_of_two(double top) {
  std::vector<double> b;
  for (double v = 1; v <= top; v *= 2) b.push_back(v);
  return b;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[i];
  sum_ += v;
  ++count_;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{le=\"" + (i < bounds_.size() ? number(bounds_[i]) : "+Inf") + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  out += name + "_sum " + number(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
  return out;
}

Metrics::Metrics()
    : tokenization_(seconds_buckets()),
      queue_(seconds_buckets()),
      inference_(seconds_buckets()),
      total_(seconds_buckets()),
      batch_rows_(powers_of_two(4096)),
      batch_tokens_(powers_of_two(1 << 20)),
      batch_requests_(powers_of_two(4096)) {}

void Metrics::request(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
}

void Metrics::timings(double tokenization_s, double queue_s, double inference_s, double total_s) {
  tokenization_.observe(tokenization_s);
  queue_.observe(queue_s);
  inference_.observe(inference_s);
  total_.observe(total_s);
}

void Metrics::batch(std::size_t requests, std::size_t rows, std::size_t tokens) {
  batch_requests_.observe(static_cast<double>(requests));
  batch_rows_.observe(static_cast<double>(rows));
  batch_tokens_.observe(static_cast<double>(tokens));
}

std::string Metrics::render(std::size_t queue_depth, std::size_t in_flight,
                            std::uint64_t cancelled_rows) const {
  std::string out =
      "# HELP encore_requests_total Finished HTTP requests by route and status code.\n"
      "# TYPE encore_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [key, n] : requests_)
      out += "encore_requests_total{route=\"" + key.first + "\",status=\"" +
             std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  out += tokenization_.render("encore_tokenization_seconds", "Time tokenizing a request's inputs.");
  out +=
      queue_.render("encore_queue_seconds", "Time from a request's queueing to its first batch.");
  out += inference_.render("encore_inference_seconds",
                           "Forward-pass time of the batches a request ran in.");
  out += total_.render("encore_request_seconds", "Time from a request's arrival to its reply.");
  out += batch_requests_.render("encore_batch_requests", "Requests per forward batch.");
  out += batch_rows_.render("encore_batch_rows", "Sequences per forward batch.");
  out += batch_tokens_.render("encore_batch_tokens", "Tokens per forward batch.");
  out +=
      "# HELP encore_queue_depth Requests queued or running in the batcher.\n# TYPE "
      "encore_queue_depth gauge\n";
  out += "encore_queue_depth " + std::to_string(queue_depth) + "\n";
  out +=
      "# HELP encore_requests_in_flight Requests being handled.\n# TYPE encore_requests_in_flight "
      "gauge\n";
  out += "encore_requests_in_flight " + std::to_string(in_flight) + "\n";
  out +=
      "# HELP encore_cancelled_rows_total Queued inputs never computed because their client "
      "disconnected.\n# TYPE encore_cancelled_rows_total counter\n";
  out += "encore_cancelled_rows_total " + std::to_string(cancelled_rows) + "\n";
  return out;
}

}  // namespace encore::serve

// The server's dynamic batcher: requests arrive tokenized (on the HTTP threads) and queue;
// whenever the model is free, one thread takes queued requests in arrival order up to the
// token and request budgets, runs them as one packed ragged batch (no padding), and hands each
// request its rows. A request larger than the budget is split across batches. No fixed delay
// unless `max_delay` asks for one.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "encore/model.hpp"

namespace encore::serve {

struct BatchLimits {
  std::size_t max_batch_tokens = 16384;    // tokens per batch (a longer row runs alone)
  std::size_t max_batch_requests = 0;      // requests per batch (0: no limit)
  std::chrono::microseconds max_delay{0};  // wait this long for more work once a request is queued
  // Tokens per forward pass, whose activations stay in cache (0: max_batch_tokens). Each pass
  // is a batch: its requests reply when it ends. Measured on an AMX Xeon, INT8, CLINC150 texts:
  // 1180 texts/s at ~1,000 tokens per pass, 900 at ~11,000; on Zen 5 (INT8, 64 connections),
  // replying per pass rather than per 16,384-token batch took the server from 0.79 of offline
  // (1-minute run) to 0.81 (10-minute run).
  std::size_t max_forward_tokens = 1024;

  // The token budget of one forward pass: the smaller of the two (0 means none).
  std::size_t forward_tokens() const {
    return max_forward_tokens ? std::min(max_batch_tokens, max_forward_tokens) : max_batch_tokens;
  }
};

struct BatcherStats {
  std::uint64_t batches = 0, rows = 0, tokens = 0;
  std::uint64_t cancelled_rows = 0;  // rows of cancelled requests never computed
};

// What one batch run reports (for /metrics histograms).
struct BatchRecord {
  std::size_t requests = 0, rows = 0, tokens = 0;
  double seconds = 0;
};

// A request's rows, and where its time went.
struct BatchResult {
  std::vector<RowOutput> rows;
  double queue_s = 0;      // submit to the start of its first batch
  double inference_s = 0;  // the forward passes its rows ran in
};

class Batcher {
 public:
  // A submitted request: its rows' outputs, and a flag the caller sets when the client went
  // away (rows not yet computed are then skipped).
  struct Ticket {
    std::future<BatchResult> result;
    std::shared_ptr<std::atomic<bool>> cancelled;
    std::chrono::steady_clock::time_point queued_at;
  };

  Batcher(std::shared_ptr<const Model> model, BatchLimits limits);
  const BatchLimits& limits() const { return limits_; }
  ~Batcher();  // stop(), then joins
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues `rows` (from Model::encode). With `hidden_states`, its rows keep last_hidden_state
  // (the batch it shares computes them; other requests' rows drop them). Throws InputError for
  // a row the model refuses (Model::check_encoded), encore::Error once stop() was called.
  Ticket submit(std::vector<Encoding> rows, bool hidden_states = false);
  // Stops accepting; what is queued still runs. Returns at once (the destructor waits).
  void stop();
  // Requests queued or running.
  std::size_t pending() const;
  BatcherStats stats() const;
  // Called on the batcher thread after each batch (set before the first submit).
  void on_batch(std::function<void(const BatchRecord&)> f) { on_batch_ = std::move(f); }

 private:
  struct Request {
    std::vector<Encoding> rows;
    BatchResult result;
    std::chrono::steady_clock::time_point queued_at;
    bool started = false;
    std::size_t next = 0;  // first row not yet taken into a batch
    std::size_t done = 0;  // rows computed
    bool failed = false;
    bool hidden_states = false;
    std::promise<BatchResult> promise;
    std::shared_ptr<std::atomic<bool>> cancelled;
  };
  void loop();

  std::shared_ptr<const Model> model_;
  BatchLimits limits_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Request>> queue_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  BatcherStats stats_;
  std::function<void(const BatchRecord&)> on_batch_;
  std::thread thread_;
};

}  // namespace encore::serve

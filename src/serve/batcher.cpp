#include "serve/batcher.hpp"

#include <algorithm>

#include "encore/error.hpp"

namespace encore::serve {

Batcher::Batcher(std::shared_ptr<const Model> model, BatchLimits limits)
    : model_(std::move(model)), limits_(limits) {
  if (limits_.max_batch_tokens == 0) throw Error("max_batch_tokens must be at least 1");
  thread_ = std::thread([this] { loop(); });
}

Batcher::~Batcher() {
  stop();
  if (thread_.joinable()) thread_.join();
}

Batcher::Ticket Batcher::submit(std::vector<Encoding> rows, bool hidden_states) {
  // Refused here, on the caller's thread, so a bad row never fails a batch it shares.
  model_->check_encoded(rows);
  auto r = std::make_shared<Request>();
  r->rows = std::move(rows);
  r->hidden_states = hidden_states;
  r->result.rows.resize(r->rows.size());
  r->cancelled = std::make_shared<std::atomic<bool>>(false);
  r->queued_at = std::chrono::steady_clock::now();
  Ticket t{r->promise.get_future(), r->cancelled, r->queued_at};
  if (r->rows.empty()) {
    r->promise.set_value({});
    return t;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw Error("the server is shutting down");
    queue_.push_back(std::move(r));
  }
  wake_.notify_one();
  return t;
}

void Batcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

std::size_t Batcher::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size() + running_;
}

BatcherStats Batcher::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void Batcher::loop() {
  // A batch is one forward pass: its requests reply as soon as it ends, and the clients'
  // next requests queue while the following pass computes, so the model never idles between
  // large batches waiting for replies to go out and new requests to arrive.
  const std::size_t budget = limits_.forward_tokens();
  BatchOptions options;
  options.max_batch_tokens = budget;
  options.batch_size = std::size_t{1} << 30;  // the token budgets decide
  for (;;) {
    // A slice of one request's rows in this batch.
    struct Slice {
      std::shared_ptr<Request> request;
      std::size_t first, count;
    };
    std::vector<Slice> slices;
    std::vector<Encoding> rows;
    std::size_t tokens = 0, skipped = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has run
      if (limits_.max_delay.count() > 0 && !stopping_)
        wake_.wait_for(lock, limits_.max_delay, [&] { return stopping_; });
      while (!queue_.empty() &&
             (limits_.max_batch_requests == 0 || slices.size() < limits_.max_batch_requests)) {
        auto& r = queue_.front();
        if (r->cancelled->load()) {  // the client went away: its remaining rows never run
          skipped += r->rows.size() - r->next;
          r->promise.set_exception(std::make_exception_ptr(Error("request cancelled")));
          queue_.pop_front();
          continue;
        }
        std::size_t take = 0;
        while (r->next + take < r->rows.size()) {
          const std::size_t n = r->rows[r->next + take].size();
          if ((tokens > 0 || take > 0) && tokens + n > budget) break;
          tokens += n;
          ++take;
        }
        if (take == 0) break;  // the batch is full
        slices.push_back({r, r->next, take});
        r->next += take;
        if (r->next == r->rows.size()) queue_.pop_front();
        if (tokens >= budget) break;
      }
      running_ = slices.size();
      stats_.cancelled_rows += skipped;
    }
    if (slices.empty()) continue;
    for (const auto& s : slices)
      for (std::size_t i = 0; i < s.count; ++i) rows.push_back(s.request->rows[s.first + i]);
    const auto t0 = std::chrono::steady_clock::now();
    for (auto& s : slices)
      if (!s.request->started) {
        s.request->started = true;
        s.request->result.queue_s =
            std::chrono::duration<double>(t0 - s.request->queued_at).count();
      }
    std::exception_ptr error;
    std::vector<RowOutput> out;
    const bool hidden = std::any_of(slices.begin(), slices.end(),
                                    [](const Slice& s) { return s.request->hidden_states; });
    try {
      out = model_->forward_encoded(rows, options, hidden);
    } catch (...) {
      error = std::current_exception();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Recorded before any reply, so what a client sees after its reply includes its batch.
    {
      std::lock_guard<std::mutex> lock(mutex_);
      running_ = 0;
      ++stats_.batches;
      stats_.rows += rows.size();
      stats_.tokens += tokens;
    }
    if (on_batch_) on_batch_({slices.size(), rows.size(), tokens, seconds});
    std::size_t at = 0;
    for (auto& s : slices) {
      Request& r = *s.request;
      const std::size_t first_output = at;
      at += s.count;
      if (error) {
        // A failing batch fails each of its requests whole; their queued rest never runs.
        if (r.failed) continue;
        r.failed = true;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (r.next < r.rows.size()) {
            std::erase_if(queue_, [&](const std::shared_ptr<Request>& q) { return q.get() == &r; });
            r.next = r.rows.size();
          }
        }
        r.promise.set_exception(error);
        continue;
      }
      for (std::size_t i = 0; i < s.count; ++i) {
        r.result.rows[s.first + i] = std::move(out[first_output + i]);
        if (hidden && !r.hidden_states) r.result.rows[s.first + i].last_hidden_state = {};
      }
      r.result.inference_s += seconds;
      r.done += s.count;
      if (r.done == r.rows.size()) r.promise.set_value(std::move(r.result));
    }
  }
}

}  // namespace encore::serve

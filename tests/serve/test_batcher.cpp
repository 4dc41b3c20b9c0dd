// The server's dynamic batcher: each request gets its own rows, in order, equal to a direct
// Model::forward_encoded of them; requests are packed up to the token and request budgets,
// split when larger; cancelled requests are skipped; a failing batch fails its requests; stop()
// drains what is queued and refuses more.
#include <gtest/gtest.h>

#include <thread>

#include "encore/error.hpp"
#include "encore/model.hpp"
#include "serve/batcher.hpp"
#include "test_support.hpp"

namespace encore::serve {
namespace {

std::shared_ptr<const Model> clinc_model() {
  static const auto model = Model::load(test::shared_dir() / "models/clinc-bert-small");
  return model;
}

std::vector<TextInput> clinc_texts(std::size_t n) {
  std::vector<TextInput> out;
  for (const auto& row : test::read_jsonl(test::shared_dir() / "data/clinc150/test.jsonl")) {
    out.push_back({row["text"].get<std::string>(), std::nullopt});
    if (out.size() == n) break;
  }
  return out;
}

float worst_diff(const RowOutput& a, const RowOutput& b) {
  float w = test::max_abs_diff(a.logits, b.logits);
  w = std::max(w, test::max_abs_diff(a.cls, b.cls));
  return std::max(w, test::max_abs_diff(a.mean_pooled, b.mean_pooled));
}

TEST(Batcher, ConcurrentRequestsGetTheirOwnRowsInOrder) {
  const auto model = clinc_model();
  const auto texts = clinc_texts(96);
  const auto rows = model->encode(texts);
  const auto expected = model->forward_encoded(rows, {}, false);
  std::atomic<std::size_t> batches{0}, max_requests{0};
  Batcher batcher(model, {});
  batcher.on_batch([&](const BatchRecord& r) {
    ++batches;
    max_requests = std::max<std::size_t>(max_requests, r.requests);
  });
  // 12 clients, each sending 8 requests of 1..4 rows from its own part of the texts.
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (std::size_t c = 0; c < 12; ++c) {
    clients.emplace_back([&, c] {
      for (std::size_t k = 0; k < 8; ++k) {
        const std::size_t first = c * 8, count = 1 + (c + k) % 4;
        std::vector<Encoding> mine;
        for (std::size_t i = 0; i < count; ++i) mine.push_back(rows[(first + i) % rows.size()]);
        auto out = batcher.submit(mine).result.get().rows;
        if (out.size() != count) ++failures;
        for (std::size_t i = 0; i < count; ++i)
          if (out[i].last_hidden_state.size() != 0 ||
              worst_diff(out[i], expected[(first + i) % rows.size()]) > 1e-5f)
            ++failures;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures, 0);
  const auto s = batcher.stats();
  EXPECT_EQ(s.batches, batches.load());
  EXPECT_LT(s.batches, 96u) << "concurrent requests should share batches";
  EXPECT_GT(max_requests.load(), 1u);
}

TEST(Batcher, SplitsARequestOverTheTokenBudgetAndKeepsItsOrder) {
  const auto model = clinc_model();
  const auto rows = model->encode(clinc_texts(40));
  std::size_t longest = 0;
  for (const auto& r : rows) longest = std::max(longest, r.size());
  const auto expected = model->forward_encoded(rows, {}, false);
  BatchLimits limits;
  limits.max_batch_tokens = 3 * longest;  // a few rows per batch
  std::vector<BatchRecord> records;
  Batcher batcher(model, limits);
  batcher.on_batch([&](const BatchRecord& r) { records.push_back(r); });
  const auto result = batcher.submit(rows).result.get();
  const auto& out = result.rows;
  EXPECT_GE(result.queue_s, 0);
  EXPECT_GT(result.inference_s, 0);
  ASSERT_EQ(out.size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    EXPECT_LE(worst_diff(out[i], expected[i]), 1e-5f) << i;
  EXPECT_GE(records.size(), rows.size() / 3 / 2);
  for (const auto& r : records) EXPECT_LE(r.tokens, limits.max_batch_tokens);
}

TEST(Batcher, ABatchIsOneForwardPassWithinItsBudgetAndKeepsEveryRow) {
  const auto model = clinc_model();
  const auto rows = model->encode(clinc_texts(40));
  std::size_t longest = 0, total = 0;
  for (const auto& r : rows) {
    longest = std::max(longest, r.size());
    total += r.size();
  }
  const auto expected = model->forward_encoded(rows, {}, false);
  for (const std::size_t pass : {std::size_t{0}, longest, 3 * longest}) {
    SCOPED_TRACE(testing::Message() << "max_forward_tokens " << pass);
    BatchLimits limits;
    limits.max_forward_tokens = pass;  // 0: up to max_batch_tokens in one pass
    std::vector<BatchRecord> records;
    Batcher batcher(model, limits);
    batcher.on_batch([&](const BatchRecord& r) { records.push_back(r); });
    const auto out = batcher.submit(rows).result.get().rows;
    ASSERT_EQ(out.size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i)
      EXPECT_LE(worst_diff(out[i], expected[i]), 1e-5f) << i;
    std::size_t seen_rows = 0, seen_tokens = 0;
    for (const auto& r : records) {
      if (pass) {
        EXPECT_LE(r.tokens, pass);
      }
      seen_rows += r.rows;
      seen_tokens += r.tokens;
    }
    EXPECT_EQ(seen_rows, rows.size());
    EXPECT_EQ(seen_tokens, total);
    if (pass == 0) {
      EXPECT_EQ(records.size(), 1u);  // the whole request fits max_batch_tokens
    } else {
      EXPECT_GE(records.size(), (total + pass - 1) / pass);
    }
  }
}

// Requests in an early pass reply when it ends, not when everything queued has run: the
// clients' next requests then queue while the model computes.
TEST(Batcher, ARequestRepliesWhenItsPassEndsNotWhenTheQueueIsEmpty) {
  const auto model = clinc_model();
  const auto rows = model->encode(clinc_texts(40));
  std::size_t longest = 0;
  for (const auto& r : rows) longest = std::max(longest, r.size());
  BatchLimits limits;
  limits.max_forward_tokens = longest;  // about one row per pass
  std::shared_future<BatchResult> first;
  std::atomic<std::size_t> batches{0};
  std::atomic<bool> first_done_before_last_pass{false};
  Batcher batcher(model, limits);
  batcher.on_batch([&](const BatchRecord&) {
    // Called after each pass, before its replies; `first` is set before `rest` is queued.
    if (++batches > 1 && first.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
      first_done_before_last_pass = true;
  });
  first = batcher.submit({rows[0]}).result.share();
  auto rest = batcher.submit(std::vector<Encoding>(rows.begin() + 1, rows.end()));
  EXPECT_EQ(rest.result.get().rows.size(), rows.size() - 1);
  EXPECT_EQ(first.get().rows.size(), 1u);
  EXPECT_GT(batches.load(), 2u);
  EXPECT_TRUE(first_done_before_last_pass.load()) << "the first request waited for the queue";
}

TEST(Batcher, OneRequestPerBatchWhenAsked) {
  const auto model = clinc_model();
  const auto rows = model->encode(clinc_texts(8));
  BatchLimits limits;
  limits.max_batch_requests = 1;
  Batcher batcher(model, limits);
  std::vector<std::size_t> per_batch;
  batcher.on_batch([&](const BatchRecord& r) { per_batch.push_back(r.requests); });
  std::vector<Batcher::Ticket> tickets;
  for (const auto& r : rows) tickets.push_back(batcher.submit({r}));
  for (auto& t : tickets) EXPECT_EQ(t.result.get().rows.size(), 1u);
  EXPECT_EQ(per_batch.size(), rows.size());
  for (auto n : per_batch) EXPECT_EQ(n, 1u);
}

TEST(Batcher, CancelledRequestsAreSkipped) {
  const auto model = clinc_model();
  const auto rows = model->encode(clinc_texts(64));
  BatchLimits limits;
  limits.max_delay = std::chrono::milliseconds(200);  // keeps the first request queued a while
  Batcher batcher(model, limits);
  auto ticket = batcher.submit(rows);
  ticket.cancelled->store(true);
  EXPECT_THROW(ticket.result.get(), Error);
  EXPECT_EQ(batcher.stats().cancelled_rows, rows.size());
  EXPECT_EQ(batcher.stats().rows, 0u);
  EXPECT_EQ(batcher.submit({rows[0]}).result.get().rows.size(), 1u);  // still serving
}

TEST(Batcher, ABadRowIsRefusedAtSubmitAndNeverJoinsABatch) {
  const auto model = clinc_model();
  const auto good = model->encode(clinc_texts(2));
  Encoding bad = good[0];
  bad.ids[1] = 1 << 30;  // outside the vocabulary
  Batcher batcher(model, {});
  EXPECT_THROW(batcher.submit({good[1], bad}), InputError);
  Encoding long_row = good[0];
  long_row.ids.resize(model->max_length() + 1, good[0].ids[1]);
  long_row.type_ids.resize(long_row.ids.size(), 0);
  EXPECT_THROW(batcher.submit({long_row}), InputError);
  EXPECT_THROW(batcher.submit({Encoding{}}), InputError);
  EXPECT_EQ(batcher.submit(good).result.get().rows.size(), 2u);
  EXPECT_EQ(batcher.stats().rows, 2u);
}

TEST(Batcher, StopDrainsQueuedWorkAndRefusesMore) {
  const auto model = clinc_model();
  const auto rows = model->encode(clinc_texts(32));
  auto batcher = std::make_unique<Batcher>(model, BatchLimits{});
  std::vector<Batcher::Ticket> tickets;
  for (std::size_t i = 0; i < 8; ++i)
    tickets.push_back(batcher->submit({rows.begin() + i * 4, rows.begin() + i * 4 + 4}));
  batcher->stop();
  EXPECT_THROW(batcher->submit({rows[0]}), Error);
  batcher.reset();  // joins after the queue is empty
  for (auto& t : tickets) EXPECT_EQ(t.result.get().rows.size(), 4u);
  EXPECT_TRUE(Batcher(model, {}).submit({}).result.get().rows.empty());
}

}  // namespace
}  // namespace encore::serve

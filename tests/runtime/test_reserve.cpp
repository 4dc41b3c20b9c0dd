// Model::reserve: the arena of the largest batch a token budget allows is allocated once,
// and a batch within the budget (many short rows, or one row of the maximum length) then
// runs without growing it.
#include <gtest/gtest.h>

#include "encore/model.hpp"
#include "runtime/model_impl.hpp"
#include "test_support.hpp"

namespace encore {
namespace {

std::size_t pooled_arena_bytes(const Model& m) {
  const auto& impl = m.internals();
  std::lock_guard<std::mutex> lock(impl.pool_mutex);
  std::size_t most = 0;
  for (const auto& c : impl.pool) most = std::max(most, c->arena_bytes());
  return most;
}

TEST(Reserve, BatchesWithinTheBudgetDoNotGrowTheArena) {
  ModelOptions o;
  o.threads = 2;
  const auto model = Model::load(test::shared_dir() / "models/clinc-bert-mini", o);
  constexpr std::size_t kBudget = 1024;
  model->reserve(kBudget);
  const std::size_t reserved = pooled_arena_bytes(*model);
  EXPECT_GE(reserved, model->internals().encoder->arena_floats(kBudget, kBudget / 2, 512) * sizeof(float));

  BatchOptions b;
  b.max_batch_tokens = kBudget;
  b.batch_size = 1 << 20;
  // The most rows: one-character texts ([CLS] x [SEP]: 3 tokens each).
  std::vector<TextInput> many(kBudget / 3, TextInput{"a", std::nullopt});
  model->forward(many, b);
  EXPECT_EQ(pooled_arena_bytes(*model), reserved);
  // The longest row.
  std::string longest;
  for (int i = 0; i < 600; ++i) longest += "word ";
  std::vector<TextInput> one{TextInput{longest, std::nullopt}};
  model->forward(one, b);
  EXPECT_EQ(pooled_arena_bytes(*model), reserved);
  EXPECT_EQ(model->internals().pool.size(), 1u);  // one caller at a time: one context
}

TEST(Reserve, ZeroBudgetReservesNothing) {
  const auto model = Model::load(test::shared_dir() / "models/clinc-bert-mini");
  model->reserve(0);
  EXPECT_EQ(pooled_arena_bytes(*model), 0u);
}

}  // namespace
}  // namespace encore

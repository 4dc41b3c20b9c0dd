// The FP32 engine against ../shared/reference (float64 PyTorch, HF tokenizers): identical
// token ids, last_hidden_state / pooler_output / logits within 1e-4, identical argmax; and a
// row's output does not depend on what else is in its batch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "encore/model.hpp"
#include "io/safetensors.hpp"
#include "test_support.hpp"

namespace encore {
namespace {

using test::argmax;
using test::cosine;
using test::max_abs_diff;

struct Reference {
  std::vector<TextInput> inputs;
  io::SafetensorsFile file;
};

Reference load_reference(const std::string& model) {
  Reference r{{}, io::SafetensorsFile::open(test::shared_dir() / "reference" / (model + ".safetensors"))};
  for (const auto& row : test::read_jsonl(test::shared_dir() / "reference/texts.jsonl")) {
    TextInput in{row["text"].get<std::string>(), std::nullopt};
    if (row.contains("text_pair") && row["text_pair"].is_string())
      in.pair = row["text_pair"].get<std::string>();
    r.inputs.push_back(std::move(in));
  }
  return r;
}




void check_model(const std::string& name) {
  const auto model = Model::load(test::shared_dir() / "models" / name);
  const Reference ref = load_reference(name);
  ASSERT_EQ(ref.inputs.size(), 39u);
  const auto rows = model->forward(ref.inputs);
  ASSERT_EQ(rows.size(), ref.inputs.size());
  float worst_hidden = 0, worst_pooler = 0, worst_logits = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string k = "." + std::to_string(i);
    const auto ids = test::int64_values(*ref.file.find("input_ids" + k));
    ASSERT_EQ(rows[i].input_ids.size(), ids.size()) << "row " << i;
    for (std::size_t t = 0; t < ids.size(); ++t)
      ASSERT_EQ(rows[i].input_ids[t], static_cast<std::int32_t>(ids[t])) << "row " << i;
    const auto types = test::int64_values(*ref.file.find("token_type_ids" + k));
    for (std::size_t t = 0; t < types.size(); ++t)
      ASSERT_EQ(rows[i].token_type_ids[t], static_cast<std::int32_t>(types[t])) << "row " << i;
    worst_hidden = std::max(worst_hidden, max_abs_diff(rows[i].last_hidden_state,
                                                       io::to_float32(*ref.file.find("last_hidden_state" + k))));
    EXPECT_LE(max_abs_diff(rows[i].cls, io::to_float32(*ref.file.find("cls" + k))), 1e-4f);
    EXPECT_LE(max_abs_diff(rows[i].mean_pooled, io::to_float32(*ref.file.find("mean_pooled" + k))), 1e-4f)
        << "row " << i;
    if (const auto* p = ref.file.find("pooler_output" + k))
      worst_pooler = std::max(worst_pooler, max_abs_diff(rows[i].pooler_output, io::to_float32(*p)));
    if (const auto* l = ref.file.find("logits" + k)) {
      const auto expected = io::to_float32(*l);
      worst_logits = std::max(worst_logits, max_abs_diff(rows[i].logits, expected));
      EXPECT_EQ(argmax(rows[i].logits), argmax(expected)) << "row " << i;
    }
  }
  EXPECT_LE(worst_hidden, 1e-4f);
  EXPECT_LE(worst_pooler, 1e-4f);
  EXPECT_LE(worst_logits, 1e-4f);
  std::printf("[ %s ] max-abs: last_hidden_state %.3g, pooler_output %.3g, logits %.3g\n",
              name.c_str(), worst_hidden, worst_pooler, worst_logits);
}

TEST(ReferenceOutputs, TinyRandomBert) { check_model("tiny-random-bert"); }
TEST(ReferenceOutputs, ClincBertSmall) { check_model("clinc-bert-small"); }
TEST(ReferenceOutputs, ClincBertMiniF16) { check_model("clinc-bert-mini"); }

TEST(ReferenceOutputs, RowsDoNotDependOnTheirBatch) {
  const auto model = Model::load(test::shared_dir() / "models/clinc-bert-small");
  const Reference ref = load_reference("clinc-bert-small");
  // 32 rows of mixed lengths (the reference texts, cycled), run in one batch and one by one.
  std::vector<TextInput> inputs;
  for (std::size_t i = 0; inputs.size() < 32; ++i) inputs.push_back(ref.inputs[i % ref.inputs.size()]);
  BatchOptions together;
  together.batch_size = 32;
  together.max_batch_tokens = 1 << 20;
  const auto batched = model->forward(inputs, together);
  BatchOptions alone;
  alone.batch_size = 1;
  const auto single = model->forward(inputs, alone);
  float worst = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    worst = std::max(worst, max_abs_diff(batched[i].last_hidden_state, single[i].last_hidden_state));
    worst = std::max(worst, max_abs_diff(batched[i].logits, single[i].logits));
  }
  EXPECT_LE(worst, 1e-5f);
  std::printf("[ batch independence ] max-abs between batched and single rows: %.3g\n", worst);
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

TEST(ReferenceOutputs, OneModelServesConcurrentCallers) {
  const auto model = Model::load(test::shared_dir() / "models/clinc-bert-small");
  std::vector<TextInput> inputs;
  for (const auto& row : test::read_jsonl(test::shared_dir() / "data/clinc150/validation.jsonl")) {
    inputs.push_back({row["text"].get<std::string>(), std::nullopt});
    if (inputs.size() == 200) break;
  }
  const auto expected = model->classify(inputs, 3);
  std::vector<std::vector<Classification>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      BatchOptions b;
      b.batch_size = static_cast<std::size_t>(3 + 7 * t);  // different batchings per thread
      got[static_cast<std::size_t>(t)] = model->classify(inputs, 3, b);
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& g : got) {
    ASSERT_EQ(g.size(), expected.size());
    for (std::size_t i = 0; i < g.size(); ++i) {
      EXPECT_EQ(g[i].labels[0].label, expected[i].labels[0].label);
      EXPECT_NEAR(g[i].labels[0].score, expected[i].labels[0].score, 1e-5);
    }
  }
}

}  // namespace
}  // namespace encore

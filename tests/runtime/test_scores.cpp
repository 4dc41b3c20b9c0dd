// label_scores / ranked_labels / normalize_l2: the one scoring path of classify, the Python
// module and the server, against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "encore/scores.hpp"

namespace encore {
namespace {

TEST(Scores, DefaultFollowsTheProblemType) {
  const std::vector<float> logits{1.f, 2.f, 0.f};
  const auto soft = label_scores(logits, ProblemType::SingleLabel);
  const double z = std::exp(1.0) + std::exp(2.0) + 1.0;
  EXPECT_NEAR(soft[0], std::exp(1.0) / z, 1e-6);
  EXPECT_NEAR(soft[1], std::exp(2.0) / z, 1e-6);
  EXPECT_NEAR(soft[2], 1.0 / z, 1e-6);
  EXPECT_EQ(label_scores(logits, ProblemType::Unspecified), soft);

  const auto multi = label_scores(logits, ProblemType::MultiLabel);
  EXPECT_NEAR(multi[1], 1.0 / (1.0 + std::exp(-2.0)), 1e-6);
  EXPECT_NEAR(multi[2], 0.5, 1e-7);

  EXPECT_EQ(label_scores(logits, ProblemType::Regression), logits);
  // One logit (a reranker or binary cross-encoder): sigmoid, as the pipeline does.
  const std::vector<float> one{0.f};
  EXPECT_NEAR(label_scores(one, ProblemType::Unspecified)[0], 0.5f, 1e-7);
}

TEST(Scores, ExplicitFunctionOverridesTheDefault) {
  const std::vector<float> logits{1000.f, 999.f};  // softmax must not overflow
  const auto s = label_scores(logits, ProblemType::MultiLabel, ScoreFunction::Softmax);
  EXPECT_NEAR(s[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_EQ(label_scores(logits, ProblemType::SingleLabel, ScoreFunction::None), logits);
  EXPECT_NEAR(
      label_scores(std::vector<float>{-3.f}, ProblemType::Regression, ScoreFunction::Sigmoid)[0],
      1.0 / (1.0 + std::exp(3.0)), 1e-6);
  EXPECT_TRUE(label_scores(std::vector<float>{}, ProblemType::SingleLabel).empty());
}

TEST(Scores, RankedLabelsBestFirstTiesInLabelOrder) {
  const std::vector<float> scores{0.2f, 0.5f, 0.2f, 0.1f};
  const std::vector<std::string> names{"a", "b", "c"};
  const auto all = ranked_labels(scores, names, 0);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].label, "b");
  EXPECT_EQ(all[1].label, "a");
  EXPECT_EQ(all[2].label, "c");
  EXPECT_EQ(all[3].label, "LABEL_3");
  EXPECT_FLOAT_EQ(all[3].score, 0.1f);
  const auto top2 = ranked_labels(scores, names, 2);
  ASSERT_EQ(top2.size(), 2u);
  EXPECT_EQ(top2[1].label, "a");
  EXPECT_EQ(ranked_labels(scores, names, 10).size(), 4u);
}

TEST(Scores, NormalizeL2) {
  std::vector<float> v{3.f, 4.f};
  normalize_l2(v);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
  std::vector<float> zero{0.f, 0.f};
  normalize_l2(zero);
  EXPECT_EQ(zero, (std::vector<float>{0.f, 0.f}));
}

}  // namespace
}  // namespace encore

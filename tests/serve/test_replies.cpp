// The server's hand-written replies against the same values written by nlohmann::json.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "encore/scores.hpp"
#include "serve/replies.hpp"

namespace encore::serve {
namespace {

using nlohmann::json;

TEST(Replies, NumbersReadBackAsTheSameFloat) {
  std::mt19937 rng(7);
  std::vector<float> values = {
      0.f, -0.f, 1.f, -1.f, 1e-5f, 0.1f, 3.4028235e38f, 1.4e-45f, 1.17549435e-38f, 123456789.f};
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::uniform_int_distribution<int> e(-40, 38);
  for (int i = 0; i < 2000; ++i) values.push_back(u(rng) * std::pow(10.f, float(e(rng))));
  for (const float v : values) {
    std::string s;
    append_number(s, v);
    const json j = json::parse(s);  // valid JSON
    ASSERT_TRUE(j.is_number()) << s;
    EXPECT_EQ(j.get<float>(), v) << s;
  }
  for (const float v :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
        -std::numeric_limits<float>::infinity()}) {
    std::string s;
    append_number(s, v);
    EXPECT_EQ(s, "null");
  }
}

TEST(Replies, StringsAreEscapedAndInvalidUtf8Replaced) {
  EXPECT_EQ(json::parse(json_string("a \"quoted\" \\ label\n\t")), "a \"quoted\" \\ label\n\t");
  EXPECT_EQ(json::parse(json_string("café ☕")), "café ☕");
  EXPECT_EQ(json::parse(json_string(std::string("bad \xff byte"))), "bad \xef\xbf\xbd byte");
}

TEST(Replies, LabelsAreRankedAsRankedLabelsAndNamed) {
  const std::vector<std::string> names = {"b\"ook", "flight", "weather"};
  std::vector<std::string> quoted;
  for (const auto& n : names) quoted.push_back(json_string(n));
  // Four logits, three names: the fourth is LABEL_3, as ranked_labels names it.
  const std::vector<std::vector<float>> rows = {{0.1f, 0.7f, 0.1f, 0.1f}, {2.f, -1.f, 5.f, 0.f}};
  const LabelReply reply(quoted);
  const json batch = json::parse(reply.write(rows, false));
  ASSERT_TRUE(batch.is_array());
  ASSERT_EQ(batch.size(), rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto expected = ranked_labels(rows[r], names, 0);
    ASSERT_EQ(batch[r].size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(batch[r][i]["label"], expected[i].label);
      EXPECT_EQ(batch[r][i]["score"].get<float>(), expected[i].score);
      EXPECT_EQ(batch[r][i].size(), 2u);
    }
  }
  // ties keep label order
  EXPECT_EQ(batch[0][1]["label"], "b\"ook");
  EXPECT_EQ(batch[0][3]["label"], "LABEL_3");
  const json one = json::parse(reply.write({rows[1]}, true));
  EXPECT_EQ(one, batch[1]);
  EXPECT_EQ(json::parse(reply.write({}, false)), json::array());
}

TEST(Replies, VectorRowsAreArraysOfTheirValues) {
  const std::vector<float> a = {0.25f, -1e-7f, 3.f}, b = {};
  const json j = json::parse(vector_rows({a, b}));
  ASSERT_EQ(j.size(), 2u);
  ASSERT_EQ(j[0].size(), a.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(j[0][i].get<float>(), a[i]);
  EXPECT_TRUE(j[1].is_array());
  EXPECT_TRUE(j[1].empty());
  EXPECT_EQ(vector_rows({}), "[]");
}

}  // namespace
}  // namespace encore::serve

// INT8 that survives outlier channels: a model made from a shared one by scaling a few
// hidden channels of every layer's attention context by 100 in a function-preserving way
// (value rows x100, the output dense's input columns /100) computes the same FP32 outputs;
// plain dynamic INT8 loses those tokens, smoothing (SmoothQuant folded into the weights)
// keeps INT8's min token cosine to FP32 >= 0.99; models without outliers are left alone;
// a plan of the smoothed model computes bit-identical outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "encore/model.hpp"
#include "io/safetensors.hpp"
#include "quant/plan.hpp"
#include "quant/smoothing.hpp"
#include "runtime/model_impl.hpp"
#include "test_support.hpp"

namespace encore {
namespace {

namespace fs = std::filesystem;

constexpr float kFactor = 100.f;

std::vector<TextInput> reference_inputs() {
  std::vector<TextInput> out;
  for (const auto& row : test::read_jsonl(test::shared_dir() / "reference/texts.jsonl")) {
    TextInput in{row["text"].get<std::string>(), std::nullopt};
    if (row.contains("text_pair") && row["text_pair"].is_string())
      in.pair = row["text_pair"].get<std::string>();
    out.push_back(std::move(in));
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Copies shared model `name` to a temp folder with hidden channels `channels` of every
// layer's attention context scaled by kFactor: rows j of the value projection (weight and
// bias) times kFactor, columns j of attention.output.dense divided by it. The context is
// softmax(QKᵀ)·V, linear in V, so the layer computes the same function. (Scaling a
// LayerNorm's gamma/beta instead would not preserve it in BERT's post-LN layers: that output
// is also the residual the next LayerNorm normalizes, and LayerNorm is not invariant to
// scaling single channels.)
fs::path make_outlier_model(const std::string& name, const std::vector<std::int64_t>& channels) {
  const fs::path src = test::shared_dir() / "models" / name;
  const fs::path out = test::temp_dir("outlier_" + name);
  for (const auto& e : fs::directory_iterator(src))
    if (e.is_regular_file() && e.path().filename() != "model.safetensors")
      fs::copy_file(e.path(), out / e.path().filename());
  const auto st = io::SafetensorsFile::open(src / "model.safetensors");
  io::SafetensorsWriter w;
  for (const auto& t : st.tensors()) {
    std::vector<float> v = io::to_float32(t);
    if (ends_with(t.name, "attention.self.value.weight")) {
      const std::int64_t in = t.shape[1];
      for (const auto j : channels)
        for (std::int64_t k = 0; k < in; ++k) v[static_cast<std::size_t>(j * in + k)] *= kFactor;
    } else if (ends_with(t.name, "attention.self.value.bias")) {
      for (const auto j : channels) v[static_cast<std::size_t>(j)] *= kFactor;
    } else if (ends_with(t.name, "attention.output.dense.weight")) {
      const std::int64_t in = t.shape[1];
      for (std::int64_t o = 0; o < t.shape[0]; ++o)
        for (const auto j : channels) v[static_cast<std::size_t>(o * in + j)] /= kFactor;
    }
    w.add_f32(t.name, t.shape, v);
  }
  w.write(out / "model.safetensors");
  return out;
}

std::vector<float> hidden_states(const Model& m, const std::vector<TextInput>& inputs) {
  std::vector<float> out;
  for (const auto& r : m.forward(inputs))
    out.insert(out.end(), r.last_hidden_state.begin(), r.last_hidden_state.end());
  return out;
}

double min_token_cosine(const std::vector<float>& a, const std::vector<float>& b, std::size_t H) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 1;
  for (std::size_t t = 0; t * H < std::min(a.size(), b.size()); ++t) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t c = t * H; c < (t + 1) * H; ++c) {
      ab += static_cast<double>(a[c]) * b[c];
      aa += static_cast<double>(a[c]) * a[c];
      bb += static_cast<double>(b[c]) * b[c];
    }
    worst = std::min(worst, ab / std::sqrt(aa * bb));
  }
  return worst;
}

std::vector<TextInput> calibration_texts(std::size_t n = 200) {
  std::vector<TextInput> out;
  for (const auto& row : test::read_jsonl(test::shared_dir() / "data/clinc150/validation.jsonl")) {
    out.push_back({row["text"].get<std::string>(), std::nullopt});
    if (out.size() == n) break;
  }
  return out;
}

ModelOptions int8(Precision p, bool smooth) {
  ModelOptions o;
  o.precision = p;
  o.smooth_outliers = smooth;
  if (p == Precision::Int8Static) o.calibration.texts = calibration_texts();
  return o;
}

struct Case {
  std::string model;
  std::vector<std::int64_t> channels;
  // Whether plain INT8 falls below 0.99 (the trained model; the random one's attention
  // branch is too small next to its residual for the outliers to show at the output).
  bool plain_breaks;
};

class OutlierChannels : public testing::TestWithParam<Case> {};

TEST_P(OutlierChannels, Fp32IsPreservedAndSmoothedInt8KeepsMinTokenCosine099) {
  const Case& c = GetParam();
  const fs::path dir = make_outlier_model(c.model, c.channels);
  const auto inputs = reference_inputs();
  const auto original = Model::load(test::shared_dir() / "models" / c.model);
  const auto fp32 = Model::load(dir);
  const auto H = static_cast<std::size_t>(fp32->hidden_size());
  const auto ref = hidden_states(*fp32, inputs);
  {
    const auto orig = hidden_states(*original, inputs);
    ASSERT_EQ(orig.size(), ref.size());
    float worst = 0;
    for (std::size_t i = 0; i < ref.size(); ++i)
      worst = std::max(worst, std::fabs(orig[i] - ref[i]));
    EXPECT_LT(worst, 1e-4f) << "the outlier model must compute the original's function";
  }
  for (const Precision p : {Precision::Int8Dynamic, Precision::Int8Static}) {
    const auto plain = Model::load(dir, int8(p, false));
    const auto smoothed = Model::load(dir, int8(p, true));
    EXPECT_EQ(plain->internals().encoder->smoothed_gemms(), 0);
    EXPECT_GT(smoothed->internals().encoder->smoothed_gemms(), 0) << to_string(p);
    const double before = min_token_cosine(ref, hidden_states(*plain, inputs), H);
    const double after = min_token_cosine(ref, hidden_states(*smoothed, inputs), H);
    std::printf(
        "[ %s %s x%g on %zu channels ] min token cosine to FP32: plain %.6f, smoothed %.6f (%d "
        "GEMMs)\n",
        to_string(p).c_str(), c.model.c_str(), static_cast<double>(kFactor), c.channels.size(),
        before, after, smoothed->internals().encoder->smoothed_gemms());
    if (c.plain_breaks) {
      EXPECT_LT(before, 0.99) << "the outliers should break plain INT8 (" << to_string(p) << ")";
    }
    EXPECT_GT(after, before) << to_string(p);
    EXPECT_GE(after, 0.99) << to_string(p);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, OutlierChannels,
                         testing::Values(Case{"tiny-random-bert", {5, 41, 77}, false},
                                         Case{"clinc-bert-small", {11, 100, 203}, true}),
                         [](const auto& info) {
                           std::string n = info.param.model;
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(Smoothing, ModelsWithoutOutliersAreLeftAlone) {
  for (const char* name : {"tiny-random-bert", "clinc-bert-mini", "clinc-bert-small"}) {
    const auto m =
        Model::load(test::shared_dir() / "models" / name, int8(Precision::Int8Dynamic, true));
    EXPECT_EQ(m->internals().encoder->smoothed_gemms(), 0) << name;
  }
}

TEST(Smoothing, InspectSaysHowManyGemmsAreSmoothed) {
  const fs::path dir = make_outlier_model("tiny-random-bert", {5, 41, 77});
  const auto r =
      test::run_cli("inspect --model " + test::shell_quote(dir.string()) + " --precision int8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "smoothing      2 of 8 GEMMs smoothed");
  const auto plain =
      test::run_cli("inspect --model " +
                    test::shell_quote((test::shared_dir() / "models/tiny-random-bert").string()) +
                    " --precision int8");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_CONTAINS(plain.out, "smoothing      0 of 8 GEMMs smoothed");
}

TEST(Smoothing, FactorsFollowSmoothQuant) {
  // W [out 2, in 3]; amax per input channel.
  HostTensor w;
  w.shape = {2, 3};
  w.data = {1.f, -0.5f, 0.25f, -2.f, 0.5f, 0.125f};
  const std::vector<float> amax = {4.f, 1.f, 100.f};
  const auto s = quant::smoothing_factors(amax, w, 0.5);
  // s_j = sqrt(amax_j / wmax_j): sqrt(2), sqrt(2), sqrt(400) = 20, normalized to median sqrt(2).
  ASSERT_EQ(s.size(), 3u);
  EXPECT_NEAR(s[0], 1.f, 1e-6f);
  EXPECT_NEAR(s[1], 1.f, 1e-6f);
  EXPECT_NEAR(s[2], 20.f / std::sqrt(2.f), 1e-4f);
  EXPECT_NEAR(quant::outlier_ratio(amax), 25.0, 1e-9);
}

TEST(Smoothing, PlanOfSmoothedModelIsBitIdentical) {
  const fs::path dir = make_outlier_model("tiny-random-bert", {5, 41, 77});
  const auto inputs = reference_inputs();
  const fs::path plans = test::temp_dir("smoothed_plans");
  for (const Precision p : {Precision::Int8Dynamic, Precision::Int8Static}) {
    const auto in_memory = Model::load(dir, int8(p, true));
    ASSERT_GT(in_memory->internals().encoder->smoothed_gemms(), 0);
    quant::PlanManifest man;
    man.precision = in_memory->precision();
    man.layers = in_memory->internals().encoder->precision();
    const fs::path plan = plans / to_string(p);
    quant::write_plan(dir, plan, man);
    const auto loaded = Model::load(plan);
    EXPECT_EQ(loaded->internals().encoder->smoothed_gemms(),
              in_memory->internals().encoder->smoothed_gemms());
    const auto a = hidden_states(*in_memory, inputs), b = hidden_states(*loaded, inputs);
    ASSERT_EQ(a.size(), b.size());
    float worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
    EXPECT_EQ(worst, 0.f) << to_string(p);
  }
}

}  // namespace
}  // namespace encore

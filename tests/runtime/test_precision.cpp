// BF16 and INT8 against ../shared/reference (float64): per-token cosine of last_hidden_state
// (BF16 >= 0.999, INT8 >= 0.99) and argmax agreement (INT8 >= 99% of rows); plans written by
// `encore build` load to bit-identical outputs and are rejected when damaged; calibration is
// deterministic; --fallback auto moves layers to BF16 and the plan records it.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "encore/model.hpp"
#include "io/safetensors.hpp"
#include "kernels/linear.hpp"
#include "quant/plan.hpp"
#include "runtime/model_impl.hpp"
#include "test_support.hpp"

namespace encore {
namespace {

using test::argmax;
using test::cosine;

namespace fs = std::filesystem;

std::vector<TextInput> reference_inputs() {
  std::vector<TextInput> out;
  for (const auto& row : test::read_jsonl(test::shared_dir() / "reference/texts.jsonl")) {
    TextInput in{row["text"].get<std::string>(), std::nullopt};
    if (row.contains("text_pair") && row["text_pair"].is_string()) in.pair = row["text_pair"].get<std::string>();
    out.push_back(std::move(in));
  }
  return out;
}

// Calibration texts: CLINC validation (never the test split, never the reference texts).
std::vector<TextInput> calibration_texts(std::size_t n = 300) {
  std::vector<TextInput> out;
  for (const auto& row : test::read_jsonl(test::shared_dir() / "data/clinc150/validation.jsonl")) {
    out.push_back({row["text"].get<std::string>(), std::nullopt});
    if (out.size() == n) break;
  }
  return out;
}

ModelOptions options(Precision p) {
  ModelOptions o;
  o.precision = p;
  if (p == Precision::Int8Static) o.calibration.texts = calibration_texts();
  return o;
}



struct Agreement {
  double min_token_cosine = 1;
  std::size_t rows = 0, argmax_same = 0, argmax_rows = 0;
};

Agreement against_reference(const std::string& name, const ModelOptions& o) {
  const auto model = Model::load(test::shared_dir() / "models" / name, o);
  const auto file = io::SafetensorsFile::open(test::shared_dir() / "reference" / (name + ".safetensors"));
  const auto rows = model->forward(reference_inputs());
  Agreement a;
  const auto H = static_cast<std::size_t>(model->hidden_size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string k = "." + std::to_string(i);
    const auto expected = io::to_float32(*file.find("last_hidden_state" + k));
    EXPECT_EQ(expected.size(), rows[i].last_hidden_state.size());
    for (std::size_t t = 0; t * H < expected.size(); ++t)
      a.min_token_cosine =
          std::min(a.min_token_cosine, cosine(expected.data() + t * H, rows[i].last_hidden_state.data() + t * H, H));
    if (const auto* l = file.find("logits" + k)) {
      a.argmax_rows += 1;
      a.argmax_same += argmax(rows[i].logits) == argmax(io::to_float32(*l));
    }
    a.rows += 1;
  }
  return a;
}

class PrecisionVsReference : public testing::TestWithParam<std::string> {};

TEST_P(PrecisionVsReference, Bf16TokenCosineAtLeast0999) {
  const Agreement a = against_reference(GetParam(), options(Precision::BF16));
  EXPECT_EQ(a.rows, 39u);
  EXPECT_GE(a.min_token_cosine, 0.999);
  EXPECT_EQ(a.argmax_same, a.argmax_rows);
  std::printf("[ bf16 %s ] min token cosine %.6f, argmax %zu/%zu\n", GetParam().c_str(), a.min_token_cosine,
              a.argmax_same, a.argmax_rows);
}

TEST_P(PrecisionVsReference, Int8DynamicAndStaticCosineAtLeast099AndArgmax99Percent) {
  for (Precision p : {Precision::Int8Dynamic, Precision::Int8Static}) {
    const Agreement a = against_reference(GetParam(), options(p));
    EXPECT_EQ(a.rows, 39u);
    EXPECT_GE(a.min_token_cosine, 0.99) << to_string(p);
    EXPECT_GE(static_cast<double>(a.argmax_same), 0.99 * static_cast<double>(a.argmax_rows)) << to_string(p);
    std::printf("[ %s %s ] min token cosine %.6f, argmax %zu/%zu\n", to_string(p).c_str(), GetParam().c_str(),
                a.min_token_cosine, a.argmax_same, a.argmax_rows);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, PrecisionVsReference,
                         testing::Values("tiny-random-bert", "clinc-bert-mini", "clinc-bert-small"));

std::vector<float> flat_outputs(const Model& m) {
  std::vector<float> out;
  for (const auto& r : m.forward(reference_inputs())) {
    out.insert(out.end(), r.last_hidden_state.begin(), r.last_hidden_state.end());
    out.insert(out.end(), r.logits.begin(), r.logits.end());
  }
  return out;
}

void build(const fs::path& src, const fs::path& out, const ModelOptions& o, const Model& m) {
  quant::PlanManifest man;
  man.precision = m.precision();
  man.layers = m.internals().encoder->precision();
  man.fallback_auto = o.fallback_auto;
  quant::write_plan(src, out, man);
}

TEST(Plans, RoundTripGivesBitIdenticalOutputsForEveryPrecision) {
  const fs::path src = test::shared_dir() / "models/clinc-bert-mini";
  const fs::path dir = test::temp_dir("plan_round_trip");
  for (Precision p : {Precision::BF16, Precision::Int8Dynamic, Precision::Int8Static}) {
    const ModelOptions o = options(p);
    const auto in_memory = Model::load(src, o);
    const fs::path plan = dir / to_string(p);
    build(src, plan, o, *in_memory);
    ASSERT_TRUE(quant::is_plan_dir(plan));
    const auto loaded = Model::load(plan);
    EXPECT_TRUE(loaded->is_plan());
    EXPECT_EQ(loaded->precision(), in_memory->precision());  // BF16 may fall back to FP32 on old CPUs
    // The same layer plan: precisions, calibrated ranges and smoothing factors (the attention
    // output's are folded into a plan's weights, so only their presence is recorded).
    const auto& lp = loaded->internals().encoder->precision();
    const auto& mp = in_memory->internals().encoder->precision();
    ASSERT_EQ(lp.size(), mp.size());
    for (std::size_t l = 0; l < lp.size(); ++l) {
      EXPECT_EQ(lp[l].precision, mp[l].precision) << l;
      EXPECT_EQ(lp[l].input_ranges, mp[l].input_ranges) << l;
      for (int s = 0; s < runtime::kLinearSlots; ++s) {
        const auto k = static_cast<std::size_t>(s);
        if (s == static_cast<int>(runtime::LinearSlot::AttnOut))
          EXPECT_EQ(lp[l].smoothing_folded, !mp[l].input_smoothing[k].empty()) << l;
        else
          EXPECT_EQ(lp[l].input_smoothing[k], mp[l].input_smoothing[k]) << l << " slot " << s;
      }
    }
    const auto a = flat_outputs(*in_memory), b = flat_outputs(*loaded);
    ASSERT_EQ(a.size(), b.size());
    float worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
    EXPECT_EQ(worst, 0.f) << to_string(p);
    // The linears are stored in their compute precision (I8 + scales, or BF16).
    const auto st = io::SafetensorsFile::open(plan / "model.safetensors");
    const auto* q = st.find("encoder.layer.0.attention.self.query.weight");
    ASSERT_NE(q, nullptr);
    const Precision built = in_memory->precision();
    EXPECT_EQ(q->dtype, built == Precision::BF16 ? io::DType::BF16 : built == Precision::FP32 ? io::DType::F32 : io::DType::I8)
        << to_string(p);
    EXPECT_EQ(st.find("encoder.layer.0.attention.self.query.weight_scale") != nullptr,
              built == Precision::Int8Dynamic || built == Precision::Int8Static);
    // Asking a plan for another precision is an error, not a silent reinterpretation.
    // (A BF16 plan built on a CPU without BF16 is an FP32 plan: ask it for INT8 instead.)
    ModelOptions other;
    const Precision asked = built == Precision::FP32 ? Precision::Int8Dynamic : Precision::FP32;
    other.precision = asked;
    test::expect_error([&] { Model::load(plan, other); }, {"plan built for", to_string(built), to_string(asked)});
  }
  fs::remove_all(dir);
}

class CorruptPlan : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("plan_corrupt");
    const fs::path src = test::shared_dir() / "models/tiny-random-bert";
    ModelOptions o;
    o.precision = Precision::Int8Dynamic;
    const auto m = Model::load(src, o);
    build(src, dir_, o, *m);
    manifest_ = test::slurp(dir_ / quant::kPlanFile);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void set_manifest(const std::string& from, const std::string& to) {
    std::string s = manifest_;
    const auto at = s.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    test::write_file(dir_ / quant::kPlanFile, s);
  }
  fs::path dir_;
  std::string manifest_;
};

TEST_F(CorruptPlan, FlippedWeightByteFailsTheChecksum) {
  ASSERT_NO_THROW(Model::load(dir_));
  std::fstream f(dir_ / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-100, std::ios::end);
  char c;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x10);
  f.seekp(-100, std::ios::end);
  f.write(&c, 1);
  f.close();
  test::expect_error([&] { Model::load(dir_); }, {"corrupt plan", "checksum", "model.safetensors"});
}

TEST_F(CorruptPlan, TruncatedWeightsAreRejected) {
  fs::resize_file(dir_ / "model.safetensors", fs::file_size(dir_ / "model.safetensors") - 10);
  test::expect_error([&] { Model::load(dir_); }, {"corrupt plan", "bytes"});
}

TEST_F(CorruptPlan, NewerVersionIsRejected) {
  const std::string v = std::to_string(quant::kPlanVersion), next = std::to_string(quant::kPlanVersion + 1);
  set_manifest("\"version\": " + v, "\"version\": " + next);
  test::expect_error([&] { Model::load(dir_); },
                     {"encore-plan.json", "version " + next, "reads version " + v, "encore build"});
}

TEST_F(CorruptPlan, WrongFormatUnknownPrecisionAndMalformedJsonAreRejected) {
  set_manifest("\"format\": \"encore-plan\"", "\"format\": \"other\"");
  test::expect_error([&] { Model::load(dir_); }, {"not an encore plan"});
  set_manifest("\"precision\": \"int8-dynamic\"", "\"precision\": \"int4\"");
  test::expect_error([&] { Model::load(dir_); }, {"unknown precision 'int4'"});
  set_manifest("\"precision\": \"int8\"", "\"precision\": \"int3\"");
  test::expect_error([&] { Model::load(dir_); }, {"unknown layer precision 'int3'"});
  test::write_file(dir_ / quant::kPlanFile, manifest_.substr(0, manifest_.size() / 2));
  test::expect_error([&] { Model::load(dir_); }, {"encore-plan.json"});
}

TEST_F(CorruptPlan, LayerCountMustMatchTheConfig) {
  const auto at = manifest_.find("\"layers\": [");
  ASSERT_NE(at, std::string::npos);
  // Drop the first layer entry.
  const auto first = manifest_.find('{', at), end = manifest_.find('}', first);
  std::string s = manifest_;
  s.erase(first, end - first + 2);
  test::write_file(dir_ / quant::kPlanFile, s);
  test::expect_error([&] { Model::load(dir_); }, {"layers", "config.json"});
}

TEST_F(CorruptPlan, StaticPlanNeedsFiniteRangesAroundZero) {
  // Turn the dynamic plan into a static one without ranges.
  set_manifest("\"precision\": \"int8-dynamic\"", "\"precision\": \"int8-static\"");
  test::expect_error([&] { Model::load(dir_); }, {"lacks the calibrated input ranges"});
}

TEST(Calibration, IsDeterministicAndMethodsDiffer) {
  const fs::path src = test::shared_dir() / "models/clinc-bert-mini";
  ModelOptions o = options(Precision::Int8Static);
  const auto a = Model::load(src, o), b = Model::load(src, o);
  const auto& pa = a->internals().encoder->precision();
  ASSERT_FALSE(pa.empty());
  ASSERT_TRUE(pa[0].input_ranges.has_value());
  EXPECT_EQ(pa, b->internals().encoder->precision());
  EXPECT_EQ(flat_outputs(*a), flat_outputs(*b));
  // Another thread count batches the same way: same ranges.
  o.threads = 1;
  EXPECT_EQ(pa, Model::load(src, o)->internals().encoder->precision());
  // minmax keeps every value: its ranges contain the percentile ones.
  o.calibration.method = "minmax";
  const auto mm = Model::load(src, o);
  const auto& pm = mm->internals().encoder->precision();
  bool some_wider = false;
  for (std::size_t l = 0; l < pa.size(); ++l)
    for (std::size_t s = 0; s < 4; ++s) {
      const auto [plo, phi] = (*pa[l].input_ranges)[s];
      const auto [mlo, mhi] = (*pm[l].input_ranges)[s];
      EXPECT_LE(mlo, plo);
      EXPECT_GE(mhi, phi);
      some_wider |= mlo < plo || mhi > phi;
    }
  EXPECT_TRUE(some_wider);
  o.calibration.method = "entropy";
  EXPECT_NE(Model::load(src, o)->internals().encoder->precision(), pa);
  o.calibration.method = "median";
  test::expect_error([&] { Model::load(src, o); }, {"median", "minmax", "percentile", "entropy"});
  ModelOptions none;
  none.precision = Precision::Int8Static;
  test::expect_error([&] { Model::load(src, none); }, {"int8-static", "calibration"});
}

TEST(Fallback, AutoMovesDriftingLayersToBf16AndThePlanRecordsIt) {
  const fs::path src = test::shared_dir() / "models/clinc-bert-mini";
  ModelOptions o = options(Precision::Int8Static);
  o.fallback_auto = true;
  o.fallback_min_cosine = 0.0;  // nothing drifts that far
  const auto keep = Model::load(src, o);
  for (const auto& l : keep->layer_precisions()) EXPECT_EQ(l, "int8");
  o.fallback_min_cosine = 1.0;  // every INT8 layer drifts a little: all fall back
  const auto all = Model::load(src, o);
  const std::string fallback = kernels::cpu_has_native_bf16() ? "bf16" : "fp32";
  for (const auto& l : all->layer_precisions()) EXPECT_EQ(l, fallback);
  const fs::path dir = test::temp_dir("plan_fallback");
  build(src, dir, o, *all);
  const auto loaded = Model::load(dir);
  EXPECT_EQ(loaded->layer_precisions(), all->layer_precisions());
  EXPECT_EQ(flat_outputs(*loaded), flat_outputs(*all));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace encore

// config.json parsing (EncoderConfig) and weight loading (EncoderWeights) on the shared models,
// on variants of them written here (other name spellings, dtypes, shards), and on broken
// folders whose errors must name the file and what is wrong.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../test_support.hpp"
#include "encore/error.hpp"
#include "io/safetensors.hpp"
#include "model/encoder_config.hpp"
#include "model/encoder_weights.hpp"

namespace encore {
namespace {

using test::expect_error;

namespace fs = std::filesystem;
using io::DType;
using nlohmann::json;
using test::shared_dir;
using test::temp_dir;
using test::write_file;

fs::path shared_model(const std::string& m) {
  return shared_dir() / "models" / m;
}

json shared_config(const std::string& m) {
  return json::parse(test::slurp(shared_model(m) / "config.json"));
}

// A model folder holding `config` and nothing else.
fs::path config_folder(const std::string& name, const json& config) {
  const fs::path dir = temp_dir(name);
  write_file(dir / "config.json", config.dump(2));
  return dir;
}

json minimal_config() {
  return {{"model_type", "bert"},         {"vocab_size", 100},        {"hidden_size", 8},
          {"num_hidden_layers", 1},       {"num_attention_heads", 2}, {"intermediate_size", 16},
          {"max_position_embeddings", 32}};
}

// One tensor of a checkpoint being rewritten.
struct Tensor {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::string data;
};
using Edit = std::function<bool(Tensor&)>;  // return false to drop the tensor

// Copies a shared model's weights into a fresh folder through `edit`, with its config.json
// (after `edit_config`).
fs::path make_model(const std::string& name, const std::string& base, const Edit& edit,
                    const std::function<void(json&)>& edit_config = {},
                    const std::vector<Tensor>& extra = {}) {
  const fs::path dir = temp_dir(name);
  json config = shared_config(base);
  if (edit_config) edit_config(config);
  write_file(dir / "config.json", config.dump(2));
  const auto src = io::SafetensorsFile::open(shared_model(base) / "model.safetensors");
  io::SafetensorsWriter w;
  for (const auto& t : src.tensors()) {
    Tensor x{t.name, t.dtype, t.shape, std::string(reinterpret_cast<const char*>(t.data), t.bytes)};
    if (edit && !edit(x)) continue;
    w.add(x.name, x.dtype, x.shape, x.data.data(), x.data.size());
  }
  for (const auto& x : extra) w.add(x.name, x.dtype, x.shape, x.data.data(), x.data.size());
  for (const auto& [k, v] : src.metadata()) w.metadata(k, v);
  w.write(dir / "model.safetensors");
  return dir;
}

EncoderWeights load_weights(const fs::path& dir) {
  const EncoderConfig config = EncoderConfig::load(dir);
  const auto store = io::WeightStore::open(dir);
  return EncoderWeights::load(store, config);
}

std::int64_t expected_parameters(const EncoderConfig& c, bool pooler, bool classifier) {
  const std::int64_t H = c.hidden_size, I = c.intermediate_size;
  const std::int64_t embeddings =
      (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * H + 2 * H;
  const std::int64_t layer = 4 * (H * H + H) + (I * H + I) + (H * I + H) + 4 * H;
  return embeddings + c.num_hidden_layers * layer + (pooler ? H * H + H : 0) +
         (classifier ? c.num_labels * H + c.num_labels : 0);
}

// Every HostTensor equals the checkpoint tensor it came from (QKV checked per slice).
void expect_matches_checkpoint(const EncoderWeights& w, const io::WeightStore& store,
                               const std::string& prefix) {
  auto same = [&](const HostTensor& h, const std::string& name, std::size_t offset = 0) {
    const io::TensorView* t = store.find(name);
    ASSERT_NE(t, nullptr) << name;
    const auto v = io::to_float32(*t);
    ASSERT_LE(offset + v.size(), h.data.size()) << name;
    EXPECT_TRUE(
        std::equal(v.begin(), v.end(), h.data.begin() + static_cast<std::ptrdiff_t>(offset)))
        << name;
  };
  same(w.word_embeddings, prefix + "embeddings.word_embeddings.weight");
  same(w.position_embeddings, prefix + "embeddings.position_embeddings.weight");
  same(w.token_type_embeddings, prefix + "embeddings.token_type_embeddings.weight");
  same(w.embeddings_ln_weight, prefix + "embeddings.LayerNorm.weight");
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    const std::string p = prefix + "encoder.layer." + std::to_string(i) + ".";
    const auto& L = w.layers[i];
    const std::size_t H = static_cast<std::size_t>(L.qkv_bias.numel() / 3);
    same(L.qkv_weight, p + "attention.self.query.weight", 0);
    same(L.qkv_weight, p + "attention.self.key.weight", H * H);
    same(L.qkv_weight, p + "attention.self.value.weight", 2 * H * H);
    same(L.qkv_bias, p + "attention.self.query.bias", 0);
    same(L.qkv_bias, p + "attention.self.key.bias", H);
    same(L.qkv_bias, p + "attention.self.value.bias", 2 * H);
    same(L.attn_output_weight, p + "attention.output.dense.weight");
    same(L.attn_ln_bias, p + "attention.output.LayerNorm.bias");
    same(L.intermediate_weight, p + "intermediate.dense.weight");
    same(L.output_weight, p + "output.dense.weight");
    same(L.output_ln_weight, p + "output.LayerNorm.weight");
  }
  if (w.has_pooler) same(w.pooler_weight, prefix + "pooler.dense.weight");
  if (w.has_classifier) same(w.classifier_weight, "classifier.weight");
}

using Shape = std::vector<std::int64_t>;

// ---------------------------------------------------------------------------------------
// EncoderConfig

TEST(EncoderConfigLoad, TinyRandomBert) {
  const auto c = EncoderConfig::load(shared_model("tiny-random-bert"));
  EXPECT_EQ(c.source, shared_model("tiny-random-bert") / "config.json");
  EXPECT_EQ(c.model_type, "bert");
  EXPECT_EQ(c.architectures, std::vector<std::string>{"BertForSequenceClassification"});
  EXPECT_EQ(c.hidden_size, 96);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.num_attention_heads, 3);
  EXPECT_EQ(c.head_dim(), 32);
  EXPECT_EQ(c.intermediate_size, 384);
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.hidden_act, Activation::Gelu);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.num_labels, 3);
  EXPECT_EQ(c.id2label, (std::vector<std::string>{"NEGATIVE", "NEUTRAL", "POSITIVE"}));
  EXPECT_EQ(c.label2id.at("POSITIVE"), 2);
  EXPECT_EQ(c.problem_type, ProblemType::Unspecified);
  EXPECT_EQ(c.default_pooling, Pooling::None);
}

TEST(EncoderConfigLoad, ClincModels) {
  const auto mini = EncoderConfig::load(shared_model("clinc-bert-mini"));
  EXPECT_EQ(mini.hidden_size, 128);
  EXPECT_EQ(mini.num_hidden_layers, 2);
  EXPECT_EQ(mini.num_attention_heads, 2);
  EXPECT_EQ(mini.intermediate_size, 512);
  EXPECT_EQ(mini.num_labels, 151);
  EXPECT_EQ(mini.id2label[0], "restaurant_reviews");
  EXPECT_EQ(mini.id2label[10], "smart_home");  // keys "10" and "100" sort before "2"
  EXPECT_EQ(mini.id2label[100], "rollover_401k");
  EXPECT_EQ(mini.label2id.at("yes"), 107);
  EXPECT_EQ(mini.problem_type, ProblemType::SingleLabel);

  const auto small = EncoderConfig::load(shared_model("clinc-bert-small"));
  EXPECT_EQ(small.hidden_size, 256);
  EXPECT_EQ(small.num_hidden_layers, 4);
  EXPECT_EQ(small.num_attention_heads, 4);
  EXPECT_EQ(small.intermediate_size, 1024);
  EXPECT_EQ(small.num_labels, 151);
  for (std::size_t i = 0; i < small.id2label.size(); ++i)
    EXPECT_EQ(small.label2id.at(small.id2label[i]), static_cast<std::int64_t>(i));
}

TEST(EncoderConfigLoad, HuggingFaceDefaults) {
  const auto c = EncoderConfig::load(config_folder("cfg_defaults", minimal_config()));
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.hidden_act, Activation::Gelu);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.num_labels, 2);  // PretrainedConfig: two labels when nothing says otherwise
  EXPECT_EQ(c.id2label, (std::vector<std::string>{"LABEL_0", "LABEL_1"}));
  EXPECT_EQ(c.label2id.at("LABEL_1"), 1);
  EXPECT_TRUE(c.architectures.empty());

  json five = minimal_config();
  five["num_labels"] = 5;
  const auto c5 = EncoderConfig::load(config_folder("cfg_num_labels", five));
  EXPECT_EQ(c5.num_labels, 5);
  EXPECT_EQ(c5.id2label.back(), "LABEL_4");

  // id2label decides when both are present, as in transformers.
  five["id2label"] = {{"0", "no"}, {"1", "yes"}};
  const auto c2 = EncoderConfig::load(config_folder("cfg_id2label_wins", five));
  EXPECT_EQ(c2.num_labels, 2);
  EXPECT_EQ(c2.label2id.at("yes"), 1);

  json nulls = minimal_config();
  nulls["pad_token_id"] = nullptr;
  nulls["problem_type"] = nullptr;
  nulls["type_vocab_size"] = 1;
  nulls["layer_norm_eps"] = 1e-5;
  nulls["problem_type"] = "multi_label_classification";
  const auto cn = EncoderConfig::load(config_folder("cfg_nulls", nulls));
  EXPECT_FALSE(cn.pad_token_id.has_value());
  EXPECT_EQ(cn.type_vocab_size, 1);
  EXPECT_DOUBLE_EQ(cn.layer_norm_eps, 1e-5);
  EXPECT_EQ(cn.problem_type, ProblemType::MultiLabel);

  // Old checkpoints without model_type are recognised by their architecture.
  json old = minimal_config();
  old.erase("model_type");
  old["architectures"] = {"BertForMaskedLM"};
  EXPECT_EQ(EncoderConfig::load(config_folder("cfg_old", old)).model_type, "bert");
}

TEST(EncoderConfigLoad, Activations) {
  const std::pair<const char*, Activation> cases[] = {{"gelu", Activation::Gelu},
                                                      {"gelu_new", Activation::GeluTanh},
                                                      {"gelu_pytorch_tanh", Activation::GeluTanh},
                                                      {"relu", Activation::Relu},
                                                      {"silu", Activation::Silu},
                                                      {"swish", Activation::Silu}};
  for (const auto& [name, act] : cases) {
    json j = minimal_config();
    j["hidden_act"] = name;
    EXPECT_EQ(EncoderConfig::load(config_folder("cfg_act", j)).hidden_act, act) << name;
  }
  EXPECT_EQ(to_string(Activation::Silu), "silu");
  EXPECT_EQ(parse_activation("gelu_fast"), std::nullopt);
}

TEST(EncoderConfigLoad, SentenceTransformersPooling) {
  json pooling = {{"word_embedding_dimension", 8},
                  {"pooling_mode_cls_token", false},
                  {"pooling_mode_mean_tokens", true},
                  {"pooling_mode_max_tokens", false},
                  {"pooling_mode_mean_sqrt_len_tokens", false},
                  {"pooling_mode_weightedmean_tokens", false},
                  {"pooling_mode_lasttoken", false},
                  {"include_prompt", true}};
  auto with_pooling = [&](const std::string& name, const json& p) {
    const fs::path dir = config_folder(name, minimal_config());
    fs::create_directories(dir / "1_Pooling");
    write_file(dir / "1_Pooling" / "config.json", p.dump());
    return dir;
  };
  EXPECT_EQ(EncoderConfig::load(with_pooling("pool_mean", pooling)).default_pooling, Pooling::Mean);
  json cls = pooling;
  cls["pooling_mode_cls_token"] = true;
  cls["pooling_mode_mean_tokens"] = false;
  EXPECT_EQ(EncoderConfig::load(with_pooling("pool_cls", cls)).default_pooling, Pooling::Cls);

  json max = pooling;
  max["pooling_mode_mean_tokens"] = false;
  max["pooling_mode_max_tokens"] = true;
  const fs::path max_dir = with_pooling("pool_max", max);
  expect_error([&] { EncoderConfig::load(max_dir); },
               {(max_dir / "1_Pooling" / "config.json").string(),
                "unsupported pooling mode pooling_mode_max_tokens"});
  json both = pooling;
  both["pooling_mode_cls_token"] = true;
  expect_error([&] { EncoderConfig::load(with_pooling("pool_both", both)); }, {"both set"});
  json none = pooling;
  none["pooling_mode_mean_tokens"] = false;
  expect_error([&] { EncoderConfig::load(with_pooling("pool_none", none)); }, {"no pooling mode"});
  json dim = pooling;
  dim["word_embedding_dimension"] = 384;
  expect_error([&] { EncoderConfig::load(with_pooling("pool_dim", dim)); },
               {"word_embedding_dimension 384", "hidden_size 8"});
}

void expect_config_error(const std::string& name, const json& config,
                         std::vector<std::string> fragments) {
  const fs::path dir = config_folder(name, config);
  fragments.push_back((dir / "config.json").string());
  expect_error([&] { EncoderConfig::load(dir); }, fragments);
}

TEST(EncoderConfigErrors, UnsupportedModelTypeIsNamed) {
  json j = minimal_config();
  j["model_type"] = "gpt2";
  expect_config_error("cfg_gpt2", j, {"unsupported model_type 'gpt2'"});
  j["model_type"] = "t5";
  expect_config_error("cfg_t5", j, {"unsupported model_type 't5'", "'distilbert'", "'modernbert'"});
  j.erase("model_type");
  expect_config_error("cfg_no_type", j, {"missing field 'model_type'"});
  // A huge value is cut in the message.
  j["model_type"] = std::string(100000, 'x');
  const fs::path dir = config_folder("cfg_long_type", j);
  try {
    EncoderConfig::load(dir);
    ADD_FAILURE() << "expected encore::Error";
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 300u);
    EXPECT_NE(std::string(e.what()).find("xxx...'"), std::string::npos) << e.what();
  }
}

TEST(EncoderConfigErrors, UnsupportedActivationIsNamed) {
  json j = minimal_config();
  j["hidden_act"] = "tanhh";
  expect_config_error("cfg_tanhh", j, {"unsupported activation 'tanhh'", "hidden_act"});
  j["hidden_act"] = 3;
  expect_config_error("cfg_act_type", j, {"field 'hidden_act'", "must be a string"});
}

TEST(EncoderConfigErrors, HiddenNotDivisibleByHeads) {
  json j = minimal_config();
  j["num_attention_heads"] = 3;
  expect_config_error("cfg_heads", j, {"hidden_size 8", "not divisible", "num_attention_heads 3"});
}

TEST(EncoderConfigErrors, MissingOrMistypedFields) {
  for (const char* field : {"hidden_size", "num_hidden_layers", "num_attention_heads",
                            "intermediate_size", "vocab_size", "max_position_embeddings"}) {
    json j = minimal_config();
    j.erase(field);
    expect_config_error("cfg_missing", j, {std::string("missing field '") + field + "'"});
  }
  json j = minimal_config();
  j["hidden_size"] = "8";
  expect_config_error("cfg_str", j, {"field 'hidden_size'", "must be an integer", "'8'"});
  j["hidden_size"] = 8.5;
  expect_config_error("cfg_float", j, {"field 'hidden_size'", "must be an integer", "8.5"});
  j["hidden_size"] = 0;
  expect_config_error("cfg_zero", j, {"field 'hidden_size'", "between 1 and"});
  j = minimal_config();
  j["vocab_size"] = 18446744073709551615ull;
  expect_config_error("cfg_huge", j,
                      {"field 'vocab_size'", "between 1 and 2147483647", "18446744073709551615"});
  j = minimal_config();
  j["layer_norm_eps"] = -1;
  expect_config_error("cfg_eps", j, {"field 'layer_norm_eps'", "positive"});
  j = minimal_config();
  j["pad_token_id"] = 100;
  expect_config_error("cfg_pad", j, {"field 'pad_token_id'", "between -100 and 99, found 100"});
  j = minimal_config();
  j["num_labels"] = 2147483647;
  expect_config_error("cfg_labels", j, {"field 'num_labels'", "between 0 and 1000000"});
  j = minimal_config();
  j["architectures"] = "BertModel";
  expect_config_error("cfg_arch", j, {"field 'architectures'", "list of strings"});
}

TEST(EncoderConfigErrors, LabelsAndOptions) {
  json j = minimal_config();
  j["id2label"] = {{"0", "a"}, {"2", "b"}};
  expect_config_error("cfg_sparse", j, {"field 'id2label'", "key '2'", "0..1"});
  j["id2label"] = {{"0", "a"}, {"x", "b"}};
  expect_config_error("cfg_key", j, {"field 'id2label'", "key 'x'"});
  j["id2label"] = {{"0", "a"}, {"00", "b"}};
  expect_config_error("cfg_twice", j, {"field 'id2label'", "index 0 twice"});
  j["id2label"] = {{"0", 1}};
  expect_config_error("cfg_value", j, {"field 'id2label'", "must be a string"});
  j = minimal_config();
  j["label2id"] = {{"a", "0"}};
  expect_config_error("cfg_label2id", j, {"field 'label2id'", "'a'", "integer"});
  j = minimal_config();
  j["position_embedding_type"] = "relative_key";
  expect_config_error("cfg_pos", j, {"unsupported position_embedding_type 'relative_key'"});
  j = minimal_config();
  j["problem_type"] = "ranking";
  expect_config_error("cfg_problem", j, {"unsupported problem_type 'ranking'"});
  j = minimal_config();
  j["is_decoder"] = true;
  expect_config_error("cfg_decoder", j, {"is_decoder", "not supported"});
}

TEST(EncoderConfigErrors, BadFilesAndFolders) {
  const fs::path dir = temp_dir("cfg_badjson");
  write_file(dir / "config.json", "{\"hidden_size\": 8,");
  expect_error([&] { EncoderConfig::load(dir); }, {(dir / "config.json").string(), "malformed JSON"});
  write_file(dir / "config.json", R"({"layer_norm_eps": 1e999})");
  expect_error([&] { EncoderConfig::load(dir); },
               {(dir / "config.json").string(), "malformed JSON", "1e999"});
  write_file(dir / "config.json", "[1]");
  expect_error([&] { EncoderConfig::load(dir); }, {(dir / "config.json").string(), "JSON object"});
  fs::remove(dir / "config.json");
  expect_error([&] { EncoderConfig::load(dir); }, {(dir / "config.json").string(), "does not exist"});
  expect_error([&] { EncoderConfig::load(dir / "absent"); },
               {(dir / "absent").string(), "does not exist"});
}

// ---------------------------------------------------------------------------------------
// EncoderWeights

TEST(BertLoading, TinyRandomBert) {
  const fs::path dir = shared_model("tiny-random-bert");
  const auto config = EncoderConfig::load(dir);
  const auto store = io::WeightStore::open(dir);
  const auto w = EncoderWeights::load(store, config);
  EXPECT_EQ(w.word_embeddings.shape, (Shape{30522, 96}));
  EXPECT_EQ(w.position_embeddings.shape, (Shape{512, 96}));
  EXPECT_EQ(w.token_type_embeddings.shape, (Shape{2, 96}));
  EXPECT_EQ(w.embeddings_ln_weight.shape, (Shape{96}));
  ASSERT_EQ(w.layers.size(), 2u);
  for (const auto& L : w.layers) {
    EXPECT_EQ(L.qkv_weight.shape, (Shape{288, 96}));
    EXPECT_EQ(L.qkv_weight.numel(), 288 * 96);
    EXPECT_EQ(L.qkv_bias.shape, (Shape{288}));
    EXPECT_EQ(L.attn_output_weight.shape, (Shape{96, 96}));
    EXPECT_EQ(L.attn_ln_weight.shape, (Shape{96}));
    EXPECT_EQ(L.intermediate_weight.shape, (Shape{384, 96}));
    EXPECT_EQ(L.intermediate_bias.shape, (Shape{384}));
    EXPECT_EQ(L.output_weight.shape, (Shape{96, 384}));
    EXPECT_EQ(L.output_ln_bias.shape, (Shape{96}));
  }
  EXPECT_TRUE(w.has_pooler);
  EXPECT_EQ(w.pooler_weight.shape, (Shape{96, 96}));
  EXPECT_TRUE(w.has_classifier);
  EXPECT_EQ(w.classifier_weight.shape, (Shape{3, 96}));
  EXPECT_EQ(w.classifier_bias.shape, (Shape{3}));
  EXPECT_EQ(w.parameter_count, expected_parameters(config, true, true));
  EXPECT_EQ(w.parameter_count, 3'212'931);
  ASSERT_EQ(w.disk_usage.size(), 1u);
  const auto& f32 = w.disk_usage.at(DType::F32);
  EXPECT_EQ(f32.tensors, 41u);
  EXPECT_EQ(f32.bytes, 4u * static_cast<std::size_t>(w.parameter_count));
  EXPECT_TRUE(w.unused_tensors.empty());
  expect_matches_checkpoint(w, store, "bert.");
}

TEST(BertLoading, ClincBertMiniF16) {
  const fs::path dir = shared_model("clinc-bert-mini");
  const auto config = EncoderConfig::load(dir);
  const auto store = io::WeightStore::open(dir);
  const auto w = EncoderWeights::load(store, config);
  EXPECT_EQ(w.layers.size(), 2u);
  EXPECT_EQ(w.layers[0].qkv_weight.shape, (Shape{384, 128}));
  EXPECT_EQ(w.classifier_weight.shape, (Shape{151, 128}));
  EXPECT_EQ(w.parameter_count, expected_parameters(config, true, true));
  ASSERT_EQ(w.disk_usage.size(), 1u);
  EXPECT_EQ(w.disk_usage.at(DType::F16).bytes, 2u * static_cast<std::size_t>(w.parameter_count));
  expect_matches_checkpoint(w, store, "bert.");

  // Converted values, checked by hand against the raw binary16 of a few elements: the value
  // is (-1)^s * 2^(e-15) * (1 + f/1024) for a normal number, f * 2^-24 for a subnormal.
  const io::TensorView* key = store.find("bert.encoder.layer.1.attention.self.key.weight");
  ASSERT_NE(key, nullptr);
  const std::size_t H = 128;
  for (std::size_t i : {std::size_t{0}, std::size_t{1}, std::size_t{777}, H * H - 1}) {
    std::uint16_t b;
    std::memcpy(&b, key->data + 2 * i, 2);
    const int s = b >> 15, e = (b >> 10) & 0x1F, f = b & 0x3FF;
    ASSERT_LT(e, 31);
    const double by_hand = (s ? -1.0 : 1.0) * (e ? std::ldexp(1.0 + f / 1024.0, e - 15)
                                                 : std::ldexp(static_cast<double>(f), -24));
    // K occupies rows [H, 2H) of the fused QKV weight.
    EXPECT_EQ(static_cast<double>(w.layers[1].qkv_weight.data[H * H + i]), by_hand) << i;
  }
}

TEST(BertLoading, ClincBertSmall) {
  const auto config = EncoderConfig::load(shared_model("clinc-bert-small"));
  const auto w = load_weights(shared_model("clinc-bert-small"));
  EXPECT_EQ(w.layers.size(), 4u);
  EXPECT_EQ(w.word_embeddings.shape, (Shape{30522, 256}));
  EXPECT_EQ(w.layers[3].qkv_weight.shape, (Shape{768, 256}));
  EXPECT_EQ(w.layers[3].intermediate_weight.shape, (Shape{1024, 256}));
  EXPECT_EQ(w.classifier_weight.shape, (Shape{151, 256}));
  EXPECT_EQ(w.parameter_count, expected_parameters(config, true, true));
  EXPECT_EQ(w.parameter_count, 11'209'367);
  EXPECT_EQ(w.disk_usage.at(DType::F32).bytes, 4u * 11'209'367u);
}

// Loads both folders and expects identical float weights.
void expect_same_weights(const EncoderWeights& a, const EncoderWeights& b) {
  EXPECT_EQ(a.word_embeddings.data, b.word_embeddings.data);
  EXPECT_EQ(a.embeddings_ln_weight.data, b.embeddings_ln_weight.data);
  EXPECT_EQ(a.embeddings_ln_bias.data, b.embeddings_ln_bias.data);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    EXPECT_EQ(a.layers[i].qkv_weight.data, b.layers[i].qkv_weight.data);
    EXPECT_EQ(a.layers[i].attn_ln_weight.data, b.layers[i].attn_ln_weight.data);
    EXPECT_EQ(a.layers[i].output_ln_bias.data, b.layers[i].output_ln_bias.data);
    EXPECT_EQ(a.layers[i].output_weight.data, b.layers[i].output_weight.data);
  }
  EXPECT_EQ(a.has_pooler, b.has_pooler);
  EXPECT_EQ(a.pooler_bias.data, b.pooler_bias.data);
  EXPECT_EQ(a.classifier_weight.data, b.classifier_weight.data);
}

TEST(BertLoading, NamesWithoutBertPrefixAndLegacyLayerNorm) {
  // BertModel's own spelling (no "bert."), with TF-era gamma/beta.
  const fs::path dir = make_model("bl_noprefix", "tiny-random-bert", [](Tensor& t) {
    if (t.name.rfind("bert.", 0) == 0) t.name = t.name.substr(5);
    for (const auto& [from, to] :
         {std::pair<std::string, std::string>{"LayerNorm.weight", "LayerNorm.gamma"},
          {"LayerNorm.bias", "LayerNorm.beta"}}) {
      if (t.name.size() > from.size() && t.name.ends_with(from))
        t.name = t.name.substr(0, t.name.size() - from.size()) + to;
    }
    return true;
  });
  const auto w = load_weights(dir);
  EXPECT_TRUE(w.has_pooler);
  EXPECT_TRUE(w.has_classifier);
  EXPECT_TRUE(w.unused_tensors.empty());
  expect_same_weights(w, load_weights(shared_model("tiny-random-bert")));
}

TEST(BertLoading, BF16AndF64Checkpoints) {
  // BF16: keep the upper half of each F32; the loader must give back exactly those floats.
  const fs::path bf = make_model("bl_bf16", "tiny-random-bert", [](Tensor& t) {
    std::string out(t.data.size() / 2, '\0');
    for (std::size_t i = 0; i < out.size() / 2; ++i)
      std::memcpy(&out[2 * i], &t.data[4 * i + 2], 2);
    t.data = out;
    t.dtype = DType::BF16;
    return true;
  });
  const auto w = load_weights(bf);
  const auto ref = load_weights(shared_model("tiny-random-bert"));
  ASSERT_EQ(w.word_embeddings.data.size(), ref.word_embeddings.data.size());
  for (std::size_t i = 0; i < ref.word_embeddings.data.size(); i += 97) {
    const std::uint32_t bits =
        std::bit_cast<std::uint32_t>(ref.word_embeddings.data[i]) & 0xFFFF0000u;
    ASSERT_EQ(w.word_embeddings.data[i], std::bit_cast<float>(bits)) << i;
  }
  EXPECT_EQ(w.disk_usage.at(DType::BF16).bytes, 2u * static_cast<std::size_t>(w.parameter_count));

  const fs::path f64 = make_model("bl_f64", "tiny-random-bert", [](Tensor& t) {
    if (t.name.find("LayerNorm") == std::string::npos) return true;
    std::string out(t.data.size() * 2, '\0');
    for (std::size_t i = 0; i < t.data.size() / 4; ++i) {
      float f;
      std::memcpy(&f, &t.data[4 * i], 4);
      const double d = f;
      std::memcpy(&out[8 * i], &d, 8);
    }
    t.data = out;
    t.dtype = DType::F64;
    return true;
  });
  const auto w64 = load_weights(f64);
  EXPECT_EQ(w64.layers[1].attn_ln_weight.data, ref.layers[1].attn_ln_weight.data);
  EXPECT_EQ(w64.disk_usage.at(DType::F64).tensors, 2u + 4u * 2u);
}

TEST(BertLoading, ShardedCheckpoint) {
  const fs::path dir = temp_dir("bl_sharded");
  fs::copy_file(shared_model("tiny-random-bert") / "config.json", dir / "config.json");
  const auto src =
      io::SafetensorsFile::open(shared_model("tiny-random-bert") / "model.safetensors");
  io::SafetensorsWriter shards[3];
  json index = {{"weight_map", json::object()}};
  std::size_t k = 0;
  for (const auto& t : src.tensors()) {
    const std::size_t s = k++ % 3;
    shards[s].add(t.name, t.dtype, t.shape, t.data, t.bytes);
    index["weight_map"][t.name] = "model-0000" + std::to_string(s + 1) + "-of-00003.safetensors";
  }
  for (std::size_t s = 0; s < 3; ++s)
    shards[s].write(dir / ("model-0000" + std::to_string(s + 1) + "-of-00003.safetensors"));
  write_file(dir / "model.safetensors.index.json", index.dump());
  const auto w = load_weights(dir);
  expect_same_weights(w, load_weights(shared_model("tiny-random-bert")));
}

TEST(BertLoading, MissingTensor) {
  const std::string gone = "bert.encoder.layer.1.attention.self.key.weight";
  const fs::path dir =
      make_model("bl_missing", "tiny-random-bert", [&](Tensor& t) { return t.name != gone; });
  expect_error([&] { load_weights(dir); },
               {(dir / "model.safetensors").string(),
                "missing tensor 'encoder.layer.1.attention.self.key.weight'", "'" + gone + "'"});
}

TEST(BertLoading, WrongShape) {
  const fs::path dir = make_model("bl_shape", "tiny-random-bert", [](Tensor& t) {
    if (t.name == "bert.encoder.layer.0.intermediate.dense.weight") t.shape = {96, 384};
    return true;
  });
  expect_error([&] { load_weights(dir); },
               {(dir / "model.safetensors").string(),
                "tensor 'bert.encoder.layer.0.intermediate.dense.weight'", "has shape [96, 384]",
                "expected [384, 96]", (dir / "config.json").string()});

  // A config that disagrees with the checkpoint is caught the same way.
  const fs::path vocab =
      make_model("bl_vocab", "tiny-random-bert", {}, [](json& c) { c["vocab_size"] = 30000; });
  expect_error([&] { load_weights(vocab); },
               {"'bert.embeddings.word_embeddings.weight'", "[30522, 96]", "expected [30000, 96]"});

  // Absurd sizes fail on the shape check, before anything that size is allocated.
  const fs::path huge = make_model("bl_huge", "tiny-random-bert", {}, [](json& c) {
    c["vocab_size"] = 2147483647;
    c["intermediate_size"] = 2147483647;
  });
  expect_error([&] { load_weights(huge); }, {"expected [2147483647, 96]"});
  const fs::path deep = make_model("bl_deep", "tiny-random-bert", {},
                                   [](json& c) { c["num_hidden_layers"] = 2147483647; });
  expect_error([&] { load_weights(deep); },
               {"missing tensor 'encoder.layer.2.attention.self.query.weight'"});
}

TEST(BertLoading, NonFloatWeight) {
  const fs::path dir = make_model("bl_int", "tiny-random-bert", [](Tensor& t) {
    if (t.name == "bert.embeddings.LayerNorm.bias") t.dtype = DType::I32;
    return true;
  });
  expect_error([&] { load_weights(dir); },
               {(dir / "model.safetensors").string(), "'bert.embeddings.LayerNorm.bias'", "I32",
                "floating-point"});
}

TEST(BertLoading, ClassifierLabelCountDiffersFromConfig) {
  const fs::path dir = make_model("bl_labels", "tiny-random-bert", {}, [](json& c) {
    c["id2label"] = {{"0", "NEG"}, {"1", "POS"}};
    c.erase("label2id");
  });
  expect_error([&] { load_weights(dir); },
               {"classifier has 3 labels", "declares 2", (dir / "config.json").string()});

  const fs::path half = make_model("bl_half_classifier", "tiny-random-bert",
                                   [](Tensor& t) { return t.name != "classifier.bias"; });
  expect_error([&] { load_weights(half); }, {"'classifier.bias'", "missing"});

  const fs::path half_pooler = make_model("bl_half_pooler", "tiny-random-bert", [](Tensor& t) {
    return t.name != "bert.pooler.dense.weight";
  });
  expect_error([&] { load_weights(half_pooler); }, {"missing tensor 'pooler.dense.weight'"});
}

TEST(BertLoading, BaseModelWithoutHeadsAndUnusedTensors) {
  auto bytes = [](std::size_t n) { return std::string(n, '\0'); };
  const fs::path dir = make_model(
      "bl_base", "tiny-random-bert",
      [](Tensor& t) {
        if (t.name.find("pooler") != std::string::npos || t.name.rfind("classifier", 0) == 0)
          return false;
        t.name = t.name.substr(5);  // BertModel saves without "bert."
        return true;
      },
      [](json& c) { c["architectures"] = {"BertModel"}; },
      {{"embeddings.position_ids", DType::I64, {1, 512}, bytes(512 * 8)},
       {"cls.predictions.bias", DType::F32, {30522}, bytes(30522 * 4)}});
  const auto config = EncoderConfig::load(dir);
  const auto w = load_weights(dir);
  EXPECT_FALSE(w.has_pooler);
  EXPECT_FALSE(w.has_classifier);
  EXPECT_TRUE(w.pooler_weight.empty());
  EXPECT_TRUE(w.classifier_weight.empty());
  EXPECT_EQ(w.parameter_count, expected_parameters(config, false, false));
  EXPECT_EQ(w.unused_tensors,
            (std::vector<std::string>{"cls.predictions.bias", "embeddings.position_ids"}));
}

TEST(BertLoading, FolderErrors) {
  const fs::path pt = temp_dir("bl_pt_only");
  fs::copy_file(shared_model("tiny-random-bert") / "config.json", pt / "config.json");
  // pytorch_model.bin is read now (test_torch_checkpoint.cpp); a broken one is named.
  write_file(pt / "pytorch_model.bin", "not a pickle");
  expect_error([&] { load_weights(pt); },
               {(pt / "pytorch_model.bin").string(), "not a PyTorch checkpoint"});
  expect_error([&] { load_weights(temp_dir("bl_gone") / "gone"); }, {"gone", "does not exist"});
}

}  // namespace
}  // namespace encore

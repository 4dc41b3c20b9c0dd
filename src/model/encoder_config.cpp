#include "model/encoder_config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/file_io.hpp"
#include "encore/error.hpp"

namespace encore {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------------------
// model_config.hpp

std::string_view to_string(Activation a) {
  switch (a) {
    case Activation::Gelu:
      return "gelu";
    case Activation::GeluTanh:
      return "gelu_pytorch_tanh";
    case Activation::Relu:
      return "relu";
    case Activation::Silu:
      return "silu";
    case Activation::Tanh:
      return "tanh";
  }
  return "?";
}

std::string_view to_string(Pooling p) {
  switch (p) {
    case Pooling::None:
      return "none";
    case Pooling::Cls:
      return "cls";
    case Pooling::Mean:
      return "mean";
  }
  return "?";
}

std::string_view to_string(ProblemType p) {
  switch (p) {
    case ProblemType::Unspecified:
      return "unspecified";
    case ProblemType::SingleLabel:
      return "single_label_classification";
    case ProblemType::MultiLabel:
      return "multi_label_classification";
    case ProblemType::Regression:
      return "regression";
  }
  return "?";
}

std::optional<Activation> parse_activation(std::string_view s) {
  // The names Hugging Face's ACT2FN maps to these functions (gelu_new and
  // gelu_pytorch_tanh compute the same tanh approximation; swish is silu).
  if (s == "gelu") return Activation::Gelu;
  if (s == "gelu_new" || s == "gelu_pytorch_tanh") return Activation::GeluTanh;
  if (s == "relu") return Activation::Relu;
  if (s == "silu" || s == "swish") return Activation::Silu;
  if (s == "tanh") return Activation::Tanh;
  return std::nullopt;
}

std::optional<ProblemType> parse_problem_type(std::string_view s) {
  if (s == "single_label_classification") return ProblemType::SingleLabel;
  if (s == "multi_label_classification") return ProblemType::MultiLabel;
  if (s == "regression") return ProblemType::Regression;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Field helpers: every message is "<file>: field '<name>' ...".

namespace {

// Limit on every size field: keeps products such as vocab_size * hidden_size in int64 and
// rejects absurd values before anything is allocated from them.
constexpr std::int64_t kMaxDim = std::numeric_limits<std::int32_t>::max();

// Without id2label, "num_labels" alone makes that many names; beyond this it is not a
// plausible classifier (and would only exhaust memory).
constexpr std::int64_t kMaxGeneratedLabels = 1'000'000;

// A user-supplied string as messages show it: quoted, and cut (on a UTF-8 boundary) when
// long, so a hostile config cannot make a megabyte-long error line.
std::string clip(const std::string& s) {
  std::size_t cut = s.size();
  if (cut > 60) {
    cut = 57;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  }
  std::string out = "'";
  out.append(s, 0, cut);
  out += cut < s.size() ? "...'" : "'";
  return out;
}

// A short rendering of a JSON value for messages (never the whole of a large value).
std::string describe(const json& v) {
  if (v.is_string()) return clip(v.get<std::string>());
  if (v.is_number() || v.is_boolean()) return v.dump();
  return std::string("a JSON ") + v.type_name();
}

// nullptr when absent or null (HF treats null as "not set").
const json* find(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

struct Fields {
  const json& j;
  std::string where;

  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw Error(where + ": field '" + key + "' " + what);
  }

  std::optional<std::int64_t> opt_int(const char* key, std::int64_t min, std::int64_t max) const {
    const json* v = find(j, key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) fail(key, "must be an integer, found " + describe(*v));
    // Integers beyond int64 arrive as unsigned: compare before converting.
    const bool too_big =
        v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max);
    if (too_big || v->get<std::int64_t>() < min || v->get<std::int64_t>() > max)
      fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                    ", found " + describe(*v));
    return v->get<std::int64_t>();
  }

  std::int64_t required_int(const char* key, std::int64_t min, std::int64_t max = kMaxDim) const {
    auto v = opt_int(key, min, max);
    if (!v) throw Error(where + ": missing field '" + key + "'");
    return *v;
  }

  std::optional<std::string> opt_string(const char* key) const {
    const json* v = find(j, key);
    if (!v) return std::nullopt;
    if (!v->is_string()) fail(key, "must be a string, found " + describe(*v));
    return v->get<std::string>();
  }

  bool opt_bool(const char* key, bool fallback) const {
    const json* v = find(j, key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(key, "must be true or false, found " + describe(*v));
    return v->get<bool>();
  }
};

// Python's int() on a label key, restricted to plain decimal digits.
std::optional<std::int64_t> parse_index(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------------------

EncoderConfig EncoderConfig::from_json(const json& j, const fs::path& source) {
  const std::string where = source.string();
  if (!j.is_object()) throw Error(where + ": config must be a JSON object, found " + describe(j));
  Fields f{j, where};
  EncoderConfig c;
  c.source = source;

  if (const json* a = find(j, "architectures")) {
    if (!a->is_array()) f.fail("architectures", "must be a list of strings, found " + describe(*a));
    for (const auto& s : *a) {
      if (!s.is_string()) f.fail("architectures", "must be a list of strings");
      c.architectures.push_back(s.get<std::string>());
    }
  }

  if (auto mt = f.opt_string("model_type")) {
    c.model_type = *mt;
    c.arch = find_architecture(c.model_type);
    if (!c.arch)
      throw Error(where + ": unsupported model_type " + clip(c.model_type) + " (encore supports " +
                  supported_model_types() + ")");
  } else {
    // Old checkpoints predate "model_type"; HF then goes by the class name.
    c.arch = architecture_from_classes(c.architectures);
    if (!c.arch)
      throw Error(where +
                  ": missing field 'model_type' (and 'architectures' names no class encore knows)");
    c.model_type = std::string(c.arch->model_type);
  }
  const Architecture& a = *c.arch;
  const ConfigKeys& k = a.keys;

  if (f.opt_bool("is_decoder", false))
    f.fail("is_decoder", "is true: decoder (causal) models are not supported");

  c.vocab_size = f.required_int("vocab_size", 1);
  c.hidden_size = f.required_int(k.hidden_size, 1);
  c.num_hidden_layers = f.required_int(k.num_layers, 1);
  c.num_attention_heads = f.required_int(k.num_heads, 1);
  c.intermediate_size = f.required_int(k.intermediate_size, 1);
  c.learned_positions = a.positions == PositionKind::Learned &&
                        (!a.positions_flag || f.opt_bool(a.positions_flag, true));
  c.max_position_embeddings = c.learned_positions || a.attention == AttentionKind::Disentangled
                                  ? f.required_int("max_position_embeddings", 1)
                                  : f.opt_int("max_position_embeddings", 1, kMaxDim).value_or(0);
  c.type_vocab_size = a.token_types ? f.opt_int("type_vocab_size", 0, kMaxDim)
                                          .value_or(a.default_type_vocab_size)
                                    : 0;
  if (c.hidden_size % c.num_attention_heads != 0)
    throw Error(where + ": " + k.hidden_size + " " + std::to_string(c.hidden_size) +
                " is not divisible by " + k.num_heads + " " +
                std::to_string(c.num_attention_heads));
  c.embedding_size = f.opt_int("embedding_size", 1, kMaxDim).value_or(c.hidden_size);
  if (!a.embedding_size && c.embedding_size != c.hidden_size)
    f.fail("embedding_size", "differs from " + std::string(k.hidden_size) +
                                 ": a projected embedding is not supported for model_type " +
                                 clip(c.model_type));

  const auto activation = [&](const char* key, const std::string& fallback) {
    const std::string act = f.opt_string(key).value_or(fallback);
    const auto parsed = parse_activation(act);
    if (!parsed)
      throw Error(where + ": unsupported activation " + clip(act) + " in field '" + key +
                  "' (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish, tanh)");
    return *parsed;
  };
  c.hidden_act = activation(k.activation, "gelu");
  c.head_activation = a.head_activation;
  if (a.head_activation_key)
    c.head_activation = activation(a.head_activation_key, std::string(to_string(a.head_activation)));

  c.layer_norm_eps = k.default_layer_norm_eps;
  if (const json* eps = k.layer_norm_eps ? find(j, k.layer_norm_eps) : nullptr) {
    if (!eps->is_number()) f.fail(k.layer_norm_eps, "must be a number, found " + describe(*eps));
    c.layer_norm_eps = eps->get<double>();
    if (!std::isfinite(c.layer_norm_eps) || c.layer_norm_eps <= 0)
      f.fail(k.layer_norm_eps, "must be a positive number, found " + describe(*eps));
  }

  if (j.contains("pad_token_id")) {
    // PyTorch's nn.Embedding accepts padding_idx in [-vocab_size, vocab_size).
    c.pad_token_id = f.opt_int("pad_token_id", -c.vocab_size, c.vocab_size - 1);
  } else {
    c.pad_token_id = a.positions_after_padding ? 1 : 0;  // RobertaConfig / BertConfig defaults
  }
  if (a.positions_after_padding) {
    if (!c.pad_token_id || *c.pad_token_id < 0)
      f.fail("pad_token_id", "must be set (positions are numbered from it)");
    c.position_offset = *c.pad_token_id + 1;
  }

  if (auto pet = f.opt_string("position_embedding_type"); pet && *pet != "absolute")
    throw Error(where + ": unsupported position_embedding_type " + clip(*pet) +
                " (encore supports 'absolute')");

  if (a.layer_groups) {
    c.num_hidden_groups = f.opt_int("num_hidden_groups", 1, c.num_hidden_layers).value_or(1);
    if (c.num_hidden_layers % c.num_hidden_groups != 0)
      f.fail("num_hidden_groups", "must divide num_hidden_layers " +
                                      std::to_string(c.num_hidden_layers));
    if (f.opt_int("inner_group_num", 1, kMaxDim).value_or(1) != 1)
      f.fail("inner_group_num", "must be 1 (every released ALBERT uses one layer per group)");
  }
  if (a.attention == AttentionKind::RelativeBucketBias)
    c.relative_attention_num_buckets =
        f.opt_int("relative_attention_num_buckets", 32, kMaxDim).value_or(32);
  if (a.attention == AttentionKind::Disentangled) {
    c.relative_attention = f.opt_bool("relative_attention", false);
    std::vector<std::string> types;
    if (const json* t = find(j, "pos_att_type")) {
      // A list, or the older "p2c|c2p" string.
      std::string joined;
      if (t->is_string()) {
        joined = t->get<std::string>();
      } else if (t->is_array()) {
        for (const auto& e : *t) {
          if (!e.is_string()) f.fail("pos_att_type", "must be a list of strings");
          joined += e.get<std::string>() + "|";
        }
      } else {
        f.fail("pos_att_type", "must be a list of strings, found " + describe(*t));
      }
      std::size_t at = 0;
      while (at <= joined.size()) {
        const std::size_t bar = std::min(joined.find('|', at), joined.size());
        std::string part = joined.substr(at, bar - at);
        for (auto& ch : part) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        part.erase(0, part.find_first_not_of(' '));
        part.erase(part.find_last_not_of(' ') + 1);
        if (part == "c2p") c.c2p = true;
        else if (part == "p2c") c.p2c = true;
        else if (!part.empty() && part != "none")
          f.fail("pos_att_type", "has unsupported type " + clip(part) + " (supported: c2p, p2c)");
        at = bar + 1;
      }
    }
    c.share_att_key = f.opt_bool("share_att_key", false);
    c.position_buckets = f.opt_int("position_buckets", -1, kMaxDim).value_or(-1);
    c.max_relative_positions = f.opt_int("max_relative_positions", -kMaxDim, kMaxDim).value_or(-1);
    if (c.max_relative_positions < 1) c.max_relative_positions = c.max_position_embeddings;
    c.relative_span = c.position_buckets > 0 ? c.position_buckets : c.max_relative_positions;
    const std::string norm_rel = f.opt_string("norm_rel_ebd").value_or("none");
    c.relative_norm = norm_rel.find("layer_norm") != std::string::npos;
    c.conv_kernel_size = f.opt_int("conv_kernel_size", 0, 63).value_or(0);
    if (c.conv_kernel_size > 0) {
      if (c.conv_kernel_size % 2 == 0)
        f.fail("conv_kernel_size", "must be odd (the convolution keeps the sequence length)");
      if (f.opt_int("conv_groups", 1, kMaxDim).value_or(1) != 1)
        f.fail("conv_groups", "must be 1 (grouped convolutions are not supported)");
      c.conv_act = activation("conv_act", "tanh");
    }
  }
  if (a.positions == PositionKind::Rotary) {
    const auto number = [&](const char* key, double fallback) {
      const json* v = find(j, key);
      if (!v) return fallback;
      if (!v->is_number() || !(v->get<double>() > 0)) f.fail(key, "must be a positive number");
      return v->get<double>();
    };
    c.global_rope_theta = number("global_rope_theta", 160000.0);
    c.local_rope_theta = number("local_rope_theta", 10000.0);
    c.local_attention = f.opt_int("local_attention", 0, kMaxDim).value_or(128);
    c.global_attn_every_n_layers = f.opt_int("global_attn_every_n_layers", 1, kMaxDim).value_or(3);
  }
  if (a.norm == NormPlacement::Pre) {
    c.norm_bias = f.opt_bool("norm_bias", false);
    c.attention_bias = f.opt_bool("attention_bias", false);
    c.mlp_bias = f.opt_bool("mlp_bias", false);
    c.head_bias = f.opt_bool("classifier_bias", false);
    const std::string pooling = f.opt_string("classifier_pooling").value_or("cls");
    if (pooling != "cls" && pooling != "mean")
      f.fail("classifier_pooling", "must be 'cls' or 'mean', found " + clip(pooling));
    c.head_pooling = pooling == "mean" ? Pooling::Mean : Pooling::Cls;
  }

  // Labels.
  if (const json* id2label = find(j, "id2label")) {
    if (!id2label->is_object())
      f.fail("id2label", "must be an object {\"0\": label, ...}, found " + describe(*id2label));
    const auto n = static_cast<std::int64_t>(id2label->size());
    std::vector<std::optional<std::string>> labels(static_cast<std::size_t>(n));
    for (const auto& [key, value] : id2label->items()) {
      const auto idx = parse_index(key);
      if (!idx || *idx >= n)
        f.fail("id2label",
               "has key " + clip(key) + "; keys must be the indices 0.." + std::to_string(n - 1));
      if (!value.is_string())
        f.fail("id2label", "entry " + clip(key) + " must be a string, found " + describe(value));
      auto& slot = labels[static_cast<std::size_t>(*idx)];
      if (slot) f.fail("id2label", "has index " + std::to_string(*idx) + " twice");
      slot = value.get<std::string>();
    }
    for (auto& l : labels) c.id2label.push_back(std::move(*l));  // n keys, no repeat: dense
    c.num_labels = n;
  } else {
    // Bounded because a name LABEL_i is made for each.
    c.num_labels = f.opt_int("num_labels", 0, kMaxGeneratedLabels).value_or(2);
    for (std::int64_t i = 0; i < c.num_labels; ++i)
      c.id2label.push_back("LABEL_" + std::to_string(i));
  }

  if (const json* label2id = find(j, "label2id")) {
    if (!label2id->is_object())
      f.fail("label2id", "must be an object {label: index, ...}, found " + describe(*label2id));
    for (const auto& [key, value] : label2id->items()) {
      if (!value.is_number_integer())
        f.fail("label2id", "entry " + clip(key) + " must be an integer, found " + describe(value));
      c.label2id[key] = value.get<std::int64_t>();
    }
  } else {
    for (std::size_t i = 0; i < c.id2label.size(); ++i)
      c.label2id[c.id2label[i]] = static_cast<std::int64_t>(i);
  }

  if (auto pt = f.opt_string("problem_type")) {
    const auto parsed = parse_problem_type(*pt);
    if (!parsed)
      throw Error(where + ": unsupported problem_type " + clip(*pt) +
                  " (expected single_label_classification, multi_label_classification or "
                  "regression)");
    c.problem_type = *parsed;
  }
  return c;
}

Pooling EncoderConfig::pooling_from_json(const json& j, const std::string& where,
                                      std::int64_t hidden_size) {
  if (!j.is_object()) throw Error(where + ": pooling config must be a JSON object");
  Fields f{j, where};
  if (auto dim = f.opt_int("word_embedding_dimension", 1, kMaxDim); dim && *dim != hidden_size)
    throw Error(where + ": word_embedding_dimension " + std::to_string(*dim) +
                " differs from the model's hidden_size " + std::to_string(hidden_size));

  const bool cls = f.opt_bool("pooling_mode_cls_token", false);
  const bool mean = f.opt_bool("pooling_mode_mean_tokens", false);
  std::string others;  // modes sentence-transformers has that encore does not implement
  for (const char* mode : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                           "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    if (f.opt_bool(mode, false)) others += std::string(others.empty() ? "" : ", ") + mode;
  }
  if (!others.empty())
    throw Error(where + ": unsupported pooling mode " + others +
                " (encore supports pooling_mode_cls_token and pooling_mode_mean_tokens)");
  if (cls && mean)
    throw Error(where +
                ": pooling_mode_cls_token and pooling_mode_mean_tokens are both set; "
                "concatenated poolings are not supported");
  if (!cls && !mean) throw Error(where + ": no pooling mode is set");
  return cls ? Pooling::Cls : Pooling::Mean;
}

EncoderConfig EncoderConfig::load(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw Error("model folder '" + dir.string() + "' does not exist");
  if (!fs::is_directory(dir, ec)) throw Error("'" + dir.string() + "' is not a folder");
  const fs::path config_path = dir / "config.json";
  EncoderConfig c = from_json(read_json_file(config_path, "model config"), config_path);

  const fs::path pooling_path = dir / "1_Pooling" / "config.json";
  if (fs::exists(pooling_path, ec))
    c.default_pooling = pooling_from_json(read_json_file(pooling_path, "pooling config"),
                                          pooling_path.string(), c.hidden_size);
  // sentence-transformers' pipeline: [Transformer, Pooling, Normalize?].
  const fs::path modules_path = dir / "modules.json";
  if (fs::exists(modules_path, ec)) {
    const json modules = read_json_file(modules_path, "sentence-transformers modules");
    if (!modules.is_array())
      throw Error(modules_path.string() + ": must be a JSON list of modules");
    for (const auto& m : modules) {
      const json* type = m.is_object() ? find(m, "type") : nullptr;
      if (type && type->is_string() &&
          type->get<std::string>() == "sentence_transformers.models.Normalize")
        c.default_normalize = true;
    }
  }
  return c;
}

}  // namespace encore

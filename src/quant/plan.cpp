#include "quant/plan.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "core/file_io.hpp"
#include "encore/error.hpp"
#include "io/safetensors.hpp"
#include "kernels/quantize.hpp"
#include "model/encoder_config.hpp"
#include "model/encoder_weights.hpp"
#include "runtime/model_impl.hpp"

namespace encore::quant {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kFormat = "encore-plan";
constexpr const char* kWeightsFile = "model.safetensors";

// Files copied from the source folder when present (tokenizer, config, pooling).
const char* const kCopied[] = {"config.json",
                               "tokenizer.json",
                               "vocab.txt",
                               "vocab.json",
                               "merges.txt",
                               "sentencepiece.bpe.model",
                               "spm.model",
                               "spiece.model",
                               "tokenizer_config.json",
                               "special_tokens_map.json",
                               "added_tokens.json",
                               "1_Pooling/config.json",
                               "modules.json",
                               "sentence_bert_config.json",
                               "config_sentence_transformers.json"};

kernels::LinearPrecision parse_layer_precision(const std::string& s, const std::string& where) {
  if (s == "fp32") return kernels::LinearPrecision::FP32;
  if (s == "bf16") return kernels::LinearPrecision::BF16;
  if (s == "int8") return kernels::LinearPrecision::Int8;
  throw Error(where + ": unknown layer precision '" + s + "' (expected fp32, bf16 or int8)");
}

void add_linear(io::SafetensorsWriter& w, const std::string& name, const float* data,
                std::int64_t rows, std::int64_t cols, kernels::LinearPrecision p) {
  const auto n = static_cast<std::size_t>(rows * cols);
  switch (p) {
    case kernels::LinearPrecision::FP32:
      w.add(name, io::DType::F32, {rows, cols}, data, n * 4);
      return;
    case kernels::LinearPrecision::BF16: {
      // Round to nearest even, as oneDNN's f32->bf16 reorder does for the in-memory model.
      std::vector<std::uint16_t> b(n);
      kernels::convert_to_bf16(data, rows, cols, cols, b.data());
      w.add(name, io::DType::BF16, {rows, cols}, b.data(), n * 2);
      return;
    }
    case kernels::LinearPrecision::Int8: {
      std::vector<std::int8_t> q(n);
      std::vector<float> scale(static_cast<std::size_t>(rows));
      std::vector<std::int32_t> col_sum(static_cast<std::size_t>(rows));
      kernels::quantize_weights_s8(data, rows, cols, nullptr, q.data(), scale.data(),
                                   col_sum.data());
      w.add(name, io::DType::I8, {rows, cols}, q.data(), n);
      w.add(name + "_scale", io::DType::F32, {rows}, scale.data(), scale.size() * 4);
      return;
    }
  }
}

void add_f32(io::SafetensorsWriter& w, const std::string& name, const HostTensor& t) {
  w.add(name, io::DType::F32, t.shape, t.data.data(), t.data.size() * 4);
}

}  // namespace

std::string file_checksum(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open to check its checksum");
  // FNV-1a over 64-bit words (then the tail bytes): fast enough to run on every load
  // (~GB/s), and any changed byte changes it.
  std::uint64_t h = 0xcbf29ce484222325ull;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    std::size_t i = 0;
    for (; i + 8 <= got; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, buf.data() + i, 8);
      h = (h ^ word) * 0x100000001b3ull;
      h ^= h >> 29;
    }
    for (; i < got; ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 0x100000001b3ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

bool is_plan_dir(const fs::path& dir) {
  return fs::exists(dir / kPlanFile);
}

PlanManifest read_plan(const fs::path& dir) {
  const fs::path file = dir / kPlanFile;
  const json j = read_json_file(file, "plan");
  const std::string where = file.string();
  auto fail = [&](const std::string& what) -> Error {
    return Error(where + ": " + what + " (rebuild the plan with `encore build`)");
  };
  try {
    if (!j.is_object() || j.value("format", std::string()) != kFormat)
      throw fail("not an encore plan: \"format\" must be \"encore-plan\"");
    if (!j.contains("version") || !j["version"].is_number_integer())
      throw fail("\"version\" is missing or not an integer");
    PlanManifest m;
    m.version = j["version"].get<int>();
    if (m.version != kPlanVersion)
      throw fail("plan format version " + std::to_string(m.version) +
                 ", this encore reads version " + std::to_string(kPlanVersion));
    try {
      m.precision = parse_precision(j.at("precision").get<std::string>());
    } catch (const InputError& e) {
      throw fail(e.what());
    }
    m.source_model = j.value("source_model", std::string());
    if (j.contains("calibration")) {
      const json& c = j["calibration"];
      m.calibration_method = c.value("method", std::string());
      m.calibration_source = c.value("source", std::string());
      m.calibration_percentile = c.value("percentile", 0.0);
      m.calibration_rows = c.value("rows", std::size_t{0});
    }
    if (j.contains("fallback")) {
      m.fallback_auto = j["fallback"].value("auto", false);
      m.fallback_min_cosine = j["fallback"].value("min_cosine", 0.0);
    }
    if (!j.contains("layers") || !j["layers"].is_array())
      throw fail("\"layers\" is missing or not an array");
    for (std::size_t i = 0; i < j["layers"].size(); ++i) {
      const json& L = j["layers"][i];
      const std::string lw = "layer " + std::to_string(i);
      runtime::LayerPrecision lp;
      lp.precision = parse_layer_precision(L.at("precision").get<std::string>(), where + ": " + lw);
      if (L.contains("input_ranges")) {
        if (lp.precision != kernels::LinearPrecision::Int8)
          throw fail(lw + " has input ranges but runs in " + L["precision"].get<std::string>());
        std::array<std::pair<float, float>, runtime::kLinearSlots> r{};
        for (int s = 0; s < runtime::kLinearSlots; ++s) {
          const char* name = runtime::to_string(static_cast<runtime::LinearSlot>(s));
          const json& v = L["input_ranges"].at(name);
          if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
            throw fail(lw + " input range '" + name + "' must be [lo, hi]");
          const float lo = v[0].get<float>(), hi = v[1].get<float>();
          if (!std::isfinite(lo) || !std::isfinite(hi) || lo > 0.f || hi < 0.f || !(hi > lo))
            throw fail(lw + " input range '" + name + "' is not a finite range around 0");
          r[static_cast<std::size_t>(s)] = {lo, hi};
        }
        lp.input_ranges = r;
      }
      if (L.contains("smoothed")) {
        // Which linears' inputs are smoothed (informational but for attn_out, whose factors
        // are folded into the weights; the others' are stored as tensors).
        if (!L["smoothed"].is_array())
          throw fail(lw + " \"smoothed\" must be an array of linear names");
        for (const auto& v : L["smoothed"])
          if (v.is_string() && v.get<std::string>() == "attn_out") lp.smoothing_folded = true;
      }
      m.layers.push_back(lp);
    }
    const bool static_int8 = m.precision == Precision::Int8Static;
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
      const auto& lp = m.layers[i];
      if (lp.precision == kernels::LinearPrecision::Int8 &&
          static_int8 != lp.input_ranges.has_value())
        throw fail("layer " + std::to_string(i) +
                   (static_int8 ? " lacks the calibrated input ranges an int8-static plan needs"
                                : " has input ranges in a plan that is not int8-static"));
    }
    const json& w = j.at("weights");
    if (w.value("file", std::string()) != kWeightsFile)
      throw fail("\"weights.file\" must be model.safetensors");
    m.weights_bytes = w.at("bytes").get<std::uintmax_t>();
    m.weights_checksum = w.at("checksum").get<std::string>();
    const fs::path wf = dir / kWeightsFile;
    if (!fs::exists(wf)) throw Error(wf.string() + ": the plan's weights file is missing");
    if (fs::file_size(wf) != m.weights_bytes)
      throw Error(wf.string() + ": corrupt plan: the weights file has " +
                  std::to_string(fs::file_size(wf)) + " bytes, the plan recorded " +
                  std::to_string(m.weights_bytes));
    if (file_checksum(wf) != m.weights_checksum)
      throw Error(wf.string() + ": corrupt plan: the weights file does not match the checksum in " +
                  std::string(kPlanFile) + " (changed or damaged since `encore build` wrote it)");
    return m;
  } catch (const json::exception& e) {
    throw fail(std::string("malformed: ") + e.what());
  }
}

void write_plan(const fs::path& source_dir, const fs::path& out_dir, PlanManifest m) {
  if (fs::exists(out_dir)) {
    if (!fs::is_directory(out_dir))
      throw InputError(out_dir.string() + " exists and is not a folder");
    if (!fs::is_empty(out_dir) && !is_plan_dir(out_dir))
      throw InputError(
          out_dir.string() +
          " is a non-empty folder that is not an encore plan; refusing to write into it");
  }
  if (fs::exists(source_dir / kPlanFile))
    throw InputError(source_dir.string() +
                     " is already a plan; build from the Hugging Face folder");
  const EncoderConfig config = EncoderConfig::load(source_dir);
  if (m.layers.size() != static_cast<std::size_t>(config.num_hidden_layers))
    throw Error("plan has " + std::to_string(m.layers.size()) + " layers, the model " +
                std::to_string(config.num_hidden_layers));
  EncoderWeights wts = [&] {
    io::WeightStore store = io::WeightStore::open(source_dir);
    return EncoderWeights::load(store, config);
  }();
  // Written under the architecture's own names (without the base-model prefix, which the
  // loader tries last), so a plan loads through the same table as its source.
  const TensorNames& n = config.arch->names;
  io::SafetensorsWriter w;
  const auto norm = [&](const std::string& name, const HostTensor& g, const HostTensor& b) {
    add_f32(w, name + ".weight", g);
    if (config.norm_bias) add_f32(w, name + ".bias", b);
  };
  const auto dense = [&](const std::string& name, const HostTensor& wt, const HostTensor& b) {
    add_f32(w, name + ".weight", wt);
    if (!b.empty()) add_f32(w, name + ".bias", b);
  };
  add_f32(w, n.word + ".weight", wts.word_embeddings);
  if (!wts.position_embeddings.empty()) add_f32(w, n.position + ".weight", wts.position_embeddings);
  if (!wts.token_type_embeddings.empty())
    add_f32(w, n.token_type + ".weight", wts.token_type_embeddings);
  norm(n.embedding_norm, wts.embeddings_ln_weight, wts.embeddings_ln_bias);
  if (!wts.embedding_projection_weight.empty())
    dense(n.embedding_projection, wts.embedding_projection_weight, wts.embedding_projection_bias);
  if (!wts.relative_bias.empty()) add_f32(w, n.relative_bias + ".weight", wts.relative_bias);
  if (!wts.relative_embeddings.empty()) {
    add_f32(w, n.relative_embeddings + ".weight", wts.relative_embeddings);
    if (!wts.relative_norm_weight.empty())
      dense(n.relative_norm, wts.relative_norm_weight, wts.relative_norm_bias);
  }
  if (!wts.conv_weight.empty()) {
    dense(n.conv, wts.conv_weight, wts.conv_bias);
    dense(n.conv_norm, wts.conv_norm_weight, wts.conv_norm_bias);
  }
  const std::vector<float> rel = runtime::normed_relative_embeddings(config, wts);
  const std::int64_t H = config.hidden_size, I = config.intermediate_size;
  const std::string& qkv_name = n.qkv.empty() ? n.query : n.qkv;
  for (std::size_t i = 0; i < wts.layers.size(); ++i) {
    auto& L = wts.layers[i];
    const auto p = m.layers[i].precision;
    // Smoothing as the engine applies it at load: the attention output's folded into the
    // weights (the manifest records that it is), the others' factors multiplied into the
    // weight columns and stored beside them for the quantization pass.
    const auto& smooth = m.layers[i].input_smoothing;
    const auto slot = [&](runtime::LinearSlot s) -> const std::vector<float>& {
      return smooth[static_cast<std::size_t>(s)];
    };
    // Every layer gets its own weights (ALBERT's shared groups too: smoothing and precision
    // are per layer); the plan's config.json says so (num_hidden_groups below).
    const auto li = static_cast<long>(i);
    const std::string pre = layer_name(n.layer, li, li);
    if (!rel.empty()) {
      // From the FP32 weights, before they are smoothed and rounded below (the in-memory
      // model computes them so too).
      const auto [pos_key, pos_query] = runtime::relative_projections(config, rel, L);
      if (!pos_key.empty()) add_f32(w, pre + n.query + ".pos_key_projected", pos_key);
      if (!pos_query.empty()) add_f32(w, pre + n.query + ".pos_query_projected", pos_query);
      if (!L.pos_key_weight.empty()) dense(pre + n.pos_key, L.pos_key_weight, L.pos_key_bias);
      if (!L.pos_query_weight.empty())
        dense(pre + n.pos_query, L.pos_query_weight, L.pos_query_bias);
    }
    if (!slot(runtime::LinearSlot::AttnOut).empty())
      runtime::fold_attention_smoothing(L, H, slot(runtime::LinearSlot::AttnOut));
    const auto smooth_columns = [&](runtime::LinearSlot s, HostTensor& weight,
                                    const std::string& name) {
      const auto& f = slot(s);
      if (f.empty()) return;
      if (p != kernels::LinearPrecision::Int8)
        throw Error("layer " + std::to_string(i) + " has input smoothing but runs in " +
                    kernels::to_string(p));
      kernels::scale_weight_columns(weight.data.data(), weight.shape[0], weight.shape[1], f.data());
      w.add_f32(pre + name + ".input_smoothing", {static_cast<std::int64_t>(f.size())}, f);
    };
    smooth_columns(runtime::LinearSlot::Qkv, L.qkv_weight, qkv_name);
    smooth_columns(runtime::LinearSlot::FfnIn, L.intermediate_weight, n.ffn_in);
    smooth_columns(runtime::LinearSlot::FfnOut, L.output_weight, n.ffn_out);
    if (!n.qkv.empty()) {
      add_linear(w, pre + n.qkv + ".weight", L.qkv_weight.data.data(), 3 * H, H, p);
      if (!L.qkv_bias.empty()) add_f32(w, pre + n.qkv + ".bias", L.qkv_bias);
    } else {
      const std::string* parts[] = {&n.query, &n.key, &n.value};
      for (int k = 0; k < 3; ++k) {
        const std::string s = pre + *parts[k];
        add_linear(w, s + ".weight", L.qkv_weight.data.data() + k * H * H, H, H, p);
        if (!L.qkv_bias.empty())
          w.add(s + ".bias", io::DType::F32, {H}, L.qkv_bias.data.data() + k * H,
                static_cast<std::size_t>(H) * 4);
      }
    }
    add_linear(w, pre + n.attention_output + ".weight", L.attn_output_weight.data.data(), H, H, p);
    if (!L.attn_output_bias.empty())
      add_f32(w, pre + n.attention_output + ".bias", L.attn_output_bias);
    if (L.has_attn_ln) norm(pre + n.attention_norm, L.attn_ln_weight, L.attn_ln_bias);
    const std::int64_t up = L.intermediate_weight.shape[0];
    add_linear(w, pre + n.ffn_in + ".weight", L.intermediate_weight.data.data(), up, H, p);
    if (!L.intermediate_bias.empty()) add_f32(w, pre + n.ffn_in + ".bias", L.intermediate_bias);
    add_linear(w, pre + n.ffn_out + ".weight", L.output_weight.data.data(), H, I, p);
    if (!L.output_bias.empty()) add_f32(w, pre + n.ffn_out + ".bias", L.output_bias);
    norm(pre + n.ffn_norm, L.output_ln_weight, L.output_ln_bias);
  }
  if (!wts.final_norm_weight.empty())
    norm(n.final_norm, wts.final_norm_weight, wts.final_norm_bias);
  if (wts.has_pooler) dense(n.pooler, wts.pooler_weight, wts.pooler_bias);
  if (wts.has_classifier) {
    if (!wts.head_dense_weight.empty())
      dense(n.head_dense, wts.head_dense_weight, wts.head_dense_bias);
    if (!wts.head_norm_weight.empty()) norm(n.head_norm, wts.head_norm_weight, wts.head_norm_bias);
    dense(n.classifier, wts.classifier_weight, wts.classifier_bias);
  }
  w.metadata("format", "pt");
  w.metadata("encore_plan", to_string(m.precision));

  fs::create_directories(out_dir);
  fs::remove(out_dir / kPlanFile);  // a half-written plan must not look valid
  for (const char* f : kCopied) {
    const fs::path src = source_dir / f;
    if (!fs::exists(src)) continue;
    fs::create_directories((out_dir / f).parent_path());
    fs::copy_file(src, out_dir / f, fs::copy_options::overwrite_existing);
    // Sources may be read-only (a shared model store); the plan's copy must be replaceable.
    fs::permissions(out_dir / f, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::add);
  }
  if (config.arch->layer_groups && config.num_hidden_groups != config.num_hidden_layers) {
    json cfg = read_json_file(source_dir / "config.json", "model config");
    cfg["num_hidden_groups"] = config.num_hidden_layers;  // one weight set per layer, above
    std::ofstream out(out_dir / "config.json", std::ios::binary | std::ios::trunc);
    out << cfg.dump(2) << "\n";
    if (!out.flush()) throw Error("cannot write " + (out_dir / "config.json").string());
  }
  const fs::path wf = out_dir / kWeightsFile;
  w.write(wf);
  m.weights_bytes = fs::file_size(wf);
  m.weights_checksum = file_checksum(wf);

  json j;
  j["format"] = kFormat;
  j["version"] = kPlanVersion;
  j["encore"] = "0.1.0";
  j["precision"] = to_string(m.precision);
  j["source_model"] = m.source_model;
  if (m.precision == Precision::Int8Static)
    j["calibration"] = {{"method", m.calibration_method},
                        {"percentile", m.calibration_percentile},
                        {"source", m.calibration_source},
                        {"rows", m.calibration_rows}};
  j["fallback"] = {{"auto", m.fallback_auto}, {"min_cosine", m.fallback_min_cosine}};
  json layers = json::array();
  for (const auto& lp : m.layers) {
    json L;
    L["precision"] = kernels::to_string(lp.precision);
    if (lp.input_ranges) {
      json r;
      for (int s = 0; s < runtime::kLinearSlots; ++s) {
        const auto& [lo, hi] = (*lp.input_ranges)[static_cast<std::size_t>(s)];
        r[runtime::to_string(static_cast<runtime::LinearSlot>(s))] = {lo, hi};
      }
      L["input_ranges"] = r;
    }
    json smoothed = json::array();
    for (int s = 0; s < runtime::kLinearSlots; ++s)
      if (!lp.input_smoothing[static_cast<std::size_t>(s)].empty() ||
          (lp.smoothing_folded && s == static_cast<int>(runtime::LinearSlot::AttnOut)))
        smoothed.push_back(runtime::to_string(static_cast<runtime::LinearSlot>(s)));
    if (!smoothed.empty()) L["smoothed"] = smoothed;
    layers.push_back(L);
  }
  j["layers"] = layers;
  j["weights"] = {
      {"file", kWeightsFile}, {"bytes", m.weights_bytes}, {"checksum", m.weights_checksum}};
  const fs::path tmp = out_dir / (std::string(kPlanFile) + ".tmp");
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    if (!out) throw Error(tmp.string() + ": cannot write the plan");
  }
  fs::rename(tmp, out_dir / kPlanFile);
}

PlanManifest write_model_plan(const Model& model, const ModelOptions& options,
                              const std::filesystem::path& out_dir) {
  const auto& impl = model.internals();
  if (model.is_plan())
    throw InputError(impl.dir.string() + " is already a plan; build from the Hugging Face folder");
  PlanManifest m;
  m.precision = model.precision();
  m.layers = impl.encoder->precision();
  m.source_model = std::filesystem::absolute(impl.dir).lexically_normal().string();
  if (m.precision == Precision::Int8Static) {
    m.calibration_method = options.calibration.method;
    m.calibration_percentile = options.calibration.percentile;
    m.calibration_source = options.calibration.source;
    m.calibration_rows = options.calibration.texts.size();
  }
  m.fallback_auto = options.fallback_auto;
  m.fallback_min_cosine = options.fallback_min_cosine;
  write_plan(impl.dir, out_dir, m);
  return read_plan(out_dir);
}

}  // namespace encore::quant

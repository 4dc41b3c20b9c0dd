#include "model/encoder_weights.hpp"

#include <cmath>
#include <set>

#include "encore/error.hpp"

namespace encore {

namespace {

using Shape = std::vector<std::int64_t>;

class Loader {
 public:
  Loader(const io::WeightStore& store, const EncoderConfig& config, EncoderWeights& out)
      : store_(store), config_(config), out_(out) {}

  // The checkpoint's tensor for the HF BertModel name `name` (e.g.
  // "encoder.layer.0.attention.self.query.weight"), or nullptr.
  const io::TensorView* lookup(const std::string& name) const {
    for (const std::string& candidate : spellings(name))
      if (const auto* t = store_.find(candidate)) return t;
    return nullptr;
  }

  // The tensor for `name`, checked to be floating-point with exactly `shape`. Callers
  // allocate only after this, so a config with absurd sizes fails with a shape error
  // instead of an enormous allocation.
  const io::TensorView& require(const std::string& name, const Shape& shape,
                                bool allow_i8 = false) const {
    const io::TensorView* t = lookup(name);
    if (!t) {
      std::string tried;
      for (const auto& s : spellings(name)) tried += (tried.empty() ? "'" : ", '") + s + "'";
      throw Error(store_.source().string() + ": missing tensor '" + name + "' (looked for " +
                  tried + ")");
    }
    check(*t, shape, allow_i8);
    return *t;
  }

  // Converts a require()d tensor into `dst` at element `offset`.
  void convert(const io::TensorView& t, HostTensor& dst, std::size_t offset = 0) {
    io::to_float32(t, dst.data.data() + offset);
    account(t);
  }

  HostTensor load(const std::string& name, const Shape& shape) {
    const io::TensorView& t = require(name, shape);
    HostTensor h;
    h.shape = shape;
    h.data.resize(static_cast<std::size_t>(t.numel()));
    convert(t, h);
    return h;
  }

  // A linear weight: floating point, or (in an INT8 plan) I8 with a per-row F32 scale tensor
  // '<name>_scale'. I8 weights are dequantized (q·scale); `scale` receives the scales at
  // `offset` so the INT8 kernel re-derives exactly q.
  void convert_linear(const io::TensorView& t, HostTensor& dst, HostTensor& scale,
                      std::size_t offset = 0) {
    if (t.dtype != io::DType::I8) {
      if (!scale.empty())
        throw Error(store_.file_of(t.name).string() + ": tensor '" + t.name +
                    "' is floating point but other parts of the same layer are I8");
      convert(t, dst, offset);
      return;
    }
    const std::int64_t rows = t.shape[0], cols = t.shape[1];
    const io::TensorView* s = store_.find(t.name + "_scale");
    const std::string where = store_.file_of(t.name).string() + ": tensor '" + t.name + "'";
    if (!s) throw Error(where + " is I8 but its scale tensor '" + t.name + "_scale' is missing");
    if (s->dtype != io::DType::F32 || s->shape != Shape{rows})
      throw Error(where + "_scale must be F32 with shape [" + std::to_string(rows) + "], found " +
                  std::string(io::dtype_name(s->dtype)) + " " + io::shape_string(s->shape));
    std::vector<float> sc = io::to_float32(*s);
    for (float v : sc)
      if (!(v > 0.f) || !std::isfinite(v))
        throw Error(where + "_scale holds a scale that is not a positive finite number");
    const std::size_t row0 = offset / static_cast<std::size_t>(cols);
    if (scale.empty()) {
      scale.shape = {dst.shape[0]};
      scale.data.assign(static_cast<std::size_t>(dst.shape[0]), 0.f);
    }
    for (std::int64_t r = 0; r < rows; ++r) {
      scale.data[row0 + static_cast<std::size_t>(r)] = sc[static_cast<std::size_t>(r)];
      for (std::int64_t c = 0; c < cols; ++c) {
        const auto q = static_cast<std::int8_t>(t.data[r * cols + c]);
        dst.data[offset + static_cast<std::size_t>(r * cols + c)] =
            static_cast<float>(q) * sc[static_cast<std::size_t>(r)];
      }
    }
    account(t);
    used_.insert(s->name);
  }

  HostTensor load_linear(const std::string& name, const Shape& shape, HostTensor& scale) {
    const io::TensorView& t = require(name, shape, true);
    HostTensor h;
    h.shape = shape;
    h.data.resize(static_cast<std::size_t>(t.numel()));
    convert_linear(t, h, scale);
    return h;
  }

  void check(const io::TensorView& t, const Shape& shape, bool allow_i8 = false) const {
    const std::string where = store_.file_of(t.name).string() + ": tensor '" + t.name + "'";
    if (!io::is_floating(t.dtype) && !(allow_i8 && t.dtype == io::DType::I8 && shape.size() == 2))
      throw Error(where + " has dtype " + std::string(io::dtype_name(t.dtype)) +
                  ", expected a floating-point dtype (F32, F16, BF16 or F64)");
    if (t.shape != shape)
      throw Error(where + " has shape " + io::shape_string(t.shape) + ", expected " +
                  io::shape_string(shape) + " (from " + config_.source.string() + ")");
  }

  void account(const io::TensorView& t) {
    used_.insert(t.name);
    out_.parameter_count += t.numel();
    auto& u = out_.disk_usage[t.dtype];
    u.tensors += 1;
    u.elements += t.numel();
    u.bytes += t.bytes;
  }

  const std::set<std::string>& used() const { return used_; }

 private:
  // Base models save "embeddings.…", *For* models "<prefix>embeddings.…"; TF-era
  // checkpoints call LayerNorm's parameters gamma/beta.
  std::vector<std::string> spellings(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& prefix : config_.arch->names.prefixes) out.push_back(prefix + name);
    const std::size_t n = out.size();
    for (std::size_t i = 0; i < n; ++i) {
      const std::string b = out[i];  // a copy: out grows below
      for (const auto& [modern, legacy] :
           {std::pair<std::string, std::string>{"LayerNorm.weight", "LayerNorm.gamma"},
            {"LayerNorm.bias", "LayerNorm.beta"}}) {
        if (b.size() >= modern.size() &&
            b.compare(b.size() - modern.size(), modern.size(), modern) == 0)
          out.push_back(b.substr(0, b.size() - modern.size()) + legacy);
      }
    }
    return out;
  }

  const io::WeightStore& store_;
  const EncoderConfig& config_;
  EncoderWeights& out_;
  std::set<std::string> used_;
};

}  // namespace

EncoderWeights EncoderWeights::load(const io::WeightStore& store, const EncoderConfig& c) {
  EncoderWeights w;
  Loader l(store, c, w);
  const TensorNames& n = c.arch->names;
  const std::int64_t H = c.hidden_size, I = c.intermediate_size, E = c.embedding_size;
  const std::int64_t ffn_rows = c.arch->gated_ffn ? 2 * I : I;

  // A LayerNorm: weight, and bias (zeros when the model has none).
  const auto norm = [&](const std::string& name, std::int64_t width, bool bias, HostTensor& g,
                        HostTensor& b) {
    g = l.load(name + ".weight", {width});
    if (bias) {
      b = l.load(name + ".bias", {width});
    } else {
      b.shape = {width};
      b.data.assign(static_cast<std::size_t>(width), 0.f);
    }
  };
  // Optional parts: a weight without its bias (or the reverse) is a broken checkpoint.
  const auto present = [&](const std::string& name, bool bias = true) {
    if (name.empty()) return false;
    const bool weight = l.lookup(name + ".weight") != nullptr;
    if (bias && weight != (l.lookup(name + ".bias") != nullptr))
      throw Error(store.source().string() + ": missing tensor '" + name +
                  (weight ? ".bias" : ".weight") + "' (the checkpoint has the other half of '" +
                  name + "')");
    return weight;
  };

  w.word_embeddings = l.load(n.word + ".weight", {c.vocab_size, E});
  if (c.learned_positions)
    w.position_embeddings = l.load(n.position + ".weight", {c.max_position_embeddings, E});
  if (c.type_vocab_size > 0)
    w.token_type_embeddings = l.load(n.token_type + ".weight", {c.type_vocab_size, E});
  const bool project = !n.embedding_projection.empty() && E != H;  // transformers adds it only then
  const bool norm_over_h = project && c.arch->projection_before_norm;
  norm(n.embedding_norm, norm_over_h ? H : E, c.norm_bias, w.embeddings_ln_weight,
       w.embeddings_ln_bias);
  if (project) {
    w.embedding_projection_weight = l.load(n.embedding_projection + ".weight", {H, E});
    if (c.arch->projection_bias)
      w.embedding_projection_bias = l.load(n.embedding_projection + ".bias", {H});
  } else if (E != H) {
    throw Error(c.source.string() + ": embedding_size " + std::to_string(E) +
                " differs from hidden_size " + std::to_string(H));
  }
  if (!n.relative_bias.empty())
    w.relative_bias = l.load(n.relative_bias + ".weight",
                             {c.relative_attention_num_buckets, c.num_attention_heads});

  if (c.relative_attention) {
    w.relative_embeddings = l.load(n.relative_embeddings + ".weight", {2 * c.relative_span, H});
    if (c.relative_norm)
      norm(n.relative_norm, H, true, w.relative_norm_weight, w.relative_norm_bias);
  }
  if (c.conv_kernel_size > 0) {
    w.conv_weight = l.load(n.conv + ".weight", {H, H, c.conv_kernel_size});
    w.conv_bias = l.load(n.conv + ".bias", {H});
    norm(n.conv_norm, H, true, w.conv_norm_weight, w.conv_norm_bias);
  }

  // Grown per layer (not resized up front) so a config claiming absurdly many layers fails
  // on the first missing one rather than on the allocation.
  const std::int64_t per_group = c.num_hidden_layers / c.num_hidden_groups;
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = layer_name(n.layer, i, i / per_group);
    LayerWeights& L = w.layers.emplace_back();

    L.qkv_weight.shape = {3 * H, H};
    L.qkv_bias.shape = {3 * H};
    if (!n.qkv.empty()) {
      L.qkv_weight = l.load_linear(p + n.qkv + ".weight", {3 * H, H}, L.qkv_weight_scale);
      if (c.attention_bias) L.qkv_bias = l.load(p + n.qkv + ".bias", {3 * H});
    } else {
      // Check all three projections before allocating the fused tensors.
      const io::TensorView* qkv[3][2] = {};
      const std::string* parts[] = {&n.query, &n.key, &n.value};
      for (std::size_t k = 0; k < 3; ++k) {
        const std::string s = p + *parts[k];
        qkv[k][0] = &l.require(s + ".weight", {H, H}, true);
        if (c.attention_bias) qkv[k][1] = &l.require(s + ".bias", {H});
      }
      L.qkv_weight.data.resize(static_cast<std::size_t>(3 * H * H));
      if (c.attention_bias) L.qkv_bias.data.resize(static_cast<std::size_t>(3 * H));
      for (std::size_t k = 0; k < 3; ++k) {
        l.convert_linear(*qkv[k][0], L.qkv_weight, L.qkv_weight_scale,
                         k * static_cast<std::size_t>(H * H));
        if (qkv[k][1]) l.convert(*qkv[k][1], L.qkv_bias, k * static_cast<std::size_t>(H));
      }
      if (!L.qkv_weight_scale.empty())
        for (float v : L.qkv_weight_scale.data)
          if (v == 0.f)
            throw Error(store.source().string() + ": layer " + std::to_string(i) +
                        " mixes I8 and floating-point query/key/value weights");
    }
    if (!c.attention_bias) L.qkv_bias = HostTensor();
    L.attn_output_weight =
        l.load_linear(p + n.attention_output + ".weight", {H, H}, L.attn_output_weight_scale);
    if (c.attention_bias) L.attn_output_bias = l.load(p + n.attention_output + ".bias", {H});
    // ModernBERT's first layer normalises nothing: its input is the embeddings' norm.
    L.has_attn_ln = c.arch->norm == NormPlacement::Post ||
                    l.lookup(p + n.attention_norm + ".weight") != nullptr;
    if (L.has_attn_ln) norm(p + n.attention_norm, H, c.norm_bias, L.attn_ln_weight, L.attn_ln_bias);
    L.intermediate_weight =
        l.load_linear(p + n.ffn_in + ".weight", {ffn_rows, H}, L.intermediate_weight_scale);
    if (c.mlp_bias) L.intermediate_bias = l.load(p + n.ffn_in + ".bias", {ffn_rows});
    L.output_weight = l.load_linear(p + n.ffn_out + ".weight", {H, I}, L.output_weight_scale);
    if (c.mlp_bias) L.output_bias = l.load(p + n.ffn_out + ".bias", {H});
    norm(p + n.ffn_norm, H, c.norm_bias, L.output_ln_weight, L.output_ln_bias);
    if (c.relative_attention) {
      const std::int64_t R = 2 * c.relative_span;
      const auto projected = [&](const char* what, HostTensor& t) {
        const std::string name = p + n.query + what;
        if (l.lookup(name)) t = l.load(name, {R, H});
      };
      projected(".pos_key_projected", L.pos_key_projected);
      projected(".pos_query_projected", L.pos_query_projected);
    }
    if (c.relative_attention && !c.share_att_key) {
      if (c.c2p) {
        L.pos_key_weight = l.load(p + n.pos_key + ".weight", {H, H});
        L.pos_key_bias = l.load(p + n.pos_key + ".bias", {H});
      }
      if (c.p2c) {
        L.pos_query_weight = l.load(p + n.pos_query + ".weight", {H, H});
        L.pos_query_bias = l.load(p + n.pos_query + ".bias", {H});
      }
    }
    const auto optional = [&](const std::string& name, std::int64_t width, HostTensor& t) {
      if (l.lookup(name)) t = l.load(name, {width});
    };
    optional(p + n.query + ".input_smoothing", H, L.qkv_input_smoothing);
    optional(p + n.qkv + ".input_smoothing", H, L.qkv_input_smoothing);
    optional(p + n.ffn_in + ".input_smoothing", H, L.intermediate_input_smoothing);
    optional(p + n.ffn_out + ".input_smoothing", I, L.output_input_smoothing);
  }
  if (!n.final_norm.empty())
    norm(n.final_norm, H, c.norm_bias, w.final_norm_weight, w.final_norm_bias);

  if (present(n.pooler)) {
    w.pooler_weight = l.load(n.pooler + ".weight", {H, H});
    w.pooler_bias = l.load(n.pooler + ".bias", {H});
    w.has_pooler = true;
  }

  // The classifier sits at the top level ("classifier.weight"), outside the prefix.
  const std::string cls = n.classifier;
  const io::TensorView* cw = nullptr;
  if (present(cls)) cw = l.lookup(cls + ".weight");
  if (cw) {
    if (cw->shape.size() == 2 && cw->shape[1] == H && cw->shape[0] != c.num_labels)
      throw Error(store.file_of(cw->name).string() + ": classifier has " +
                  std::to_string(cw->shape[0]) + " labels but " + c.source.string() + " declares " +
                  std::to_string(c.num_labels) + " (id2label / num_labels); tensor '" + cw->name +
                  "' has shape " + io::shape_string(cw->shape));
    w.classifier_weight = l.load(cls + ".weight", {c.num_labels, H});
    w.classifier_bias = l.load(cls + ".bias", {c.num_labels});
    w.has_classifier = true;
    if (c.arch->head == HeadKind::Dense) {
      if (!present(n.head_dense, c.head_bias) && !l.lookup(n.head_dense + ".weight"))
        throw Error(store.source().string() + ": missing tensor '" + n.head_dense +
                    ".weight' (the classification head's dense layer)");
      w.head_dense_weight = l.load(n.head_dense + ".weight", {H, H});
      if (c.head_bias) w.head_dense_bias = l.load(n.head_dense + ".bias", {H});
      if (!n.head_norm.empty())
        norm(n.head_norm, H, c.norm_bias, w.head_norm_weight, w.head_norm_bias);
    }
  }

  for (const auto& name : store.names())
    if (!l.used().count(name)) w.unused_tensors.push_back(name);
  return w;
}

}  // namespace encore

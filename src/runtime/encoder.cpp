#include "runtime/encoder.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>

#include <omp.h>

#include "core/env.hpp"
#include "core/profiler.hpp"
#include "encore/error.hpp"
#include "kernels/attention.hpp"
#include "kernels/embeddings.hpp"
#include "kernels/gated_activation.hpp"
#include "kernels/layer_norm.hpp"
#include "runtime/cpu_share.hpp"

namespace encore::runtime {
namespace {

kernels::Activation to_kernel(Activation a) {
  switch (a) {
    case Activation::Gelu:
      return kernels::Activation::GeluErf;
    case Activation::GeluTanh:
      return kernels::Activation::GeluTanh;
    case Activation::Relu:
      return kernels::Activation::Relu;
    case Activation::Silu:
      return kernels::Activation::Silu;
    case Activation::Tanh:
      return kernels::Activation::Tanh;
  }
  return kernels::Activation::GeluErf;
}

std::unique_ptr<kernels::Linear> pack(HostTensor& w, HostTensor& b, kernels::Activation act,
                                      const kernels::LinearQuantization& q = {},
                                      HostTensor* scales = nullptr,
                                      HostTensor* stored_smoothing = nullptr) {
  kernels::LinearQuantization quant = q;
  if (stored_smoothing && !stored_smoothing->empty()) {
    if (q.input_smoothing)
      throw Error("smoothing factors given for weights that already carry them");
    quant.input_smoothing = stored_smoothing->data.data();
    quant.smoothing_in_weights = true;
  }
  if (scales && !scales->empty()) {
    if (q.precision != kernels::LinearPrecision::Int8)
      throw Error("INT8 weight scales given for a layer that runs in " +
                  std::string(kernels::to_string(q.precision)));
    quant.weight_scales = scales->data.data();
  }
  auto linear = std::make_unique<kernels::Linear>(
      w.data.data(), b.empty() ? nullptr : b.data.data(), static_cast<int>(w.shape[1]),
      static_cast<int>(w.shape[0]), act, quant);
  // The packed copy is all we need from now on.
  w = HostTensor();
  b = HostTensor();
  if (scales) *scales = HostTensor();
  if (stored_smoothing) *stored_smoothing = HostTensor();
  return linear;
}

struct ArenaSizes {
  std::int64_t tokens, seqs, H, ffn, gated, E, labels;
  std::size_t rel_floats;
  std::int64_t conv_width;  // DeBERTa's conv: K*H outputs per token (0: none)
  std::size_t attn_floats, scratch_bytes;
};

}  // namespace

// Offsets (in floats) of the arena regions for a batch of `tokens` tokens.
struct Encoder::ArenaPlan {
  std::size_t x, qkv, ctx, tmp, ffn, gated, emb, pos, cls, pooled, head, head_out, logits, rel,
      emb_out, conv, attn, scratch, total;
};

namespace {

Encoder::ArenaPlan plan(const ArenaSizes& z) {
  auto round = [](std::size_t n) { return (n + 15) / 16 * 16; };  // 64-byte aligned regions
  Encoder::ArenaPlan p{};
  std::size_t at = 0;
  auto take = [&](std::size_t n) {
    const std::size_t off = at;
    at += round(n);
    return off;
  };
  const auto T = static_cast<std::size_t>(z.tokens), S = static_cast<std::size_t>(z.seqs);
  const auto H = static_cast<std::size_t>(z.H);
  p.x = take(T * H);
  p.qkv = take(T * 3 * H);
  p.ctx = take(T * H);
  p.tmp = take(T * H);
  p.ffn = take(T * static_cast<std::size_t>(z.ffn));
  p.gated = take(T * static_cast<std::size_t>(z.gated));
  p.emb = take(z.E != z.H ? T * static_cast<std::size_t>(z.E) : 0);
  p.pos = take(T);  // int32 positions
  p.cls = take(S * H);
  p.pooled = take(S * H);
  p.head = take(S * H);
  p.head_out = take(S * H);
  p.logits = take(S * static_cast<std::size_t>(std::max<std::int64_t>(z.labels, 1)));
  p.rel = take(z.rel_floats);
  p.emb_out = take(z.conv_width > 0 ? T * H : 0);
  p.conv = take(T * static_cast<std::size_t>(z.conv_width));
  p.attn = take(z.attn_floats);
  p.scratch = take((z.scratch_bytes + sizeof(float) - 1) / sizeof(float));
  p.total = at;
  return p;
}

// transformers' MPNet relative_position_bucket (num_buckets 32, max_distance 128) for
// relative position j - i, in float32 as there.
std::int32_t mpnet_bucket(std::int32_t relative) {
  constexpr std::int32_t kHalf = 16, kExact = 8;
  constexpr float kMaxDistance = 128.f;
  std::int32_t bucket = 0;
  std::int32_t n = -relative;
  if (n < 0) bucket += kHalf;
  n = std::abs(n);
  if (n < kExact) return bucket + n;
  const float scaled = std::log(static_cast<float>(n) / static_cast<float>(kExact)) /
                       std::log(kMaxDistance / static_cast<float>(kExact)) *
                       static_cast<float>(kHalf - kExact);
  return bucket + std::min(kExact + static_cast<std::int32_t>(scaled), kHalf - 1);
}

// rows · Wᵀ + b for [R, in] rows and a [out, in] weight, through a temporary FP32 linear.
HostTensor project_rows(const std::vector<float>& rows, std::int64_t R, const float* weight,
                        const float* bias, std::int64_t in, std::int64_t out) {
  kernels::Linear lin(weight, bias, static_cast<int>(in), static_cast<int>(out),
                      kernels::Activation::None);
  Context ctx;
  std::vector<std::byte> scratch(lin.scratchpad_bytes(R) + 64);
  HostTensor y;
  y.shape = {R, out};
  y.data.resize(static_cast<std::size_t>(R * out));
  lin.forward(rows.data(), R, y.data.data(), ctx.stream(), scratch.data());
  ctx.stream().wait();
  return y;
}

}  // namespace

std::vector<float> normed_relative_embeddings(const EncoderConfig& c, const EncoderWeights& w) {
  std::vector<float> rel = w.relative_embeddings.data;
  if (!rel.empty() && !w.relative_norm_weight.empty())
    kernels::add_layer_norm(rel.data(), nullptr, w.relative_norm_weight.data.data(),
                            w.relative_norm_bias.data.data(), static_cast<float>(c.layer_norm_eps),
                            static_cast<std::int64_t>(rel.size()) / c.hidden_size, c.hidden_size,
                            rel.data());
  return rel;
}

std::pair<HostTensor, HostTensor> relative_projections(const EncoderConfig& c,
                                                       const std::vector<float>& rel,
                                                       const LayerWeights& lw) {
  const std::int64_t H = c.hidden_size, R = static_cast<std::int64_t>(rel.size()) / H;
  // With share_att_key the content projections serve the positions too.
  const float* qw = lw.qkv_weight.data.data();
  const float* qb = lw.qkv_bias.empty() ? nullptr : lw.qkv_bias.data.data();
  std::pair<HostTensor, HostTensor> out;
  if (c.c2p)
    out.first = c.share_att_key ? project_rows(rel, R, qw + H * H, qb ? qb + H : nullptr, H, H)
                                : project_rows(rel, R, lw.pos_key_weight.data.data(),
                                               lw.pos_key_bias.data.data(), H, H);
  if (c.p2c)
    out.second = c.share_att_key ? project_rows(rel, R, qw, qb, H, H)
                                 : project_rows(rel, R, lw.pos_query_weight.data.data(),
                                                lw.pos_query_bias.data.data(), H, H);
  return out;
}

void fold_attention_smoothing(LayerWeights& l, std::int64_t H, const std::vector<float>& s) {
  if (static_cast<std::int64_t>(s.size()) != H)
    throw Error("smoothing factors for " + std::to_string(s.size()) + " channels, hidden size " +
                std::to_string(H));
  for (std::int64_t j = 0; j < H; ++j) {
    if (!(s[static_cast<std::size_t>(j)] > 0.f) || !std::isfinite(s[static_cast<std::size_t>(j)]))
      throw Error("smoothing factor " + std::to_string(j) + " is not a positive finite number");
    const float inv = 1.f / s[static_cast<std::size_t>(j)];
    float* v = l.qkv_weight.data.data() + (2 * H + j) * H;
    for (std::int64_t k = 0; k < H; ++k) v[k] *= inv;
    if (!l.qkv_bias.empty()) l.qkv_bias.data[static_cast<std::size_t>(2 * H + j)] *= inv;
  }
  float* wo = l.attn_output_weight.data.data();  // [out = H, in = H]
  for (std::int64_t o = 0; o < H; ++o)
    for (std::int64_t j = 0; j < H; ++j) wo[o * H + j] *= s[static_cast<std::size_t>(j)];
}

const char* to_string(LinearSlot s) {
  switch (s) {
    case LinearSlot::Qkv:
      return "qkv";
    case LinearSlot::AttnOut:
      return "attn_out";
    case LinearSlot::FfnIn:
      return "ffn_in";
    case LinearSlot::FfnOut:
      return "ffn_out";
  }
  return "?";
}

Encoder::Encoder(const EncoderConfig& config, EncoderWeights w, int threads,
                 const std::vector<LayerPrecision>& precision)
    : config_(config),
      H_(config.hidden_size),
      I_(config.intermediate_size),
      E_(config.embedding_size > 0 ? config.embedding_size : config.hidden_size),
      threads_(threads),
      precision_(precision) {
  const Architecture& arch = *config.arch;
  if (precision_.empty()) precision_.assign(w.layers.size(), LayerPrecision{});
  if (precision_.size() != w.layers.size())
    throw Error("precision given for " + std::to_string(precision_.size()) +
                " layers, the model has " + std::to_string(w.layers.size()));
  word_ = std::move(w.word_embeddings);
  position_ = std::move(w.position_embeddings);
  token_type_ = std::move(w.token_type_embeddings);
  emb_ln_g_ = std::move(w.embeddings_ln_weight);
  emb_ln_b_ = std::move(w.embeddings_ln_bias);
  if (!w.embedding_projection_weight.empty())
    emb_proj_ =
        pack(w.embedding_projection_weight, w.embedding_projection_bias, kernels::Activation::None);
  relative_bias_ = std::move(w.relative_bias);
  final_g_ = std::move(w.final_norm_weight);
  final_b_ = std::move(w.final_norm_bias);
  const auto d = static_cast<std::int32_t>(H_ / config.num_attention_heads);
  if (arch.positions == PositionKind::Rotary) {
    const auto P = static_cast<std::int32_t>(
        config.max_position_embeddings > 0 ? config.max_position_embeddings : 8192);
    rotary_.push_back(kernels::RotaryTable::make(config.global_rope_theta, d, P));
    rotary_.push_back(kernels::RotaryTable::make(config.local_rope_theta, d, P));
  }
  // DeBERTa: relative embeddings (layer-normed once), projected per layer below.
  const std::vector<float> rel = normed_relative_embeddings(config, w);
  if (!w.conv_weight.empty()) {
    // [H_out, H_in, K] -> K stacked [H_out, H_in] taps.
    const std::int64_t K = w.conv_weight.shape[2];
    std::vector<float> taps(static_cast<std::size_t>(K * H_ * H_));
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t o = 0; o < H_; ++o)
        for (std::int64_t c = 0; c < H_; ++c)
          taps[static_cast<std::size_t>((k * H_ + o) * H_ + c)] =
              w.conv_weight.data[static_cast<std::size_t>((o * H_ + c) * K + k)];
    conv_ = std::make_unique<kernels::Linear>(taps.data(), nullptr, static_cast<int>(H_),
                                              static_cast<int>(K * H_), kernels::Activation::None);
    conv_bias_ = std::move(w.conv_bias);
    conv_norm_g_ = std::move(w.conv_norm_weight);
    conv_norm_b_ = std::move(w.conv_norm_bias);
  }
  const auto act = to_kernel(config.hidden_act);
  const bool bf16_attention =
      kernels::attention_bf16_supported() && !env_flag("ENCORE_FP32_ATTENTION");
  for (std::size_t li = 0; li < w.layers.size(); ++li) {
    auto& lw = w.layers[li];
    const LayerPrecision& lp = precision_[li];
    auto quant = [&](LinearSlot slot) {
      kernels::LinearQuantization q;
      q.precision = lp.precision;
      // Two inputs keep per-token scales under static INT8, chosen by measurement on
      // modernbert-cls (min token cosine to FP32): a pre-LN encoder's QKV input and a gated
      // FFN's product (GeGLU). One static range for every token gave 0.927; per token for
      // those two, 0.9895 (for all four GEMMs, 0.9932, the same as dynamic INT8).
      const bool per_token = (slot == LinearSlot::Qkv && config.arch->norm == NormPlacement::Pre) ||
                             (slot == LinearSlot::FfnOut && config.arch->gated_ffn);
      if (lp.precision == kernels::LinearPrecision::Int8 && lp.input_ranges && !per_token)
        q.input_range = (*lp.input_ranges)[static_cast<int>(slot)];
      const auto& s = lp.input_smoothing[static_cast<std::size_t>(slot)];
      if (slot != LinearSlot::AttnOut && !s.empty()) q.input_smoothing = s.data();
      return q;
    };
    const auto& attn_smoothing = lp.input_smoothing[static_cast<std::size_t>(LinearSlot::AttnOut)];
    if (!attn_smoothing.empty()) {
      if (!lw.qkv_weight_scale.empty())
        throw Error("smoothing factors given for a plan's already quantized weights");
      fold_attention_smoothing(lw, H_, attn_smoothing);
    }
    smoothed_gemms_ += (!attn_smoothing.empty() || lp.smoothing_folded) ? 1 : 0;
    // A plan's factors travel with its weights: recorded (after packing) so that
    // precision() says what runs.
    const std::array<std::pair<LinearSlot, std::vector<float>>, 3> stored = {
        std::pair{LinearSlot::Qkv, lw.qkv_input_smoothing.data},
        std::pair{LinearSlot::FfnIn, lw.intermediate_input_smoothing.data},
        std::pair{LinearSlot::FfnOut, lw.output_input_smoothing.data}};
    Layer l;
    if (!rel.empty()) {
      // A plan stores them (its weights are rounded to the layer's precision); else from the
      // FP32 weights.
      if (!lw.pos_key_projected.empty() || !lw.pos_query_projected.empty()) {
        l.pos_key = std::move(lw.pos_key_projected);
        l.pos_query = std::move(lw.pos_query_projected);
      } else {
        std::tie(l.pos_key, l.pos_query) = relative_projections(config, rel, lw);
      }
    }
    // ALBERT: a layer of a weight group that runs exactly as the group's first layer (same
    // precision, ranges and smoothing) uses that layer's packed weights.
    const std::size_t per_group =
        arch.layer_groups
            ? static_cast<std::size_t>(config.num_hidden_layers / config.num_hidden_groups)
            : 1;
    const std::size_t first = arch.layer_groups ? li / per_group * per_group : li;
    const bool stored_any =
        std::any_of(stored.begin(), stored.end(), [](const auto& s) { return !s.second.empty(); });
    if (first != li && precision_[li] == precision_[first] && attn_smoothing.empty() &&
        !lp.smoothing_folded && !stored_any) {
      const Layer& f = layers_[first];
      l.qkv = f.qkv;
      l.attn_out = f.attn_out;
      l.ffn_in = f.ffn_in;
      l.ffn_out = f.ffn_out;
    } else {
      l.qkv = pack(lw.qkv_weight, lw.qkv_bias, kernels::Activation::None, quant(LinearSlot::Qkv),
                   &lw.qkv_weight_scale, &lw.qkv_input_smoothing);
      l.attn_out = pack(lw.attn_output_weight, lw.attn_output_bias, kernels::Activation::None,
                        quant(LinearSlot::AttnOut), &lw.attn_output_weight_scale);
      // A gated FFN applies its activation to half of the up-projection, after the GEMM.
      l.ffn_in = pack(lw.intermediate_weight, lw.intermediate_bias,
                      arch.gated_ffn ? kernels::Activation::None : act, quant(LinearSlot::FfnIn),
                      &lw.intermediate_weight_scale, &lw.intermediate_input_smoothing);
      l.ffn_out =
          pack(lw.output_weight, lw.output_bias, kernels::Activation::None,
               quant(LinearSlot::FfnOut), &lw.output_weight_scale, &lw.output_input_smoothing);
    }
    for (const auto* lin : {l.qkv.get(), l.ffn_in.get(), l.ffn_out.get()})
      smoothed_gemms_ += lin->smoothed_input() ? 1 : 0;
    for (const auto& [slot, factors] : stored) {
      auto& recorded = precision_[li].input_smoothing[static_cast<std::size_t>(slot)];
      if (!factors.empty() && recorded.empty()) recorded = factors;
    }
    // Reduced-precision layers already round their GEMM inputs; attention's products in BF16
    // run at twice the FP32 rate (measured in BENCHMARKS.md) for a comparable error.
    if (bf16_attention && lp.precision != kernels::LinearPrecision::FP32) {
      l.attention = kernels::AttentionPrecision::BF16;
      scratch_attention_ = kernels::AttentionPrecision::BF16;
    }
    l.has_attn_ln = lw.has_attn_ln;
    l.attn_ln_g = std::move(lw.attn_ln_weight);
    l.attn_ln_b = std::move(lw.attn_ln_bias);
    l.out_ln_g = std::move(lw.output_ln_weight);
    l.out_ln_b = std::move(lw.output_ln_bias);
    const bool local = config.is_local_layer(static_cast<std::int64_t>(li));
    if (!rotary_.empty()) l.rotary = &rotary_[local ? 1 : 0];
    if (local) l.window = static_cast<std::int32_t>(config.local_attention / 2);
    layers_.push_back(std::move(l));
  }
  if (w.has_pooler) pooler_ = pack(w.pooler_weight, w.pooler_bias, kernels::Activation::Tanh);
  if (w.has_classifier) {
    if (arch.head == HeadKind::Pooler && !pooler_) {
      throw Error(config.source.string() +
                  ": the checkpoint has a classifier but no pooler, which " +
                  std::string(arch.model_type) + " classification needs");
    }
    if (arch.head == HeadKind::Dense) {
      head_dense_ = pack(w.head_dense_weight, w.head_dense_bias, to_kernel(config.head_activation));
      head_norm_g_ = std::move(w.head_norm_weight);
      head_norm_b_ = std::move(w.head_norm_bias);
    }
    classifier_ = pack(w.classifier_weight, w.classifier_bias, kernels::Activation::None);
  }
}

int Encoder::distinct_layer_weights() const {
  int n = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i)
    n += (i == 0 || layers_[i].qkv != layers_[i - 1].qkv) ? 1 : 0;
  return n;
}

std::size_t Encoder::packed_bytes() const {
  std::size_t n =
      (word_.data.size() + position_.data.size() + token_type_.data.size()) * sizeof(float);
  const kernels::Linear* last = nullptr;  // shared layers count once
  for (const auto& l : layers_) {
    if (l.qkv.get() == last) continue;
    last = l.qkv.get();
    n += l.qkv->packed_bytes() + l.attn_out->packed_bytes() + l.ffn_in->packed_bytes() +
         l.ffn_out->packed_bytes();
  }
  for (const auto* lin : {emb_proj_.get(), pooler_.get(), head_dense_.get(), classifier_.get()})
    if (lin) n += lin->packed_bytes();
  return n;
}

std::size_t Encoder::streamed_weight_bytes() const {
  std::size_t n = 0;
  for (const auto& l : layers_)
    n += l.qkv->packed_bytes() + l.attn_out->packed_bytes() + l.ffn_in->packed_bytes() +
         l.ffn_out->packed_bytes();
  for (const auto* lin : {emb_proj_.get(), pooler_.get(), head_dense_.get(), classifier_.get()})
    if (lin) n += lin->packed_bytes();
  return n;
}

std::vector<std::pair<std::string, std::string>> Encoder::kernels(int layer,
                                                                  std::int64_t tokens) const {
  const Layer& l = layers_.at(static_cast<std::size_t>(layer));
  const auto d = static_cast<std::int32_t>(H_ / config_.num_attention_heads);
  return {{"qkv_gemm", l.qkv->kernel_name(tokens)},
          {"attention", kernels::attention_kernel_name(l.attention, d)},
          {"attn_output_gemm", l.attn_out->kernel_name(tokens)},
          {"ffn_up_gemm_gelu", l.ffn_in->kernel_name(tokens)},
          {"ffn_down_gemm", l.ffn_out->kernel_name(tokens)}};
}

void Encoder::positions(const PackedBatch& batch, std::int32_t* out) const {
  const std::int64_t T = batch.tokens();
  if (!config_.arch->positions_after_padding) {
    std::copy_n(batch.positions.data(), T, out);
    return;
  }
  // transformers' create_position_ids_from_input_ids: padding tokens sit at padding_idx,
  // the others count up from padding_idx + 1.
  const auto pad = static_cast<std::int32_t>(config_.position_offset - 1);
  for (std::int32_t s = 0; s < batch.num_sequences(); ++s) {
    std::int32_t next = pad + 1;
    for (std::int32_t t = batch.seq_begin[s]; t < batch.seq_begin[s + 1]; ++t)
      out[t] = batch.ids[t] == pad ? pad : next++;
  }
}

Encoder::ArenaPlan Encoder::arena_plan(std::int64_t T, std::int64_t n, std::int32_t max_len,
                                       int threads) const {
  const Architecture& arch = *config_.arch;
  const std::int32_t heads = static_cast<std::int32_t>(config_.num_attention_heads);
  const kernels::AttentionShape shape{static_cast<std::int32_t>(H_), heads};
  const bool gated = arch.gated_ffn;
  std::size_t scratch = 0;
  if (!layers_.empty()) {
    const auto& l = layers_[0];
    scratch = std::max({l.qkv->scratchpad_bytes(T), l.attn_out->scratchpad_bytes(T),
                        l.ffn_in->scratchpad_bytes(T), l.ffn_out->scratchpad_bytes(T)});
  }
  if (emb_proj_) scratch = std::max(scratch, emb_proj_->scratchpad_bytes(T));
  for (const auto* lin : {pooler_.get(), head_dense_.get(), classifier_.get()})
    if (lin) scratch = std::max(scratch, lin->scratchpad_bytes(n));
  const bool disentangled = config_.relative_attention;
  const std::size_t rel_floats = !relative_bias_.empty()
                                     ? static_cast<std::size_t>(heads) * (2 * max_len - 1)
                                 : disentangled ? static_cast<std::size_t>(2 * max_len - 1)
                                                : 0;
  const std::int64_t conv_width = conv_ ? conv_->out_features() : 0;
  if (conv_) scratch = std::max(scratch, conv_->scratchpad_bytes(T));
  const std::size_t attn_floats =
      std::max(kernels::attention_scratch_floats(max_len, shape, threads, scratch_attention_),
               disentangled ? kernels::disentangled_scratch_floats(max_len, shape, threads) : 0);
  return plan({T, n, H_, gated ? 2 * I_ : I_, gated ? I_ : 0, E_, num_labels(), rel_floats,
               conv_width, attn_floats, scratch});
}

std::size_t Encoder::arena_floats(std::int64_t tokens, std::int64_t sequences,
                                  std::int32_t max_len) const {
  return arena_plan(tokens, sequences, max_len, threads_).total;
}

Encoder::Outputs Encoder::forward(const PackedBatch& batch, Context& ctx, bool want_pooler,
                                  bool want_logits, ForwardObserver* observer) const {
  const std::int64_t T = batch.tokens();
  const std::int32_t n = batch.num_sequences();
  if (T == 0 || n == 0) return {};
  const Architecture& arch = *config_.arch;
  const std::int64_t V = word_.shape[0];
  const std::int64_t TT = token_type_.empty() ? 1 : token_type_.shape[0];
  for (std::int64_t t = 0; t < T; ++t) {
    if (batch.ids[t] < 0 || batch.ids[t] >= V)
      throw InputError("token id " + std::to_string(batch.ids[t]) + " is outside the vocabulary (" +
                       std::to_string(V) + ")");
    // A model without token types ignores them, as transformers does when none are given.
    if (!token_type_.empty() && (batch.type_ids[t] < 0 || batch.type_ids[t] >= TT))
      throw InputError("token type id " + std::to_string(batch.type_ids[t]) +
                       " is outside the model's " + std::to_string(TT) + " types");
  }
  // Fewer threads while other processes hold some of our CPUs (cpu_share.hpp); every
  // OpenMP region and oneDNN primitive of this forward then runs on that many.
  const int threads = threads_now(threads_);
  omp_set_num_threads(threads);
  want_logits = want_logits && classifier_;
  const bool pooler_for_head = want_logits && arch.head == HeadKind::Pooler;
  want_pooler = (want_pooler || pooler_for_head) && pooler_;

  const std::int32_t heads = static_cast<std::int32_t>(config_.num_attention_heads);
  const kernels::AttentionShape shape{static_cast<std::int32_t>(H_), heads};
  const std::int32_t max_len = batch.max_length();
  const bool gated = arch.gated_ffn;
  const bool disentangled = config_.relative_attention;
  const std::int64_t conv_width = conv_ ? conv_->out_features() : 0;
  const ArenaPlan ap = arena_plan(T, n, max_len, threads_);
  float* base = ctx.arena(ap.total);
  float *x = base + ap.x, *qkv = base + ap.qkv, *attn = base + ap.ctx, *tmp = base + ap.tmp,
        *ffn = base + ap.ffn;
  auto* pos = reinterpret_cast<std::int32_t*>(base + ap.pos);
  void* scr = base + ap.scratch;
  auto& stream = ctx.stream();
  const float eps = static_cast<float>(config_.layer_norm_eps);

  positions(batch, pos);
  const std::int64_t P = !position_.empty() ? position_.shape[0]
                         : !rotary_.empty() ? rotary_[0].positions()
                                            : std::numeric_limits<std::int32_t>::max();
  for (std::int64_t t = 0; t < T; ++t)
    if (pos[t] >= P)
      throw InputError(
          "sequence of more than " +
          std::to_string(P - (config_.position_offset > 0 ? config_.position_offset : 0)) +
          " tokens is longer than the model's position table");

  // MPNet: the bucketed bias of every relative position j - i in (-max_len, max_len), per head.
  kernels::AttentionBias bias;
  if (!relative_bias_.empty()) {
    float* rel = base + ap.rel;
    const std::int32_t span = 2 * max_len - 1;
    for (std::int32_t h = 0; h < heads; ++h)
      for (std::int32_t r = -(max_len - 1); r < max_len; ++r)
        rel[h * span + r + max_len - 1] =
            relative_bias_.data[static_cast<std::size_t>(mpnet_bucket(r) * heads + h)];
    bias.relative = rel;
    bias.relative_stride = span;
    bias.relative_center = max_len - 1;
  }

  // DeBERTa: the row of the projected relative embeddings for each i - j.
  kernels::DisentangledTerms terms;
  if (disentangled) {
    auto* index = reinterpret_cast<std::int32_t*>(base + ap.rel);
    const auto span = static_cast<std::int32_t>(config_.relative_span);
    for (std::int32_t r = -(max_len - 1); r < max_len; ++r) {
      const std::int32_t b = config_.position_buckets > 0
                                 ? kernels::deberta_log_bucket(
                                       r, static_cast<std::int32_t>(config_.position_buckets),
                                       static_cast<std::int32_t>(config_.max_relative_positions))
                                 : r;
      index[r + max_len - 1] = std::clamp(b + span, 0, 2 * span - 1);
    }
    terms.rel_index = index;
    terms.center = max_len - 1;
    const int factor = 1 + (config_.c2p ? 1 : 0) + (config_.p2c ? 1 : 0);
    terms.scale = 1.f / std::sqrt(static_cast<float>(H_ / heads) * static_cast<float>(factor));
  }

  const double Hd = static_cast<double>(H_);
  double attn_flops = 0;  // QKᵀ and PV per sequence: 4·S²·H
  for (std::int32_t s = 0; s < n; ++s) attn_flops += 4.0 * batch.length(s) * batch.length(s) * Hd;
  if (disentangled)  // a q·Kr and a k·Qr product per score besides q·k
    attn_flops *= (2.0 + (config_.c2p ? 1 : 0) + (config_.p2c ? 1 : 0)) / 2.0;
  auto gemm = [&](ProfileScope& p, std::int64_t rows, std::int64_t in, std::int64_t outf) {
    if (!p.active()) return;
    p.set_args({{"M", rows}, {"K", in}, {"N", outf}});
    p.set_flops(2.0 * static_cast<double>(rows) * static_cast<double>(in) *
                static_cast<double>(outf));
  };
  // One encoder-layer GEMM over all T tokens: observed (calibration, layer reports), run,
  // and profiled under `name` with its shape and FLOPs.
  auto linear = [&](const char* name, int layer, LinearSlot slot, const kernels::Linear& lin,
                    const float* in, float* out) {
    ProfileScope p("op", name, layer);
    if (observer) observer->linear_input(layer, slot, in, T, lin.in_features(), lin.in_features());
    lin.forward(in, T, out, stream, scr);
    gemm(p, T, lin.in_features(), lin.out_features());
    if (p.active()) p.add_arg("kernel", lin.kernel_name(T));
  };
  auto layer_norm = [&](const char* name, int layer, const float* in, const float* residual,
                        const HostTensor& g, const HostTensor& b, float* out) {
    ProfileScope p("op", name, layer);
    kernels::add_layer_norm(in, residual, g.data.data(), b.data.data(), eps, T, H_, out);
    if (p.active()) p.set_args({{"rows", T}, {"cols", H_}});
  };
  {
    ProfileScope p("op", "embeddings");
    float* emb = emb_proj_ ? base + ap.emb : x;
    // DeBERTa: LayerNorm(embed_proj(sum)), over H; the others normalize the sum, over E.
    const bool norm_after_proj = emb_proj_ && arch.projection_before_norm;
    kernels::embed_tokens(batch.ids.data(), pos, batch.type_ids.data(), T, word_.data.data(),
                          position_.empty() ? nullptr : position_.data.data(),
                          token_type_.empty() ? nullptr : token_type_.data.data(),
                          norm_after_proj ? nullptr : emb_ln_g_.data.data(), emb_ln_b_.data.data(),
                          eps, static_cast<std::int32_t>(E_), emb);
    if (emb_proj_) emb_proj_->forward(emb, T, x, stream, scr);
    if (norm_after_proj)
      kernels::add_layer_norm(x, nullptr, emb_ln_g_.data.data(), emb_ln_b_.data.data(), eps, T, H_,
                              x);
    if (conv_) std::copy_n(x, T * H_, base + ap.emb_out);  // the conv reads the layer-0 input
    if (p.active()) p.set_args({{"tokens", T}, {"hidden", H_}});
  }
  const bool pre_ln = arch.norm == NormPlacement::Pre;
  for (std::size_t li = 0; li < layers_.size(); ++li) {
    const Layer& l = layers_[li];
    const int i = static_cast<int>(li);
    ProfileScope layer("layer", "encoder_layer", i);
    // Pre-LN: the sub-layers read LN(x) (tmp) and add into x; post-LN: they read x and
    // x becomes LN(x + f(x)).
    const float* attn_in = x;
    if (pre_ln && l.has_attn_ln) {
      layer_norm("layernorm_attn", i, x, nullptr, l.attn_ln_g, l.attn_ln_b, tmp);
      attn_in = tmp;
    }
    linear("qkv_gemm", i, LinearSlot::Qkv, *l.qkv, attn_in, qkv);
    if (l.rotary) {
      ProfileScope p("op", "rotary", i);
      kernels::apply_rotary(qkv, pos, T, static_cast<std::int32_t>(H_), heads, *l.rotary);
    }
    {
      ProfileScope p("op", "attention", i);
      if (disentangled) {
        terms.pos_key = l.pos_key.empty() ? nullptr : l.pos_key.data.data();
        terms.pos_query = l.pos_query.empty() ? nullptr : l.pos_query.data.data();
        kernels::disentangled_attention(qkv, batch.seq_begin.data(), n, shape, terms, attn,
                                        base + ap.attn, threads);
      } else {
        kernels::AttentionBias lb = bias;
        lb.window = l.window;
        kernels::self_attention(qkv, batch.seq_begin.data(), n, shape, attn, base + ap.attn,
                                threads, l.attention, lb);
      }
      if (p.active()) {
        p.set_args(
            {{"sequences", n},
             {"heads", shape.heads},
             {"max_len", max_len},
             {"bf16", l.attention == kernels::AttentionPrecision::BF16 ? 1 : 0},
             {"kernel", kernels::attention_kernel_name(l.attention, shape.hidden / shape.heads)}});
        p.set_flops(attn_flops);
      }
    }
    linear("attn_output_gemm", i, LinearSlot::AttnOut, *l.attn_out, attn, tmp);
    const float* ffn_in = x;
    if (pre_ln) {
      {
        ProfileScope p("op", "residual_attn", i);
        kernels::add_inplace(x, tmp, T * H_);
      }
      layer_norm("layernorm_ffn", i, x, nullptr, l.out_ln_g, l.out_ln_b, tmp);
      ffn_in = tmp;
    } else {
      layer_norm("add_layernorm_attn", i, tmp, x, l.attn_ln_g, l.attn_ln_b, x);
    }
    linear("ffn_up_gemm_gelu", i, LinearSlot::FfnIn, *l.ffn_in, ffn_in, ffn);
    const float* down_in = ffn;
    if (gated) {
      ProfileScope p("op", "gated_activation", i);
      kernels::gated_activation(ffn, T, I_, to_kernel(config_.hidden_act), base + ap.gated);
      down_in = base + ap.gated;
      if (p.active()) p.set_args({{"rows", T}, {"cols", I_}});
    }
    linear("ffn_down_gemm", i, LinearSlot::FfnOut, *l.ffn_out, down_in, tmp);
    if (pre_ln) {
      ProfileScope p("op", "residual_ffn", i);
      kernels::add_inplace(x, tmp, T * H_);
    } else {
      layer_norm("add_layernorm_ffn", i, tmp, x, l.out_ln_g, l.out_ln_b, x);
    }
    if (conv_ && i == 0) {
      // DeBERTa's ConvLayer: LN(layer-0 output + act(conv1d(layer-0 input))), the taps summed
      // within each sequence (zero padding at its edges).
      ProfileScope p("op", "conv", i);
      float* y = base + ap.conv;
      conv_->forward(base + ap.emb_out, T, y, stream, scr);
      stream.wait();
      const std::int64_t K = conv_width / H_, pad = (K - 1) / 2;
      for (std::int32_t s = 0; s < n; ++s) {
        const std::int64_t b = batch.seq_begin[s], e = batch.seq_begin[s + 1];
        for (std::int64_t t = b; t < e; ++t) {
          float* o = tmp + t * H_;
          std::copy_n(conv_bias_.data.data(), H_, o);
          for (std::int64_t k = 0; k < K; ++k) {
            const std::int64_t src = t + k - pad;
            if (src < b || src >= e) continue;
            const float* row = y + src * conv_width + k * H_;
            for (std::int64_t c = 0; c < H_; ++c) o[c] += row[c];
          }
        }
      }
      kernels::activation_inplace(tmp, T * H_, to_kernel(config_.conv_act));
      kernels::add_layer_norm(tmp, x, conv_norm_g_.data.data(), conv_norm_b_.data.data(), eps, T,
                              H_, x);
    }
    if (observer) observer->layer_output(i, x, T, H_);
  }
  if (!final_g_.empty()) layer_norm("final_norm", -1, x, nullptr, final_g_, final_b_, x);

  Outputs out;
  out.hidden = x;
  float* cls = base + ap.cls;
  if (want_pooler || (want_logits && arch.head == HeadKind::Dense)) {
    for (std::int32_t s = 0; s < n; ++s)
      std::copy_n(x + static_cast<std::int64_t>(batch.seq_begin[s]) * H_, H_, cls + s * H_);
  }
  if (want_pooler) {
    ProfileScope p("op", "pooler");
    pooler_->forward(cls, n, base + ap.pooled, stream, scr);
    gemm(p, n, H_, H_);
    out.pooled = base + ap.pooled;
  }
  if (want_logits) {
    ProfileScope p("op", "classifier");
    const float* features = out.pooled;
    if (arch.head == HeadKind::Dense) {
      // The head's own dense layer on token 0 (or on the mean of the tokens).
      const float* pooled = cls;
      if (config_.head_pooling == Pooling::Mean) {
        float* mean = base + ap.head;
        for (std::int32_t s = 0; s < n; ++s) {
          float* m = mean + s * H_;
          std::fill_n(m, H_, 0.f);
          const std::int32_t b = batch.seq_begin[s], e = batch.seq_begin[s + 1];
          for (std::int32_t t = b; t < e; ++t)
            for (std::int64_t c = 0; c < H_; ++c) m[c] += x[t * H_ + c];
          for (std::int64_t c = 0; c < H_; ++c) m[c] /= static_cast<float>(e - b);
        }
        pooled = mean;
      }
      float* h = base + ap.head_out;
      head_dense_->forward(pooled, n, h, stream, scr);
      stream.wait();
      if (!head_norm_g_.empty())
        kernels::add_layer_norm(h, nullptr, head_norm_g_.data.data(), head_norm_b_.data.data(), eps,
                                n, H_, h);
      features = h;
    }
    classifier_->forward(features, n, base + ap.logits, stream, scr);
    gemm(p, n, H_, num_labels());
    out.logits = base + ap.logits;
  }
  stream.wait();
  return out;
}

}  // namespace encore::runtime

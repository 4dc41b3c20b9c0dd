#include "runtime/bert_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <omp.h>

#include "core/env.hpp"
#include "core/profiler.hpp"
#include "encore/error.hpp"
#include "kernels/attention.hpp"
#include "kernels/embeddings.hpp"
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

// Offsets (in floats) of the arena regions for a batch of `tokens` tokens.
struct ArenaPlan {
  std::size_t x, qkv, ctx, tmp, ffn, cls, pooled, logits, attn, scratch, total;
};

ArenaPlan plan(std::int64_t tokens, std::int64_t seqs, std::int64_t H, std::int64_t I,
               std::int64_t labels, std::size_t attn_floats, std::size_t scratch_bytes) {
  auto round = [](std::size_t n) { return (n + 15) / 16 * 16; };  // 64-byte aligned regions
  ArenaPlan p{};
  std::size_t at = 0;
  auto take = [&](std::size_t n) {
    const std::size_t off = at;
    at += round(n);
    return off;
  };
  const auto T = static_cast<std::size_t>(tokens);
  p.x = take(T * H);
  p.qkv = take(T * 3 * H);
  p.ctx = take(T * H);
  p.tmp = take(T * H);
  p.ffn = take(T * I);
  p.cls = take(static_cast<std::size_t>(seqs * H));
  p.pooled = take(static_cast<std::size_t>(seqs * H));
  p.logits = take(static_cast<std::size_t>(seqs * std::max<std::int64_t>(labels, 1)));
  p.attn = take(attn_floats);
  p.scratch = take((scratch_bytes + sizeof(float) - 1) / sizeof(float));
  p.total = at;
  return p;
}

}  // namespace

void fold_attention_smoothing(BertLayerWeights& l, std::int64_t H, const std::vector<float>& s) {
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

BertEncoder::BertEncoder(const BertConfig& config, BertWeights w, int threads,
                         const std::vector<LayerPrecision>& precision)
    : config_(config),
      H_(config.hidden_size),
      I_(config.intermediate_size),
      threads_(threads),
      precision_(precision) {
  if (precision_.empty()) precision_.assign(w.layers.size(), LayerPrecision{});
  if (precision_.size() != w.layers.size())
    throw Error("precision given for " + std::to_string(precision_.size()) +
                " layers, the model has " + std::to_string(w.layers.size()));
  word_ = std::move(w.word_embeddings);
  position_ = std::move(w.position_embeddings);
  token_type_ = std::move(w.token_type_embeddings);
  emb_ln_g_ = std::move(w.embeddings_ln_weight);
  emb_ln_b_ = std::move(w.embeddings_ln_bias);
  const auto act = to_kernel(config.hidden_act);
  const bool bf16_attention =
      kernels::attention_bf16_supported() && !env_flag("ENCORE_FP32_ATTENTION");
  for (std::size_t li = 0; li < w.layers.size(); ++li) {
    auto& lw = w.layers[li];
    const LayerPrecision& lp = precision_[li];
    auto quant = [&](LinearSlot slot) {
      kernels::LinearQuantization q;
      q.precision = lp.precision;
      if (lp.precision == kernels::LinearPrecision::Int8 && lp.input_ranges)
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
    Layer l;
    l.qkv = pack(lw.qkv_weight, lw.qkv_bias, kernels::Activation::None, quant(LinearSlot::Qkv),
                 &lw.qkv_weight_scale, &lw.qkv_input_smoothing);
    l.attn_out = pack(lw.attn_output_weight, lw.attn_output_bias, kernels::Activation::None,
                      quant(LinearSlot::AttnOut), &lw.attn_output_weight_scale);
    l.ffn_in = pack(lw.intermediate_weight, lw.intermediate_bias, act, quant(LinearSlot::FfnIn),
                    &lw.intermediate_weight_scale, &lw.intermediate_input_smoothing);
    l.ffn_out =
        pack(lw.output_weight, lw.output_bias, kernels::Activation::None, quant(LinearSlot::FfnOut),
             &lw.output_weight_scale, &lw.output_input_smoothing);
    for (const auto* lin : {l.qkv.get(), l.ffn_in.get(), l.ffn_out.get()})
      smoothed_gemms_ += lin->smoothed_input() ? 1 : 0;
    // Reduced-precision layers already round their GEMM inputs; attention's products in BF16
    // run at twice the FP32 rate (measured in BENCHMARKS.md) for a comparable error.
    if (bf16_attention && lp.precision != kernels::LinearPrecision::FP32) {
      l.attention = kernels::AttentionPrecision::BF16;
      scratch_attention_ = kernels::AttentionPrecision::BF16;
    }
    l.attn_ln_g = std::move(lw.attn_ln_weight);
    l.attn_ln_b = std::move(lw.attn_ln_bias);
    l.out_ln_g = std::move(lw.output_ln_weight);
    l.out_ln_b = std::move(lw.output_ln_bias);
    layers_.push_back(std::move(l));
  }
  if (w.has_pooler) pooler_ = pack(w.pooler_weight, w.pooler_bias, kernels::Activation::Tanh);
  if (w.has_classifier) {
    if (!pooler_) {
      throw Error(
          config.source.string() +
          ": the checkpoint has a classifier but no pooler, which BERT classification needs");
    }
    classifier_ = pack(w.classifier_weight, w.classifier_bias, kernels::Activation::None);
  }
}

std::size_t BertEncoder::packed_bytes() const {
  return (word_.data.size() + position_.data.size() + token_type_.data.size()) * sizeof(float) +
         streamed_weight_bytes();
}

std::size_t BertEncoder::streamed_weight_bytes() const {
  std::size_t n = 0;
  for (const auto& l : layers_)
    n += l.qkv->packed_bytes() + l.attn_out->packed_bytes() + l.ffn_in->packed_bytes() +
         l.ffn_out->packed_bytes();
  if (pooler_) n += pooler_->packed_bytes();
  if (classifier_) n += classifier_->packed_bytes();
  return n;
}

std::vector<std::pair<std::string, std::string>> BertEncoder::kernels(int layer,
                                                                    std::int64_t tokens) const {
  const Layer& l = layers_.at(static_cast<std::size_t>(layer));
  const auto d = static_cast<std::int32_t>(H_ / config_.num_attention_heads);
  return {{"qkv_gemm", l.qkv->kernel_name(tokens)},
          {"attention", kernels::attention_kernel_name(l.attention, d)},
          {"attn_output_gemm", l.attn_out->kernel_name(tokens)},
          {"ffn_up_gemm_gelu", l.ffn_in->kernel_name(tokens)},
          {"ffn_down_gemm", l.ffn_out->kernel_name(tokens)}};
}

BertEncoder::Outputs BertEncoder::forward(const PackedBatch& batch, Context& ctx, bool want_pooler,
                                          bool want_logits, ForwardObserver* observer) const {
  const std::int64_t T = batch.tokens();
  const std::int32_t n = batch.num_sequences();
  if (T == 0 || n == 0) return {};
  const std::int64_t V = word_.shape[0], P = position_.shape[0], TT = token_type_.shape[0];
  for (std::int64_t t = 0; t < T; ++t) {
    if (batch.ids[t] < 0 || batch.ids[t] >= V)
      throw InputError("token id " + std::to_string(batch.ids[t]) + " is outside the vocabulary (" +
                       std::to_string(V) + ")");
    if (batch.type_ids[t] < 0 || batch.type_ids[t] >= TT)
      throw InputError("token type id " + std::to_string(batch.type_ids[t]) +
                       " is outside the model's " + std::to_string(TT) + " types");
    if (batch.positions[t] >= P)
      throw InputError("sequence of more than " + std::to_string(P) +
                       " tokens is longer than the model's position table");
  }
  // Fewer threads while other processes hold some of our CPUs (cpu_share.hpp); every
  // OpenMP region and oneDNN primitive of this forward then runs on that many.
  const int threads = threads_now(threads_);
  omp_set_num_threads(threads);
  want_pooler = (want_pooler || want_logits) && pooler_;
  want_logits = want_logits && classifier_;

  const kernels::AttentionShape shape{static_cast<std::int32_t>(H_),
                                      static_cast<std::int32_t>(config_.num_attention_heads)};
  std::size_t scratch = 0;
  if (!layers_.empty()) {
    const auto& l = layers_[0];
    scratch = std::max({l.qkv->scratchpad_bytes(T), l.attn_out->scratchpad_bytes(T),
                        l.ffn_in->scratchpad_bytes(T), l.ffn_out->scratchpad_bytes(T)});
  }
  if (want_pooler) scratch = std::max(scratch, pooler_->scratchpad_bytes(n));
  if (want_logits) scratch = std::max(scratch, classifier_->scratchpad_bytes(n));
  const ArenaPlan ap = plan(
      T, n, H_, I_, num_labels(),
      kernels::attention_scratch_floats(batch.max_length(), shape, threads_, scratch_attention_),
      scratch);
  float* base = ctx.arena(ap.total);
  float *x = base + ap.x, *qkv = base + ap.qkv, *attn = base + ap.ctx, *tmp = base + ap.tmp,
        *ffn = base + ap.ffn;
  void* scr = base + ap.scratch;
  auto& stream = ctx.stream();
  const float eps = static_cast<float>(config_.layer_norm_eps);

  const double Hd = static_cast<double>(H_);
  double attn_flops = 0;  // QKᵀ and PV per sequence: 4·S²·H
  for (std::int32_t s = 0; s < n; ++s) attn_flops += 4.0 * batch.length(s) * batch.length(s) * Hd;
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
  {
    ProfileScope p("op", "embeddings");
    kernels::embed_tokens(batch.ids.data(), batch.positions.data(), batch.type_ids.data(), T,
                          word_.data.data(), position_.data.data(), token_type_.data.data(),
                          emb_ln_g_.data.data(), emb_ln_b_.data.data(), eps,
                          static_cast<std::int32_t>(H_), x);
    if (p.active()) p.set_args({{"tokens", T}, {"hidden", H_}});
  }
  for (std::size_t li = 0; li < layers_.size(); ++li) {
    const Layer& l = layers_[li];
    const int i = static_cast<int>(li);
    ProfileScope layer("layer", "encoder_layer", i);
    linear("qkv_gemm", i, LinearSlot::Qkv, *l.qkv, x, qkv);
    {
      ProfileScope p("op", "attention", i);
      kernels::self_attention(qkv, batch.seq_begin.data(), n, shape, attn, base + ap.attn, threads,
                              l.attention);
      if (p.active()) {
        p.set_args({{"sequences", n},
                    {"heads", shape.heads},
                    {"max_len", batch.max_length()},
                    {"bf16", l.attention == kernels::AttentionPrecision::BF16 ? 1 : 0},
                    {"kernel", kernels::attention_kernel_name(l.attention, shape.hidden / shape.heads)}});
        p.set_flops(attn_flops);
      }
    }
    linear("attn_output_gemm", i, LinearSlot::AttnOut, *l.attn_out, attn, tmp);
    {
      ProfileScope p("op", "add_layernorm_attn", i);
      kernels::add_layer_norm(tmp, x, l.attn_ln_g.data.data(), l.attn_ln_b.data.data(), eps, T, H_,
                              x);
      if (p.active()) p.set_args({{"rows", T}, {"cols", H_}});
    }
    linear("ffn_up_gemm_gelu", i, LinearSlot::FfnIn, *l.ffn_in, x, ffn);
    linear("ffn_down_gemm", i, LinearSlot::FfnOut, *l.ffn_out, ffn, tmp);
    {
      ProfileScope p("op", "add_layernorm_ffn", i);
      kernels::add_layer_norm(tmp, x, l.out_ln_g.data.data(), l.out_ln_b.data.data(), eps, T, H_,
                              x);
      if (p.active()) p.set_args({{"rows", T}, {"cols", H_}});
    }
    if (observer) observer->layer_output(i, x, T, H_);
  }
  Outputs out;
  out.hidden = x;
  if (want_pooler) {
    ProfileScope p("op", "pooler");
    float* cls = base + ap.cls;
    for (std::int32_t s = 0; s < n; ++s)
      std::copy_n(x + static_cast<std::int64_t>(batch.seq_begin[s]) * H_, H_, cls + s * H_);
    pooler_->forward(cls, n, base + ap.pooled, stream, scr);
    gemm(p, n, H_, H_);
    out.pooled = base + ap.pooled;
  }
  if (want_logits && out.pooled) {
    ProfileScope p("op", "classifier");
    classifier_->forward(out.pooled, n, base + ap.logits, stream, scr);
    gemm(p, n, H_, num_labels());
    out.logits = base + ap.logits;
  }
  stream.wait();
  return out;
}

}  // namespace encore::runtime

#include "quant/smoothing.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/profiler.hpp"
#include "quant/layer_report.hpp"
#include "quant/observed_run.hpp"

namespace encore::quant {
namespace {

class InputMax : public runtime::ForwardObserver {
 public:
  explicit InputMax(int layers) : amax(static_cast<std::size_t>(layers)) {}
  void linear_input(int layer, runtime::LinearSlot slot, const float* x, std::int64_t rows,
                    std::int64_t cols, std::int64_t ld) override {
    auto& m = amax[static_cast<std::size_t>(layer)][static_cast<std::size_t>(slot)];
    m.resize(static_cast<std::size_t>(cols), 0.f);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        m[static_cast<std::size_t>(c)] =
            std::max(m[static_cast<std::size_t>(c)], std::fabs(x[r * ld + c]));
  }
  std::vector<LayerSmoothing> amax;
};

// Bound on |W_i·x + b_i| for x a LayerNorm output g∘n + β (see input_bound), rows [r0, r1).
std::vector<float> linear_of_ln_bound(const HostTensor& w, const HostTensor& b, const HostTensor& g,
                                      const HostTensor& beta, std::int64_t r0, std::int64_t r1) {
  const std::int64_t H = w.shape.at(1);
  const double root_h = std::sqrt(static_cast<double>(H));
  std::vector<float> out(static_cast<std::size_t>(r1 - r0));
  for (std::int64_t i = r0; i < r1; ++i) {
    const float* row = w.data.data() + i * H;
    double mean = b.empty() ? 0.0 : b.data[static_cast<std::size_t>(i)];
    double sq = 0;
    for (std::int64_t k = 0; k < H; ++k) {
      mean += static_cast<double>(row[k]) * beta.data[static_cast<std::size_t>(k)];
      const double wg = static_cast<double>(row[k]) * g.data[static_cast<std::size_t>(k)];
      sq += wg * wg;
    }
    out[static_cast<std::size_t>(i - r0)] =
        static_cast<float>(std::fabs(mean) + root_h * std::sqrt(sq));
  }
  return out;
}

std::vector<runtime::LayerPrecision> dynamic(std::vector<runtime::LayerPrecision> layers) {
  for (auto& l : layers) l.input_ranges.reset();
  return layers;
}

}  // namespace

const HostTensor& slot_weight(const LayerWeights& l, runtime::LinearSlot slot) {
  switch (slot) {
    case runtime::LinearSlot::Qkv:
      return l.qkv_weight;
    case runtime::LinearSlot::AttnOut:
      return l.attn_output_weight;
    case runtime::LinearSlot::FfnIn:
      return l.intermediate_weight;
    case runtime::LinearSlot::FfnOut:
      return l.output_weight;
  }
  return l.qkv_weight;
}

std::vector<float> input_bound(const EncoderWeights& w, int layer, runtime::LinearSlot slot) {
  const auto li = static_cast<std::size_t>(layer);
  const auto& L = w.layers.at(li);
  // The LayerNorm before QKV: the embeddings' or the previous layer's output LayerNorm.
  const HostTensor& g0 = layer == 0 ? w.embeddings_ln_weight : w.layers[li - 1].output_ln_weight;
  const HostTensor& b0 = layer == 0 ? w.embeddings_ln_bias : w.layers[li - 1].output_ln_bias;
  const std::int64_t H = L.attn_output_weight.shape.at(1);
  auto ln_bound = [&](const HostTensor& g, const HostTensor& beta) {
    const double root_h = std::sqrt(static_cast<double>(H));
    std::vector<float> out(static_cast<std::size_t>(H));
    for (std::size_t j = 0; j < out.size(); ++j)
      out[j] = static_cast<float>(std::fabs(g.data[j]) * root_h + std::fabs(beta.data[j]));
    return out;
  };
  switch (slot) {
    case runtime::LinearSlot::Qkv:
      return ln_bound(g0, b0);
    case runtime::LinearSlot::AttnOut:  // the V rows of the QKV weight
      return linear_of_ln_bound(L.qkv_weight, L.qkv_bias, g0, b0, 2 * H, 3 * H);
    case runtime::LinearSlot::FfnIn:
      return ln_bound(L.attn_ln_weight, L.attn_ln_bias);
    case runtime::LinearSlot::FfnOut: {
      auto u = linear_of_ln_bound(L.intermediate_weight, L.intermediate_bias, L.attn_ln_weight,
                                  L.attn_ln_bias, 0, L.intermediate_weight.shape.at(0));
      for (auto& v : u) v = std::max(v, 0.17f);  // |GELU(u)| <= max(|u|, 0.17)
      return u;
    }
  }
  return {};
}

std::vector<LayerSmoothing> input_maxima(const runtime::Encoder& fp32, int num_layers,
                                         const std::vector<Encoding>& rows) {
  InputMax observer(num_layers);
  run_observed(fp32, rows, observer);
  return observer.amax;
}

double outlier_ratio(std::span<const float> amax) {
  if (amax.empty()) return 0;
  std::vector<float> v(amax.begin(), amax.end());
  for (auto& x : v) x = std::fabs(x);
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  const double median = *mid;
  const double max = *std::max_element(v.begin(), v.end());
  return median > 0 ? max / median : 0;
}

std::vector<float> smoothing_factors(std::span<const float> amax, const HostTensor& weight,
                                     double alpha) {
  const std::int64_t in = weight.shape.at(1), out = weight.shape.at(0);
  std::vector<float> wmax(static_cast<std::size_t>(in), 0.f);
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t j = 0; j < in; ++j)
      wmax[static_cast<std::size_t>(j)] =
          std::max(wmax[static_cast<std::size_t>(j)],
                   std::fabs(weight.data[static_cast<std::size_t>(o * in + j)]));
  std::vector<double> s(static_cast<std::size_t>(in), 1.0);
  for (std::size_t j = 0; j < s.size(); ++j)
    if (amax[j] > 0 && wmax[j] > 0)
      s[j] = std::pow(amax[j], alpha) / std::pow(wmax[j], 1.0 - alpha);
  std::vector<double> sorted = s;
  const auto mid = sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2);
  std::nth_element(sorted.begin(), mid, sorted.end());
  const double median = *mid > 0 ? *mid : 1.0;
  std::vector<float> f(s.size());
  for (std::size_t j = 0; j < s.size(); ++j) f[j] = static_cast<float>(s[j] / median);
  return f;
}

std::vector<Encoding> synthetic_rows(const EncoderConfig& config) {
  std::mt19937 rng(20240611);
  const std::int64_t V = std::max<std::int64_t>(config.vocab_size, 1);
  const std::int64_t P = config.max_position_embeddings > 0 ? config.max_position_embeddings : 512;
  std::uniform_int_distribution<std::int64_t> id(0, V - 1);
  std::vector<Encoding> rows(16);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto n = static_cast<std::size_t>(
        std::min<std::int64_t>(8 + 8 * static_cast<std::int64_t>(r % 4), P));
    for (std::size_t t = 0; t < n; ++t) {
      rows[r].ids.push_back(static_cast<std::int32_t>(id(rng)));
      rows[r].type_ids.push_back(0);
    }
  }
  return rows;
}

std::vector<LayerSmoothing> choose_smoothing(const EncoderConfig& config, const EncoderWeights& weights,
                                             int threads,
                                             const std::vector<runtime::LayerPrecision>& layers,
                                             const std::vector<Encoding>& calibration,
                                             const SmoothingOptions& options, int* detected) {
  ProfileScope scope("stage", "choose_smoothing");
  const int n = static_cast<int>(layers.size());
  std::vector<LayerSmoothing> chosen(layers.size());
  if (detected) *detected = 0;
  auto is_int8 = [&](int l) {
    return layers[static_cast<std::size_t>(l)].precision == kernels::LinearPrecision::Int8 &&
           !layers[static_cast<std::size_t>(l)].smoothing_folded;
  };
  constexpr runtime::LinearSlot kOrder[] = {runtime::LinearSlot::Qkv, runtime::LinearSlot::AttnOut,
                                            runtime::LinearSlot::FfnIn,
                                            runtime::LinearSlot::FfnOut};
  // Candidates from the load-time bounds first: without outliers there and without
  // calibration texts, nothing is measured and loading costs nothing more.
  std::vector<LayerSmoothing> amax(layers.size());
  bool any = false;
  // The bounds follow BERT's post-LN topology (every GEMM input is a LayerNorm's output or
  // a function of one); other topologies are left to the calibration texts.
  const bool bounds_apply = config.arch->norm == NormPlacement::Post && !config.arch->gated_ffn &&
                            weights.embedding_projection_weight.empty();
  for (int l = 0; l < n && bounds_apply; ++l)
    if (is_int8(l))
      for (const auto slot : kOrder) {
        auto& a = amax[static_cast<std::size_t>(l)][static_cast<std::size_t>(slot)];
        a = input_bound(weights, l, slot);
        any = any || outlier_ratio(a) > options.threshold;
      }
  if (!any && calibration.empty()) return chosen;
  const runtime::Encoder fp32(config, weights, threads);
  if (!calibration.empty()) {
    auto measured = input_maxima(fp32, n, calibration);
    for (int l = 0; l < n; ++l)
      if (is_int8(l))
        amax[static_cast<std::size_t>(l)] = std::move(measured[static_cast<std::size_t>(l)]);
  }
  std::vector<std::pair<int, runtime::LinearSlot>> candidates;
  for (int l = 0; l < n; ++l)
    if (is_int8(l))
      for (const auto slot : kOrder)
        if (outlier_ratio(amax[static_cast<std::size_t>(l)][static_cast<std::size_t>(slot)]) >
            options.threshold)
          candidates.emplace_back(l, slot);
  if (detected) *detected = static_cast<int>(candidates.size());
  if (candidates.empty()) return chosen;
  const std::vector<Encoding> synthetic =
      calibration.empty() ? synthetic_rows(config) : std::vector<Encoding>{};
  const auto& rows = calibration.empty() ? synthetic : calibration;
  // Greedy in forward order (errors compound): each candidate keeps the α whose INT8 output
  // agrees best with FP32 at its layer, or no smoothing if none beats it.
  auto current = dynamic(layers);
  auto measure = [&](const std::vector<runtime::LayerPrecision>& p) {
    const runtime::Encoder candidate(config, weights, threads, p);
    return compare_layers(fp32, candidate, n, rows);
  };
  auto report = measure(current);
  for (const auto& [l, slot] : candidates) {
    const auto li = static_cast<std::size_t>(l);
    const auto si = static_cast<std::size_t>(slot);
    double best = report[li].mean_cosine;
    for (const double alpha : options.alphas) {
      auto trial = current;
      trial[li].input_smoothing[si] =
          smoothing_factors(amax[li][si], slot_weight(weights.layers[li], slot), alpha);
      auto r = measure(trial);
      if (r[li].mean_cosine > best) {
        best = r[li].mean_cosine;
        current = std::move(trial);
        report = std::move(r);
      }
    }
    chosen[li][si] = current[li].input_smoothing[si];
  }
  return chosen;
}

}  // namespace encore::quant

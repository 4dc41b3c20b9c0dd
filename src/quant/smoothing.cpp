#include "quant/smoothing.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/profiler.hpp"
#include "quant/layer_report.hpp"
#include "quant/observed_run.hpp"

namespace encore::quant {
namespace {

class ContextMax : public runtime::ForwardObserver {
 public:
  ContextMax(int layers, std::int64_t H)
      : amax(static_cast<std::size_t>(layers),
             std::vector<float>(static_cast<std::size_t>(H), 0.f)) {}
  void linear_input(int layer, runtime::LinearSlot slot, const float* x, std::int64_t rows,
                    std::int64_t cols, std::int64_t ld) override {
    if (slot != runtime::LinearSlot::AttnOut) return;
    auto& m = amax[static_cast<std::size_t>(layer)];
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        m[static_cast<std::size_t>(c)] =
            std::max(m[static_cast<std::size_t>(c)], std::fabs(x[r * ld + c]));
  }
  std::vector<std::vector<float>> amax;
};

std::vector<runtime::LayerPrecision> dynamic(std::vector<runtime::LayerPrecision> layers) {
  for (auto& l : layers) l.input_ranges.reset();
  return layers;
}

}  // namespace

std::vector<float> context_bound(const BertWeights& w, int layer) {
  const auto& L = w.layers.at(static_cast<std::size_t>(layer));
  const HostTensor& g = layer == 0 ? w.embeddings_ln_weight
                                   : w.layers[static_cast<std::size_t>(layer - 1)].output_ln_weight;
  const HostTensor& beta = layer == 0
                               ? w.embeddings_ln_bias
                               : w.layers[static_cast<std::size_t>(layer - 1)].output_ln_bias;
  const std::int64_t H = L.attn_output_weight.shape.at(1);
  const double root_h = std::sqrt(static_cast<double>(H));
  std::vector<float> out(static_cast<std::size_t>(H));
  for (std::int64_t j = 0; j < H; ++j) {
    const float* v = L.qkv_weight.data.data() + (2 * H + j) * H;
    double mean = L.qkv_bias.empty() ? 0.0 : L.qkv_bias.data[static_cast<std::size_t>(2 * H + j)];
    double sq = 0;
    for (std::int64_t k = 0; k < H; ++k) {
      mean += static_cast<double>(v[k]) * beta.data[static_cast<std::size_t>(k)];
      const double wg = static_cast<double>(v[k]) * g.data[static_cast<std::size_t>(k)];
      sq += wg * wg;
    }
    out[static_cast<std::size_t>(j)] = static_cast<float>(std::fabs(mean) + root_h * std::sqrt(sq));
  }
  return out;
}

std::vector<std::vector<float>> context_maxima(const runtime::BertEncoder& fp32, int num_layers,
                                               const std::vector<Encoding>& rows) {
  ContextMax observer(num_layers, fp32.hidden_size());
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

std::vector<Encoding> synthetic_rows(const BertConfig& config) {
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

std::vector<std::vector<float>> choose_smoothing(const BertConfig& config,
                                                 const BertWeights& weights, int threads,
                                                 const std::vector<runtime::LayerPrecision>& layers,
                                                 const std::vector<Encoding>& calibration,
                                                 const SmoothingOptions& options, int* detected) {
  ProfileScope scope("stage", "choose_smoothing");
  const int n = static_cast<int>(layers.size());
  std::vector<std::vector<float>> chosen(layers.size());
  if (detected) *detected = 0;
  auto is_int8 = [&](int l) {
    return layers[static_cast<std::size_t>(l)].precision == kernels::LinearPrecision::Int8 &&
           !layers[static_cast<std::size_t>(l)].smoothing_folded;
  };
  // Candidates from the load-time bound first: without outliers there, nothing is measured
  // and loading costs nothing more. Calibration maxima (when given) then decide.
  std::vector<std::vector<float>> amax(layers.size());
  bool any = false;
  for (int l = 0; l < n; ++l)
    if (is_int8(l)) {
      amax[static_cast<std::size_t>(l)] = context_bound(weights, l);
      any = any || outlier_ratio(amax[static_cast<std::size_t>(l)]) > options.threshold;
    }
  if (!any && calibration.empty()) return chosen;
  const runtime::BertEncoder fp32(config, weights, threads);
  if (!calibration.empty()) {
    auto measured = context_maxima(fp32, n, calibration);
    for (int l = 0; l < n; ++l)
      if (is_int8(l))
        amax[static_cast<std::size_t>(l)] = std::move(measured[static_cast<std::size_t>(l)]);
  }
  std::vector<int> candidates;
  for (int l = 0; l < n; ++l)
    if (is_int8(l) && outlier_ratio(amax[static_cast<std::size_t>(l)]) > options.threshold)
      candidates.push_back(l);
  if (detected) *detected = static_cast<int>(candidates.size());
  if (candidates.empty()) return chosen;
  const std::vector<Encoding> synthetic =
      calibration.empty() ? synthetic_rows(config) : std::vector<Encoding>{};
  const auto& rows = calibration.empty() ? synthetic : calibration;
  // Greedy, first layer first (errors compound): each candidate layer keeps the α whose
  // INT8 output agrees best with FP32 at that layer, or no smoothing if none beats it.
  auto current = dynamic(layers);
  auto measure = [&](const std::vector<runtime::LayerPrecision>& p) {
    const runtime::BertEncoder candidate(config, weights, threads, p);
    return compare_layers(fp32, candidate, n, rows);
  };
  auto report = measure(current);
  for (const int l : candidates) {
    const auto li = static_cast<std::size_t>(l);
    double best = report[li].mean_cosine;
    for (const double alpha : options.alphas) {
      auto trial = current;
      trial[li].attn_out_smoothing =
          smoothing_factors(amax[li], weights.layers[li].attn_output_weight, alpha);
      auto r = measure(trial);
      if (r[li].mean_cosine > best) {
        best = r[li].mean_cosine;
        current = std::move(trial);
        report = std::move(r);
      }
    }
    chosen[li] = current[li].attn_out_smoothing;
  }
  return chosen;
}

}  // namespace encore::quant

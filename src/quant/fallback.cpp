#include "quant/fallback.hpp"

#include "quant/layer_report.hpp"

namespace encore::quant {

FallbackResult fallback_layers(const runtime::Encoder& fp32, const EncoderConfig& config,
                               const EncoderWeights& weights, int threads,
                               std::vector<runtime::LayerPrecision> layers,
                               const std::vector<Encoding>& rows, double min_cosine) {
  const int n = static_cast<int>(layers.size());
  // Each round moves one INT8 layer, so at most n + 1 candidates are measured.
  for (int round = 0; round <= n; ++round) {
    auto candidate = std::make_unique<runtime::Encoder>(config, weights, threads, layers);
    const auto report = compare_layers(fp32, *candidate, n, rows);
    int worst = -1;
    for (int l = 0; l < n && worst < 0; ++l)
      if (layers[static_cast<std::size_t>(l)].precision == kernels::LinearPrecision::Int8 &&
          report[static_cast<std::size_t>(l)].mean_cosine < min_cosine)
        worst = l;
    if (worst < 0) return {std::move(layers), std::move(candidate)};
    // BF16 where the CPU runs it natively, else FP32 (emulated BF16 is slower than FP32).
    // (Without INT8's ranges and smoothing: neither matters outside INT8.)
    runtime::LayerPrecision moved;
    moved.precision = kernels::cpu_has_native_bf16() ? kernels::LinearPrecision::BF16
                                                     : kernels::LinearPrecision::FP32;
    layers[static_cast<std::size_t>(worst)] = moved;
  }
  // Unreachable: after n moves no INT8 layer is left, and the next round returns.
  return {layers, std::make_unique<runtime::Encoder>(config, weights, threads, layers)};
}

}  // namespace encore::quant

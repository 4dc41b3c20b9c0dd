// `--fallback auto`: INT8 layers whose output drifts too far from FP32 run in BF16 instead
// (FP32 on a CPU without BF16 instructions).
#pragma once

#include <memory>
#include <vector>

#include "encore/encoding.hpp"
#include "model/encoder_config.hpp"
#include "model/encoder_weights.hpp"
#include "runtime/encoder.hpp"

namespace encore::quant {

// Greedy, first layer first: builds the candidate, measures every layer's mean token cosine
// to `fp32` on `rows`, moves the first INT8 layer below `min_cosine` to BF16, and repeats
// until no INT8 layer is below (errors compound, so fixing an early layer can lift the
// later ones). Returns the final per-layer precision and the encoder built with it (the last
// candidate measured, so the caller need not pack the weights again).
struct FallbackResult {
  std::vector<runtime::LayerPrecision> layers;
  std::unique_ptr<runtime::Encoder> encoder;
};
FallbackResult fallback_layers(const runtime::Encoder& fp32, const EncoderConfig& config,
                               const EncoderWeights& weights, int threads,
                               std::vector<runtime::LayerPrecision> layers,
                               const std::vector<Encoding>& rows, double min_cosine);

}  // namespace encore::quant

// How far each encoder layer's output drifts from FP32 under another precision: per-token
// cosine similarity of the two models' hidden states after every layer, on the same rows.
#pragma once

#include <cstdint>
#include <vector>

#include "encore/encoding.hpp"
#include "runtime/encoder.hpp"

namespace encore::quant {

struct LayerAgreement {
  double mean_cosine = 0, min_cosine = 1;
  std::int64_t tokens = 0;
};

std::vector<LayerAgreement> compare_layers(const runtime::Encoder& reference,
                                           const runtime::Encoder& candidate, int num_layers,
                                           const std::vector<Encoding>& rows);

}  // namespace encore::quant

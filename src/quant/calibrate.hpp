// INT8 static calibration: the FP32 encoder runs the calibration rows twice (min/max, then
// histograms) and every linear input of every layer gets one activation range.
#pragma once

#include <array>
#include <utility>
#include <vector>

#include "encore/encoding.hpp"
#include "quant/calibration.hpp"
#include "runtime/encoder.hpp"

namespace encore::quant {

using LayerRanges = std::array<std::pair<float, float>, runtime::kLinearSlots>;

// Per layer, by LinearSlot: INT8 smoothing factors s_j of the linear inputs (empty: none).
using LayerSmoothing = std::array<std::vector<float>, runtime::kLinearSlots>;

// `smoothing` (empty, or one entry per layer): inputs with factors are observed as x_j / s_j,
// the values their quantization pass quantizes.
std::vector<LayerRanges> calibrate(const runtime::Encoder& fp32, int num_layers,
                                   const std::vector<Encoding>& rows, CalibrationMethod method,
                                   double percentile,
                                   const std::vector<LayerSmoothing>& smoothing = {});

}  // namespace encore::quant

// INT8 that survives outlier channels (SmoothQuant, Xiao et al. 2023): when a few channels
// of a GEMM input are 10-100x the rest, one u8 scale per token leaves every other channel a
// few quantization steps. Per input channel j, s_j = max|X_j|^α / max|W_j|^(1-α) divides the
// activation and multiplies the weight's input column, which moves the range problem into
// the weights, whose per-output-channel scales absorb it far better.
//
// Where, with no pass added to the forward:
// - the attention-output GEMM: its input (the attention context) is linear in the value
//   projection, so 1/s folds exactly into V's output rows and s into the output dense's input
//   columns at load (fold_attention_smoothing);
// - QKV and FFN-up (inputs: LayerNorm outputs) and FFN-down (input: GELU's output): the u8
//   quantization pass that already reads every input value multiplies it by 1/s_j, and s
//   goes into the weight's columns. Not into the LayerNorm's gamma/beta: in BERT's post-LN
//   layers the LayerNorm output is also the residual that the next LayerNorm normalizes, and
//   LayerNorm is not invariant to scaling single channels; GELU is not homogeneous.
//
// When: a linear is a candidate when its input's channel maxima have a max/median ratio
// above a threshold. Maxima come from the calibration texts when given (FP32 forward,
// max|x_j| per channel), else from bounds computed from the weights and the LayerNorm
// parameters at load (input_bound). Each candidate is kept only if it measurably helps: the
// INT8 model with and without it is compared with FP32 layer by layer (compare_layers, the
// per-layer report --fallback auto uses), on the calibration texts or, without them, on
// fixed pseudo-random token sequences.
#pragma once

#include <span>
#include <vector>

#include "encore/encoding.hpp"
#include "model/encoder_config.hpp"
#include "model/encoder_weights.hpp"
#include "quant/calibrate.hpp"
#include "runtime/encoder.hpp"

namespace encore::quant {

struct SmoothingOptions {
  double threshold = 10.0;                   // max/median channel ratio that counts as an outlier
  std::vector<double> alphas = {0.5, 0.75};  // migration strengths tried, in order
};

// Upper bound on |x_j| of the input of layer `layer`'s linear `slot`, for any input, from
// the weights and LayerNorm parameters. A LayerNorm output is g∘n + β with n of mean 0 and
// variance <= 1, so |n_j| <= ‖n‖₂ <= √H and |x_j| <= |g_j|·√H + |β_j| (QKV, FFN-up). A
// linear of it, y_i = W_i·x + b_i, has |y_i| <= |W_i·β + b_i| + √H·‖W_i∘g‖₂ (Cauchy-Schwarz):
// the attention context is a convex combination of V rows (attn_out), and |GELU(u)| <=
// max(|u|, 0.17) (FFN-down).
std::vector<float> input_bound(const EncoderWeights& w, int layer, runtime::LinearSlot slot);

// max|x_j| of every layer's linear inputs over `rows` (FP32 forward), by layer and slot.
std::vector<LayerSmoothing> input_maxima(const runtime::Encoder& fp32, int num_layers,
                                         const std::vector<Encoding>& rows);

// The weight [out, in] of layer `layer`'s linear `slot`.
const HostTensor& slot_weight(const LayerWeights& layer, runtime::LinearSlot slot);

// max / median of |amax| (0 when the median is 0).
double outlier_ratio(std::span<const float> amax);

// s_j = amax_j^α / max_o|W[o, j]|^(1-α) for the weight W [out, in = amax.size()], 1 where
// either is 0, normalized to a median of 1.
std::vector<float> smoothing_factors(std::span<const float> amax, const HostTensor& weight,
                                     double alpha);

// Fixed pseudo-random token sequences (ids in [0, vocab), type 0) for measuring a choice
// when no calibration texts are given.
std::vector<Encoding> synthetic_rows(const EncoderConfig& config);

// Per layer and linear, the smoothing factors to use (empty: none), for the INT8 layers of
// `layers` (their static input ranges are ignored: candidates are measured in dynamic INT8).
// `calibration` may be empty. `detected` (optional) receives the number of candidates.
std::vector<LayerSmoothing> choose_smoothing(const EncoderConfig& config, const EncoderWeights& weights,
                                             int threads,
                                             const std::vector<runtime::LayerPrecision>& layers,
                                             const std::vector<Encoding>& calibration,
                                             const SmoothingOptions& options = {},
                                             int* detected = nullptr);

}  // namespace encore::quant

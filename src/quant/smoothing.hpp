// INT8 that survives outlier channels (SmoothQuant, Xiao et al. 2023): when a few channels
// of a GEMM input are 10-100x the rest, one u8 scale per token leaves every other channel a
// few quantization steps. Per input channel j, s_j = max|X_j|^α / max|W_j|^(1-α) divides the
// activation and multiplies the weight's input column, which moves the range problem into
// the weights, whose per-output-channel scales absorb it far better.
//
// Where: the attention-output GEMM, whose input (the attention context) is linear in the
// value projection, so 1/s folds exactly into V's output rows and s into the output dense's
// input columns, at load, with no pass added (fold_attention_smoothing). The other three
// GEMMs read a LayerNorm output (QKV, FFN-up) or GELU's output (FFN-down). GELU is not
// homogeneous, and in BERT's post-LN layers the LayerNorm output is also the residual that
// the next LayerNorm normalizes, so 1/s cannot go into gamma/beta there without changing the
// function; those would need the smoothing inside the u8 quantization pass (x_j / s_j while
// quantizing, s in the weights), which is not done yet.
//
// When: a layer's candidate is its channel maxima's max/median ratio above a threshold.
// Maxima come from the calibration texts when given (FP32 forward, max|x_j| per channel),
// else from a bound computed from the weights and the LayerNorm parameters at load (see
// context_bound). Each candidate is kept only if it measurably helps: the INT8 model with
// and without it is compared with FP32 layer by layer (compare_layers, the per-layer report
// --fallback auto uses), on the calibration texts or, without them, on fixed pseudo-random
// token sequences.
#pragma once

#include <span>
#include <vector>

#include "encore/encoding.hpp"
#include "model/bert_config.hpp"
#include "model/bert_weights.hpp"
#include "runtime/bert_encoder.hpp"

namespace encore::quant {

struct SmoothingOptions {
  double threshold = 10.0;                   // max/median channel ratio that counts as an outlier
  std::vector<double> alphas = {0.5, 0.75};  // migration strengths tried, in order
};

// Upper bound on |context_j| of layer `layer`'s attention (the attention-output GEMM's input)
// for any input: the context is a convex combination of V rows, and V_j = W_j·x + b_j with x
// the LayerNorm output g∘n + β, where ‖n‖₂ ≤ √H (n has mean 0 and variance ≤ 1), so
// |V_j| ≤ |W_j·β + b_j| + √H·‖W_j∘g‖₂ (Cauchy-Schwarz).
std::vector<float> context_bound(const BertWeights& w, int layer);

// max|x_j| of every layer's attention-output GEMM input over `rows` (FP32 forward).
std::vector<std::vector<float>> context_maxima(const runtime::BertEncoder& fp32, int num_layers,
                                               const std::vector<Encoding>& rows);

// max / median of |amax| (0 when the median is 0).
double outlier_ratio(std::span<const float> amax);

// s_j = amax_j^α / max_o|W[o, j]|^(1-α) for the weight W [out, in = amax.size()], 1 where
// either is 0, normalized to a median of 1.
std::vector<float> smoothing_factors(std::span<const float> amax, const HostTensor& weight,
                                     double alpha);

// Fixed pseudo-random token sequences (ids in [0, vocab), type 0) for measuring a choice
// when no calibration texts are given.
std::vector<Encoding> synthetic_rows(const BertConfig& config);

// Per layer, the smoothing factors to use (empty: none), for the INT8 layers of `layers`
// (their static input ranges are ignored: candidates are measured in dynamic INT8).
// `calibration` may be empty. `detected` (optional) receives the number of candidate layers.
std::vector<std::vector<float>> choose_smoothing(const BertConfig& config,
                                                 const BertWeights& weights, int threads,
                                                 const std::vector<runtime::LayerPrecision>& layers,
                                                 const std::vector<Encoding>& calibration,
                                                 const SmoothingOptions& options = {},
                                                 int* detected = nullptr);

}  // namespace encore::quant

// An encoder's parameters as float32 host tensors, found through its architecture's tensor
// name table, converted once from whatever the checkpoint stores (F32, F16, BF16, F64) and
// checked against the config, so the runtime never sees a missing or mis-shaped tensor.
// LayerNorms without bias get a zero bias; linears without bias an empty one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.hpp"
#include "model/encoder_config.hpp"

namespace encore {

// Row-major float32 storage with its shape. Linear weights keep PyTorch's [out, in] layout.
struct HostTensor {
  std::vector<float> data;
  std::vector<std::int64_t> shape;

  std::int64_t numel() const { return static_cast<std::int64_t>(data.size()); }
  bool empty() const { return data.empty(); }
};

struct LayerWeights {
  // Query, key and value projections stacked: rows [0, H) are Q, [H, 2H) K, [2H, 3H) V,
  // so one GEMM computes all three.
  HostTensor qkv_weight;           // [3H, H]
  HostTensor qkv_bias;             // [3H]
  HostTensor attn_output_weight;   // [H, H]  attention.output.dense
  HostTensor attn_output_bias;     // [H]
  HostTensor attn_ln_weight;       // [H]     attention.output.LayerNorm (gamma)
  HostTensor attn_ln_bias;         // [H]     (beta)
  HostTensor intermediate_weight;  // [I, H] intermediate.dense ([2I, H]: value | gate halves)
  HostTensor intermediate_bias;    // [I]
  HostTensor output_weight;        // [H, I] output.dense
  HostTensor output_bias;          // [H]
  HostTensor output_ln_weight;     // [H]    output.LayerNorm
  HostTensor output_ln_bias;       // [H]
  // Pre-LN layers: attn_ln_* normalises the layer's input (absent in ModernBERT's layer 0),
  // output_ln_* the FFN's input.
  bool has_attn_ln = true;
  // DeBERTa without share_att_key: the relative embeddings' own projections.
  HostTensor pos_key_weight, pos_key_bias, pos_query_weight, pos_query_bias;  // [H, H], [H]
  // Only in plans: the relative embeddings already through the position projections
  // ('<query>.pos_key_projected' / '.pos_query_projected', [2 * span, H]), computed from the
  // FP32 weights before the plan rounded them.
  HostTensor pos_key_projected, pos_query_projected;

  // Only in INT8 plans (`encore build`): per-output-channel scales of the stored s8 weights,
  // whose dequantized values (q·scale) the weight tensors above then hold.
  HostTensor qkv_weight_scale, attn_output_weight_scale, intermediate_weight_scale,
      output_weight_scale;
  // Only in INT8 plans with smoothed inputs: the factors s_j the weights above already carry
  // and the quantization pass divides by ('<prefix>.input_smoothing': attention.self,
  // intermediate.dense, output.dense).
  HostTensor qkv_input_smoothing, intermediate_input_smoothing, output_input_smoothing;
};

// Bytes the checkpoint spends on the tensors encore loaded, per stored dtype.
struct DTypeUsage {
  std::size_t tensors = 0;
  std::int64_t elements = 0;
  std::size_t bytes = 0;
};

struct EncoderWeights {
  HostTensor word_embeddings;        // [V, E] (E = embedding_size, usually H)
  HostTensor position_embeddings;    // [P, E], empty without learned positions
  HostTensor token_type_embeddings;  // [T, E], empty without token types
  HostTensor embeddings_ln_weight;   // [E]
  HostTensor embeddings_ln_bias;     // [E]
  HostTensor embedding_projection_weight;  // [H, E] when E != H (ELECTRA, ALBERT)
  HostTensor embedding_projection_bias;    // [H]
  HostTensor relative_bias;                // [buckets, heads] (MPNet)
  HostTensor relative_embeddings;          // [2 * span, H] (DeBERTa)
  HostTensor relative_norm_weight, relative_norm_bias;
  HostTensor conv_weight, conv_bias;       // [H, H, K], [H] (DeBERTa ConvLayer)
  HostTensor conv_norm_weight, conv_norm_bias;
  std::vector<LayerWeights> layers;
  HostTensor final_norm_weight, final_norm_bias;  // [H] (pre-LN models)

  bool has_pooler = false;
  HostTensor pooler_weight;  // [H, H]
  HostTensor pooler_bias;    // [H]

  // HeadKind::Dense: dense [H, H] (+ bias), optional norm [H], before the classifier.
  HostTensor head_dense_weight, head_dense_bias, head_norm_weight, head_norm_bias;

  bool has_classifier = false;
  HostTensor classifier_weight;  // [num_labels, H]
  HostTensor classifier_bias;    // [num_labels]

  // Reporting: parameters loaded, their storage in the checkpoint, and checkpoint tensors
  // that were not used (pretraining heads, position_ids buffers, extra layers).
  std::int64_t parameter_count = 0;
  std::map<io::DType, DTypeUsage> disk_usage;
  std::vector<std::string> unused_tensors;

  // Accepts names with or without the base model's prefix ("bert.", "roberta.", ...) and
  // legacy LayerNorm gamma/beta.
  // Throws encore::Error naming the file and tensor for a missing tensor, a non-float
  // dtype, a wrong shape, an incomplete pooler/classifier, or a classifier whose label
  // count differs from the config.
  static EncoderWeights load(const io::WeightStore& store, const EncoderConfig& config);
};

}  // namespace encore

// Numeric precision of a model's encoder layers, as users choose it (`--precision`).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace encore {

enum class Precision {
  FP32,
  BF16,         // bf16 weights and GEMM inputs, f32 accumulation; everything else f32
  Int8Dynamic,  // s8 weights per channel, u8 activations scaled per token on the fly
  Int8Static,   // s8 weights per channel, u8 activations with calibrated per-tensor ranges
};

// "fp32", "bf16", "int8-dynamic", "int8-static".
std::string to_string(Precision p);
// Accepts the names above and "int8" (= int8-dynamic); throws InputError otherwise.
Precision parse_precision(const std::string& name);
// Every precision, cheapest-to-set-up first.
std::vector<Precision> all_precisions();

}  // namespace encore

#include "encore/precision.hpp"

#include "encore/error.hpp"

namespace encore {

std::string to_string(Precision p) {
  switch (p) {
    case Precision::FP32: return "fp32";
    case Precision::BF16: return "bf16";
    case Precision::Int8Dynamic: return "int8-dynamic";
    case Precision::Int8Static: return "int8-static";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::FP32;
  if (name == "bf16") return Precision::BF16;
  if (name == "int8" || name == "int8-dynamic") return Precision::Int8Dynamic;
  if (name == "int8-static") return Precision::Int8Static;
  throw InputError("unknown precision '" + name +
                   "' (expected fp32, bf16, int8, int8-dynamic or int8-static)");
}

std::vector<Precision> all_precisions() {
  return {Precision::FP32, Precision::BF16, Precision::Int8Dynamic, Precision::Int8Static};
}

}  // namespace encore

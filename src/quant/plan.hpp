// `encore build` plans: a folder that loads like a Hugging Face model folder (config.json,
// tokenizer files, model.safetensors) whose weights are already in their compute precision
// (I8 + per-channel F32 scales, or BF16), plus `encore-plan.json`: the format version, the
// precision of every layer, calibrated activation ranges and a checksum of the weights. A
// plan is validated on load like safetensors is: version, names, ranges, size and checksum.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "encore/model.hpp"
#include "encore/precision.hpp"
#include "runtime/encoder.hpp"

namespace encore::quant {

// 2: tensors named by the model's architecture table (any model_type); smoothing factors at
// '<q or qkv projection>.input_smoothing'.
constexpr int kPlanVersion = 2;
constexpr const char* kPlanFile = "encore-plan.json";

struct PlanManifest {
  int version = kPlanVersion;
  Precision precision = Precision::FP32;
  std::vector<runtime::LayerPrecision> layers;
  std::string source_model;
  // INT8 static only.
  std::string calibration_method, calibration_source;
  double calibration_percentile = 0;
  std::size_t calibration_rows = 0;
  bool fallback_auto = false;
  double fallback_min_cosine = 0;
  // Filled by write_plan / checked by read_plan.
  std::uintmax_t weights_bytes = 0;
  std::string weights_checksum;
};

bool is_plan_dir(const std::filesystem::path& dir);

// Reads and validates DIR/encore-plan.json and the checksum of DIR/model.safetensors.
// Throws encore::Error naming the file and what is wrong.
PlanManifest read_plan(const std::filesystem::path& dir);

// Writes a plan of the Hugging Face folder `source_dir` in the precisions of `manifest` to
// `out_dir` (created; an existing plan there is replaced, any other non-empty folder is
// refused). Weights are quantized exactly as the in-memory engine quantizes them, so a loaded
// plan computes bit-identical outputs.
void write_plan(const std::filesystem::path& source_dir, const std::filesystem::path& out_dir,
                PlanManifest manifest);

// Writes a plan of a loaded `model` (a Hugging Face folder, not a plan) in its own precision,
// recording the calibration and fallback `options` it was loaded with; returns the manifest.
// What `encore build` and the Python module's Model.save do.
PlanManifest write_model_plan(const Model& model, const ModelOptions& options,
                              const std::filesystem::path& out_dir);

// 64-bit checksum of a file's bytes, as hex (the plan's "checksum").
std::string file_checksum(const std::filesystem::path& path);

}  // namespace encore::quant

// The fused operations a forward pass runs, in order, with their shapes: what `encore inspect`
// prints and draws, and what the profiler's events are named after.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/encoder_config.hpp"

namespace encore::runtime {

struct PlanStep {
  std::string name;    // as in profiles: "embeddings", "layer0.qkv_gemm", ...
  std::string kind;    // gather_layernorm | gemm | gemm_gelu | attention | add_layernorm | ...
  std::string input;   // shapes in terms of T (tokens in the batch) and B (sequences)
  std::string output;
  std::int64_t weights = 0;        // parameters this step reads
  double flops_per_token = 0;      // at the given sequence length
  int layer = -1;
};

std::vector<PlanStep> execution_plan(const EncoderConfig& c, bool pooler, bool classifier, std::int64_t seq_len);

// GraphViz DOT of the plan: one node per fused op, residual edges included.
std::string plan_to_dot(const std::vector<PlanStep>& plan, const std::string& title);

}  // namespace encore::runtime

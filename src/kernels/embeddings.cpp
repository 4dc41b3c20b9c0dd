#include "kernels/embeddings.hpp"

#include <algorithm>

#include "kernels/layer_norm.hpp"
#include "kernels/simd.hpp"

namespace encore::kernels {
namespace {

ENCORE_SIMD_CLONES
void sum3(const float* a, const float* b, const float* c, std::int32_t n, float* out) {
  for (std::int32_t i = 0; i < n; ++i) out[i] = a[i] + b[i] + c[i];
}

ENCORE_SIMD_CLONES
void sum2(const float* a, const float* b, std::int32_t n, float* out) {
  for (std::int32_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

}  // namespace

void embed_tokens(const std::int32_t* ids, const std::int32_t* positions,
                  const std::int32_t* type_ids, std::int64_t tokens, const float* word,
                  const float* position, const float* token_type, const float* gamma,
                  const float* beta, float eps, std::int32_t hidden, float* out) {
#pragma omp parallel for schedule(static) if (tokens * hidden > 32768)
  for (std::int64_t t = 0; t < tokens; ++t) {
    float* row = out + t * hidden;
    const float* w = word + static_cast<std::int64_t>(ids[t]) * hidden;
    const float* p =
        position ? position + static_cast<std::int64_t>(positions[t]) * hidden : nullptr;
    const float* k =
        token_type ? token_type + static_cast<std::int64_t>(type_ids[t]) * hidden : nullptr;
    if (p && k) {
      sum3(w, p, k, hidden, row);
    } else if (p || k) {
      sum2(w, p ? p : k, hidden, row);
    } else {
      std::copy_n(w, hidden, row);
    }
  }
  if (gamma) add_layer_norm(out, nullptr, gamma, beta, eps, tokens, hidden, out);
}

}  // namespace encore::kernels

#pragma once

#include <cstdint>

namespace encore::kernels {

// out[t] = LayerNorm(word[ids[t]] + position[positions[t]] + token_type[type_ids[t]]) over
// `hidden` features; `position` and `token_type` may be null (the model has no such table).
// A null `gamma` leaves out the LayerNorm (the sum only: DeBERTa normalizes after projecting).
// Callers validate ids against the table sizes.
void embed_tokens(const std::int32_t* ids, const std::int32_t* positions,
                  const std::int32_t* type_ids, std::int64_t tokens, const float* word,
                  const float* position, const float* token_type, const float* gamma,
                  const float* beta, float eps, std::int32_t hidden, float* out);

}  // namespace encore::kernels

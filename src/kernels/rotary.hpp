// Rotary position embeddings (RoFormer; ModernBERT): each head's query and key vectors are
// rotated by position-dependent angles, pairing channel c with channel c + d/2 ("rotate
// half", as transformers' apply_rotary_pos_emb does).
#pragma once

#include <cstdint>
#include <vector>

namespace encore::kernels {

// cos/sin of position p times the inverse frequency of channel pair c, for p < positions:
// cos[p * d/2 + c]. Computed in float32 like transformers (inv_freq = 1 / base^(2c/d),
// angle = inv_freq * p), so the angles round as they do there.
struct RotaryTable {
  std::int32_t head_dim = 0;
  std::vector<float> cos, sin;
  static RotaryTable make(double base, std::int32_t head_dim, std::int32_t positions);
  std::int32_t positions() const {
    return head_dim ? static_cast<std::int32_t>(cos.size() / static_cast<std::size_t>(head_dim / 2))
                    : 0;
  }
};

// Rotates the Q and K thirds of qkv rows ([tokens, 3H], head h at columns h*d) in place;
// positions[t] < table.positions() (callers check).
void apply_rotary(float* qkv, const std::int32_t* positions, std::int64_t tokens,
                  std::int32_t hidden, std::int32_t heads, const RotaryTable& table);

}  // namespace encore::kernels

// Small vocabulary types describing an encoder model, shared by the loader and the public
// API (what a model computes and how its outputs are meant to be read).
#pragma once

#include <optional>
#include <string_view>

namespace encore {

// The feed-forward activation (config.json "hidden_act").
enum class Activation {
  Gelu,      // "gelu": exact, x * Phi(x) with erf
  GeluTanh,  // "gelu_new", "gelu_pytorch_tanh": the tanh approximation
  Relu,      // "relu"
  Silu,      // "silu", "swish"
  Tanh,      // "tanh" (classification heads)
};

// The sentence embedding a model was trained to produce (sentence-transformers'
// 1_Pooling/config.json); None when the folder does not say.
enum class Pooling { None, Cls, Mean };

// config.json "problem_type": how classification logits are meant to be turned into
// predictions (softmax, independent sigmoids, or raw values).
enum class ProblemType { Unspecified, SingleLabel, MultiLabel, Regression };

// Hugging Face spellings; parse_* return nullopt for anything else.
std::string_view to_string(Activation a);
std::string_view to_string(Pooling p);
std::string_view to_string(ProblemType p);
std::optional<Activation> parse_activation(std::string_view hf_name);
std::optional<ProblemType> parse_problem_type(std::string_view hf_name);

}  // namespace encore

#pragma once

namespace encore::kernels {

// Activations the BERT family uses; GeluErf is the exact ("gelu") form, GeluTanh the
// approximation ("gelu_new", "gelu_pytorch_tanh").
enum class Activation { None, GeluErf, GeluTanh, Relu, Silu, Tanh };

}  // namespace encore::kernels

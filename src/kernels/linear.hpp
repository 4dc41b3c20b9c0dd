// y = act(x · Wᵀ + b) through oneDNN matmul. The weight is reordered once, at load, into the
// blocked layout oneDNN's brgemm kernels want; primitives are created per row count M (fixed
// shapes run the brgemm path, ~6x faster than runtime-M gemm at small M) and cached.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/activation.hpp"

namespace encore::kernels {

dnnl::engine& cpu_engine();

class Linear {
 public:
  // `weight` is [out, in] row-major (PyTorch's nn.Linear layout); `bias` may be null.
  Linear(const float* weight, const float* bias, int in_features, int out_features,
         Activation activation);
  Linear(Linear&&) = delete;

  int in_features() const { return in_; }
  int out_features() const { return out_; }
  Activation activation() const { return activation_; }

  // x: [rows, in] with leading dimension `ldx`; y: [rows, out] with leading dimension `ldy`.
  // `scratch` must hold scratchpad_bytes(rows) bytes.
  void forward(const float* x, std::int64_t rows, float* y, dnnl::stream& stream,
               void* scratch, std::int64_t ldx = 0, std::int64_t ldy = 0) const;
  std::size_t scratchpad_bytes(std::int64_t rows) const;

  // Bytes of the packed weight (for memory reports).
  std::size_t packed_bytes() const { return weights_.get_desc().get_size(); }

 private:
  struct Prepared {
    dnnl::matmul primitive;
    dnnl::memory::desc scratch_desc;
    std::size_t scratchpad = 0;
  };
  const Prepared& prepared(std::int64_t rows, std::int64_t ldx, std::int64_t ldy) const;

  int in_, out_;
  Activation activation_;
  dnnl::memory weights_;  // packed
  dnnl::memory bias_;
  dnnl::memory::desc packed_desc_;

  struct Key {
    std::int64_t rows, ldx, ldy;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::int64_t>()(k.rows * 1000003 + k.ldx * 131 + k.ldy);
    }
  };
  mutable std::mutex mutex_;
  mutable std::unordered_map<Key, std::unique_ptr<Prepared>, KeyHash> cache_;
};

}  // namespace encore::kernels

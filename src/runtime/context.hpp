// Per-caller state for running a model: the activation arena and the oneDNN stream. A loaded
// model is immutable and shared; each thread that runs it owns a Context.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace encore::runtime {

class Context {
 public:
  Context();

  // Returns a buffer of at least `floats` floats, reused across calls: one allocation per
  // high-water mark, never per layer.
  float* arena(std::size_t floats);
  std::size_t arena_bytes() const { return capacity_ * sizeof(float); }
  dnnl::stream& stream() { return stream_; }

 private:
  struct FreeDeleter {
    void operator()(float* p) const;
  };
  std::unique_ptr<float, FreeDeleter> buffer_;
  std::size_t capacity_ = 0;
  dnnl::stream stream_;
};

}  // namespace encore::runtime

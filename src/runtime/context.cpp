#include "runtime/context.hpp"

#include <cstdlib>
#include <new>

#include "kernels/linear.hpp"

namespace encore::runtime {

Context::Context() : stream_(kernels::cpu_engine()) {}

void Context::FreeDeleter::operator()(float* p) const { std::free(p); }

float* Context::arena(std::size_t floats) {
  if (floats > capacity_) {
    // Grow with headroom so slowly growing batches do not reallocate every call.
    const std::size_t n = floats + floats / 4;
    void* p = std::aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
    if (!p) throw std::bad_alloc();
    buffer_.reset(static_cast<float*>(p));
    capacity_ = n;
  }
  return buffer_.get();
}

}  // namespace encore::runtime

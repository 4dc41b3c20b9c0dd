#include "core/weight_memory.hpp"

#include <immintrin.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/env.hpp"

namespace encore {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kHugeFrom = std::size_t{1} << 20;

std::size_t round_up(std::size_t n, std::size_t to) {
  return (n + to - 1) / to * to;
}

// Whether large weight buffers are advised to be huge pages in this process.
bool weight_memory_uses_huge_pages() {
  static const bool on = !env_off("ENCORE_HUGE_PAGES");
  return on;
}

}  // namespace

void* allocate_weight_memory(std::size_t bytes) {
  const bool huge = bytes >= kHugeFrom && weight_memory_uses_huge_pages();
  const std::size_t align = huge ? kHugePage : 64;
  const std::size_t size = round_up(bytes == 0 ? 1 : bytes, align);
  void* p = std::aligned_alloc(align, size);
  if (!p) throw std::bad_alloc();
  // Advice only: a kernel without THP (or with it off) returns an error and keeps small pages.
  if (huge) (void)madvise(p, size, MADV_HUGEPAGE);
  std::memset(p, 0, size);
  return p;
}

void free_weight_memory(void* p) noexcept {
  std::free(p);
}

void evict_from_caches(const void* p, std::size_t bytes) noexcept {
  // clflush is SSE2, baseline x86-64.
  const auto* c = static_cast<const char*>(p);
  for (std::size_t off = 0; off < bytes; off += 64) _mm_clflush(c + off);
  _mm_mfence();
}

}  // namespace encore

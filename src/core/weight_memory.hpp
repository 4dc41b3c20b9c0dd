#pragma once
// Memory for packed weights: large, long-lived, and streamed from DRAM on every forward of
// few-token batches. Buffers of 1 MB and more are 2 MB-aligned and advised to be transparent
// huge pages (Linux `madvise(MADV_HUGEPAGE)`; the default THP mode is "madvise"), so streaming
// 340 MB of BERT-base weights touches ~170 pages instead of ~85,000 (TLB misses, and two-level
// page walks under virtualisation). ENCORE_HUGE_PAGES=0 turns it off for A/B runs.

#include <cstddef>

namespace encore {

// Zero-filled, 64-byte aligned at least; throws std::bad_alloc. Free with free_weight_memory.
void* allocate_weight_memory(std::size_t bytes);
void free_weight_memory(void* p) noexcept;

// Drops these bytes from every cache level (clflush), so that the next read streams them from
// memory, as a forward of a model larger than the last-level cache does: kernel timings at
// few rows must see that, not a layer whose weights a previous timing run left in L3.
void evict_from_caches(const void* p, std::size_t bytes) noexcept;

}  // namespace encore

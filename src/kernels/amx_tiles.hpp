// What encore's AMX GEMMs (int8_gemm_amx.cpp, bf16_gemm_amx.cpp) share: the tile shapes, the
// split of a GEMM into tasks and the per-thread task loop. Internal to the kernels.
//
// Both read weights packed in panels of 64 output columns whose k-groups are 64 columns x 4
// bytes (4 int8 k, or 2 bf16 k, per column): a B tile (16 k-groups x 16 columns) is a 64-byte
// slice of 16 consecutive groups, loaded with a 256-byte stride. A block is 32 rows x 32
// columns: 2 A tiles (tmm4-5) x 2 B tiles (tmm6-7) -> 4 C tiles (tmm0-3), finished through a
// buffer in L1 by the AVX-512 epilogue. Tasks are (32-row strip) x (column chunk); a
// thread runs consecutive strips of one chunk, so the chunk's weights stay in its L2 while
// the strips stream past.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace encore::kernels::amx {

#define ENCORE_AMX_TARGET \
  __attribute__((         \
      target("amx-tile,amx-int8,amx-bf16,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma")))

constexpr int kPanel = 64;
constexpr int kGroupBytes = kPanel * 4;
constexpr int kTileRows = 16;
constexpr int kStrip = 2 * kTileRows;  // rows per block
constexpr int kBlockCols = 32;         // columns per block: two 16-column B tiles

// The hardware's tile configuration (palette 1).
struct alignas(64) TileConfig {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};

// tmm0-3 C, tmm4-5 A, tmm6-7 B, for a strip whose halves have rows0 and rows1 (may be 0) rows.
ENCORE_AMX_TARGET inline void configure(int rows0, int rows1) {
  TileConfig c;
  const int r1 = std::max(rows1, 1);  // an unused tile still needs a valid shape
  for (int t = 0; t < 8; ++t) c.colsb[t] = 64;
  c.rows[0] = c.rows[1] = c.rows[4] = static_cast<std::uint8_t>(rows0);
  c.rows[2] = c.rows[3] = c.rows[5] = static_cast<std::uint8_t>(r1);
  c.rows[6] = c.rows[7] = kTileRows;
  _tile_loadconfig(&c);
}

struct Partition {
  std::int64_t rows = 0, strips = 0, tasks = 0;
  int n = 0, blocks_n = 0, chunk_blocks = 1;
};

// Column chunks (multiples of 32 columns, at most 256) small enough that every thread gets
// several tasks.
inline Partition partition(std::int64_t rows, int n, int padded_n, int threads) {
  Partition p;
  p.rows = rows;
  p.n = n;
  p.strips = (rows + kStrip - 1) / kStrip;
  p.blocks_n = (padded_n + kBlockCols - 1) / kBlockCols;
  const std::int64_t want_chunks =
      std::max<std::int64_t>(1, (8 * std::int64_t{threads} + p.strips - 1) / p.strips);
  p.chunk_blocks = static_cast<int>(
      std::clamp<std::int64_t>((p.blocks_n + want_chunks - 1) / want_chunks, 1, 8));
  p.tasks = p.strips * ((p.blocks_n + p.chunk_blocks - 1) / p.chunk_blocks);
  return p;
}

// Byte offset of columns [col0, col0 + 32) in panel-packed weights with `groups` k-groups.
inline std::int64_t panel_offset(int col0, int groups) {
  return static_cast<std::int64_t>(col0 / kPanel) * groups * kGroupBytes + (col0 % kPanel) * 4;
}

// This thread's share of the tasks (an orphaned `omp for`: the parallel region is opened by a
// function compiled without AMX, so its outlined body needs no target attributes). The Block
// provides accumulate<two_halves>(row0, col0, acc): the block's C tiles over all of k, stored
// to acc, and finish(row0, mr, col0, acc): the epilogue.
// (Splitting k so that a strip's A stays in L1 across the blocks of a task was measured: no
// faster on Sapphire Rapids, where one tile load per tdp is the bound.)
template <class Block>
ENCORE_AMX_TARGET void run_tasks(const Partition& p, const Block& block) {
  alignas(64) std::int32_t acc[kStrip * kBlockCols];
  int configured = -1;  // rows of the strip the tiles are shaped for
#pragma omp for schedule(static)
  for (std::int64_t t = 0; t < p.tasks; ++t) {
    const int chunk = static_cast<int>(t / p.strips);
    const std::int64_t row0 = (t % p.strips) * kStrip;
    const int mr = static_cast<int>(std::min<std::int64_t>(kStrip, p.rows - row0));
    if (mr != configured) {
      configure(std::min(mr, kTileRows), std::max(mr - kTileRows, 0));
      configured = mr;
    }
    const int b_begin = chunk * p.chunk_blocks;
    const int b_end =
        std::min({p.blocks_n, b_begin + p.chunk_blocks, (p.n + kBlockCols - 1) / kBlockCols});
    for (int b = b_begin; b < b_end; ++b) {
      if (mr > kTileRows)
        block.template accumulate<true>(row0, b * kBlockCols, acc);
      else
        block.template accumulate<false>(row0, b * kBlockCols, acc);
      block.finish(row0, mr, b * kBlockCols, acc);
    }
  }
  // Other code on this thread (oneDNN's AMX kernels) configures tiles its own way.
  if (configured >= 0) _tile_release();
}

// Stores the C tiles of a block to acc: [32 rows][32 columns] of 4-byte values.
template <bool kTwoHalves, class T>
ENCORE_AMX_TARGET inline void store_block(T* acc) {
  constexpr int kStride = kBlockCols * 4;
  _tile_stored(0, acc, kStride);
  _tile_stored(1, acc + 16, kStride);
  if constexpr (kTwoHalves) {
    _tile_stored(2, acc + kTileRows * kBlockCols, kStride);
    _tile_stored(3, acc + kTileRows * kBlockCols + 16, kStride);
  }
}

ENCORE_AMX_TARGET inline void zero_block(bool two_halves) {
  _tile_zero(0);
  _tile_zero(1);
  if (two_halves) {
    _tile_zero(2);
    _tile_zero(3);
  }
}

}  // namespace encore::kernels::amx

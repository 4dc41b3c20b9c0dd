// Per-function CPU dispatch: hot loops are compiled for AVX-512 (x86-64-v4), AVX2+FMA (v3) and a
// baseline, and the loader picks the best at startup (GCC function multi-versioning), so one
// binary is fast on this Zen 4 and still runs elsewhere.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(ENCORE_NO_CLONES)
#define ENCORE_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ENCORE_SIMD_CLONES
#endif

// Facts about this machine for benchmark reports: CPU model, cores, ISA extensions that
// matter for GEMMs, memory use, and the measured FP32 GEMM peak.
#pragma once

#include <string>
#include <vector>

namespace encore::bench {

struct MachineInfo {
  std::string cpu;
  int cores = 0;  // CPUs this process may use
  std::vector<std::string> isa;  // usable extensions: avx2, avx512_vnni, amx_int8, ...
  std::string isa_level;         // x86-64-v2 / -v3 / -v4
};
MachineInfo machine_info();

// Resident set size now and the peak so far, in MB (from /proc/self/status).
double rss_mb();
double peak_rss_mb();

// FP32 GEMM throughput with oneDNN at BERT-like shapes on `threads` threads, in GFLOP/s.
double measure_gemm_peak(int threads, double seconds = 3.0);

// The peak measured earlier on this machine for this thread count ($XDG_CACHE_HOME or
// ~/.cache/encore/gemm_peak.json), or 0 when never measured.
double cached_gemm_peak(int threads);
void store_gemm_peak(int threads, double gflops);

}  // namespace encore::bench

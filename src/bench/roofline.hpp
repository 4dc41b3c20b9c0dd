// The machine's roofline for encore's forward: GEMM peaks per precision (the best kernel
// encore has for it, at a large BERT shape) and the memory read bandwidth, measured once and
// cached per CPU model and thread count, so each benchmark result can say how far it is from
// what the hardware allows: max(flops / peak, streamed weight bytes / bandwidth).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace encore::bench {

struct Roofline {
  double fp32_gflops = 0;  // 0: not measured
  double bf16_gflops = 0;  // 0: not measured, or no BF16 instructions here
  double int8_gops = 0;
  double read_gbs = 0;

  // The GEMM peak for a result's precision ("fp32", "bf16", "int8-dynamic", ...), 0 if unknown.
  double peak_for(const std::string& precision) const;
  nlohmann::json to_json() const;
  static Roofline from_json(const nlohmann::json& j);
};

struct RooflineBound {
  double time_s = 0;  // the least time the hardware allows; 0 when the roofline is unknown
  std::string bound;  // "compute" or "memory"
};
// Lower bound for `flops` of GEMM work in `precision` that also streams `bytes` from memory.
RooflineBound roofline_time(const Roofline& r, const std::string& precision, double flops,
                            double bytes);

// Read bandwidth of `threads` threads summing a 512 MB buffer (best of several passes), GB/s.
double measure_read_bandwidth(int threads, double seconds = 2.0);
// All four figures, `seconds` each.
Roofline measure_roofline(int threads, double seconds = 2.0);

// Cached per CPU model and thread count ($XDG_CACHE_HOME or ~/.cache/encore/gemm_peak.json).
Roofline cached_roofline(int threads);
void store_roofline(int threads, const Roofline& r);

}  // namespace encore::bench

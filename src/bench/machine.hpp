// Facts about this machine for benchmark reports: CPU model, cores, ISA extensions that
// matter for GEMMs and memory use (the measured peaks are in roofline.hpp).
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

}  // namespace encore::bench

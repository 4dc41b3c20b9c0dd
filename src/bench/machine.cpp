#include "bench/machine.hpp"

#include <fstream>

#include "core/cpu_features.hpp"
#include "runtime/threads.hpp"

namespace encore::bench {
namespace {

double status_field_mb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k = key;
  while (std::getline(in, line)) {
    if (line.compare(0, k.size(), k) == 0) return std::stod(line.substr(k.size())) / 1024.0;  // kB
  }
  return 0;
}

}  // namespace

MachineInfo machine_info() {
  const CpuFeatures& f = cpu_features();
  MachineInfo m;
  m.cores = runtime::available_cpus();
  m.cpu = f.model_name;
  if (m.cpu.empty()) {  // no brand string (some hypervisors): what the kernel says
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (m.cpu.empty() && std::getline(in, line))
      if (line.rfind("model name", 0) == 0) m.cpu = line.substr(line.find(':') + 2);
  }
  m.isa = f.names();
  m.isa_level = f.isa_level();
  return m;
}

double rss_mb() { return status_field_mb("VmRSS:"); }
double peak_rss_mb() { return status_field_mb("VmHWM:"); }

}  // namespace encore::bench

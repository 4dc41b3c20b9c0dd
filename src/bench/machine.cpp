#include "bench/machine.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cpu_features.hpp"
#include "kernels/linear.hpp"
#include "runtime/threads.hpp"

namespace encore::bench {
namespace {

std::filesystem::path cache_file() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::filesystem::path base = xdg && *xdg ? xdg : (home ? std::filesystem::path(home) / ".cache" : "/tmp");
  return base / "encore" / "gemm_peak.json";
}

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

double measure_gemm_peak(int threads, double seconds) {
  runtime::configure_threads(threads);
  // BERT-base FFN shape over 1024 tokens: the GEMM that dominates encoder time.
  const int M = 1024, K = 768, N = 3072;
  std::vector<float> w(static_cast<std::size_t>(N) * K, 0.01f), x(static_cast<std::size_t>(M) * K, 0.02f),
      y(static_cast<std::size_t>(M) * N);
  kernels::Linear lin(w.data(), nullptr, K, N, kernels::Activation::None);
  dnnl::stream s(kernels::cpu_engine());
  std::vector<char> scratch(lin.scratchpad_bytes(M) + 64);
  for (int i = 0; i < 3; ++i) lin.forward(x.data(), M, y.data(), s, scratch.data());
  s.wait();
  const auto t0 = std::chrono::steady_clock::now();
  int runs = 0;
  double elapsed = 0;
  do {
    lin.forward(x.data(), M, y.data(), s, scratch.data());
    s.wait();
    ++runs;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < seconds);
  return 2.0 * M * K * N * runs / elapsed / 1e9;
}

double cached_gemm_peak(int threads) {
  std::ifstream in(cache_file());
  if (!in) return 0;
  try {
    const auto j = nlohmann::json::parse(in);
    const auto key = machine_info().cpu + "/" + std::to_string(threads);
    return j.contains(key) ? j[key].get<double>() : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

void store_gemm_peak(int threads, double gflops) {
  const auto path = cache_file();
  nlohmann::json j = nlohmann::json::object();
  {
    std::ifstream in(path);
    if (in) {
      try {
        j = nlohmann::json::parse(in);
      } catch (const std::exception&) {
        j = nlohmann::json::object();
      }
    }
  }
  j[machine_info().cpu + "/" + std::to_string(threads)] = gflops;
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream out(path);
  out << j.dump(2) << "\n";
}

}  // namespace encore::bench

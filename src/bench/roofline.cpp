#include "bench/roofline.hpp"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include <omp.h>

#include "bench/machine.hpp"
#include "core/cache_dir.hpp"
#include "kernels/linear.hpp"
#include "kernels/simd.hpp"
#include "runtime/threads.hpp"

namespace encore::bench {
namespace {

std::filesystem::path cache_file() { return encore::cache_file("gemm_peak.json"); }

std::string cache_key(int threads) {
  return machine_info().cpu + "/" + std::to_string(threads);
}

template <class F>
double best_rate(double seconds, double work, F&& run) {
  for (int i = 0; i < 2; ++i) run();  // warm up: primitives, caches, pages
  double best = 0, elapsed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  do {
    const auto s = std::chrono::steady_clock::now();
    run();
    const auto e = std::chrono::steady_clock::now();
    best = std::max(best, work / std::chrono::duration<double>(e - s).count());
    elapsed = std::chrono::duration<double>(e - t0).count();
  } while (elapsed < seconds);
  return best;
}

// One linear of the BERT-base FFN shape over 1024 tokens, the GEMM that dominates encoder time.
double linear_peak(kernels::LinearPrecision p, double seconds) {
  const int M = 1024, K = 768, N = 3072;
  std::vector<float> w(static_cast<std::size_t>(N) * K), x(static_cast<std::size_t>(M) * K),
      y(static_cast<std::size_t>(M) * N);
  for (std::size_t i = 0; i < w.size(); ++i)
    w[i] = 0.01f * static_cast<float>(static_cast<int>(i % 17) - 8);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = 0.02f * static_cast<float>(static_cast<int>(i % 13) - 6);
  kernels::Linear lin(w.data(), nullptr, K, N, kernels::Activation::None,
                      {p, std::nullopt, nullptr});
  dnnl::stream s(kernels::cpu_engine());
  std::vector<char> scratch(lin.scratchpad_bytes(M) + 64);
  return best_rate(seconds, 2.0 * M * K * N / 1e9, [&] {
    lin.forward(x.data(), M, y.data(), s, scratch.data());
    s.wait();
  });
}

// The INT8 peak is the better of encore's own kernel and oneDNN's where both can run.
double int8_peak(double seconds) {
  double best = linear_peak(kernels::LinearPrecision::Int8, seconds);
  if (kernels::int8_gemm_supported()) {
    const char* old = std::getenv("ENCORE_INT8_KERNEL");
    const std::string saved = old ? old : "";
    setenv("ENCORE_INT8_KERNEL", "onednn", 1);
    best = std::max(best, linear_peak(kernels::LinearPrecision::Int8, seconds));
    if (old)
      setenv("ENCORE_INT8_KERNEL", saved.c_str(), 1);
    else
      unsetenv("ENCORE_INT8_KERNEL");
  }
  return best;
}

// XOR is associative, so the loop vectorizes with the CPU's widest loads (SIMD clones).
ENCORE_SIMD_CLONES std::uint64_t xor_words(const std::uint64_t* p, std::size_t n) {
  std::uint64_t x = 0;
  for (std::size_t i = 0; i < n; ++i) x ^= p[i];
  return x;
}

}  // namespace

double Roofline::peak_for(const std::string& precision) const {
  if (precision == "fp32") return fp32_gflops;
  if (precision == "bf16") return bf16_gflops;
  if (precision.rfind("int8", 0) == 0) return int8_gops;
  return 0;
}

nlohmann::json Roofline::to_json() const {
  auto v = [](double x) { return x > 0 ? nlohmann::json(x) : nlohmann::json(nullptr); };
  return {{"fp32_gflops", v(fp32_gflops)},
          {"bf16_gflops", v(bf16_gflops)},
          {"int8_gops", v(int8_gops)},
          {"read_gbs", v(read_gbs)}};
}

Roofline Roofline::from_json(const nlohmann::json& j) {
  Roofline r;
  if (j.is_number()) {  // the FP32-only cache of earlier versions
    r.fp32_gflops = j.get<double>();
    return r;
  }
  if (!j.is_object()) return r;
  auto get = [&](const char* k) {
    return j.contains(k) && j[k].is_number() ? j[k].get<double>() : 0.0;
  };
  r.fp32_gflops = get("fp32_gflops");
  r.bf16_gflops = get("bf16_gflops");
  r.int8_gops = get("int8_gops");
  r.read_gbs = get("read_gbs");
  return r;
}

RooflineBound roofline_time(const Roofline& r, const std::string& precision, double flops,
                            double bytes) {
  const double peak = r.peak_for(precision);
  RooflineBound b;
  if (peak <= 0 || r.read_gbs <= 0) return b;
  const double compute = flops / (peak * 1e9), memory = bytes / (r.read_gbs * 1e9);
  b.time_s = std::max(compute, memory);
  b.bound = compute >= memory ? "compute" : "memory";
  return b;
}

double measure_read_bandwidth(int threads, double seconds) {
  const std::size_t n = (512u << 20) / sizeof(std::uint64_t);
  std::unique_ptr<std::uint64_t[]> buf(new std::uint64_t[n]);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::size_t i = 0; i < n; ++i) buf[i] = i;  // first touch by the thread that reads it
  volatile std::uint64_t sink = 0;
  const double gb = static_cast<double>(n * sizeof(std::uint64_t)) / 1e9;
  return best_rate(seconds, gb, [&] {
    std::uint64_t total = 0;
    constexpr std::size_t kBlock = 1u << 16;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(^ : total)
    for (std::size_t b = 0; b < n; b += kBlock)
      total ^= xor_words(buf.get() + b, std::min(kBlock, n - b));
    sink = sink ^ total;
  });
}

Roofline measure_roofline(int threads, double seconds) {
  runtime::configure_threads(threads);
  Roofline r;
  r.fp32_gflops = linear_peak(kernels::LinearPrecision::FP32, seconds);
  if (kernels::cpu_has_native_bf16())
    r.bf16_gflops = linear_peak(kernels::LinearPrecision::BF16, seconds);
  r.int8_gops = int8_peak(seconds);
  r.read_gbs = measure_read_bandwidth(threads, seconds);
  return r;
}

Roofline cached_roofline(int threads) {
  std::ifstream in(cache_file());
  if (!in) return {};
  try {
    const auto j = nlohmann::json::parse(in);
    const auto key = cache_key(threads);
    return j.contains(key) ? Roofline::from_json(j[key]) : Roofline{};
  } catch (const std::exception&) {
    return {};
  }
}

void store_roofline(int threads, const Roofline& r) {
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
  if (!j.is_object()) j = nlohmann::json::object();
  j[cache_key(threads)] = r.to_json();
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream out(path);
  out << j.dump(2) << "\n";
}

}  // namespace encore::bench

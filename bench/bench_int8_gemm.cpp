// INT8 linear layers: encore's measured choice, its VNNI and AMX kernels forced, and oneDNN's
// u8s8 matmul (ENCORE_INT8_KERNEL=vnni|amx|onednn; amx falls back to vnni without AMX),
// on BERT-base's four GEMM shapes and the row counts of online (1, 16), small-batch (128) and
// large-batch (1024) traffic. Both include the dynamic per-token quantization of the input and
// the dequantizing epilogue (GELU on the FFN-up shape), i.e. one Linear::forward.
//   build/bench/bench_int8_gemm --benchmark_filter=768x3072 (2 threads: OMP_NUM_THREADS=2)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/linear.hpp"

namespace {

using encore::kernels::Activation;
using encore::kernels::Linear;
using encore::kernels::LinearPrecision;
using encore::kernels::LinearQuantization;

std::vector<float> normal(std::size_t n, unsigned seed, float stddev) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void BM_Int8Linear(benchmark::State& state, int in, int out, const char* kernel) {
  const std::int64_t rows = state.range(0);
  const auto w = normal(static_cast<std::size_t>(in) * out, 1, 0.05f);
  const auto b = normal(static_cast<std::size_t>(out), 2, 1.f);
  const auto x = normal(static_cast<std::size_t>(rows) * in, 3, 1.f);
  if (*kernel) setenv("ENCORE_INT8_KERNEL", kernel, 1);
  LinearQuantization q;
  q.precision = LinearPrecision::Int8;
  Linear lin(w.data(), b.data(), in, out, out > in ? Activation::GeluErf : Activation::None, q);
  unsetenv("ENCORE_INT8_KERNEL");
  std::vector<std::uint8_t> scratch(lin.scratchpad_bytes(rows));
  std::vector<float> y(static_cast<std::size_t>(rows) * out);
  dnnl::stream s(encore::kernels::cpu_engine());
  for (auto _ : state) {
    lin.forward(x.data(), rows, y.data(), s, scratch.data());
    s.wait();
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GOPS"] = benchmark::Counter(2.0 * static_cast<double>(rows) * in * out,
                                              benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

void register_all() {
  const int shapes[][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};
  for (const auto& s : shapes)
    for (const char* kernel : {"", "vnni", "amx", "onednn"}) {
      const std::string name = "Int8Linear/" + std::to_string(s[0]) + "x" + std::to_string(s[1]) +
                               "/" + (*kernel ? kernel : "encore-measured");
      benchmark::RegisterBenchmark(name.c_str(), BM_Int8Linear, s[0], s[1], kernel)
          ->Arg(1)
          ->Arg(16)
          ->Arg(128)
          ->Arg(1024)
          ->Unit(benchmark::kMicrosecond)
          ->MinTime(0.5);
    }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

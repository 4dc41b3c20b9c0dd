// Benchmark reports for people: a markdown table and an SVG picture (latency distribution per
// shape or workload, and throughput per result).
#pragma once

#include <string>
#include <vector>

#include "bench/benchmark.hpp"

namespace encore::bench {

std::string markdown_report(const std::vector<Result>& results, const std::string& title, double peak_gflops);
std::string svg_report(const std::vector<Result>& results, const std::string& title);

}  // namespace encore::bench

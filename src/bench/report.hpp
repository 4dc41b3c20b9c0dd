// Benchmark reports for people: a markdown table and an SVG picture (latency distribution per
// shape or workload, and throughput per result).
#pragma once

#include <string>
#include <vector>

#include "bench/benchmark.hpp"

namespace encore::bench {

// With a "% of roofline" column when the results carry their roofline fraction.
std::string markdown_report(const std::vector<Result>& results, const std::string& title);
std::string svg_report(const std::vector<Result>& results, const std::string& title);

}  // namespace encore::bench

#include "bench/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace encore::bench {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

// A "nice" axis maximum: 1, 2 or 5 times a power of ten, at least v.
double nice_max(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= v) return m * p;
  return 10 * p;
}

}  // namespace

std::string markdown_report(const std::vector<Result>& results, const std::string& title) {
  bool roof = false;
  for (const auto& r : results) roof = roof || r.roofline_fraction > 0;
  std::ostringstream o;
  o << "### " << title << "\n\n";
  o << "| shape / workload | precision | runs | mean ms | std | p50 | p95 | p99 | seq/s | tokens/s | GFLOP/s |"
    << (roof ? " % of roofline |" : "") << "\n";
  o << "|---|---|---|---|---|---|---|---|---|---|---|" << (roof ? "---|" : "") << "\n";
  for (const auto& r : results) {
    const auto& l = r.latency_ms;
    o << "| " << r.name << " | " << r.precision << " | " << r.runs << " | " << fmt("%.2f", l.mean) << " | "
      << fmt("%.2f", l.std) << " | " << fmt("%.2f", l.p50) << " | " << fmt("%.2f", l.p95) << " | "
      << fmt("%.2f", l.p99) << " | " << fmt("%.1f", r.seq_per_s) << " | " << fmt("%.0f", r.tokens_per_s) << " | "
      << fmt("%.1f", r.gflops) << " |";
    if (roof) o << " " << (r.roofline_fraction > 0 ? fmt("%.1f", 100.0 * r.roofline_fraction) + " (" + r.bound + ")" : "-") << " |";
    o << "\n";
  }
  return o.str();
}

std::string svg_report(const std::vector<Result>& results, const std::string& title) {
  const int W = 900, left = 170, right = 40, row_h = 34, top = 60;
  const int n = static_cast<int>(results.size());
  const int panel1_h = n * row_h + 50, panel2_h = n * row_h + 50;
  const int H = top + panel1_h + 40 + panel2_h + 30;
  const int plot_w = W - left - right;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << W / 2 << "\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">"
    << xml_escape(title) << "</text>\n";

  // Panel 1: latency per call, min..p99 whisker, p50..p95 box, mean tick. Each row is scaled to
  // its own p99 so short and long shapes are both readable; the numbers are printed.
  int y0 = top;
  s << "<text x=\"" << left << "\" y=\"" << y0 << "\" font-weight=\"bold\">Latency per forward call (ms): "
    << "whisker min-p99, box p50-p95, black tick mean; each row scaled to its own p99</text>\n";
  for (int i = 0; i < n; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    const auto& l = r.latency_ms;
    const double scale = plot_w * 0.75 / std::max(l.p99, 1e-9);
    const int y = y0 + 20 + i * row_h;
    auto X = [&](double v) { return left + static_cast<int>(v * scale); };
    s << "<text x=\"" << left - 8 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">" << xml_escape(r.name) << " "
      << xml_escape(r.precision) << "</text>\n";
    s << "<line x1=\"" << X(l.min) << "\" y1=\"" << y + 11 << "\" x2=\"" << X(l.p99) << "\" y2=\"" << y + 11
      << "\" stroke=\"#555\" stroke-width=\"1.5\"/>\n";
    s << "<rect x=\"" << X(l.p50) << "\" y=\"" << y + 3 << "\" width=\"" << std::max(2, X(l.p95) - X(l.p50))
      << "\" height=\"16\" fill=\"#7aa6e8\" stroke=\"#2b5797\"/>\n";
    s << "<line x1=\"" << X(l.mean) << "\" y1=\"" << y << "\" x2=\"" << X(l.mean) << "\" y2=\"" << y + 22
      << "\" stroke=\"black\" stroke-width=\"2\"/>\n";
    s << "<text x=\"" << X(l.p99) + 8 << "\" y=\"" << y + 15 << "\" fill=\"#333\">p50 " << fmt("%.2f", l.p50)
      << " / p99 " << fmt("%.2f", l.p99) << " ms</text>\n";
  }

  // Panel 2: throughput in real tokens per second.
  y0 = top + panel1_h + 40;
  double max_tps = 0;
  for (const auto& r : results) max_tps = std::max(max_tps, r.tokens_per_s);
  const double axis = nice_max(max_tps);
  s << "<text x=\"" << left << "\" y=\"" << y0 << "\" font-weight=\"bold\">Throughput (real tokens/s; "
    << "axis 0-" << fmt("%.0f", axis) << ")</text>\n";
  for (int i = 0; i < n; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    const int y = y0 + 20 + i * row_h;
    const int w = static_cast<int>(plot_w * 0.8 * r.tokens_per_s / axis);
    s << "<text x=\"" << left - 8 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">" << xml_escape(r.name)
      << " " << xml_escape(r.precision) << " (batch " << r.batch << ")</text>\n";
    s << "<rect x=\"" << left << "\" y=\"" << y + 3 << "\" width=\"" << std::max(w, 1)
      << "\" height=\"18\" fill=\"#8bc48a\" stroke=\"#3c7a3b\"/>\n";
    s << "<text x=\"" << left + w + 8 << "\" y=\"" << y + 16 << "\">" << fmt("%.0f", r.tokens_per_s)
      << " tok/s, " << fmt("%.1f", r.seq_per_s) << " seq/s</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace encore::bench

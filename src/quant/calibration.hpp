// INT8 static-quantization calibration: turns statistics of one activation tensor, gathered
// by running the FP32 model over calibration texts, into the per-tensor range [lo, hi] of its
// asymmetric u8 quantization (scale = (hi - lo) / 255, zero point = round(-lo / scale)).
//
// Calibration is two passes over the data. Pass 1 (observe_minmax) tracks the running min and
// max. Pass 2 (observe_histogram) fills two histograms with `bins` bins each, over ranges frozen
// at the first pass-2 call: one of x over [min, max] (for Percentile) and one of |x| over
// [0, max(|min|, |max|)] (for Entropy). Values outside the frozen range (possible only if the
// data changed between passes) are counted in the edge bins.
//
// Counts are 64-bit integers and every range is computed in a fixed order, so the same values,
// in any order and any batch split, give bit-identical ranges.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace encore::quant {

enum class CalibrationMethod { MinMax, Percentile, Entropy };

// "minmax" | "percentile" | "entropy" (exact, lower case); anything else throws
// encore::InputError naming the choices.
CalibrationMethod parse_calibration_method(const std::string& name);
std::string to_string(CalibrationMethod m);

struct Range {
  float lo = 0, hi = 0;
};

// Statistics of one activation tensor across the calibration data.
class RangeCollector {
 public:
  // `bins` in [128, 1 << 20] (Entropy quantizes to 128 levels, so it needs at least 128 bins);
  // otherwise throws encore::Error.
  explicit RangeCollector(int bins = 2048);

  // Pass 1: running min and max. x is [rows, cols] with leading dimension ld (>= cols); the
  // ld - cols values after each row are never read. Throws encore::Error ("non-finite
  // activation") on NaN/inf, leaving the collector unchanged, and if pass 2 has started.
  void observe_minmax(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld);

  // Pass 2: histograms over the pass-1 range. Throws encore::Error if pass 1 saw no value, or on
  // NaN/inf (leaving the histograms unchanged).
  void observe_histogram(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld);

  bool has_minmax() const { return minmax_count_ > 0; }
  float min() const;  // throw encore::Error before pass 1 saw a value
  float max() const;
  std::int64_t count() const { return hist_count_; }  // values seen in pass 2
  int bins() const { return bins_; }

  // The range for `method`. Always lo <= 0 <= hi and hi > lo: the raw range is widened to
  // include 0, then, if narrower than 255 * FLT_EPSILON (~3e-5, i.e. scale >= FLT_EPSILON as
  // in PyTorch's observers), hi is raised to lo + that width (an all-zero tensor gets
  // [0, ~3e-5]).
  //
  // MinMax: [min, max]; needs pass 1 only.
  // Percentile: keeps the central `percentile` % of the values seen in pass 2, clipping
  //   (100 - percentile) / 2 % of the count from EACH tail (99.99 clips 0.005 % per side, as
  //   onnxruntime's asymmetric percentile calibration does). Quantiles are interpolated
  //   linearly inside the histogram bin, so they are accurate to about a bin width of the
  //   [min, max] histogram; percentile == 100 gives [min, max]. `percentile` must be in
  //   (0, 100], else encore::InputError.
  // Entropy: TensorRT's KL-divergence threshold search on the |x| histogram with 128 target
  //   levels: for each candidate of i = 128 .. bins bins, P = the first i bins with the mass of
  //   the rest added to bin i-1, Q = the first i bins (without that mass) merged into 128
  //   groups and spread evenly back over each group's non-empty bins; the i with the smallest
  //   KL(P || Q) (the smallest i on ties) gives T = i * bin width (the upper edge of bin i-1),
  //   and the range is [max(min, -T), min(max, T)].
  // Percentile and Entropy need pass 2 (count() > 0), else encore::Error.
  Range range(CalibrationMethod method, double percentile = 99.99) const;

 private:
  Range percentile_range(double percentile) const;
  Range entropy_range() const;

  int bins_;
  // Pass 1.
  std::int64_t minmax_count_ = 0;
  float min_ = 0, max_ = 0;
  // Pass 2: ranges frozen at its first call.
  bool hist_started_ = false;
  std::int64_t hist_count_ = 0;
  double hist_lo_ = 0, hist_inv_width_ = 0;  // signed histogram over [min_, max_]
  double abs_max_ = 0, abs_inv_width_ = 0;   // |x| histogram over [0, abs_max_]
  std::vector<std::int64_t> hist_, abs_hist_;
};

}  // namespace encore::quant

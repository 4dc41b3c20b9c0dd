#include "quant/calibration.hpp"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <limits>

#include "encore/error.hpp"

namespace encore::quant {
namespace {

constexpr int kMinBins = 128;
constexpr int kMaxBins = 1 << 20;
// TensorRT's int8 entropy calibration quantizes |x| to 128 levels.
constexpr int kEntropyLevels = 128;
// Narrowest range returned: scale = width / 255 >= FLT_EPSILON (PyTorch observers' minimum).
constexpr float kMinRangeWidth = 255.f * FLT_EPSILON;

bool is_non_finite(float v) {
  constexpr std::uint32_t kExp = 0x7f800000u;
  return (std::bit_cast<std::uint32_t>(v) & kExp) == kExp;
}

void check_shape(const char* what, const float* x, std::int64_t rows, std::int64_t cols,
                 std::int64_t ld) {
  if (rows < 0 || cols < 0)
    throw Error(std::string("calibration: ") + what + ": negative shape [" + std::to_string(rows) +
                ", " + std::to_string(cols) + "]");
  if (rows == 0 || cols == 0) return;
  if (x == nullptr) throw Error(std::string("calibration: ") + what + ": null data pointer");
  if (ld < cols)
    throw Error(std::string("calibration: ") + what + ": leading dimension " +
                std::to_string(ld) + " < cols " + std::to_string(cols));
}

// Throws encore::Error naming the first NaN/inf in x, if any.
void check_finite(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * ld;
    bool bad = false;
    for (std::int64_t c = 0; c < cols; ++c) bad |= is_non_finite(row[c]);
    if (!bad) continue;
    for (std::int64_t c = 0; c < cols; ++c)
      if (is_non_finite(row[c]))
        throw Error("calibration: non-finite activation (" +
                    std::string(std::isnan(row[c]) ? "NaN" : "inf") + ") at row " +
                    std::to_string(r) + ", column " + std::to_string(c));
  }
}

// Bin of t = (value - lo) * bins / width, clamped to [0, nbins - 1].
inline std::int64_t bin_of(double t, std::int64_t nbins) {
  if (t <= 0) return 0;
  if (t >= static_cast<double>(nbins)) return nbins - 1;
  return static_cast<std::int64_t>(t);
}

// Widen to include 0 and to at least kMinRangeWidth; +0 instead of -0.
Range finalize(double lo, double hi) {
  float l = static_cast<float>(std::min(lo, 0.0));
  float h = static_cast<float>(std::max(hi, 0.0));
  if (l == 0) l = 0;
  if (h == 0) h = 0;
  if (!(h - l >= kMinRangeWidth)) h = l + kMinRangeWidth;
  return {l, h};
}

}  // namespace

CalibrationMethod parse_calibration_method(const std::string& name) {
  if (name == "minmax") return CalibrationMethod::MinMax;
  if (name == "percentile") return CalibrationMethod::Percentile;
  if (name == "entropy") return CalibrationMethod::Entropy;
  throw InputError("unknown calibration method '" + name +
                   "' (choices: minmax, percentile, entropy)");
}

std::string to_string(CalibrationMethod m) {
  switch (m) {
    case CalibrationMethod::MinMax:
      return "minmax";
    case CalibrationMethod::Percentile:
      return "percentile";
    case CalibrationMethod::Entropy:
      return "entropy";
  }
  throw Error("calibration: invalid CalibrationMethod value " +
              std::to_string(static_cast<int>(m)));
}

RangeCollector::RangeCollector(int bins) : bins_(bins) {
  if (bins < kMinBins || bins > kMaxBins)
    throw Error("calibration: histogram bins must be in [" + std::to_string(kMinBins) + ", " +
                std::to_string(kMaxBins) + "], got " + std::to_string(bins));
}

float RangeCollector::min() const {
  if (!has_minmax()) throw Error("calibration: min() before pass 1 (observe_minmax) saw a value");
  return min_;
}

float RangeCollector::max() const {
  if (!has_minmax()) throw Error("calibration: max() before pass 1 (observe_minmax) saw a value");
  return max_;
}

void RangeCollector::observe_minmax(const float* x, std::int64_t rows, std::int64_t cols,
                                    std::int64_t ld) {
  if (hist_started_)
    throw Error(
        "calibration: observe_minmax after observe_histogram: pass 1 must end before pass 2");
  check_shape("observe_minmax", x, rows, cols, ld);
  if (rows == 0 || cols == 0) return;
  float mn = std::numeric_limits<float>::infinity(), mx = -mn;
  bool bad = false;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * ld;
    for (std::int64_t c = 0; c < cols; ++c) {
      const float v = row[c];
      bad |= is_non_finite(v);
      mn = v < mn ? v : mn;  // NaN compares false and is caught by `bad`
      mx = v > mx ? v : mx;
    }
  }
  if (bad) check_finite(x, rows, cols, ld);  // throws with the position, state untouched
  // -0 and +0 compare equal, so which one wins would depend on order: store +0.
  if (mn == 0) mn = 0;
  if (mx == 0) mx = 0;
  if (minmax_count_ == 0) {
    min_ = mn;
    max_ = mx;
  } else {
    min_ = std::min(min_, mn);
    max_ = std::max(max_, mx);
  }
  minmax_count_ += rows * cols;
}

void RangeCollector::observe_histogram(const float* x, std::int64_t rows, std::int64_t cols,
                                       std::int64_t ld) {
  if (!has_minmax())
    throw Error(
        "calibration: observe_histogram before pass 1 (observe_minmax) saw any value");
  check_shape("observe_histogram", x, rows, cols, ld);
  if (!hist_started_) {
    const double lo = min_, hi = max_;
    const double nb = bins_;
    hist_lo_ = lo;
    hist_inv_width_ = hi > lo ? nb / (hi - lo) : 0.0;
    abs_max_ = std::max(std::fabs(lo), std::fabs(hi));
    abs_inv_width_ = abs_max_ > 0 ? nb / abs_max_ : 0.0;
    hist_.assign(static_cast<std::size_t>(bins_), 0);
    abs_hist_.assign(static_cast<std::size_t>(bins_), 0);
    hist_started_ = true;
  }
  if (rows == 0 || cols == 0) return;
  check_finite(x, rows, cols, ld);
  const std::int64_t nb = bins_;
  const double lo = hist_lo_, inv = hist_inv_width_, abs_inv = abs_inv_width_;
  std::int64_t* hist = hist_.data();
  std::int64_t* abs_hist = abs_hist_.data();
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * ld;
    for (std::int64_t c = 0; c < cols; ++c) {
      const double v = row[c];
      ++hist[bin_of((v - lo) * inv, nb)];
      ++abs_hist[bin_of(std::fabs(v) * abs_inv, nb)];
    }
  }
  hist_count_ += rows * cols;
}

Range RangeCollector::range(CalibrationMethod method, double percentile) const {
  switch (method) {
    case CalibrationMethod::MinMax:
      if (!has_minmax())
        throw Error("calibration: range(minmax) before pass 1 (observe_minmax) saw any value");
      return finalize(min_, max_);
    case CalibrationMethod::Percentile:
      if (!(percentile > 0 && percentile <= 100))
        throw InputError("calibration: percentile must be in (0, 100], got " +
                         std::to_string(percentile));
      if (hist_count_ == 0)
        throw Error(
            "calibration: range(percentile) needs pass 2 (observe_histogram) to have seen values");
      return percentile_range(percentile);
    case CalibrationMethod::Entropy:
      if (hist_count_ == 0)
        throw Error(
            "calibration: range(entropy) needs pass 2 (observe_histogram) to have seen values");
      return entropy_range();
  }
  throw Error("calibration: invalid CalibrationMethod value " +
              std::to_string(static_cast<int>(method)));
}

Range RangeCollector::percentile_range(double percentile) const {
  const double n = static_cast<double>(hist_count_);
  // Count clipped from each tail; < n / 2 because percentile > 0.
  const double tail = (100.0 - percentile) / 200.0 * n;
  const double width = (static_cast<double>(max_) - static_cast<double>(min_)) / bins_;
  const double lo_edge = min_;

  // Lower quantile: the value below which `tail` of the count lies, linear inside its bin.
  double lo = min_;
  double cum = 0;
  for (int k = 0; k < bins_; ++k) {
    const double c = static_cast<double>(hist_[static_cast<std::size_t>(k)]);
    if (cum + c > tail) {
      lo = lo_edge + (k + (tail - cum) / c) * width;
      break;
    }
    cum += c;
  }
  // Upper quantile, symmetrically from the top.
  double hi = max_;
  cum = 0;
  for (int k = bins_ - 1; k >= 0; --k) {
    const double c = static_cast<double>(hist_[static_cast<std::size_t>(k)]);
    if (cum + c > tail) {
      hi = lo_edge + (k + 1 - (tail - cum) / c) * width;
      break;
    }
    cum += c;
  }
  lo = std::clamp(lo, static_cast<double>(min_), static_cast<double>(max_));
  hi = std::clamp(hi, lo, static_cast<double>(max_));
  return finalize(lo, hi);
}

Range RangeCollector::entropy_range() const {
  const int nb = bins_;
  const std::int64_t* h = abs_hist_.data();
  // Prefix sums of counts and of non-empty bins; log of each count.
  std::vector<std::int64_t> pre(static_cast<std::size_t>(nb) + 1, 0), nz(pre.size(), 0);
  std::vector<double> log_c(static_cast<std::size_t>(nb), 0.0);
  for (int k = 0; k < nb; ++k) {
    pre[k + 1] = pre[k] + h[k];
    nz[k + 1] = nz[k] + (h[k] != 0);
    if (h[k] != 0) log_c[k] = std::log(static_cast<double>(h[k]));
  }
  const std::int64_t total = pre[nb];
  const double n = static_cast<double>(total);

  // With p_k = P's count / n and q_k = Q's normalised mass, n * KL(P || Q) is the sum over
  // bins with p_k > 0 of count_k * (log count_k - log(n * q_k)). Q is constant, G / (nnz * S),
  // over the non-empty bins of a group, so log(n * q) is one log per group.
  double best_kl = std::numeric_limits<double>::infinity();
  int best_i = nb;  // i = nb has no outliers and always a finite KL
  for (int i = kEntropyLevels; i <= nb; ++i) {
    const std::int64_t inside = pre[i];  // S: the mass Q is built from
    const std::int64_t outliers = total - inside;
    const std::int64_t last = h[i - 1];
    // P puts mass on bin i-1 where Q is empty: infinite divergence.
    if (inside == 0 || (last == 0 && outliers > 0)) continue;
    const int merged = i / kEntropyLevels;
    double sum = 0;
    for (int j = 0; j < kEntropyLevels; ++j) {
      const int s = j * merged;
      const int e = j == kEntropyLevels - 1 ? i : s + merged;
      const std::int64_t g = pre[e] - pre[s];
      if (g == 0) continue;
      const double nonempty = static_cast<double>(nz[e] - nz[s]);
      const double log_nq =
          std::log(n * static_cast<double>(g) / (nonempty * static_cast<double>(inside)));
      const int stop = j == kEntropyLevels - 1 ? i - 1 : e;  // bin i-1 is handled below
      double part = 0;
      for (int k = s; k < stop; ++k)
        if (h[k] != 0) part += static_cast<double>(h[k]) * (log_c[k] - log_nq);
      sum += part;
      if (j == kEntropyLevels - 1 && last + outliers > 0) {
        const double c = static_cast<double>(last + outliers);
        sum += c * (std::log(c) - log_nq);
      }
    }
    const double kl = sum / n;
    if (kl < best_kl) {
      best_kl = kl;
      best_i = i;
    }
  }
  const double threshold = abs_max_ * best_i / nb;
  return finalize(std::max(static_cast<double>(min_), -threshold),
                  std::min(static_cast<double>(max_), threshold));
}

}  // namespace encore::quant

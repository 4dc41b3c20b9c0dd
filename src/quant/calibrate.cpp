#include "quant/calibrate.hpp"

#include "core/profiler.hpp"
#include "encore/error.hpp"
#include "quant/observed_run.hpp"

namespace encore::quant {
namespace {

class Collect : public runtime::ForwardObserver {
 public:
  Collect(int layers, bool histogram, const std::vector<LayerSmoothing>& smoothing)
      : histogram_(histogram), stats_(static_cast<std::size_t>(layers)), smoothing_(smoothing) {}
  void linear_input(int layer, runtime::LinearSlot slot, const float* x, std::int64_t rows,
                    std::int64_t cols, std::int64_t ld) override {
    RangeCollector& c = at(layer, slot);
    if (!smoothing_.empty()) {
      const auto& s = smoothing_[static_cast<std::size_t>(layer)][static_cast<std::size_t>(slot)];
      if (!s.empty()) {
        // x_j · (1/s_j), rounded as the quantization pass rounds it.
        scaled_.resize(static_cast<std::size_t>(rows * cols));
        inv_.resize(s.size());
        for (std::size_t j = 0; j < s.size(); ++j) inv_[j] = 1.f / s[j];
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t j = 0; j < cols; ++j)
            scaled_[static_cast<std::size_t>(r * cols + j)] =
                x[r * ld + j] * inv_[static_cast<std::size_t>(j)];
        x = scaled_.data();
        ld = cols;
      }
    }
    if (histogram_)
      c.observe_histogram(x, rows, cols, ld);
    else
      c.observe_minmax(x, rows, cols, ld);
  }
  RangeCollector& at(int layer, runtime::LinearSlot slot) {
    return stats_[static_cast<std::size_t>(layer)][static_cast<std::size_t>(slot)];
  }
  void set_histogram(bool h) { histogram_ = h; }

 private:
  bool histogram_;
  std::vector<std::array<RangeCollector, runtime::kLinearSlots>> stats_;
  const std::vector<LayerSmoothing>& smoothing_;
  std::vector<float> scaled_, inv_;
};

}  // namespace

std::vector<LayerRanges> calibrate(const runtime::Encoder& fp32, int num_layers,
                                   const std::vector<Encoding>& rows, CalibrationMethod method,
                                   double percentile,
                                   const std::vector<LayerSmoothing>& smoothing) {
  ProfileScope scope("stage", "calibrate");
  if (rows.empty()) throw InputError("the calibration set is empty");
  if (method == CalibrationMethod::Percentile && !(percentile > 50.0 && percentile <= 100.0))
    throw InputError("calibration percentile must be in (50, 100], got " + std::to_string(percentile));
  if (!smoothing.empty() && smoothing.size() != static_cast<std::size_t>(num_layers))
    throw Error("calibration smoothing for " + std::to_string(smoothing.size()) +
                " layers, the model has " + std::to_string(num_layers));
  Collect collect(num_layers, false, smoothing);
  run_observed(fp32, rows, collect);
  if (method != CalibrationMethod::MinMax) {
    collect.set_histogram(true);
    run_observed(fp32, rows, collect);
  }
  std::vector<LayerRanges> out(static_cast<std::size_t>(num_layers));
  for (int l = 0; l < num_layers; ++l)
    for (int s = 0; s < runtime::kLinearSlots; ++s) {
      const Range r = collect.at(l, static_cast<runtime::LinearSlot>(s)).range(method, percentile);
      out[static_cast<std::size_t>(l)][static_cast<std::size_t>(s)] = {r.lo, r.hi};
    }
  return out;
}

}  // namespace encore::quant

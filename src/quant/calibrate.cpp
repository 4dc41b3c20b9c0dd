#include "quant/calibrate.hpp"

#include "core/profiler.hpp"
#include "encore/error.hpp"
#include "quant/observed_run.hpp"

namespace encore::quant {
namespace {

class Collect : public runtime::ForwardObserver {
 public:
  Collect(int layers, bool histogram) : histogram_(histogram), stats_(static_cast<std::size_t>(layers)) {}
  void linear_input(int layer, runtime::LinearSlot slot, const float* x, std::int64_t rows,
                    std::int64_t cols, std::int64_t ld) override {
    RangeCollector& c = at(layer, slot);
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
};

}  // namespace

std::vector<LayerRanges> calibrate(const runtime::BertEncoder& fp32, int num_layers,
                                   const std::vector<Encoding>& rows, CalibrationMethod method,
                                   double percentile) {
  ProfileScope scope("stage", "calibrate");
  if (rows.empty()) throw InputError("the calibration set is empty");
  if (method == CalibrationMethod::Percentile && !(percentile > 50.0 && percentile <= 100.0))
    throw InputError("calibration percentile must be in (50, 100], got " + std::to_string(percentile));
  Collect collect(num_layers, false);
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

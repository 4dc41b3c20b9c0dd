#include "quant/layer_report.hpp"

#include <cmath>

#include "core/profiler.hpp"
#include "quant/observed_run.hpp"

namespace encore::quant {
namespace {

// Keeps each layer's output of the current batch.
class Capture : public runtime::ForwardObserver {
 public:
  explicit Capture(int layers) : outputs(static_cast<std::size_t>(layers)) {}
  void layer_output(int layer, const float* x, std::int64_t rows, std::int64_t cols) override {
    outputs[static_cast<std::size_t>(layer)].assign(x, x + rows * cols);
  }
  std::vector<std::vector<float>> outputs;
};

}  // namespace

std::vector<LayerAgreement> compare_layers(const runtime::Encoder& reference,
                                           const runtime::Encoder& candidate, int num_layers,
                                           const std::vector<Encoding>& rows) {
  ProfileScope scope("stage", "compare_layers");
  const std::int64_t H = reference.hidden_size();
  std::vector<LayerAgreement> out(static_cast<std::size_t>(num_layers));
  std::vector<double> sums(out.size(), 0.0);
  Capture ref(num_layers), cand(num_layers);
  runtime::Context ref_ctx, cand_ctx;
  for (const auto& batch : make_batches(rows)) {
    reference.forward(batch, ref_ctx, false, false, &ref);
    candidate.forward(batch, cand_ctx, false, false, &cand);
    const std::int64_t T = batch.tokens();
    for (std::size_t l = 0; l < out.size(); ++l) {
      const float* a = ref.outputs[l].data();
      const float* b = cand.outputs[l].data();
      for (std::int64_t t = 0; t < T; ++t) {
        double ab = 0, aa = 0, bb = 0;
        for (std::int64_t c = 0; c < H; ++c) {
          const double x = a[t * H + c], y = b[t * H + c];
          ab += x * y;
          aa += x * x;
          bb += y * y;
        }
        const double cos = (aa > 0 && bb > 0) ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
        sums[l] += cos;
        out[l].min_cosine = std::min(out[l].min_cosine, cos);
        out[l].tokens += 1;
      }
    }
  }
  for (std::size_t l = 0; l < out.size(); ++l)
    out[l].mean_cosine = out[l].tokens ? sums[l] / static_cast<double>(out[l].tokens) : 1.0;
  return out;
}

}  // namespace encore::quant

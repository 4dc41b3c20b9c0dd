#include "quant/observed_run.hpp"

namespace encore::quant {

std::vector<runtime::PackedBatch> make_batches(const std::vector<Encoding>& rows) {
  std::vector<runtime::PackedBatch> batches;
  for (std::size_t i = 0; i < rows.size(); i += kObservedBatch) {
    runtime::PackedBatch& b = batches.emplace_back();
    for (std::size_t r = i; r < std::min(rows.size(), i + kObservedBatch); ++r)
      b.add(rows[r].ids, rows[r].type_ids);
  }
  return batches;
}

void run_observed(const runtime::Encoder& encoder, const std::vector<Encoding>& rows,
                  runtime::ForwardObserver& observer,
                  const std::function<void(const runtime::PackedBatch&)>& after_batch) {
  runtime::Context ctx;
  for (const auto& batch : make_batches(rows)) {
    encoder.forward(batch, ctx, false, false, &observer);
    if (after_batch) after_batch(batch);
  }
}

}  // namespace encore::quant

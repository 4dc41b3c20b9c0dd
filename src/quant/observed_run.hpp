// Runs tokenized rows through an encoder in fixed batches (input order, no sorting) with a
// ForwardObserver attached: the driver behind calibration and the per-layer error report,
// which need the same batches on every pass and on every model they compare.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "encore/encoding.hpp"
#include "runtime/encoder.hpp"

namespace encore::quant {

constexpr std::size_t kObservedBatch = 16;

// Calls `observer` for every batch; `after_batch(batch)` (optional) runs once the batch's
// forward pass has finished.
void run_observed(const runtime::Encoder& encoder, const std::vector<Encoding>& rows,
                  runtime::ForwardObserver& observer,
                  const std::function<void(const runtime::PackedBatch&)>& after_batch = {});

// Batches of `rows` as the functions above form them.
std::vector<runtime::PackedBatch> make_batches(const std::vector<Encoding>& rows);

}  // namespace encore::quant

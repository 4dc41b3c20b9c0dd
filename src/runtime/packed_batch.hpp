// A ragged batch: the tokens of every sequence packed back to back, no padding.
#pragma once

#include <cstdint>
#include <vector>

namespace encore::runtime {

struct PackedBatch {
  std::vector<std::int32_t> ids, type_ids, positions;
  std::vector<std::int32_t> seq_begin{0};  // num_sequences() + 1 offsets

  std::int32_t num_sequences() const { return static_cast<std::int32_t>(seq_begin.size()) - 1; }
  std::int64_t tokens() const { return static_cast<std::int64_t>(ids.size()); }
  std::int32_t length(std::int32_t s) const { return seq_begin[s + 1] - seq_begin[s]; }
  std::int32_t max_length() const {
    std::int32_t m = 0;
    for (std::int32_t s = 0; s < num_sequences(); ++s) m = std::max(m, length(s));
    return m;
  }

  void clear() {
    ids.clear();
    type_ids.clear();
    positions.clear();
    seq_begin.assign(1, 0);
  }
  void add(const std::vector<std::int32_t>& seq_ids, const std::vector<std::int32_t>& seq_types) {
    for (std::size_t i = 0; i < seq_ids.size(); ++i) {
      ids.push_back(seq_ids[i]);
      type_ids.push_back(seq_types[i]);
      positions.push_back(static_cast<std::int32_t>(i));
    }
    seq_begin.push_back(static_cast<std::int32_t>(ids.size()));
  }
};

}  // namespace encore::runtime

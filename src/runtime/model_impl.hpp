// The inside of encore::Model, for encore's own tools (bench, inspect) that need the encoder
// itself rather than the text-in/results-out API.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "encore/model.hpp"
#include "model/encoder_config.hpp"
#include "model/encoder_weights.hpp"
#include "runtime/encoder.hpp"

namespace encore {

struct Model::Impl {
  EncoderConfig config;
  std::optional<Tokenizer> tokenizer;
  std::size_t max_length = 512;
  std::int64_t parameters = 0;
  std::filesystem::path dir;
  std::map<io::DType, DTypeUsage> disk_usage;  // loaded tensors by stored dtype
  double load_ms = 0;
  std::uintmax_t bytes_on_disk = 0;  // weight files
  std::unique_ptr<runtime::Encoder> encoder;
  Precision precision = Precision::FP32;
  std::vector<std::string> notices;
  bool is_plan = false;

  // Working memory for concurrent callers: borrowed per call, returned after.
  mutable std::mutex pool_mutex;
  mutable std::vector<std::unique_ptr<runtime::Context>> pool;

  std::unique_ptr<runtime::Context> acquire() const {
    std::lock_guard<std::mutex> lock(pool_mutex);
    if (pool.empty()) return std::make_unique<runtime::Context>();
    auto c = std::move(pool.back());
    pool.pop_back();
    return c;
  }
  void release(std::unique_ptr<runtime::Context> c) const {
    std::lock_guard<std::mutex> lock(pool_mutex);
    pool.push_back(std::move(c));
  }

  std::vector<Encoding> encode_all(std::span<const TextInput> inputs, const BatchOptions& b) const;
  std::vector<RowOutput> forward_rows(std::span<const Encoding> encodings, const BatchOptions& b,
                                      bool hidden_states) const;

  // Runs `encodings` in batches of consecutive rows; `visit(batch, first_row, outputs)` reads
  // each batch's outputs before the next batch overwrites them.
  template <typename Visit>
  void run_batches(std::span<const Encoding> encodings, const BatchOptions& b, bool pooler,
                   bool logits, Visit visit) const;
};

}  // namespace encore

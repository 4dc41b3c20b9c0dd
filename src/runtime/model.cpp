// encore::Model: tokenizer + encoder + batching + the classify/embed/forward pipelines.
#include "encore/model.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <numeric>

#include "core/profiler.hpp"
#include "io/safetensors.hpp"
#include "kernels/linear.hpp"
#include "model/encoder_config.hpp"
#include "model/encoder_weights.hpp"
#include "quant/calibrate.hpp"
#include "quant/fallback.hpp"
#include "quant/plan.hpp"
#include "quant/smoothing.hpp"
#include "runtime/model_impl.hpp"
#include "runtime/threads.hpp"

namespace encore {

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

std::shared_ptr<const Model> Model::load(const std::filesystem::path& dir,
                                         const ModelOptions& options) {
  ProfileScope scope("call", "load_model");
  const auto t0 = std::chrono::steady_clock::now();
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  TokenizerBundle tb = load_tokenizer(dir);
  impl->config = EncoderConfig::load(dir);
  impl->tokenizer.emplace(std::move(tb.tokenizer));
  impl->max_length = tb.max_length;
  if (impl->config.max_position_embeddings > 0)
    impl->max_length = std::min<std::size_t>(
        impl->max_length, static_cast<std::size_t>(impl->config.max_position_embeddings));
  const int threads = runtime::configure_threads(options.threads);
  const auto L = static_cast<std::size_t>(impl->config.num_hidden_layers);
  std::vector<runtime::LayerPrecision> layers(L);
  if (quant::is_plan_dir(dir)) {
    // Built by `encore build`: precision and calibration come from the plan.
    const quant::PlanManifest plan = quant::read_plan(dir);
    if (options.precision && *options.precision != plan.precision)
      throw InputError(dir.string() + " is a plan built for " + to_string(plan.precision) +
                       "; it cannot run in " + to_string(*options.precision) +
                       " (build another plan, or load the original model folder)");
    if (plan.layers.size() != L)
      throw Error((dir / quant::kPlanFile).string() + ": the plan describes " +
                  std::to_string(plan.layers.size()) + " layers, config.json " + std::to_string(L));
    layers = plan.layers;
    impl->precision = plan.precision;
    impl->is_plan = true;
  } else {
    impl->precision = options.precision.value_or(Precision::FP32);
    if (impl->precision == Precision::BF16 && !kernels::cpu_has_native_bf16()) {
      impl->notices.push_back(
          "this CPU has no BF16 instructions (AVX512_BF16/AMX); running FP32 instead of BF16");
      impl->precision = Precision::FP32;
    }
    const auto uniform = [&] {
      switch (impl->precision) {
        case Precision::FP32:
          return kernels::LinearPrecision::FP32;
        case Precision::BF16:
          return kernels::LinearPrecision::BF16;
        default:
          return kernels::LinearPrecision::Int8;
      }
    }();
    for (auto& l : layers) l.precision = uniform;
  }
  {
    io::WeightStore store = io::WeightStore::open(dir);
    impl->bytes_on_disk = store.bytes_on_disk();
    EncoderWeights weights = EncoderWeights::load(store, impl->config);
    impl->parameters = weights.parameter_count;
    impl->disk_usage = weights.disk_usage;
    store.close();  // weights are host copies now; drop the file mapping before packing
    const bool int8 = !impl->is_plan && (impl->precision == Precision::Int8Static ||
                                         impl->precision == Precision::Int8Dynamic);
    const bool calibrate = !impl->is_plan && impl->precision == Precision::Int8Static;
    const bool fallback = int8 && options.fallback_auto;
    if ((calibrate || fallback) && options.calibration.texts.empty())
      throw InputError(std::string(calibrate ? "int8-static" : "--fallback auto") +
                       " needs calibration texts (--calibration FILE.jsonl)");
    std::vector<Encoding> rows;
    if (int8 && !options.calibration.texts.empty())
      rows = impl->encode_all(options.calibration.texts, BatchOptions{});
    if (int8 && options.smooth_outliers) {
      // Before calibration: static ranges must be those of the smoothed inputs.
      const auto factors = quant::choose_smoothing(impl->config, weights, threads, layers, rows);
      for (std::size_t i = 0; i < L; ++i) layers[i].input_smoothing = factors[i];
    }
    if (calibrate || fallback) {
      // FP32 with the attention smoothing folded in (the same function; the context
      // calibration observes is the one the INT8 layers quantize); calibration divides the
      // other smoothed inputs by their factors as the quantization pass will.
      std::vector<runtime::LayerPrecision> reference(L);
      std::vector<quant::LayerSmoothing> smoothing(L);
      for (std::size_t i = 0; i < L; ++i) {
        const auto a = static_cast<std::size_t>(runtime::LinearSlot::AttnOut);
        reference[i].input_smoothing[a] = layers[i].input_smoothing[a];
        smoothing[i] = layers[i].input_smoothing;
        smoothing[i][a].clear();
      }
      const runtime::Encoder fp32(impl->config, weights, threads, reference);
      if (calibrate) {
        const auto ranges =
            quant::calibrate(fp32, static_cast<int>(L), rows,
                             quant::parse_calibration_method(options.calibration.method),
                             options.calibration.percentile, smoothing);
        for (std::size_t i = 0; i < L; ++i) layers[i].input_ranges = ranges[i];
      }
      if (fallback) {
        auto chosen = quant::fallback_layers(fp32, impl->config, weights, threads, layers, rows,
                                             options.fallback_min_cosine);
        impl->encoder = std::move(chosen.encoder);  // already packed with the chosen precisions
      }
    }
    if (!impl->encoder)
      impl->encoder =
          std::make_unique<runtime::Encoder>(impl->config, std::move(weights), threads, layers);
  }
  impl->load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

const Tokenizer& Model::tokenizer() const {
  return *impl_->tokenizer;
}
std::size_t Model::max_length() const {
  return impl_->max_length;
}
std::int64_t Model::hidden_size() const {
  return impl_->config.hidden_size;
}
std::int64_t Model::num_layers() const {
  return impl_->config.num_hidden_layers;
}
std::int64_t Model::num_labels() const {
  return impl_->encoder->num_labels();
}
const std::vector<std::string>& Model::labels() const {
  return impl_->config.id2label;
}
std::optional<std::int64_t> Model::label_id(const std::string& label) const {
  auto it = impl_->config.label2id.find(label);
  if (it != impl_->config.label2id.end()) return it->second;
  const auto& names = impl_->config.id2label;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == label) return static_cast<std::int64_t>(i);
  return std::nullopt;
}
bool Model::has_pooler() const {
  return impl_->encoder->has_pooler();
}
bool Model::has_classifier() const {
  return impl_->encoder->has_classifier();
}
ProblemType Model::problem_type() const {
  return impl_->config.problem_type;
}
Pooling Model::default_pooling() const {
  return impl_->config.default_pooling;
}
bool Model::default_normalize() const {
  return impl_->config.default_normalize;
}
const std::string& Model::model_type() const {
  return impl_->config.model_type;
}
int Model::threads() const {
  return impl_->encoder->threads();
}
std::int64_t Model::parameter_count() const {
  return impl_->parameters;
}
Precision Model::precision() const {
  return impl_->precision;
}
std::vector<std::string> Model::layer_precisions() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->encoder->precision())
    out.emplace_back(kernels::to_string(l.precision));
  return out;
}
const std::vector<std::string>& Model::notices() const {
  return impl_->notices;
}
bool Model::is_plan() const {
  return impl_->is_plan;
}

std::vector<Encoding> Model::Impl::encode_all(std::span<const TextInput> inputs,
                                              const BatchOptions& b) const {
  ProfileScope scope("stage", "tokenize");
  if (scope.active()) scope.set_args({{"inputs", inputs.size()}});
  const std::size_t max_len = b.max_length ? std::min(b.max_length, max_length) : max_length;
  EncodeOptions opts;
  if (b.truncate)
    opts.truncation = Truncation{max_len, TruncationStrategy::LongestFirst, b.truncation_direction};
  std::vector<Encoding> out;
  out.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TextInput& in = inputs[i];
    try {
      out.push_back(in.pair ? tokenizer->encode_pair(in.text, *in.pair, opts)
                            : tokenizer->encode(in.text, opts));
    } catch (const InputError& e) {
      throw InputError("input " + std::to_string(i + 1) + ": " + e.what());
    }
    if (!b.truncate && out.back().size() > max_len) {
      throw InputError("input " + std::to_string(i + 1) + " has " +
                       std::to_string(out.back().size()) + " tokens, more than the maximum of " +
                       std::to_string(max_len) + " (truncation is off)");
    }
  }
  return out;
}

template <typename Visit>
void Model::Impl::run_batches(std::span<const Encoding> encodings, const BatchOptions& b,
                              bool pooler, bool logits, Visit visit) const {
  // Sort by length within windows of a few batches, so each batch holds similar lengths and
  // attention work splits evenly across threads; results go back to input order.
  const std::size_t batch_size = std::max<std::size_t>(b.batch_size, 1);
  const std::size_t window = batch_size * 8;
  std::vector<std::size_t> order(encodings.size());
  std::iota(order.begin(), order.end(), 0);
  for (std::size_t w = 0; w < order.size(); w += window) {
    const auto end =
        order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), w + window));
    std::stable_sort(
        order.begin() + static_cast<std::ptrdiff_t>(w), end,
        [&](std::size_t x, std::size_t y) { return encodings[x].size() < encodings[y].size(); });
  }
  auto ctx = acquire();
  runtime::PackedBatch batch;
  std::vector<std::size_t> rows;
  std::size_t first = 0;
  try {
    while (first < order.size()) {
      ProfileScope scope("stage", "batch");
      batch.clear();
      rows.clear();
      std::size_t tokens = 0;
      {
        ProfileScope pack("stage", "pack_batch");
        // Rows while both limits hold; a row too long for the token budget runs alone.
        while (first < order.size() && rows.size() < batch_size &&
               (rows.empty() || tokens + encodings[order[first]].size() <= b.max_batch_tokens)) {
          const Encoding& e = encodings[order[first]];
          batch.add(e.ids, e.type_ids);
          tokens += e.size();
          rows.push_back(order[first++]);
        }
      }
      if (scope.active()) scope.set_args({{"sequences", rows.size()}, {"tokens", tokens}});
      const auto out = encoder->forward(batch, *ctx, pooler, logits);
      ProfileScope post("stage", "collect_outputs");
      visit(batch, rows, out);
    }
  } catch (...) {
    release(std::move(ctx));
    throw;
  }
  release(std::move(ctx));
}

std::vector<RowOutput> Model::forward(std::span<const TextInput> inputs,
                                      const BatchOptions& batching) const {
  ProfileScope scope("call", "forward");
  return impl_->forward_rows(impl_->encode_all(inputs, batching), batching, true);
}

std::vector<Encoding> Model::encode(std::span<const TextInput> inputs,
                                    const BatchOptions& batching) const {
  return impl_->encode_all(inputs, batching);
}

void Model::reserve(std::size_t max_batch_tokens) const {
  if (max_batch_tokens == 0) return;
  const auto tokens = static_cast<std::int64_t>(max_batch_tokens);
  // The most rows the budget holds: each row is at least its special tokens, and one token.
  const auto shortest = static_cast<std::int64_t>(
      std::max<std::size_t>(tokenizer().num_special_tokens_to_add(false), 1));
  const auto longest =
      static_cast<std::int32_t>(std::min<std::size_t>(max_length(), max_batch_tokens));
  const std::size_t floats =
      impl_->encoder->arena_floats(tokens, std::max<std::int64_t>(tokens / shortest, 1), longest);
  auto ctx = impl_->acquire();
  float* p = ctx->arena(floats);
  std::fill(p, p + floats, 0.f);  // touched, so resident now rather than at the first big batch
  impl_->release(std::move(ctx));
}

void Model::check_encoded(std::span<const Encoding> rows) const {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Encoding& e = rows[i];
    if (e.ids.empty() || e.type_ids.size() != e.ids.size())
      throw InputError("row " + std::to_string(i + 1) +
                       ": empty, or ids and type_ids of different lengths");
    if (e.ids.size() > impl_->max_length)
      throw InputError("row " + std::to_string(i + 1) + " has " + std::to_string(e.ids.size()) +
                       " tokens, more than the maximum of " + std::to_string(impl_->max_length));
    const auto vocab = static_cast<std::int64_t>(impl_->config.vocab_size);
    for (const std::int32_t id : e.ids)
      if (id < 0 || id >= vocab)
        throw InputError("row " + std::to_string(i + 1) + ": token id " + std::to_string(id) +
                         " outside the vocabulary of " + std::to_string(vocab));
    const auto types = std::max<std::int64_t>(impl_->config.type_vocab_size, 1);
    for (const std::int32_t t : e.type_ids)
      if (t < 0 || t >= types)
        throw InputError("row " + std::to_string(i + 1) + ": token type " + std::to_string(t) +
                         " outside the model's " + std::to_string(types));
  }
}

std::vector<RowOutput> Model::forward_encoded(std::span<const Encoding> rows,
                                              const BatchOptions& batching,
                                              bool hidden_states) const {
  ProfileScope scope("call", "forward_encoded");
  check_encoded(rows);
  return impl_->forward_rows(rows, batching, hidden_states);
}

std::vector<RowOutput> Model::Impl::forward_rows(std::span<const Encoding> encodings,
                                                 const BatchOptions& batching,
                                                 bool hidden_states) const {
  const std::int64_t H = config.hidden_size;
  const std::int64_t C = encoder->num_labels();
  const bool has_pooler = encoder->has_pooler();
  const bool has_classifier = encoder->has_classifier();
  const Pooling default_pooling = config.default_pooling;
  const bool default_normalize = config.default_normalize;
  std::vector<RowOutput> rows(encodings.size());
  run_batches(encodings, batching, has_pooler, has_classifier,
              [&](const runtime::PackedBatch& batch, const std::vector<std::size_t>& index,
                  const runtime::Encoder::Outputs& out) {
                for (std::int32_t s = 0; s < batch.num_sequences(); ++s) {
                  RowOutput& r = rows[index[s]];
                  const Encoding& e = encodings[index[s]];
                  r.input_ids = e.ids;
                  r.token_type_ids = e.type_ids;
                  r.truncated = e.truncated;
                  const float* h = out.hidden + static_cast<std::int64_t>(batch.seq_begin[s]) * H;
                  const std::int64_t len = batch.length(s);
                  if (hidden_states) r.last_hidden_state.assign(h, h + len * H);
                  r.cls.assign(h, h + H);
                  r.mean_pooled.assign(H, 0.f);
                  for (std::int64_t t = 0; t < len; ++t)
                    for (std::int64_t c = 0; c < H; ++c) r.mean_pooled[c] += h[t * H + c];
                  for (auto& v : r.mean_pooled) v /= static_cast<float>(len);
                  if (out.pooled)
                    r.pooler_output.assign(out.pooled + s * H, out.pooled + (s + 1) * H);
                  if (default_pooling != Pooling::None) {
                    r.sentence_embedding = default_pooling == Pooling::Cls ? r.cls : r.mean_pooled;
                    if (default_normalize) normalize_l2(r.sentence_embedding);
                  }
                  if (out.logits) r.logits.assign(out.logits + s * C, out.logits + (s + 1) * C);
                }
              });
  return rows;
}

std::vector<Classification> Model::classify(std::span<const TextInput> inputs, std::size_t top_k,
                                            const BatchOptions& batching,
                                            ScoreFunction scores) const {
  ProfileScope scope("call", "classify");
  if (!has_classifier())
    throw Error("this model has no classification head (classifier.weight); use embed or run");
  const auto encodings = impl_->encode_all(inputs, batching);
  const std::int64_t C = num_labels();
  const auto& names = labels();
  const ProblemType pt = problem_type();
  std::vector<Classification> results(encodings.size());
  impl_->run_batches(encodings, batching, true, true,
                     [&](const runtime::PackedBatch& batch, const std::vector<std::size_t>& index,
                         const runtime::Encoder::Outputs& out) {
                       for (std::int32_t s = 0; s < batch.num_sequences(); ++s) {
                         Classification& r = results[index[s]];
                         r.truncated = encodings[index[s]].truncated;
                         r.logits.assign(out.logits + s * C, out.logits + (s + 1) * C);
                         r.labels = ranked_labels(label_scores(r.logits, pt, scores), names, top_k);
                       }
                     });
  return results;
}

std::vector<std::vector<float>> Model::embed(std::span<const TextInput> inputs,
                                             EmbeddingPooling pooling, bool normalize,
                                             const BatchOptions& batching) const {
  ProfileScope scope("call", "embed");
  if (pooling == EmbeddingPooling::Pooler && !has_pooler())
    throw Error("this model has no pooler (pooler.dense.weight); use --pooling cls or mean");
  const auto encodings = impl_->encode_all(inputs, batching);
  const std::int64_t H = hidden_size();
  std::vector<std::vector<float>> result(encodings.size());
  impl_->run_batches(encodings, batching, pooling == EmbeddingPooling::Pooler, false,
                     [&](const runtime::PackedBatch& batch, const std::vector<std::size_t>& index,
                         const runtime::Encoder::Outputs& out) {
                       for (std::int32_t s = 0; s < batch.num_sequences(); ++s) {
                         auto& v = result[index[s]];
                         const float* h =
                             out.hidden + static_cast<std::int64_t>(batch.seq_begin[s]) * H;
                         if (pooling == EmbeddingPooling::Pooler) {
                           v.assign(out.pooled + s * H, out.pooled + (s + 1) * H);
                         } else if (pooling == EmbeddingPooling::Cls) {
                           v.assign(h, h + H);
                         } else {
                           const std::int64_t len = batch.length(s);
                           v.assign(H, 0.f);
                           for (std::int64_t t = 0; t < len; ++t)
                             for (std::int64_t c = 0; c < H; ++c) v[c] += h[t * H + c];
                           for (auto& x : v) x /= static_cast<float>(len);
                         }
                         if (normalize) normalize_l2(v);
                       }
                     });
  return result;
}

}  // namespace encore

#include "kernels/linear.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include <omp.h>

#include "core/cpu_features.hpp"
#include "core/env.hpp"
#include "core/weight_memory.hpp"
#include "encore/error.hpp"
#include "kernels/kernel_choice.hpp"
#include "kernels/quantize.hpp"

namespace encore::kernels {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

const char* to_string(LinearPrecision p) {
  switch (p) {
    case LinearPrecision::FP32:
      return "fp32";
    case LinearPrecision::BF16:
      return "bf16";
    case LinearPrecision::Int8:
      return "int8";
  }
  return "?";
}

bool cpu_has_native_bf16() {
  // ENCORE_NO_BF16=1 behaves as a CPU without BF16 instructions (tests of the fallback).
  if (env_flag("ENCORE_NO_BF16")) return false;
  const CpuFeatures& f = cpu_features();
  return f.has_avx512_core() && (f.avx512_bf16 || f.amx_bf16);
}

// ENCORE_INT8_KERNEL=onednn runs INT8 through oneDNN even where encore's kernels could;
// =vnni or =amx forces one of encore's kernels for every row count (A/B measurements, tests
// of each path). Unset or anything else: chosen by measurement.
std::string forced_int8_kernel() {
  const char* e = std::getenv("ENCORE_INT8_KERNEL");
  return e ? std::string(e) : std::string();
}

bool own_int8_kernel() {
  if (forced_int8_kernel() == "onednn") return false;
  return int8_gemm_supported();
}

bool cpu_has_vnni() {
  // What oneDNN will run (DNNL_MAX_CPU_ISA may cap it below the CPU's features).
  const auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx2_vnni;
}

namespace {

constexpr std::size_t kAlign = 64;
std::size_t align_up(std::size_t n) {
  return (n + kAlign - 1) / kAlign * kAlign;
}

dnnl::primitive_attr make_attr(Activation a, bool int8) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // scratch comes from the context
  if (int8) return attr;  // bias and activation run in the dequantizing epilogue
  dnnl::post_ops ops;
  switch (a) {
    case Activation::None:
      break;
    case Activation::GeluErf:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
      break;
    case Activation::GeluTanh:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_tanh, 0.f, 0.f);
      break;
    case Activation::Relu:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      break;
    case Activation::Silu:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f);
      break;
    case Activation::Tanh:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_tanh, 0.f, 0.f);
      break;
  }
  attr.set_post_ops(ops);
  return attr;
}

dt src_type(LinearPrecision p) {
  switch (p) {
    case LinearPrecision::FP32:
      return dt::f32;
    case LinearPrecision::BF16:
      return dt::bf16;
    case LinearPrecision::Int8:
      return dt::u8;
  }
  return dt::f32;
}

dt weight_type(LinearPrecision p) {
  switch (p) {
    case LinearPrecision::FP32:
      return dt::f32;
    case LinearPrecision::BF16:
      return dt::bf16;
    case LinearPrecision::Int8:
      return dt::s8;
  }
  return dt::f32;
}

}  // namespace

dnnl::matmul::primitive_desc Linear::make_pd(std::int64_t rows, std::int64_t ldx, std::int64_t ldy,
                                             const memory::desc& weights) const {
  const bool int8 = precision_ == LinearPrecision::Int8;
  const memory::desc src({rows, in_}, src_type(precision_), memory::dims{ldx, 1});
  const memory::desc dst({rows, out_}, int8 ? dt::s32 : dt::f32, memory::dims{ldy, 1});
  if (int8)
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst),
                                        make_attr(activation_, true), cpu_engine());
  const memory::desc b({1, out_}, dt::f32, tag::ab);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, b, dst),
                                      make_attr(activation_, false), cpu_engine());
}

Linear::Linear(const float* weight, const float* bias, int in_features, int out_features,
               Activation activation, const LinearQuantization& q)
    : in_(in_features), out_(out_features), activation_(activation), precision_(q.precision) {
  auto& eng = cpu_engine();
  dnnl::stream s(eng);
  if (q.input_smoothing && precision_ != LinearPrecision::Int8)
    throw Error(std::string("input smoothing given for a ") + to_string(precision_) + " linear");
  if (precision_ == LinearPrecision::Int8) {
    std::vector<float> smoothed;
    if (q.input_smoothing) {
      inv_smooth_.resize(static_cast<std::size_t>(in_));
      for (int j = 0; j < in_; ++j) {
        const float sj = q.input_smoothing[j];
        if (!(sj > 0.f) || !std::isfinite(sj))
          throw Error("input smoothing factor " + std::to_string(j) +
                      " is not a positive finite number");
        inv_smooth_[static_cast<std::size_t>(j)] = 1.f / sj;
      }
      if (!q.smoothing_in_weights) {
        smoothed.assign(weight, weight + static_cast<std::size_t>(in_) * out_);
        scale_weight_columns(smoothed.data(), out_, in_, q.input_smoothing);
        weight = smoothed.data();
      }
    }
    std::vector<std::int8_t> qw(static_cast<std::size_t>(in_) * out_);
    w_scale_.resize(out_);
    col_sum_.resize(out_);
    const bool own = own_int8_kernel();
    if (!own && !cpu_has_vnni()) weight_bits_ = 7;
    quantize_weights_s8(weight, out_, in_, q.weight_scales, qw.data(), w_scale_.data(),
                        col_sum_.data(), weight_bits_ == 7);
    bias_f32_.assign(out_, 0.f);
    if (bias) std::copy_n(bias, out_, bias_f32_.begin());
    if (q.input_range) {
      const U8Params p = u8_params(q.input_range->first, q.input_range->second);
      static_scale_ = p.scale;
      static_zero_point_ = p.zero_point;
    }
    if (own) {
      own_ = std::make_unique<PackedS8>(qw.data(), out_, in_);
      // The kernel reads whole 64-column panels of these.
      w_scale_.resize(own_->padded_n(), 0.f);
      col_sum_.resize(own_->padded_n(), 0);
      bias_f32_.resize(own_->padded_n(), 0.f);
      choose_int8_kernels();
      return;
    }
    // Let oneDNN choose the weight layout for a representative shape; brgemm's blocked
    // layout does not depend on M. PyTorch's [out, in] row-major is oneDNN's {K=in, N=out}
    // weight with tag `ba`.
    packed_desc_ =
        make_pd(64, in_, out_, memory::desc({in_, out_}, dt::s8, tag::any)).weights_desc();
    weights_ = memory(packed_desc_, eng);
    memory user(memory::desc({in_, out_}, dt::s8, tag::ba), eng, qw.data());
    dnnl::reorder(user, weights_).execute(s, user, weights_);
    s.wait();
    return;
  }
  const memory::desc w_any({in_, out_}, weight_type(precision_), tag::any);
  try {
    const auto pd = make_pd(64, in_, out_, w_any);
    packed_desc_ = pd.weights_desc();
    // Without brgemm (no AVX-512), oneDNN runs gemm:jit on plain weights, and which plain
    // layout is faster depends on the shape and row count: measured, once per CPU model.
    if (precision_ == LinearPrecision::FP32 &&
        std::string(pd.impl_info_str()).rfind("gemm", 0) == 0)
      packed_desc_ = choose_plain_layout(weight);
  } catch (const dnnl::error& e) {
    // oneDNN 2.6 has no BF16 matmul below AVX-512 (not even emulated); callers fall back
    // to FP32 on such CPUs (cpu_has_native_bf16), so reaching here is a caller's error.
    throw Error(std::string("no ") + to_string(precision_) + " matmul for a " +
                std::to_string(in_) + "x" + std::to_string(out_) +
                " linear on this CPU (oneDNN: " + e.what() + ")");
  }
  weights_ = memory(packed_desc_, eng);
  // f32 -> f32 or f32 -> bf16 (round to nearest even) in the same reorder.
  memory user(memory::desc({in_, out_}, dt::f32, tag::ba), eng, const_cast<float*>(weight));
  dnnl::reorder(user, weights_).execute(s, user, weights_);
  bias_ = memory(memory::desc({1, out_}, dt::f32, tag::ab), eng);
  auto* bp = static_cast<float*>(bias_.get_data_handle());
  for (int i = 0; i < out_; ++i) bp[i] = bias ? bias[i] : 0.f;
  s.wait();
  if (precision_ == LinearPrecision::BF16 && bf16_gemm_amx_supported())
    choose_own_or_onednn(own_bf16_, weight, "ENCORE_BF16_KERNEL", "amx");
  // Against brgemm, timed; gemm:jit (a plain layout was chosen: no AVX-512) sums a row's k
  // terms in an order that depends on the row count, so there encore's kernel runs untimed.
  if (precision_ == LinearPrecision::FP32 && fp32_gemm_supported())
    choose_own_or_onednn(own_f32_, weight, "ENCORE_FP32_KERNEL", "own", !layout_.empty(),
                         kFp32OneDnnMargin);
}

template <class Packed>
void Linear::choose_own_or_onednn(std::unique_ptr<Packed>& slot, const float* weight,
                                  const char* env_name, const std::string& own_name,
                                  bool only_own_is_batch_invariant, double onednn_margin) {
  const char* e = std::getenv(env_name);
  const std::string env = e ? e : "";
  const std::string forced = env == "onednn" || env == own_name ? env
                             : only_own_is_batch_invariant      ? own_name
                                                                : "";
  auto own = std::make_unique<Packed>(weight, out_, in_);
  bias_f32_.assign(static_cast<std::size_t>(own->padded_n()), 0.f);  // the own kernel's bias
  std::copy_n(static_cast<const float*>(bias_.get_data_handle()), out_, bias_f32_.begin());
  const std::string winner = KernelChoices::instance().choose(
      std::string("linear.") + to_string(precision_) + "." + std::to_string(in_) + "x" +
          std::to_string(out_),
      {"onednn", own_name},
      [&](const std::string& c) {
        if (c == own_name) std::swap(own, slot);  // forward() runs the own kernel when set
        const double score = std::log(std::max(time_forward(16), 1e-9)) +
                             std::log(std::max(time_forward(512), 1e-9)) +
                             (c == own_name ? 0.0 : std::log(onednn_margin));
        if (c == own_name) std::swap(own, slot);
        return score;
      },
      forced);
  if (winner != own_name) {
    bias_f32_.clear();
    return;
  }
  slot = std::move(own);
  weights_ = memory();  // oneDNN's copy is no longer used
  cache_.clear();
}

// One whole forward (conversion included) on `rows` rows, best of 3 after a warm-up. At few
// rows each run first evicts the packed weights from the caches, because in a forward of
// BERT-base (340 MB of weights) every layer's weights come from memory, not from the L3 that a
// previous run filled. (Even so, on Zen 4 the FP32 candidates still timed within the noise of
// each other, hence kFp32OneDnnMargin.)
double Linear::time_forward(std::int64_t rows) const {
  const bool cold = rows <= 16;
  std::vector<float> x(static_cast<std::size_t>(rows) * in_),
      y(static_cast<std::size_t>(rows) * out_);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = 0.01f * static_cast<float>(static_cast<int>(i % 23) - 11);
  std::vector<std::uint8_t> scratch(scratchpad_bytes(rows) + 64);
  dnnl::stream s(cpu_engine());
  double best = 1e30;
  for (int run = 0; run < 4; ++run) {
    if (cold) evict_packed_weights();
    const auto t0 = std::chrono::steady_clock::now();
    forward(x.data(), rows, y.data(), s, scratch.data());
    s.wait();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (run > 0) best = std::min(best, t);
  }
  return best;
}

// The weights forward() reads: an own kernel's when one is set, else oneDNN's.
void Linear::evict_packed_weights() const {
  if (own_bf16_)
    evict_from_caches(own_bf16_->data(), own_bf16_->bytes());
  else if (own_f32_)
    evict_from_caches(own_f32_->data(), own_f32_->bytes());
  else if (weights_)
    evict_from_caches(weights_.get_data_handle(), weights_.get_desc().get_size());
}

// Times oneDNN's matmul with the weights in `layout` at a small (online) and a large (batch)
// row count; the score is the sum of log times, so both count alike whatever their scale.
double Linear::time_layout(const float* weight, const memory::desc& layout) const {
  auto& eng = cpu_engine();
  dnnl::stream s(eng);
  memory w(layout, eng);
  memory user(memory::desc({in_, out_}, dt::f32, tag::ba), eng, const_cast<float*>(weight));
  dnnl::reorder(user, w).execute(s, user, w);
  s.wait();
  double score = 0;
  for (const std::int64_t rows : {16, 1024}) {
    const auto pd = make_pd(rows, in_, out_, layout);
    dnnl::matmul mm(pd);
    std::vector<float> x(static_cast<std::size_t>(rows) * in_, 0.5f),
        y(static_cast<std::size_t>(rows) * out_);
    std::vector<std::uint8_t> scratch(pd.scratchpad_desc().get_size() + 64);
    memory src(memory::desc({rows, in_}, dt::f32, tag::ab), eng, x.data());
    memory dst(memory::desc({rows, out_}, dt::f32, tag::ab), eng, y.data());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, bias_}, {DNNL_ARG_DST, dst}};
    if (pd.scratchpad_desc().get_size())
      args.emplace(DNNL_ARG_SCRATCHPAD, memory(pd.scratchpad_desc(), eng, scratch.data()));
    double best = 1e30;
    for (int run = 0; run < 3; ++run) {  // the first warms caches and pages
      const auto t0 = std::chrono::steady_clock::now();
      mm.execute(s, args);
      s.wait();
      const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (run > 0) best = std::min(best, t);
    }
    score += std::log(std::max(best, 1e-9));
  }
  return score;
}

memory::desc Linear::choose_plain_layout(const float* weight) {
  const memory::desc ab({in_, out_}, dt::f32, tag::ab), ba({in_, out_}, dt::f32, tag::ba);
  // ENCORE_FP32_WEIGHTS=ab|ba forces a layout (A/B runs, tests).
  const char* e = std::getenv("ENCORE_FP32_WEIGHTS");
  const std::string forced = e && std::string(e) == "ab"   ? "gemm-ab"
                             : e && std::string(e) == "ba" ? "gemm-ba"
                                                           : "";
  bias_ =
      memory(memory::desc({1, out_}, dt::f32, tag::ab), cpu_engine());  // the timing runs read it
  std::memset(bias_.get_data_handle(), 0, static_cast<std::size_t>(out_) * sizeof(float));
  layout_ = KernelChoices::instance().choose(
      "linear.fp32.layout." + std::to_string(in_) + "x" + std::to_string(out_),
      {"gemm-ab", "gemm-ba"},
      [&](const std::string& c) { return time_layout(weight, c == "gemm-ba" ? ba : ab); }, forced);
  return layout_ == "gemm-ba" ? ba : ab;
}

// One own-kernel call on `rows` rows of a fixed input, best of 3 after a warm-up.
double Linear::time_int8_kernel(Int8Kernel kernel, std::int64_t rows) const {
  const std::int64_t ld = own_->padded_k();
  std::vector<std::uint8_t> x(static_cast<std::size_t>(rows * ld));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint8_t>(i * 37 % 251);
  const std::vector<float> scale(static_cast<std::size_t>(rows), 1e-3f);
  const std::vector<std::int32_t> zp(static_cast<std::size_t>(rows), 128);
  std::vector<float> y(static_cast<std::size_t>(rows) * out_);
  const Int8Epilogue e{scale.data(),    zp.data(),        true,       col_sum_.data(),
                       w_scale_.data(), bias_f32_.data(), activation_};
  const int threads = omp_get_max_threads();
  double best = 1e30;
  for (int run = 0; run < 4; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    if (kernel == Int8Kernel::Amx)
      int8_gemm_amx(x.data(), rows, ld, *own_, e, y.data(), out_, threads);
    else
      int8_gemm(x.data(), rows, ld, *own_, e, y.data(), out_, threads);
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (run > 0) best = std::min(best, t);
  }
  return best;
}

void Linear::choose_int8_kernels() {
  own_kernel_.fill(Int8Kernel::Vnni);
  if (!int8_gemm_amx_supported()) return;
  const std::string forced = forced_int8_kernel();
  if (forced == "vnni" || forced == "amx") {
    own_kernel_.fill(forced == "amx" ? Int8Kernel::Amx : Int8Kernel::Vnni);
    return;
  }
  // Both kernels give the same bits (tested), so the choice changes only the speed.
  for (std::size_t b = 0; b < kRowBuckets.size(); ++b) {
    const std::int64_t rows = kBucketProbe[b];
    const std::string winner = KernelChoices::instance().choose(
        "linear.int8." + std::to_string(in_) + "x" + std::to_string(out_) + ".rows" +
            std::to_string(rows),
        {"vnni", "amx"}, [&](const std::string& c) {
          return time_int8_kernel(c == "amx" ? Int8Kernel::Amx : Int8Kernel::Vnni, rows);
        });
    own_kernel_[b] = winner == "amx" ? Int8Kernel::Amx : Int8Kernel::Vnni;
  }
  own_kernel_measured_ = true;
}

Linear::Int8Kernel Linear::int8_kernel_for(std::int64_t rows) const {
  std::size_t b = 0;
  while (rows > kRowBuckets[b]) ++b;
  return own_kernel_[b];
}

const Linear::Prepared& Linear::prepared(std::int64_t rows, std::int64_t ldx,
                                         std::int64_t ldy) const {
  const Key key{rows, ldx, ldy, omp_get_max_threads()};
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return *it->second;
  if (cache_.size() >= 256) cache_.clear();  // bound memory on long ragged runs
  const auto pd = make_pd(rows, ldx, ldy, packed_desc_);
  if (pd.weights_desc() != packed_desc_)
    throw Error("oneDNN chose a different weight layout for " + std::to_string(rows) + " rows");
  auto p = std::make_unique<Prepared>(Prepared{
      dnnl::matmul(pd), pd.scratchpad_desc(), pd.scratchpad_desc().get_size(), pd.impl_info_str()});
  return *cache_.emplace(key, std::move(p)).first->second;
}

std::string Linear::kernel_name(std::int64_t rows) const {
  if (own_) {
    const bool amx = int8_kernel_for(rows) == Int8Kernel::Amx;
    return std::string("encore int8 ") + (amx ? "amx" : "avx512_vnni") + " (fused epilogue" +
           (own_kernel_measured_ ? ", measured)" : ")");
  }
  if (own_bf16_) return "encore bf16 amx (fused epilogue, measured)";
  if (own_f32_)
    return std::string("encore fp32 ") + to_string(fp32_gemm_isa()) + " (fused epilogue, measured)";
  std::string name = "oneDNN " + prepared(rows, in_, out_).impl;
  if (!layout_.empty()) name += " (weights " + layout_.substr(5) + ", measured)";
  if (precision_ != LinearPrecision::FP32) name += std::string(" ") + to_string(precision_);
  if (weight_bits_ == 7) name += " (7-bit weights)";
  return name;
}

std::size_t Linear::input_bytes(std::int64_t rows) const {
  const auto n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(in_);
  switch (precision_) {
    case LinearPrecision::FP32:
      return 0;
    case LinearPrecision::BF16:
      return own_bf16_ ? align_up(static_cast<std::size_t>(rows) *
                                  static_cast<std::size_t>(own_bf16_->padded_k()) * 2)
                       : align_up(n * 2);
    case LinearPrecision::Int8:
      return align_up(static_cast<std::size_t>(rows) * static_cast<std::size_t>(int8_ld())) +
             2 * align_up(static_cast<std::size_t>(rows) * 4);
  }
  return 0;
}

std::size_t Linear::scratchpad_bytes(std::int64_t rows) const {
  if (own_ || own_bf16_ || own_f32_) return input_bytes(rows);
  return align_up(prepared(rows, in_, out_).scratchpad) + input_bytes(rows);
}

void Linear::forward(const float* x, std::int64_t rows, float* y, dnnl::stream& stream,
                     void* scratch, std::int64_t ldx, std::int64_t ldy) const {
  if (rows == 0) return;
  if (ldx == 0) ldx = in_;
  if (ldy == 0) ldy = out_;
  auto& eng = cpu_engine();
  const bool fp32 = precision_ == LinearPrecision::FP32;
  if (own_f32_) {
    fp32_gemm(x, rows, ldx, *own_f32_, bias_f32_.data(), activation_, y, ldy,
              omp_get_max_threads());
    return;
  }
  const Prepared* p = own_ || own_bf16_ ? nullptr : &prepared(rows, fp32 ? ldx : in_, ldy);
  const std::size_t onednn_scratch = p ? align_up(p->scratchpad) : 0;
  // Scratch: [oneDNN scratchpad][converted input][row scales][row zero points].
  auto* base = static_cast<std::uint8_t*>(scratch);
  std::uint8_t* converted = base + onednn_scratch;
  const void* src_ptr = x;
  float* row_scale = nullptr;
  std::int32_t* row_zp = nullptr;
  switch (precision_) {
    case LinearPrecision::FP32:
      break;
    case LinearPrecision::BF16:
      if (own_bf16_) {
        const std::int64_t ld = own_bf16_->padded_k();
        auto* xb = reinterpret_cast<std::uint16_t*>(converted);
        convert_to_bf16(x, rows, in_, ldx, xb, ld);
        bf16_gemm_amx(xb, rows, ld, *own_bf16_, bias_f32_.data(), activation_, y, ldy,
                      omp_get_max_threads());
        return;
      }
      convert_to_bf16(x, rows, in_, ldx, reinterpret_cast<std::uint16_t*>(converted));
      src_ptr = converted;
      break;
    case LinearPrecision::Int8: {
      const std::int64_t ld = int8_ld();
      const std::size_t n = align_up(static_cast<std::size_t>(rows) * static_cast<std::size_t>(ld));
      row_scale = reinterpret_cast<float*>(converted + n);
      row_zp = reinterpret_cast<std::int32_t*>(converted + n +
                                               align_up(static_cast<std::size_t>(rows) * 4));
      const float* smooth = inv_smooth_.empty() ? nullptr : inv_smooth_.data();
      if (static_input()) {
        quantize_u8(x, rows, in_, ldx, static_scale_, static_zero_point_, converted, ld, smooth);
      } else {
        quantize_rows_u8(x, rows, in_, ldx, converted, row_scale, row_zp, ld, smooth);
      }
      src_ptr = converted;
      break;
    }
  }
  const bool int8 = precision_ == LinearPrecision::Int8;
  const bool per_row = !static_input();
  if (own_) {
    const Int8Epilogue e{per_row ? row_scale : &static_scale_,
                         per_row ? row_zp : &static_zero_point_,
                         per_row,
                         col_sum_.data(),
                         w_scale_.data(),
                         bias_f32_.data(),
                         activation_};
    const auto* xq = static_cast<const std::uint8_t*>(src_ptr);
    if (int8_kernel_for(rows) == Int8Kernel::Amx)
      int8_gemm_amx(xq, rows, int8_ld(), *own_, e, y, ldy, omp_get_max_threads());
    else
      int8_gemm(xq, rows, int8_ld(), *own_, e, y, ldy, omp_get_max_threads());
    return;
  }
  memory src(memory::desc({rows, in_}, src_type(precision_), memory::dims{fp32 ? ldx : in_, 1}),
             eng, const_cast<void*>(src_ptr));
  memory dst(memory::desc({rows, out_}, int8 ? dt::s32 : dt::f32, memory::dims{ldy, 1}), eng, y);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst}};
  if (!int8) args.emplace(DNNL_ARG_BIAS, bias_);
  if (p->scratchpad) args.emplace(DNNL_ARG_SCRATCHPAD, memory(p->scratch_desc, eng, base));
  p->primitive.execute(stream, args);
  if (int8) {
    stream.wait();  // the epilogue reads the s32 accumulators on this thread
    dequantize_epilogue(y, rows, out_, ldy, per_row ? row_scale : &static_scale_,
                        per_row ? row_zp : &static_zero_point_, per_row, col_sum_.data(),
                        w_scale_.data(), bias_f32_.data(), activation_);
  }
}

}  // namespace encore::kernels

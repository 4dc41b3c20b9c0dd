#include "kernels/linear.hpp"

#include <string>

#include "encore/error.hpp"

namespace encore::kernels {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

namespace {

dnnl::primitive_attr make_attr(Activation a) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // scratch comes from the context
  dnnl::post_ops ops;
  switch (a) {
    case Activation::None: break;
    case Activation::GeluErf: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f); break;
    case Activation::GeluTanh: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_tanh, 0.f, 0.f); break;
    case Activation::Relu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
    case Activation::Silu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f); break;
    case Activation::Tanh: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_tanh, 0.f, 0.f); break;
  }
  attr.set_post_ops(ops);
  return attr;
}

memory::desc rows_desc(std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  return memory::desc({rows, cols}, dt::f32, memory::dims{ld, 1});
}

}  // namespace

Linear::Linear(const float* weight, const float* bias, int in_features, int out_features,
               Activation activation)
    : in_(in_features), out_(out_features), activation_(activation) {
  auto& eng = cpu_engine();
  // Let oneDNN choose the weight layout for a representative shape; brgemm's blocked
  // layout does not depend on M.
  const memory::desc src({64, in_}, dt::f32, tag::ab);
  const memory::desc w_any({in_, out_}, dt::f32, tag::any);
  const memory::desc b({1, out_}, dt::f32, tag::ab);
  const memory::desc dst({64, out_}, dt::f32, tag::ab);
  const auto pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, w_any, b, dst),
                                               make_attr(activation_), eng);
  packed_desc_ = pd.weights_desc();
  // PyTorch's [out, in] row-major is oneDNN's {K=in, N=out} weight with tag `ba`.
  memory user(memory::desc({in_, out_}, dt::f32, tag::ba), eng, const_cast<float*>(weight));
  weights_ = memory(packed_desc_, eng);
  dnnl::stream s(eng);
  dnnl::reorder(user, weights_).execute(s, user, weights_);
  bias_ = memory(b, eng);
  auto* bp = static_cast<float*>(bias_.get_data_handle());
  for (int i = 0; i < out_; ++i) bp[i] = bias ? bias[i] : 0.f;
  s.wait();
}

const Linear::Prepared& Linear::prepared(std::int64_t rows, std::int64_t ldx,
                                         std::int64_t ldy) const {
  const Key key{rows, ldx, ldy};
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return *it->second;
  if (cache_.size() >= 256) cache_.clear();  // bound memory on long ragged runs
  const auto pd = dnnl::matmul::primitive_desc(
      dnnl::matmul::desc(rows_desc(rows, in_, ldx), packed_desc_, bias_.get_desc(),
                         rows_desc(rows, out_, ldy)),
      make_attr(activation_), cpu_engine());
  if (pd.weights_desc() != packed_desc_)
    throw Error("oneDNN chose a different weight layout for " + std::to_string(rows) + " rows");
  auto p = std::make_unique<Prepared>(
      Prepared{dnnl::matmul(pd), pd.scratchpad_desc(), pd.scratchpad_desc().get_size()});
  return *cache_.emplace(key, std::move(p)).first->second;
}

std::size_t Linear::scratchpad_bytes(std::int64_t rows) const {
  return prepared(rows, in_, out_).scratchpad;
}

void Linear::forward(const float* x, std::int64_t rows, float* y, dnnl::stream& stream,
                     void* scratch, std::int64_t ldx, std::int64_t ldy) const {
  if (rows == 0) return;
  if (ldx == 0) ldx = in_;
  if (ldy == 0) ldy = out_;
  const Prepared& p = prepared(rows, ldx, ldy);
  auto& eng = cpu_engine();
  memory src(rows_desc(rows, in_, ldx), eng, const_cast<float*>(x));
  memory dst(rows_desc(rows, out_, ldy), eng, y);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                       {DNNL_ARG_WEIGHTS, weights_},
                                       {DNNL_ARG_BIAS, bias_},
                                       {DNNL_ARG_DST, dst}};
  if (p.scratchpad) args.emplace(DNNL_ARG_SCRATCHPAD, memory(p.scratch_desc, eng, scratch));
  p.primitive.execute(stream, args);
}

}  // namespace encore::kernels

#include "runtime/execution_plan.hpp"

#include <algorithm>
#include <sstream>

namespace encore::runtime {

std::vector<PlanStep> execution_plan(const EncoderConfig& c, bool pooler, bool classifier,
                                     std::int64_t seq_len) {
  const Architecture& a = *c.arch;
  const std::int64_t H = c.hidden_size, I = c.intermediate_size, L = c.num_hidden_layers;
  const std::int64_t E = c.embedding_size > 0 ? c.embedding_size : H;
  const std::int64_t up = a.gated_ffn ? 2 * I : I;
  const std::string h = std::to_string(H), i3 = std::to_string(3 * H), ff = std::to_string(I),
                    ffu = std::to_string(up), e = std::to_string(E);
  const double S = static_cast<double>(seq_len);
  const bool pre = a.norm == NormPlacement::Pre;
  const std::string bias = c.attention_bias ? "+bias" : "", mlp_bias = c.mlp_bias ? "+bias" : "";
  std::vector<PlanStep> plan;
  const std::int64_t positions =
      a.positions == PositionKind::Learned ? c.max_position_embeddings : 0;
  const bool norm_after = E != H && a.projection_before_norm;  // DeBERTa: LN(proj(sum))
  plan.push_back({"embeddings", norm_after ? "gather_sum" : "gather_sum_layernorm", "ids[T]",
                  "[T," + e + "]",
                  (c.vocab_size + positions + c.type_vocab_size) * E + (norm_after ? 0 : 2 * E),
                  norm_after ? 2.0 * E : 4.0 * E, -1});
  if (E != H) {
    const std::int64_t b = a.projection_bias ? H : 0;
    plan.push_back({"embedding_projection", a.projection_bias ? "gemm+bias" : "gemm",
                    "[T," + e + "]", "[T," + h + "]", E * H + b, 2.0 * E * H, -1});
  }
  if (norm_after)
    plan.push_back(
        {"embedding_layernorm", "layernorm", "[T," + h + "]", "[T," + h + "]", 2 * H, 8.0 * H, -1});
  const std::string act = std::string(to_string(c.hidden_act));
  for (std::int64_t l = 0; l < L; ++l) {
    const std::string p = "layer" + std::to_string(l) + ".";
    const int li = static_cast<int>(l);
    if (pre && l > 0)  // ModernBERT's layer 0 reads the embeddings' norm directly
      plan.push_back({p + "layernorm_attn", "layernorm", "[T," + h + "]", "[T," + h + "]", 2 * H,
                      8.0 * H, li});
    plan.push_back({p + "qkv_gemm", "gemm" + bias, "[T," + h + "]", "[T," + i3 + "]",
                    3 * H * H + 3 * H, 2.0 * 3 * H * H, li});
    if (a.positions == PositionKind::Rotary)
      plan.push_back(
          {p + "rotary", "rotary_qk", "[T," + i3 + "]", "[T," + i3 + "]", 0, 6.0 * H, li});
    std::string attention = "ragged_attention";
    if (a.attention == AttentionKind::RelativeBucketBias) attention += "+relative_bias";
    if (c.relative_attention) attention = "disentangled_attention";
    const double terms = 1.0 + (c.relative_attention ? (c.c2p ? 1 : 0) + (c.p2c ? 1 : 0) : 0);
    if (c.is_local_layer(l)) attention += "+window" + std::to_string(c.local_attention / 2);
    const double keys =
        c.is_local_layer(l) ? std::min<double>(S, static_cast<double>(c.local_attention + 1)) : S;
    // QKᵀ and PV, plus one product per relative term (c2p, p2c).
    plan.push_back({p + "attention", attention, "[T," + i3 + "]", "[T," + h + "]", 0,
                    2.0 * (1.0 + terms) * keys * H, li});
    plan.push_back({p + "attn_output_gemm", "gemm" + bias, "[T," + h + "]", "[T," + h + "]",
                    H * H + H, 2.0 * H * H, li});
    if (pre) {
      plan.push_back({p + "residual_attn", "residual_add", "[T," + h + "]x2", "[T," + h + "]", 0,
                      1.0 * H, li});
      plan.push_back(
          {p + "layernorm_ffn", "layernorm", "[T," + h + "]", "[T," + h + "]", 2 * H, 8.0 * H, li});
    } else {
      plan.push_back({p + "add_layernorm_attn", "residual_add+layernorm", "[T," + h + "]x2",
                      "[T," + h + "]", 2 * H, 8.0 * H, li});
    }
    if (a.gated_ffn) {
      plan.push_back({p + "ffn_up_gemm_gelu", "gemm" + mlp_bias, "[T," + h + "]", "[T," + ffu + "]",
                      H * up + up, 2.0 * H * up, li});
      plan.push_back({p + "gated_activation", act + "(value)*gate", "[T," + ffu + "]",
                      "[T," + ff + "]", 0, 2.0 * I, li});
    } else {
      plan.push_back({p + "ffn_up_gemm_gelu", "gemm" + mlp_bias + "+" + act, "[T," + h + "]",
                      "[T," + ff + "]", H * I + I, 2.0 * H * I, li});
    }
    plan.push_back({p + "ffn_down_gemm", "gemm" + mlp_bias, "[T," + ff + "]", "[T," + h + "]",
                    I * H + H, 2.0 * H * I, li});
    if (pre)
      plan.push_back(
          {p + "residual_ffn", "residual_add", "[T," + h + "]x2", "[T," + h + "]", 0, 1.0 * H, li});
    else
      plan.push_back({p + "add_layernorm_ffn", "residual_add+layernorm", "[T," + h + "]x2",
                      "[T," + h + "]", 2 * H, 8.0 * H, li});
    if (l == 0 && c.conv_kernel_size > 0)
      plan.push_back({p + "conv",
                      "conv1d+" + std::string(to_string(c.conv_act)) + "+residual_add+layernorm",
                      "[T," + h + "]x2", "[T," + h + "]", c.conv_kernel_size * H * H + 3 * H,
                      2.0 * static_cast<double>(c.conv_kernel_size) * H * H, li});
  }
  if (!a.names.final_norm.empty())
    plan.push_back(
        {"final_norm", "layernorm", "[T," + h + "]", "[T," + h + "]", 2 * H, 8.0 * H, -1});
  if (pooler)
    plan.push_back({"pooler", "gemm+bias+tanh", "[B," + h + "] (CLS rows)", "[B," + h + "]",
                    H * H + H, 2.0 * H * H / S, -1});
  if (classifier && a.head == HeadKind::Dense) {
    const std::string rows = c.head_pooling == Pooling::Mean ? "(mean of rows)" : "(CLS rows)";
    plan.push_back({"head_dense",
                    "gemm" + std::string(c.head_bias ? "+bias" : "") + "+" +
                        std::string(to_string(c.head_activation)) +
                        (a.names.head_norm.empty() ? "" : "+layernorm"),
                    "[B," + h + "] " + rows, "[B," + h + "]", H * H + H, 2.0 * H * H / S, -1});
  }
  if (classifier)
    plan.push_back({"classifier", "gemm+bias", "[B," + h + "]",
                    "[B," + std::to_string(c.num_labels) + "]", c.num_labels * H + c.num_labels,
                    2.0 * H * static_cast<double>(c.num_labels) / S, -1});
  return plan;
}

std::string plan_to_dot(const std::vector<PlanStep>& plan, const std::string& title) {
  std::ostringstream d;
  auto id = [](const std::string& name) {
    std::string s = "n_";
    for (char ch : name) s += (std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
    return s;
  };
  auto esc = [](const std::string& s) {
    std::string o;
    for (char ch : s) {
      if (ch == '"' || ch == '\\') o += '\\';
      o += ch;
    }
    return o;
  };
  d << "digraph encore_plan {\n  rankdir=TB;\n  label=\"" << esc(title) << "\";\n  labelloc=t;\n"
    << "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n";
  d << "  input [label=\"token ids [T]\\ntype ids, positions\", fillcolor=\"#eeeeee\"];\n";
  int current_layer = -2;
  for (const auto& s : plan) {
    if (s.layer != current_layer) {
      if (current_layer >= 0) d << "  }\n";
      if (s.layer >= 0)
        d << "  subgraph cluster_layer" << s.layer << " {\n    label=\"layer " << s.layer
          << "\";\n    style=dashed;\n";
      current_layer = s.layer;
    }
    const char* color = s.kind.rfind("gemm", 0) == 0   ? "#cfe2ff"
                        : s.kind == "ragged_attention" ? "#ffe5b4"
                                                       : "#d9f2d9";
    d << "  " << (s.layer >= 0 ? "  " : "") << id(s.name) << " [label=\"" << esc(s.name) << "\\n"
      << esc(s.kind) << "\\n"
      << esc(s.input) << " -> " << esc(s.output) << "\", fillcolor=\"" << color << "\"];\n";
  }
  if (current_layer >= 0) d << "  }\n";
  std::string prev = "input";
  std::string residual;  // the tensor a residual add reads besides its main input
  for (const auto& s : plan) {
    d << "  " << prev << " -> " << id(s.name) << ";\n";
    if (s.kind == "residual_add+layernorm" && !residual.empty())
      d << "  " << residual << " -> " << id(s.name) << " [style=dashed, label=\"residual\"];\n";
    if (s.name == "embeddings" || s.kind == "residual_add+layernorm") residual = id(s.name);
    prev = id(s.name);
  }
  d << "}\n";
  return d.str();
}

}  // namespace encore::runtime

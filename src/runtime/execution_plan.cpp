#include "runtime/execution_plan.hpp"

#include <sstream>

namespace encore::runtime {

std::vector<PlanStep> execution_plan(const BertConfig& c, bool pooler, bool classifier,
                                     std::int64_t seq_len) {
  const std::int64_t H = c.hidden_size, I = c.intermediate_size, L = c.num_hidden_layers;
  const std::string h = std::to_string(H), i3 = std::to_string(3 * H), ff = std::to_string(I);
  const double S = static_cast<double>(seq_len);
  std::vector<PlanStep> plan;
  plan.push_back({"embeddings", "gather_sum_layernorm", "ids[T]", "[T," + h + "]",
                  (c.vocab_size + c.max_position_embeddings + c.type_vocab_size + 2) * H, 4.0 * H, -1});
  const std::string act = std::string(to_string(c.hidden_act));
  for (std::int64_t l = 0; l < L; ++l) {
    const std::string p = "layer" + std::to_string(l) + ".";
    const int li = static_cast<int>(l);
    plan.push_back({p + "qkv_gemm", "gemm+bias", "[T," + h + "]", "[T," + i3 + "]", 3 * H * H + 3 * H, 2.0 * 3 * H * H, li});
    plan.push_back({p + "attention", "ragged_attention", "[T," + i3 + "]", "[T," + h + "]", 0, 4.0 * S * H, li});
    plan.push_back({p + "attn_output_gemm", "gemm+bias", "[T," + h + "]", "[T," + h + "]", H * H + H, 2.0 * H * H, li});
    plan.push_back({p + "add_layernorm_attn", "residual_add+layernorm", "[T," + h + "]x2", "[T," + h + "]", 2 * H, 8.0 * H, li});
    plan.push_back({p + "ffn_up_gemm_gelu", "gemm+bias+" + act, "[T," + h + "]", "[T," + ff + "]", H * I + I, 2.0 * H * I, li});
    plan.push_back({p + "ffn_down_gemm", "gemm+bias", "[T," + ff + "]", "[T," + h + "]", I * H + H, 2.0 * H * I, li});
    plan.push_back({p + "add_layernorm_ffn", "residual_add+layernorm", "[T," + h + "]x2", "[T," + h + "]", 2 * H, 8.0 * H, li});
  }
  if (pooler) plan.push_back({"pooler", "gemm+bias+tanh", "[B," + h + "] (CLS rows)", "[B," + h + "]", H * H + H, 2.0 * H * H / S, -1});
  if (classifier)
    plan.push_back({"classifier", "gemm+bias", "[B," + h + "]", "[B," + std::to_string(c.num_labels) + "]",
                    c.num_labels * H + c.num_labels, 2.0 * H * static_cast<double>(c.num_labels) / S, -1});
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
    const char* color = s.kind.rfind("gemm", 0) == 0 ? "#cfe2ff" : s.kind == "ragged_attention" ? "#ffe5b4" : "#d9f2d9";
    d << "  " << (s.layer >= 0 ? "  " : "") << id(s.name) << " [label=\"" << esc(s.name) << "\\n" << esc(s.kind)
      << "\\n" << esc(s.input) << " -> " << esc(s.output) << "\", fillcolor=\"" << color << "\"];\n";
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

// encore inspect: architecture, parameters by dtype, FLOPs per token, the execution plan and
// a GraphViz picture of it.
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "core/cpu_features.hpp"
#include "model_args.hpp"
#include "runtime/execution_plan.hpp"
#include "runtime/model_impl.hpp"

namespace encore::cli {

void add_inspect_command(CLI::App& app) {
  struct Args : ModelArgs {
    std::string dot, json;
    std::int64_t seq = 128;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("inspect", "Describe a model: architecture, parameters, FLOPs, execution plan");
  cmd->add_option("--model", a->model, "Hugging Face model folder (default: the embedded demo model)");
  cmd->add_option("--dot", a->dot, "Write the execution plan as GraphViz DOT (render: dot -Tsvg)");
  cmd->add_option("--json", a->json, "Also write the description as JSON");
  cmd->add_option("--seq", a->seq, "Sequence length for the FLOPs-per-token figure and the kernel list")
      ->check(CLI::PositiveNumber);
  add_precision_options(cmd, *a, false);
  cmd->callback([a] {
    const auto model = load_model(*a);
    const auto& impl = model->internals();
    const EncoderConfig& c = impl.config;
    const auto plan = runtime::execution_plan(c, model->has_pooler(), model->has_classifier(), a->seq);
    double flops = 0;
    for (const auto& s : plan) flops += s.flops_per_token;
    const std::string arch = c.architectures.empty() ? "BertModel" : c.architectures[0];

    std::printf("model          %s\n", impl.dir.string().c_str());
    std::printf("architecture   %s (model_type %s)\n", arch.c_str(), c.model_type.c_str());
    std::printf("encoder        %lld layers, hidden %lld, %lld heads of %lld, FFN %lld (%s), layer_norm_eps %g\n",
                static_cast<long long>(c.num_hidden_layers), static_cast<long long>(c.hidden_size),
                static_cast<long long>(c.num_attention_heads), static_cast<long long>(c.head_dim()),
                static_cast<long long>(c.intermediate_size), std::string(to_string(c.hidden_act)).c_str(),
                c.layer_norm_eps);
    std::printf("embeddings     vocab %lld, positions %lld, token types %lld\n",
                static_cast<long long>(c.vocab_size), static_cast<long long>(c.max_position_embeddings),
                static_cast<long long>(c.type_vocab_size));
    {
      // What the architecture description says this encoder computes.
      const Architecture& ad = *c.arch;
      std::string v = ad.positions == PositionKind::Rotary
                          ? "rotary positions (theta " + std::to_string(static_cast<long long>(c.global_rope_theta)) +
                                " global, " + std::to_string(static_cast<long long>(c.local_rope_theta)) + " local)"
                      : ad.positions == PositionKind::None ? "no absolute positions"
                                                           : "learned positions";
      if (c.position_offset > 0) v += " from " + std::to_string(c.position_offset);
      if (c.embedding_size != c.hidden_size)
        v += ", embeddings " + std::to_string(c.embedding_size) + " projected to " + std::to_string(c.hidden_size);
      v += ad.norm == NormPlacement::Pre ? ", pre-LN" : ", post-LN";
      if (!c.norm_bias) v += " (no biases)";
      if (ad.attention == AttentionKind::RelativeBucketBias) v += ", relative-position bias";
      if (c.local_attention > 0)
        v += ", sliding window +-" + std::to_string(c.local_attention / 2) +
             " (global attention every " + std::to_string(c.global_attn_every_n_layers) + " layers)";
      if (ad.gated_ffn) v += ", gated FFN (GeGLU)";
      if (ad.layer_groups)
        v += ", " + std::to_string(c.num_hidden_groups) + " shared layer weight group(s)";
      std::printf("variant        %s\n", v.c_str());
    }
    std::printf("head           %s%s", model->has_pooler() ? "pooler" : "no pooler",
                model->has_classifier() ? "" : ", no classifier\n");
    if (model->has_classifier() && c.arch->head == HeadKind::Dense)
      std::printf(" + dense(%s%s) on %s", std::string(to_string(c.head_activation)).c_str(),
                  c.arch->names.head_norm.empty() ? "" : ", layernorm",
                  c.head_pooling == Pooling::Mean ? "the mean of the tokens" : "token 0");
    if (model->has_classifier())
      std::printf(" + classifier (%lld labels, %s)\n", static_cast<long long>(model->num_labels()),
                  std::string(to_string(c.problem_type)).c_str());
    std::printf("parameters     %lld\n", static_cast<long long>(model->parameter_count()));
    nlohmann::json dtypes = nlohmann::json::object();
    for (const auto& [dt, u] : impl.disk_usage) {
      std::printf("  stored %-5s %10lld params in %zu tensors, %.2f MB\n", std::string(io::dtype_name(dt)).c_str(),
                  static_cast<long long>(u.elements), u.tensors, static_cast<double>(u.bytes) / 1e6);
      dtypes[std::string(io::dtype_name(dt))] = {{"params", u.elements}, {"tensors", u.tensors}, {"bytes", u.bytes}};
    }
    std::printf("in memory      %.2f MB of weights packed for the kernels\n",
                static_cast<double>(impl.encoder->packed_bytes()) / 1e6);
    std::printf("FLOPs/token    %.2f MFLOP at sequence length %lld\n", flops / 1e6, static_cast<long long>(a->seq));
    const CpuFeatures& cpu = cpu_features();
    std::printf("cpu            %s, %s\n", cpu.model_name.c_str(), cpu.summary().c_str());
    const int smoothed = impl.encoder->smoothed_gemms();
    if (model->precision() == Precision::Int8Dynamic || model->precision() == Precision::Int8Static)
      std::printf("smoothing      %d of %lld GEMMs smoothed (SmoothQuant, outlier channels)\n",
                  smoothed, static_cast<long long>(4 * c.num_hidden_layers));
    nlohmann::json kernels = nlohmann::json::object();
    if (c.num_hidden_layers > 0) {
      std::printf("kernels        (layer 0, precision %s, %lld tokens)\n", to_string(model->precision()).c_str(),
                  static_cast<long long>(a->seq));
      for (const auto& [op, kernel] : impl.encoder->kernels(0, a->seq)) {
        std::printf("  %-28s %s\n", op.c_str(), kernel.c_str());
        kernels[op] = kernel;
      }
    }
    std::printf("execution plan (T = tokens in the batch, B = sequences):\n");
    nlohmann::json steps = nlohmann::json::array();
    for (std::size_t i = 0; i < plan.size(); ++i) {
      const auto& s = plan[i];
      std::printf("  %3zu  %-28s %-24s %-18s -> %-12s %10lld params %9.3f MFLOP/token\n", i, s.name.c_str(),
                  s.kind.c_str(), s.input.c_str(), s.output.c_str(), static_cast<long long>(s.weights),
                  s.flops_per_token / 1e6);
      steps.push_back({{"name", s.name}, {"kind", s.kind}, {"input", s.input}, {"output", s.output},
                       {"params", s.weights}, {"flops_per_token", s.flops_per_token}});
    }
    if (!a->dot.empty()) {
      std::ofstream f(a->dot);
      if (!f) throw InputError("cannot write '" + a->dot + "'");
      f << runtime::plan_to_dot(plan, arch + " " + impl.dir.filename().string() + " (encore FP32 plan)");
    }
    if (!a->json.empty()) {
      nlohmann::json j{{"model", impl.dir.string()}, {"architecture", arch}, {"model_type", c.model_type},
                       {"layers", c.num_hidden_layers}, {"hidden", c.hidden_size}, {"heads", c.num_attention_heads},
                       {"intermediate", c.intermediate_size}, {"activation", to_string(c.hidden_act)},
                       {"params", model->parameter_count()}, {"stored", dtypes},
                       {"packed_bytes", impl.encoder->packed_bytes()}, {"flops_per_token", flops},
                       {"seq", a->seq}, {"plan", steps}, {"cpu", cpu.to_json()},
                       {"precision", to_string(model->precision())}, {"kernels", kernels}};
      j["smoothed_gemms"] = smoothed;
      std::ofstream f(a->json);
      if (!f) throw InputError("cannot write '" + a->json + "'");
      f << j.dump(2) << "\n";
    }
  });
}

}  // namespace encore::cli

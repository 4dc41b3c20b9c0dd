// encore run: every output tensor of every input row into one safetensors file, with the
// names ../shared/reference uses, for comparisons with other engines.
#include "commands.hpp"
#include "io/safetensors.hpp"
#include "model_args.hpp"

namespace encore::cli {

void add_run_command(CLI::App& app) {
  struct Args : ModelArgs {
    std::string output;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("run", "Run the encoder and save all outputs to safetensors");
  add_model_options(cmd, *a, true);
  add_precision_options(cmd, *a, false);
  add_data_options(cmd, *a, "Labelled JSON lines for --precision auto");
  cmd->add_option("--output", a->output, "Output .safetensors file")->required();
  cmd->callback([a] {
    start_profile(*a);
    const auto inputs = collect_inputs(*a);
    const auto model = load_model(*a);
    const auto rows = model->forward(inputs, batch_options(*a));
    const std::int64_t H = model->hidden_size();
    io::SafetensorsWriter w;
    std::size_t truncated = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      const std::string k = "." + std::to_string(i);
      const auto S = static_cast<std::int64_t>(r.input_ids.size());
      std::vector<std::int64_t> ids(r.input_ids.begin(), r.input_ids.end());
      std::vector<std::int64_t> types(r.token_type_ids.begin(), r.token_type_ids.end());
      w.add("input_ids" + k, io::DType::I64, {S}, ids.data(), ids.size() * sizeof(std::int64_t));
      w.add("token_type_ids" + k, io::DType::I64, {S}, types.data(), types.size() * sizeof(std::int64_t));
      w.add_f32("last_hidden_state" + k, {S, H}, r.last_hidden_state);
      w.add_f32("cls" + k, {H}, r.cls);
      w.add_f32("mean_pooled" + k, {H}, r.mean_pooled);
      if (!r.pooler_output.empty()) w.add_f32("pooler_output" + k, {H}, r.pooler_output);
      if (!r.sentence_embedding.empty()) w.add_f32("sentence_embedding" + k, {H}, r.sentence_embedding);
      if (!r.logits.empty())
        w.add_f32("logits" + k, {static_cast<std::int64_t>(r.logits.size())}, r.logits);
      truncated += r.truncated;
    }
    w.metadata("count", std::to_string(rows.size()));
    w.metadata("max_length", std::to_string(a->max_length ? a->max_length : model->max_length()));
    w.metadata("made_by", "encore run");
    w.write(a->output);
    finish_profile(*a);
    report_truncations(truncated, a->max_length ? std::min(a->max_length, model->max_length()) : model->max_length());
  });
}

}  // namespace encore::cli

// encore embed: one sentence embedding per input, as JSON lines or a safetensors file.
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "io/safetensors.hpp"
#include "model_args.hpp"

namespace encore::cli {

void add_embed_command(CLI::App& app) {
  struct Args : ModelArgs {
    std::string pooling;
    bool normalize = false;
    std::string output;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("embed", "Sentence embeddings (cls, mean or pooler pooling)");
  add_model_options(cmd, *a, true);
  add_precision_options(cmd, *a, false);
  add_data_options(cmd, *a, "Labelled JSON lines for --precision auto");
  cmd->add_option("--pooling", a->pooling,
                  "cls|mean|pooler (default: the model's 1_Pooling config, else mean)")
      ->check(CLI::IsMember({"cls", "mean", "pooler"}));
  cmd->add_flag("--normalize", a->normalize,
                "L2-normalize each embedding (default: as modules.json says)");
  cmd->add_option("--output", a->output, "Write embedding.<i> tensors to this .safetensors file");
  cmd->callback([a] {
    start_profile(*a);
    const auto inputs = collect_inputs(*a);
    const auto model = load_model(*a);
    EmbeddingPooling pooling = EmbeddingPooling::Mean;
    if (a->pooling == "cls") pooling = EmbeddingPooling::Cls;
    else if (a->pooling == "pooler") pooling = EmbeddingPooling::Pooler;
    else if (a->pooling.empty() && model->default_pooling() == Pooling::Cls) pooling = EmbeddingPooling::Cls;
    const bool normalize = a->normalize || (a->pooling.empty() && model->default_normalize());
    const auto vectors = model->embed(inputs, pooling, normalize, batch_options(*a));
    if (!a->output.empty()) {
      io::SafetensorsWriter w;
      for (std::size_t i = 0; i < vectors.size(); ++i)
        w.add_f32("embedding." + std::to_string(i), {static_cast<std::int64_t>(vectors[i].size())}, vectors[i]);
      w.metadata("count", std::to_string(vectors.size()));
      w.write(a->output);
      finish_profile(*a);
      return;
    }
    std::string out;
    for (const auto& v : vectors) out += nlohmann::json{{"embedding", v}}.dump() + "\n";
    write_stdout(out);
    finish_profile(*a);
  });
}

}  // namespace encore::cli

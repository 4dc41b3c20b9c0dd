// encore classify: labels and scores for each input, one JSON line per input.
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "model_args.hpp"

namespace encore::cli {

void add_classify_command(CLI::App& app) {
  struct Args : ModelArgs {
    std::size_t top_k = 0;
    bool all_scores = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("classify", "Classify texts with a sequence-classification model");
  add_model_options(cmd, *a, true);
  add_precision_options(cmd, *a, false);
  add_data_options(cmd, *a, "Labelled JSON lines for --precision auto");
  cmd->add_option("--top-k", a->top_k, "Print the K best labels as \"labels\"")->check(CLI::PositiveNumber);
  cmd->add_flag("--all-scores", a->all_scores, "Print every label's score as \"labels\"");
  cmd->callback([a] {
    start_profile(*a);
    const auto inputs = collect_inputs(*a);
    const auto model = load_model(*a);
    const std::size_t k = a->all_scores ? 0 : (a->top_k ? a->top_k : 1);
    const auto results = model->classify(inputs, k, batch_options(*a));
    std::string out;
    std::size_t truncated = 0;
    for (const auto& r : results) {
      nlohmann::json j;
      if (a->all_scores || a->top_k) {
        j["labels"] = nlohmann::json::array();
        for (const auto& l : r.labels) j["labels"].push_back({{"label", l.label}, {"score", l.score}});
      } else {
        j["label"] = r.labels[0].label;
        j["score"] = r.labels[0].score;
      }
      truncated += r.truncated;
      out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
    report_truncations(truncated, a->max_length ? std::min(a->max_length, model->max_length()) : model->max_length());
    write_stdout(out);
    finish_profile(*a);
  });
}

}  // namespace encore::cli

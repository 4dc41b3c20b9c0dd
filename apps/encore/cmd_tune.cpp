// encore tune: time every kernel candidate on this model's shapes again, cache the winners
// for this CPU model, and print them (the same happens implicitly the first time a shape runs).
#include <cstdio>

#include "commands.hpp"
#include "core/cpu_features.hpp"
#include "kernels/kernel_choice.hpp"
#include "model_args.hpp"
#include "runtime/model_impl.hpp"

namespace encore::cli {

void add_tune_command(CLI::App& app) {
  auto a = std::make_shared<ModelArgs>();
  auto* cmd = app.add_subcommand(
      "tune", "Measure the kernel candidates on a model's shapes and cache the winners");
  add_model_folder_options(cmd, *a);
  add_precision_options(cmd, *a, false);
  cmd->callback([a] {
    kernels::KernelChoices::instance().retune();
    const auto model = load_model(*a);
    const auto decisions = kernels::KernelChoices::instance().decisions();
    std::printf("cpu      %s, %s\n", cpu_features().model_name.c_str(),
                cpu_features().summary().c_str());
    if (decisions.empty())
      std::printf("no operation of this model has more than one candidate on this CPU\n");
    for (const auto& [op, winner] : decisions)
      std::printf("%-64s %s\n", op.c_str(), winner.c_str());
  });
}

}  // namespace encore::cli

// encore build: an optimised plan folder (weights already BF16 or INT8 with their scales,
// calibrated activation ranges, per-layer fallbacks) that every command loads like a model.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "model_args.hpp"
#include "quant/plan.hpp"
#include "runtime/model_impl.hpp"

namespace encore::cli {

void add_build_command(CLI::App& app) {
  struct Args : ModelArgs {
    std::string output;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "build", "Write an optimised plan (BF16 or INT8 weights, calibration) to a folder");
  add_model_folder_options(cmd, *a);
  add_precision_options(cmd, *a, false);
  cmd->get_option("--precision")->required();
  cmd->add_option("--output", a->output, "Plan folder to write")->required();
  cmd->callback([a] {
    if (a->precision == "auto")
      throw InputError("build needs a concrete --precision (fp32, bf16, int8, int8-static)");
    Precision p = parse_precision(a->precision);
    // `--calibration` with plain `int8` means calibrated (static) INT8.
    if (p == Precision::Int8Dynamic && a->precision == "int8" && !a->calibration.empty())
      p = Precision::Int8Static;
    const auto t0 = std::chrono::steady_clock::now();
    ModelOptions o = model_options(*a);  // reads --calibration once
    o.precision = p;
    const auto model = load_model(*a, o);
    const quant::PlanManifest m = quant::write_model_plan(*model, o, a->output);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string layers;
    for (const auto& l : model->layer_precisions()) layers += (layers.empty() ? "" : ",") + l;
    std::printf("wrote %s: %s plan (layers %s), %.1f MB of weights, in %.1f s\n", a->output.c_str(),
                to_string(m.precision).c_str(), layers.c_str(),
                static_cast<double>(std::filesystem::file_size(std::filesystem::path(a->output) /
                                                               "model.safetensors")) /
                    1e6,
                s);
  });
}

}  // namespace encore::cli

// encore: one binary, one sub-command per job.
#include <cstdlib>
#include <iostream>

#include "commands.hpp"
#include "encore/error.hpp"

namespace encore::cli {

std::string default_model_dir() {
  if (const char* env = std::getenv("ENCORE_MODEL"); env && *env) return env;
  return ENCORE_DEFAULT_MODEL_DIR;
}

}  // namespace encore::cli

int main(int argc, char** argv) {
  CLI::App app{"encore: fast Transformer encoder inference (BERT family) on CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "encore 0.1.0");
  encore::cli::add_classify_command(app);
  encore::cli::add_embed_command(app);
  encore::cli::add_run_command(app);
  encore::cli::add_eval_command(app);
  encore::cli::add_bench_command(app);
  encore::cli::add_inspect_command(app);
  encore::cli::add_build_command(app);
  encore::cli::add_tune_command(app);
  encore::cli::add_serve_command(app);
  encore::cli::add_tokenize_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const encore::Error& e) {
    std::cerr << "encore: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "encore: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

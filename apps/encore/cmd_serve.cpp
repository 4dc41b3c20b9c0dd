// encore serve: the HTTP server (src/serve/), with text-embeddings-inference's options.
#include "commands.hpp"
#include "model_args.hpp"
#include "serve/server.hpp"

namespace encore::cli {

void add_serve_command(CLI::App& app) {
  struct Args : ModelArgs {
    serve::ServeOptions serve;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "serve", "HTTP server (text-embeddings-inference routes) with dynamic batching");
  add_model_folder_options(cmd, *a);
  add_precision_options(cmd, *a, false);
  auto& o = a->serve;
  cmd->add_option("--host", o.host, "Address to listen on");
  cmd->add_option("--port", o.port, "Port (0: any free port, printed on stderr)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--max-concurrent-requests", o.max_concurrent_requests,
                  "Requests in flight before 429")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-batch-tokens", o.max_batch_tokens, "Tokens per forward batch")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-forward-tokens", o.max_forward_tokens,
                  "Tokens per forward pass; each pass is a batch whose requests reply when it ends "
                  "(0: up to --max-batch-tokens)");
  cmd->add_option("--max-batch-requests", o.max_batch_requests,
                  "Requests per forward batch (default: no limit)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-client-batch-size", o.max_client_batch_size,
                  "Inputs per request before 413")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--auto-truncate", o.auto_truncate,
                "Truncate long inputs unless a request says truncate: false");
  cmd->add_option("--payload-limit", o.payload_limit, "Request body bytes before 413")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--api-key", o.api_key, "Require Authorization: Bearer KEY");
  cmd->add_option("--tokenization-workers", o.tokenization_workers,
                  "HTTP/tokenization threads (default: CPUs)");
  cmd->add_option("--max-batch-delay-ms", o.max_batch_delay_ms,
                  "Wait this long for more requests before a batch")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([a] {
    a->serve.model_id = a->model;
    const auto model = load_model(*a);
    serve::serve_until_signal(model, a->serve);
  });
}

}  // namespace encore::cli

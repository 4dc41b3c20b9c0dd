// `encore serve`: an HTTP server with Hugging Face text-embeddings-inference's routes, request
// and response JSON and error statuses, on cpp-httplib. Requests are tokenized on the HTTP
// worker threads and run through the dynamic Batcher; see README "encore serve".
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "encore/model.hpp"
#include "serve/batcher.hpp"
#include "serve/metrics.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace encore::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see Server::port)
  std::size_t max_concurrent_requests = 512;
  std::size_t max_batch_tokens = 16384;
  std::size_t max_batch_requests = 0;     // 0: no limit
  std::size_t max_forward_tokens = 1024;  // tokens per forward pass of a batch; 0: the whole batch
  std::size_t max_client_batch_size = 32;
  bool auto_truncate = false;
  std::size_t payload_limit = 2000000;
  std::string api_key;                   // empty: no authentication
  std::size_t tokenization_workers = 0;  // HTTP worker threads; 0: the CPUs available
  double max_batch_delay_ms = 0;
  std::string model_id;  // shown by /info and /v1/embeddings
};

class Server {
 public:
  Server(std::shared_ptr<const Model> model, ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds (port 0 picks a free port); throws encore::Error when it cannot.
  void bind();
  int port() const { return port_; }
  // Serves until shutdown(); returns after in-flight requests finished.
  void run();
  // Stop accepting (/health answers 503), let in-flight requests finish, make run() return.
  void shutdown();

  // Answers one request as the listening server does (API key, route table, the route),
  // without a socket: what the fuzzer calls.
  void handle(const httplib::Request& req, httplib::Response& res);

 private:
  using Route = std::function<void(const httplib::Request&, httplib::Response&)>;
  struct Call;  // one request's timings and outcome
  void routes();
  bool authorized(const httplib::Request& req) const;
  void get(const std::string& path, Route route);
  template <typename Handler>
  void post(const std::string& path, Handler handler);
  std::vector<Encoding> tokenize(std::vector<TextInput> inputs, bool truncate, bool left,
                                 Call& call) const;
  BatchResult compute(std::vector<Encoding> rows, Call& call, bool hidden_states = false);

  std::shared_ptr<const Model> model_;
  ServeOptions options_;
  std::unique_ptr<httplib::Server> http_;
  std::map<std::pair<std::string, std::string>, Route> routes_;  // (method, path)
  Metrics metrics_;  // before batcher_: the batcher's thread reports to it until it is joined
  Batcher batcher_;
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<bool> draining_{false};
  int port_ = 0;
};

// Loads nothing itself: runs `model` until SIGTERM/SIGINT, then drains and returns 0.
int serve_until_signal(std::shared_ptr<const Model> model, const ServeOptions& options);

}  // namespace encore::serve

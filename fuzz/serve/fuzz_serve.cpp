// fuzz_serve: one HTTP request, as `encore serve` gets it once cpp-httplib has read it,
// answered by Server::handle: the API key, the route table, JSON parsing and validation,
// tokenization, the batcher and the model (the tiny random BERT), and the JSON reply.
//
// Input: byte 0 picks the method and path (a fixed route, or the path spelled by the input up
// to its first newline), byte 1 the Authorization header (none, right, wrong); the rest is the
// body. Invariants: the status is one the route may answer (never 500 or a crash), an error
// reply is TEI's {"error", "error_type"}, a JSON route's 200 reply is JSON.
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "encore/model.hpp"
#include "serve/server.hpp"

namespace {

[[noreturn]] void fail(const char* what, const httplib::Request& req,
                       const httplib::Response& res) {
  std::fprintf(stderr, "\n*** fuzz_serve: %s: %s %s -> %d %s\n", what, req.method.c_str(),
               req.path.c_str(), res.status, res.body.substr(0, 400).c_str());
  std::fflush(stderr);
  __builtin_trap();
}

encore::serve::Server& server() {
  static encore::serve::Server* s = [] {
    const char* dir = std::getenv("ENCORE_FUZZ_MODEL");
    encore::ModelOptions options;
    options.threads = 1;
    auto model = encore::Model::load(dir ? dir : ENCORE_FUZZ_DEFAULT_MODEL, options);
    encore::serve::ServeOptions o;
    o.api_key = "fuzz-key";
    o.max_client_batch_size = 4;
    o.max_batch_tokens = 1024;
    return new encore::serve::Server(std::move(model), o);  // lives for the process
  }();
  return *s;
}

struct Route {
  const char* method;
  const char* path;
};
constexpr Route kRoutes[] = {
    {"POST", "/embed"},    {"POST", "/embed_all"}, {"POST", "/predict"},       {"POST", "/rerank"},
    {"POST", "/tokenize"}, {"POST", "/decode"},    {"POST", "/v1/embeddings"}, {"GET", "/health"},
    {"GET", "/info"},      {"GET", "/metrics"},    {"GET", "/openapi.json"},   {"GET", "/"},
    {"GET", "/embed"},     {"DELETE", "/embed"},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& s = server();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const unsigned pick = in.empty() ? 0 : static_cast<unsigned char>(in[0]);
  const unsigned auth = in.size() < 2 ? 1 : static_cast<unsigned char>(in[1]) % 3;
  in.remove_prefix(std::min<std::size_t>(2, in.size()));

  httplib::Request req;
  constexpr std::size_t n = sizeof kRoutes / sizeof kRoutes[0];
  if (pick % 16 < n) {
    req.method = kRoutes[pick % 16].method;
    req.path = kRoutes[pick % 16].path;
  } else {
    const auto nl = in.find('\n');
    req.method = pick & 0x80 ? "GET" : "POST";
    req.path = std::string(in.substr(0, nl));
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  }
  if (auth == 1) req.headers.emplace("Authorization", "Bearer fuzz-key");
  if (auth == 2) req.headers.emplace("Authorization", "Bearer fuzz-kez");
  req.body = std::string(in);
  httplib::Response res;
  s.handle(req, res);

  const int status = res.status < 0 ? 200 : res.status;
  switch (status) {
    case 200:
    case 401:
    case 404:
    case 405:
    case 413:
    case 422:
    case 424:
      break;
    default:
      fail("unexpected status", req, res);
  }
  const bool json_reply = req.path != "/" && req.path != "/metrics" && req.path != "/health";
  if (status == 200 && !json_reply) return 0;
  if (status == 200 && req.path == "/health") return 0;
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(res.body);
  } catch (const nlohmann::json::exception&) {
    fail("reply is not JSON", req, res);
  }
  if (status != 200 &&
      (!body.is_object() || !body.contains("error") || !body["error"].is_string() ||
       !body.contains("error_type") || !body["error_type"].is_string()))
    fail("error reply without error/error_type", req, res);
  return 0;
}

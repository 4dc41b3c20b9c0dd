#include "serve/server.hpp"

#include <httplib.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmath>

#include <csignal>
#include <cstdio>
#include <numeric>
#include <thread>

#include "serve/assets.hpp"
#include "serve/replies.hpp"
#include "serve/requests.hpp"

namespace encore::serve {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}
// A reply a route wrote itself (serve/replies.hpp).
std::string dump(std::string&& written) {
  return std::move(written);
}

// base64 of the little-endian float32 values (OpenAI's encoding_format "base64").
std::string base64(const std::vector<float>& v) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  const std::size_t n = v.size() * sizeof(float);
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (std::size_t i = 0; i < n; i += 3) {
    const std::uint32_t b = (std::uint32_t{p[i]} << 16) |
                            (i + 1 < n ? std::uint32_t{p[i + 1]} << 8 : 0) |
                            (i + 2 < n ? p[i + 2] : 0);
    out += kAlphabet[(b >> 18) & 63];
    out += kAlphabet[(b >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(b >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[b & 63] : '=';
  }
  return out;
}

// cpp-httplib 0.11 (Debian 12's) gives a handler no way to see its connection, so a request
// that waits finds its socket among the process's descriptors by its two addresses. The
// descriptor stays open while the handler runs (httplib closes it after the reply).
int connection_socket(const std::string& peer_addr, int peer_port, int local_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (const dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != 0) continue;
    struct stat st {};
    if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage peer{}, local{};
    socklen_t pl = sizeof peer, ll = sizeof local;
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &pl) != 0 ||
        getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &ll) != 0)
      continue;
    char text[INET6_ADDRSTRLEN] = {};
    int pport = 0, lport = 0;
    if (peer.ss_family == AF_INET) {
      const auto* p = reinterpret_cast<const sockaddr_in*>(&peer);
      inet_ntop(AF_INET, &p->sin_addr, text, sizeof text);
      pport = ntohs(p->sin_port);
      lport = ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port);
    } else if (peer.ss_family == AF_INET6) {
      const auto* p = reinterpret_cast<const sockaddr_in6*>(&peer);
      inet_ntop(AF_INET6, &p->sin6_addr, text, sizeof text);
      pport = ntohs(p->sin6_port);
      lport = ntohs(reinterpret_cast<const sockaddr_in6*>(&local)->sin6_port);
    } else {
      continue;
    }
    if (pport == peer_port && lport == local_port && peer_addr == text) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

// The client closed its end (a request/response client never half-closes while waiting).
bool peer_closed(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

std::atomic<int> g_signal{0};
void on_signal(int s) {
  g_signal = s;
}

}  // namespace

struct Server::Call {
  Clock::time_point start = Clock::now();
  double tokenization_s = 0, queue_s = 0, inference_s = 0;
  std::size_t tokens = 0;
  const httplib::Request* request = nullptr;
};

Server::Server(std::shared_ptr<const Model> model, ServeOptions options)
    : model_(std::move(model)),
      options_(std::move(options)),
      http_(std::make_unique<httplib::Server>()),
      metrics_(),
      batcher_(model_, BatchLimits{options_.max_batch_tokens, options_.max_batch_requests,
                                   std::chrono::microseconds(static_cast<std::int64_t>(
                                       options_.max_batch_delay_ms * 1000)),
                                   options_.max_forward_tokens}) {
  if (options_.max_client_batch_size == 0)
    throw Error("--max-client-batch-size must be at least 1");
  if (options_.max_batch_tokens < model_->max_length())
    throw Error("--max-batch-tokens " + std::to_string(options_.max_batch_tokens) +
                " is below the model's maximum input length " +
                std::to_string(model_->max_length()));
  // The batcher runs one forward pass at a time: its working memory is reserved once, at the
  // size of the largest pass (the pass budget, or one input of the model's maximum length),
  // so the server's RSS does not creep up with its largest batch.
  model_->reserve(std::max(batcher_.limits().forward_tokens(), model_->max_length()));
  batcher_.on_batch([this](const BatchRecord& r) { metrics_.batch(r.requests, r.rows, r.tokens); });
  const std::size_t workers = options_.tokenization_workers
                                  ? options_.tokenization_workers
                                  : std::max<unsigned>(std::thread::hardware_concurrency(), 2);
  // Every request holds a worker while it waits for its batch, so the pool is sized for the
  // concurrency limit; tokenization itself is bounded by the CPUs.
  // One more than the limit, so the request over it reaches a handler and gets its 429.
  const std::size_t pool =
      std::max(workers, std::min<std::size_t>(options_.max_concurrent_requests + 1, 65));
  http_->new_task_queue = [pool] { return new httplib::ThreadPool(pool); };
  http_->set_payload_max_length(options_.payload_limit);
  http_->set_read_timeout(30, 0);
  // Replies are small and written at once: without TCP_NODELAY a reply waits ~40 ms for the
  // client's delayed ACK. Keep-alive connections stay for many requests, as clients expect.
  http_->set_tcp_nodelay(true);
  http_->set_keep_alive_max_count(100000);
  http_->set_keep_alive_timeout(5);
  routes();
}

Server::~Server() = default;

std::vector<Encoding> Server::tokenize(std::vector<TextInput> inputs, bool truncate, bool left,
                                       Call& call) const {
  const auto t0 = Clock::now();
  BatchOptions b;
  b.truncate = truncate;
  b.truncation_direction = left ? TruncationDirection::Left : TruncationDirection::Right;
  std::vector<Encoding> rows;
  try {
    rows = model_->encode(inputs, b);
  } catch (const InputError& e) {
    throw HttpError(422, "Validation", e.what());
  }
  call.tokenization_s = since(t0);
  for (const auto& r : rows) call.tokens += r.size();
  return rows;
}

BatchResult Server::compute(std::vector<Encoding> rows, Call& call, bool hidden_states) {
  Batcher::Ticket t;
  try {
    t = batcher_.submit(std::move(rows), hidden_states);
  } catch (const InputError& e) {
    throw HttpError(422, "Validation", e.what());
  } catch (const Error& e) {
    throw HttpError(503, "Unhealthy", e.what());
  }
  // While it waits, a request watches its connection: a client gone away cancels the rows
  // not yet computed. The socket is looked for only once a wait outlasts a short batch, and
  // the checks back off to 100 ms: each wake-up of a waiting handler preempts a compute
  // thread on a busy machine (64 waiting clients polling every 20 ms woke 3,200 times a
  // second).
  int fd = -2;
  auto poll_every = std::chrono::milliseconds(20);
  while (t.result.wait_for(poll_every) != std::future_status::ready) {
    poll_every = std::min(poll_every * 2, std::chrono::milliseconds(100));
    if (fd == -2)
      fd = connection_socket(call.request->remote_addr, call.request->remote_port, port_);
    if (fd >= 0 && peer_closed(fd)) {
      t.cancelled->store(true);
      break;
    }
  }
  BatchResult r;
  try {
    r = t.result.get();
  } catch (const Error&) {
    if (t.cancelled->load()) throw HttpError(499, "Cancelled", "the client closed the connection");
    throw;
  }
  call.queue_s = r.queue_s;
  call.inference_s = r.inference_s;
  return r;
}

template <typename Handler>
void Server::post(const std::string& path, Handler handler) {
  routes_[{"POST", path}] = [this, path, handler](const httplib::Request& req,
                                                  httplib::Response& res) {
    Call call;
    call.request = &req;
    const std::size_t now = ++in_flight_;
    try {
      if (draining_) throw HttpError(503, "Unhealthy", "the server is shutting down");
      if (now > options_.max_concurrent_requests)
        throw HttpError(429, "Overloaded",
                        "model is overloaded: more than " +
                            std::to_string(options_.max_concurrent_requests) +
                            " concurrent requests");
      const json body = parse_body(req.body);
      res.set_content(dump(handler(body, call)), "application/json");
      auto ms = [](double s) {
        return std::to_string(static_cast<long long>(std::llround(s * 1000)));
      };
      const double total = since(call.start);
      res.set_header("x-compute-type", "cpu");
      res.set_header("x-compute-time", ms(call.tokenization_s + call.queue_s + call.inference_s));
      res.set_header("x-compute-characters", std::to_string(req.body.size()));
      res.set_header("x-compute-tokens", std::to_string(call.tokens));
      res.set_header("x-total-time", ms(total));
      res.set_header("x-tokenization-time", ms(call.tokenization_s));
      res.set_header("x-queue-time", ms(call.queue_s));
      res.set_header("x-inference-time", ms(call.inference_s));
      metrics_.timings(call.tokenization_s, call.queue_s, call.inference_s, total);
    } catch (const HttpError& e) {
      res.status = e.status();
      res.set_content(error_body(e.what(), e.type()), "application/json");
    } catch (const InputError& e) {
      res.status = 422;
      res.set_content(error_body(e.what(), "Validation"), "application/json");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(error_body(e.what(), "Backend"), "application/json");
    }
    --in_flight_;
    metrics_.request(path,
                     res.status < 0 ? 200 : res.status);  // httplib sets 200 after the handler
  };
}

bool Server::authorized(const httplib::Request& req) const {
  // /health stays open for load balancers and readiness probes; the page and the API
  // description hold no data (the page asks for the key).
  if (options_.api_key.empty() || req.path == "/health" || req.path == "/" ||
      req.path == "/openapi.json")
    return true;
  return req.get_header_value("Authorization") == "Bearer " + options_.api_key;
}

void Server::handle(const httplib::Request& req, httplib::Response& res) {
  if (!authorized(req)) {
    res.status = 401;
    res.set_content(
        error_body("missing or wrong API key (Authorization: Bearer ...)", "Unauthorized"),
        "application/json");
    metrics_.request(req.path, 401);
    return;
  }
  const auto route = routes_.find({req.method, req.path});
  if (route != routes_.end()) return route->second(req, res);
  const bool other_method = std::any_of(routes_.begin(), routes_.end(),
                                        [&](const auto& r) { return r.first.second == req.path; });
  res.status = other_method ? 405 : 404;
  res.set_content(
      error_body((other_method ? "no method " : "no route ") + req.method + " " + req.path,
                 "Validation"),
      "application/json");
}

void Server::get(const std::string& path, Route route) {
  routes_[{"GET", path}] = std::move(route);
}

void Server::routes() {
  auto& http = *http_;
  // httplib reads and bounds the request; encore's own table routes it (so that the fuzzer
  // reaches the same code through handle()).
  http.Get(".*", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
  http.Post(".*",
            [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a route's own error body
    if (res.status == 413)
      res.set_content(error_body("payload over the limit of " +
                                     std::to_string(options_.payload_limit) + " bytes",
                                 "Validation"),
                      "application/json");
    else if (res.status == 404)
      res.set_content(error_body("no route " + req.method + " " + req.path, "Validation"),
                      "application/json");
    else
      res.set_content(error_body("HTTP " + std::to_string(res.status), "Validation"),
                      "application/json");
  });

  const bool classifier = model_->has_classifier();
  const EmbeddingPooling pooling =
      model_->default_pooling() == Pooling::Cls ? EmbeddingPooling::Cls : EmbeddingPooling::Mean;
  auto embedding = [pooling](RowOutput& r) -> std::vector<float>& {
    return pooling == EmbeddingPooling::Cls ? r.cls : r.mean_pooled;
  };

  post("/embed", [this, embedding](const json& body, Call& call) {
    bool single = false;
    auto inputs = text_inputs(body, "inputs", options_.max_client_batch_size, single);
    const auto t = truncation(body, options_.auto_truncate);
    const bool norm = bool_field(body, "normalize", true);
    auto result = compute(tokenize(std::move(inputs), t.truncate, t.left, call), call);
    std::vector<std::span<const float>> rows;
    for (auto& r : result.rows) {
      auto& v = embedding(r);
      if (norm) normalize_l2(v);
      rows.emplace_back(v);
    }
    return vector_rows(rows);
  });

  // TEI's /embed_all: every token's last hidden state, special tokens included.
  post("/embed_all", [this](const json& body, Call& call) {
    bool single = false;
    auto inputs = text_inputs(body, "inputs", options_.max_client_batch_size, single);
    const auto t = truncation(body, options_.auto_truncate);
    auto result = compute(tokenize(std::move(inputs), t.truncate, t.left, call), call, true);
    const auto h = static_cast<std::size_t>(model_->hidden_size());
    json out = json::array();
    for (const auto& r : result.rows) {
      json tokens = json::array();
      for (std::size_t i = 0; i + h <= r.last_hidden_state.size(); i += h)
        tokens.push_back(
            std::vector<float>(r.last_hidden_state.begin() + static_cast<std::ptrdiff_t>(i),
                               r.last_hidden_state.begin() + static_cast<std::ptrdiff_t>(i + h)));
      out.push_back(std::move(tokens));
    }
    return out;
  });

  post("/v1/embeddings", [this, embedding](const json& body, Call& call) {
    bool single = false;
    auto inputs = text_inputs(body, "input", options_.max_client_batch_size, single);
    std::string format = "float";
    if (body.contains("encoding_format") && !body["encoding_format"].is_null()) {
      if (!body["encoding_format"].is_string() ||
          (body["encoding_format"] != "float" && body["encoding_format"] != "base64"))
        throw HttpError(422, "Validation", "`encoding_format` must be \"float\" or \"base64\"");
      format = body["encoding_format"].get<std::string>();
    }
    auto result = compute(tokenize(std::move(inputs), options_.auto_truncate, false, call), call);
    json data = json::array();
    for (std::size_t i = 0; i < result.rows.size(); ++i) {
      auto& v = embedding(result.rows[i]);
      normalize_l2(v);
      data.push_back({{"object", "embedding"},
                      {"embedding", format == "base64" ? json(base64(v)) : json(v)},
                      {"index", i}});
    }
    const std::string model = body.contains("model") && body["model"].is_string()
                                  ? body["model"].get<std::string>()
                                  : options_.model_id;
    return json{{"object", "list"},
                {"data", data},
                {"model", model},
                {"usage", {{"prompt_tokens", call.tokens}, {"total_tokens", call.tokens}}}};
  });

  std::vector<std::string> quoted_labels;
  for (std::int64_t id = 0; id < model_->num_labels(); ++id)
    quoted_labels.push_back(
        json_string(label_name(model_->labels(), static_cast<std::size_t>(id))));
  post("/predict", [this, classifier, reply = LabelReply(std::move(quoted_labels))](
                       const json& body, Call& call) {
    if (!classifier)
      throw HttpError(424, "Backend", "this model has no classification head; use /embed");
    bool single = false;
    auto inputs = predict_inputs(body, options_.max_client_batch_size, single);
    const auto t = truncation(body, options_.auto_truncate);
    const bool raw = bool_field(body, "raw_scores", false);
    auto result = compute(tokenize(std::move(inputs), t.truncate, t.left, call), call);
    std::vector<std::vector<float>> scores;
    for (const auto& r : result.rows)
      scores.push_back(label_scores(r.logits, model_->problem_type(),
                                    raw ? ScoreFunction::None : ScoreFunction::Default));
    return reply.write(scores, single);
  });

  post("/rerank", [this, classifier](const json& body, Call& call) {
    if (!classifier || model_->num_labels() != 1)
      throw HttpError(424, "Backend", "/rerank needs a one-label cross-encoder (a reranker)");
    auto inputs = rerank_inputs(body, options_.max_client_batch_size);
    const auto t = truncation(body, options_.auto_truncate);
    const bool raw = bool_field(body, "raw_scores", false);
    const bool return_text = bool_field(body, "return_text", false);
    std::vector<std::string> texts;
    for (const auto& in : inputs) texts.push_back(*in.pair);
    auto result = compute(tokenize(std::move(inputs), t.truncate, t.left, call), call);
    std::vector<std::pair<float, std::size_t>> ranked;
    for (std::size_t i = 0; i < result.rows.size(); ++i) {
      const auto score = label_scores(result.rows[i].logits, model_->problem_type(),
                                      raw ? ScoreFunction::None : ScoreFunction::Sigmoid);
      ranked.push_back({score.at(0), i});
    }
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    json out = json::array();
    for (const auto& [score, i] : ranked) {
      json r{{"index", i}, {"score", score}};
      if (return_text) r["text"] = texts[i];
      out.push_back(r);
    }
    return out;
  });

  post("/tokenize", [this](const json& body, Call& call) {
    bool single = false;
    const auto inputs = text_inputs(body, "inputs", options_.max_client_batch_size, single);
    const bool special = bool_field(body, "add_special_tokens", true);
    const auto t0 = Clock::now();
    EncodeOptions o;
    o.add_special_tokens = special;
    json out = json::array();
    for (const auto& in : inputs) {
      Encoding e;
      try {
        e = model_->tokenizer().encode(in.text, o);
      } catch (const InputError& err) {
        throw HttpError(422, "Tokenizer", err.what());
      }
      json row = json::array();
      for (std::size_t i = 0; i < e.size(); ++i) {
        const bool is_special = e.special_tokens_mask[i] != 0;
        row.push_back({{"id", e.ids[i]},
                       {"text", e.tokens[i]},
                       {"special", is_special},
                       {"start", is_special ? json(nullptr) : json(e.offsets[i].first)},
                       {"stop", is_special ? json(nullptr) : json(e.offsets[i].second)}});
      }
      call.tokens += e.size();
      out.push_back(row);
    }
    call.tokenization_s = since(t0);
    return out;
  });

  post("/decode", [this](const json& body, Call&) {
    if (!body.contains("ids")) throw HttpError(422, "Validation", "missing field `ids`");
    const json& ids = body["ids"];
    const bool skip = bool_field(body, "skip_special_tokens", true);
    auto one = [&](const json& list) {
      if (!list.is_array()) throw HttpError(422, "Validation", "`ids` must be a list of token ids");
      std::vector<std::int32_t> v;
      for (const auto& id : list) {
        if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
            id.get<std::int64_t>() >= static_cast<std::int64_t>(model_->tokenizer().vocab_size()))
          throw HttpError(422, "Validation",
                          "`ids` holds something that is not a token id of this model");
        v.push_back(id.get<std::int32_t>());
      }
      return model_->tokenizer().decode(v, skip);
    };
    json out = json::array();
    if (ids.is_array() && !ids.empty() && ids[0].is_array()) {
      if (ids.size() > options_.max_client_batch_size)
        throw HttpError(413, "Validation", "batch size over --max-client-batch-size");
      for (const auto& l : ids) out.push_back(one(l));
    } else {
      out.push_back(one(ids));
    }
    return out;
  });

  get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (draining_) {
      res.status = 503;
      res.set_content(error_body("shutting down", "Unhealthy"), "application/json");
    } else {
      res.set_content("", "text/plain");
    }
  });
  get("/info", [this, classifier](const httplib::Request&, httplib::Response& res) {
    json info{
        {"model_id", options_.model_id},
        {"model_dtype", to_string(model_->precision())},
        {"model_type",
         classifier
             ? json{{"classifier", {{"id2label", model_->labels()}}}}
             : json{{"embedding",
                     {{"pooling", model_->default_pooling() == Pooling::Cls ? "cls" : "mean"}}}}},
        {"architecture", model_->model_type()},
        {"max_concurrent_requests", options_.max_concurrent_requests},
        {"max_input_length", model_->max_length()},
        {"max_batch_tokens", options_.max_batch_tokens},
        {"max_batch_requests",
         options_.max_batch_requests ? json(options_.max_batch_requests) : json(nullptr)},
        {"max_client_batch_size", options_.max_client_batch_size},
        {"auto_truncate", options_.auto_truncate},
        {"tokenization_workers", options_.tokenization_workers},
        {"threads", model_->threads()},
        {"version", "0.1.0"}};
    res.set_content(dump(info), "application/json");
  });
  get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(assets::index_html.data(), assets::index_html.size(),
                    "text/html; charset=utf-8");
  });
  get("/openapi.json", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(assets::openapi_json.data(), assets::openapi_json.size(), "application/json");
  });
  get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        metrics_.render(batcher_.pending(), in_flight_, batcher_.stats().cancelled_rows),
        "text/plain; version=0.0.4");
  });
}

void Server::bind() {
  // httplib's default also sets SO_REUSEPORT, with which a second server on the same port
  // starts without error and silently takes a share of the connections: a port in use must
  // refuse to start, so only SO_REUSEADDR (restart while old connections linger) is kept.
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
  } else {
    port_ = http_->bind_to_port(options_.host, options_.port) ? options_.port : -1;
  }
  if (port_ <= 0)
    throw Error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                " (in use, or not an address of this machine)");
}

void Server::run() {
  http_->listen_after_bind();
}

void Server::shutdown() {
  draining_ = true;
  http_->stop();  // in-flight requests finish; the batcher drains when the server is destroyed
}

int serve_until_signal(std::shared_ptr<const Model> model, const ServeOptions& options) {
  Server server(std::move(model), options);
  server.bind();
  std::signal(SIGPIPE, SIG_IGN);  // a client gone mid-reply is an error on its socket, not our exit
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::fprintf(stderr, "encore serve: listening on http://%s:%d\n", options.host.c_str(),
               server.port());
  std::thread watcher([&] {
    while (g_signal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::fprintf(stderr, "encore serve: signal %d, finishing in-flight requests\n",
                 g_signal.load());
    server.shutdown();
  });
  server.run();
  if (g_signal == 0) g_signal = SIGTERM;  // run() ended by itself: let the watcher go
  watcher.join();
  std::fprintf(stderr, "encore serve: stopped\n");
  return 0;
}

}  // namespace encore::serve

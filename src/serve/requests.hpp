// Parsing and validating the JSON bodies of the server's routes (text-embeddings-inference's
// shapes). Pure functions of the body, so they are tested and fuzzed without a socket.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "encore/error.hpp"
#include "encore/model.hpp"

namespace encore::serve {

// An error with its HTTP status and TEI error_type ("Validation", "Tokenizer", "Overloaded",
// "Unhealthy", "Unauthorized", "Backend").
class HttpError : public Error {
 public:
  HttpError(int status, std::string type, const std::string& what)
      : Error(what), status_(status), type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }

 private:
  int status_;
  std::string type_;
};

// {"error": ..., "error_type": ...}
std::string error_body(const std::string& message, const std::string& type);

// The body as JSON (422 when it is not an object).
nlohmann::json parse_body(const std::string& body);

// Options most routes share.
struct TruncationRequest {
  bool truncate = false;
  bool left = false;  // truncation_direction "Left"
};
TruncationRequest truncation(const nlohmann::json& body, bool auto_truncate);

// "inputs" (or "input" for OpenAI): a string or a list of strings. `single` tells which.
std::vector<TextInput> text_inputs(const nlohmann::json& body, const char* field,
                                   std::size_t max_batch, bool& single);
// /predict "inputs": "text", ["text", "pair"] (one pair), or a list of those.
std::vector<TextInput> predict_inputs(const nlohmann::json& body, std::size_t max_batch,
                                      bool& single);
// /rerank: (query, text) pairs.
std::vector<TextInput> rerank_inputs(const nlohmann::json& body, std::size_t max_batch);

bool bool_field(const nlohmann::json& body, const char* name, bool fallback);

}  // namespace encore::serve

#include "serve/requests.hpp"

namespace encore::serve {
namespace {

using nlohmann::json;

[[noreturn]] void invalid(const std::string& what) {
  throw HttpError(422, "Validation", what);
}

std::string text(const json& v, const std::string& where) {
  if (!v.is_string()) invalid(where + " must be a string");
  std::string s = v.get<std::string>();
  if (s.empty()) invalid(where + " is empty");
  return s;
}

void check_batch(std::size_t n, std::size_t max_batch) {
  if (n == 0) invalid("`inputs` is empty");
  if (n > max_batch)
    throw HttpError(413, "Validation",
                    "batch size " + std::to_string(n) + " > maximum allowed batch size " +
                        std::to_string(max_batch));
}

}  // namespace

std::string error_body(const std::string& message, const std::string& type) {
  return json{{"error", message}, {"error_type", type}}.dump(-1, ' ', false,
                                                             json::error_handler_t::replace);
}

json parse_body(const std::string& body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    invalid(std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) invalid("the request body must be a JSON object");
  return j;
}

bool bool_field(const json& body, const char* name, bool fallback) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  if (!body[name].is_boolean()) invalid(std::string("`") + name + "` must be true or false");
  return body[name].get<bool>();
}

TruncationRequest truncation(const json& body, bool auto_truncate) {
  TruncationRequest t;
  t.truncate = bool_field(body, "truncate", auto_truncate);
  if (body.contains("truncation_direction") && !body["truncation_direction"].is_null()) {
    const auto& d = body["truncation_direction"];
    if (!d.is_string() || (d != "Right" && d != "Left" && d != "right" && d != "left"))
      invalid("`truncation_direction` must be \"Right\" or \"Left\"");
    t.left = d == "Left" || d == "left";
  }
  return t;
}

std::vector<TextInput> text_inputs(const json& body, const char* field, std::size_t max_batch,
                                   bool& single) {
  if (!body.contains(field)) invalid(std::string("missing field `") + field + "`");
  const json& v = body[field];
  std::vector<TextInput> out;
  single = v.is_string();
  if (single) {
    out.push_back({text(v, std::string("`") + field + "`"), std::nullopt});
    return out;
  }
  if (!v.is_array()) invalid(std::string("`") + field + "` must be a string or a list of strings");
  check_batch(v.size(), max_batch);
  for (std::size_t i = 0; i < v.size(); ++i)
    out.push_back(
        {text(v[i], std::string("`") + field + "[" + std::to_string(i) + "]`"), std::nullopt});
  return out;
}

std::vector<TextInput> predict_inputs(const json& body, std::size_t max_batch, bool& single) {
  if (!body.contains("inputs")) invalid("missing field `inputs`");
  const json& v = body["inputs"];
  auto sequence = [&](const json& s, const std::string& where) -> TextInput {
    if (s.is_string()) return {text(s, where), std::nullopt};
    if (s.is_array() && s.size() == 1) return {text(s[0], where + "[0]"), std::nullopt};
    if (s.is_array() && s.size() == 2)
      return {text(s[0], where + "[0]"), text(s[1], where + "[1]")};
    invalid(where + " must be a string or a [text, text_pair] list");
  };
  std::vector<TextInput> out;
  // TEI's order: a string or a two-string list is one input; any other list is a batch.
  single = v.is_string() || (v.is_array() && v.size() == 2 && v[0].is_string() && v[1].is_string());
  if (single) {
    out.push_back(sequence(v, "`inputs`"));
    return out;
  }
  if (!v.is_array())
    invalid("`inputs` must be a string, a [text, text_pair] list or a list of those");
  check_batch(v.size(), max_batch);
  for (std::size_t i = 0; i < v.size(); ++i)
    out.push_back(sequence(v[i], "`inputs[" + std::to_string(i) + "]`"));
  return out;
}

std::vector<TextInput> rerank_inputs(const json& body, std::size_t max_batch) {
  if (!body.contains("query")) invalid("missing field `query`");
  const std::string query = text(body["query"], "`query`");
  if (!body.contains("texts") || !body["texts"].is_array())
    invalid("`texts` must be a list of strings");
  const json& texts = body["texts"];
  check_batch(texts.size(), max_batch);
  std::vector<TextInput> out;
  for (std::size_t i = 0; i < texts.size(); ++i)
    out.push_back({query, text(texts[i], "`texts[" + std::to_string(i) + "]`")});
  return out;
}

}  // namespace encore::serve

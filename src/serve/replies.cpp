#include "serve/replies.hpp"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "encore/scores.hpp"

namespace encore::serve {

std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_number(std::string& out, float v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

std::string LabelReply::write(const std::vector<std::vector<float>>& row_scores,
                              bool single) const {
  if (single && row_scores.empty()) return "[]";
  std::string out;
  std::size_t labels = 0;
  for (const auto& s : row_scores) labels += s.size();
  out.reserve(labels * 40 + 8);
  if (!single) out += '[';
  for (std::size_t r = 0; r < row_scores.size(); ++r) {
    if (r) out += ',';
    out += '[';
    const auto& scores = row_scores[r];
    bool first = true;
    for (const std::size_t id : ranked_label_ids(scores, 0)) {
      if (!first) out += ',';
      first = false;
      out += "{\"score\":";
      append_number(out, scores[id]);
      out += ",\"label\":";
      out += id < names_.size() ? names_[id] : json_string(label_name({}, id));
      out += '}';
    }
    out += ']';
    if (single) break;
  }
  if (!single) out += ']';
  return out;
}

std::string vector_rows(const std::vector<std::span<const float>>& rows) {
  std::string out;
  std::size_t values = 0;
  for (const auto& v : rows) values += v.size();
  out.reserve(values * 12 + 8);
  out += '[';
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (r) out += ',';
    out += '[';
    for (std::size_t i = 0; i < rows[r].size(); ++i) {
      if (i) out += ',';
      append_number(out, rows[r][i]);
    }
    out += ']';
  }
  out += ']';
  return out;
}

}  // namespace encore::serve

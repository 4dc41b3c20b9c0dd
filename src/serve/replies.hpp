// The server's large replies, written straight into one string. /predict returns every label
// of every text (151 for a CLINC classifier) and /embed every dimension; building those as
// nlohmann::json values first cost about 1 us per number, most of what the HTTP threads spent
// under load (measured: ~150 us per CLINC text).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace encore::serve {

// A JSON string literal: quoted and escaped, invalid UTF-8 replaced, as the server's dump().
std::string json_string(const std::string& s);

// The shortest text that reads back as exactly `v`; null for NaN and infinities (as
// nlohmann::json writes them).
void append_number(std::string& out, float v);

// Labels ranked by score for each row: [[{"score":s,"label":name},...],...], or the first
// row's list alone when `single`. `quoted_names[id]` is json_string() of label id's name.
class LabelReply {
 public:
  explicit LabelReply(std::vector<std::string> quoted_names) : names_(std::move(quoted_names)) {}
  std::string write(const std::vector<std::vector<float>>& row_scores, bool single) const;

 private:
  std::vector<std::string> names_;
};

// [[v0,v1,...],...]: one array of numbers per row.
std::string vector_rows(const std::vector<std::span<const float>>& rows);

}  // namespace encore::serve

#include "jsonl_inputs.hpp"

#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/utf8.hpp"
#include "encore/error.hpp"

namespace encore::cli {

void check_utf8(const std::string& text, const std::string& what) {
  const std::size_t bad = utf8::find_invalid(text);
  if (bad != std::string::npos)
    throw InputError(what + ": invalid UTF-8 at byte offset " + std::to_string(bad));
}

JsonlRows read_jsonl(const std::string& path, const std::string& text_field,
                     const std::string& pair_field, const std::string& label_field) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) throw InputError("cannot open input file '" + path + "'");
    in = &file;
  }
  JsonlRows rows;
  std::string line;
  std::size_t number = 0;
  while (std::getline(*in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    check_utf8(line, where);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(where + ": malformed JSON line (byte " + std::to_string(e.byte) + ")");
    }
    if (!j.is_object()) throw InputError(where + ": each line must be a JSON object");
    auto t = j.find(text_field);
    if (t == j.end() || !t->is_string())
      throw InputError(where + ": missing string field \"" + text_field + "\"");
    TextInput row{t->get<std::string>(), std::nullopt};
    auto p = pair_field.empty() ? j.end() : j.find(pair_field);
    if (p != j.end() && !p->is_null()) {
      if (!p->is_string())
        throw InputError(where + ": field \"" + pair_field + "\" must be a string");
      row.pair = p->get<std::string>();
    }
    if (!label_field.empty()) {
      auto l = j.find(label_field);
      if (l == j.end() || !(l->is_string() || l->is_number_integer()))
        throw InputError(where + ": missing label field \"" + label_field + "\"");
      rows.labels.push_back(l->is_string() ? l->get<std::string>() : std::to_string(l->get<long long>()));
    }
    rows.inputs.push_back(std::move(row));
    rows.line_numbers.push_back(number);
  }
  if (in->bad()) throw InputError("cannot read input file '" + path + "'");
  return rows;
}

}  // namespace encore::cli

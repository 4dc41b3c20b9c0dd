// Reads the CLI's input rows: JSON lines {"text": ..., "text_pair"?: ...}.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "encore/model.hpp"

namespace encore::cli {

struct JsonlRows {
  std::vector<TextInput> inputs;
  std::vector<std::string> labels;       // when a label field was asked for
  std::vector<std::size_t> line_numbers;  // 1-based, for messages about a row
};

// `path` "-" reads standard input. Errors name the file and the 1-based line number:
// malformed JSON, invalid UTF-8 (with its byte offset in the line), missing text field,
// missing label field (when `label_field` is given).
JsonlRows read_jsonl(const std::string& path, const std::string& text_field = "text",
                     const std::string& pair_field = "text_pair",
                     const std::string& label_field = "");

inline std::vector<TextInput> read_jsonl_inputs(const std::string& path) {
  return read_jsonl(path).inputs;
}

// Throws encore::InputError when `text` is not valid UTF-8, naming `what` and the offset.
void check_utf8(const std::string& text, const std::string& what);

}  // namespace encore::cli

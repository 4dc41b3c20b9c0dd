// Reads the CLI's input rows: JSON lines {"text": ..., "text_pair"?: ...}.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace encore::cli {

struct TextInput {
  std::string text;
  std::optional<std::string> pair;
};

// `path` "-" reads standard input. Errors name the file and the 1-based line number:
// malformed JSON, invalid UTF-8 (with its byte offset in the line), missing "text".
std::vector<TextInput> read_jsonl_inputs(const std::string& path,
                                         const std::string& text_field = "text",
                                         const std::string& pair_field = "text_pair");

// Throws encore::InputError when `text` is not valid UTF-8, naming `what` and the offset.
void check_utf8(const std::string& text, const std::string& what);

}  // namespace encore::cli

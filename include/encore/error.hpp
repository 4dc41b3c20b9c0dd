// encore's single exception type: every failure carries a message that names the
// file / input and what is wrong, so the CLI can print it as-is and exit non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace encore {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Raised for problems with user-supplied input (text, JSONL lines), as opposed to model
// or tokenizer files; servers map it to HTTP 4xx.
class InputError : public Error {
 public:
  explicit InputError(const std::string& what) : Error(what) {}
};

}  // namespace encore

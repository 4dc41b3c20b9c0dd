// Switches read from the environment (A/B measurements, tests of fallback paths).
#pragma once

#include <cstdlib>
#include <cstring>

namespace encore {

// True when the variable is set to something other than "" or "0".
inline bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

// True when the variable is exactly "0": for switches that are on unless turned off.
inline bool env_off(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "0") == 0;
}

}  // namespace encore

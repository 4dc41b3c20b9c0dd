// Where encore keeps what it measured about this machine (roofline, kernel choices):
// $XDG_CACHE_HOME/encore, else ~/.cache/encore, else /tmp/encore.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace encore {

inline std::filesystem::path cache_file(const std::string& name) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::filesystem::path base = xdg && *xdg ? xdg : (home ? std::filesystem::path(home) / ".cache" : "/tmp");
  return base / "encore" / name;
}

}  // namespace encore

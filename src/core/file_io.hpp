// Small file helpers whose errors name the path.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace encore {

// Whole file as bytes; throws encore::Error when missing or unreadable.
std::string read_file(const std::filesystem::path& path, const std::string& what = "file");

// Parses a JSON file; throws encore::Error naming the file and the parse position.
nlohmann::json read_json_file(const std::filesystem::path& path, const std::string& what = "file");

nlohmann::json parse_json(std::string_view text, const std::string& source);

}  // namespace encore

#include "core/file_io.hpp"

#include <fstream>
#include <sstream>

#include "encore/error.hpp"

namespace encore {

std::string read_file(const std::filesystem::path& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(what + " '" + path.string() + "' does not exist");
  if (std::filesystem::is_directory(path, ec))
    throw Error(what + " '" + path.string() + "' is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + what + " '" + path.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error("cannot read " + what + " '" + path.string() + "'");
  return ss.str();
}

nlohmann::json parse_json(std::string_view text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(source + ": malformed JSON at byte " + std::to_string(e.byte) + ": " +
                std::string(e.what()).substr(std::string(e.what()).find(':') + 1));
  } catch (const nlohmann::json::exception& e) {
    // parse() also throws out_of_range (406) for numbers that overflow a double ("1e999").
    const std::string what = e.what();
    throw Error(source + ": malformed JSON: " + what.substr(what.find("] ") + 2));
  }
}

nlohmann::json read_json_file(const std::filesystem::path& path, const std::string& what) {
  return parse_json(read_file(path, what), path.string());
}

}  // namespace encore

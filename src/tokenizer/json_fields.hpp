// Typed field access on tokenizer.json objects, with errors that name the file and field.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/utf8.hpp"
#include "encore/error.hpp"

namespace encore::tok {

inline const nlohmann::json* find_field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

inline bool bool_field(const nlohmann::json& j, const char* key, bool fallback,
                       const std::string& where) {
  const auto* v = find_field(j, key);
  if (!v) return fallback;
  if (!v->is_boolean()) throw Error(where + ": field '" + key + "' must be a boolean");
  return v->get<bool>();
}

inline std::string string_field(const nlohmann::json& j, const char* key,
                                const std::string& where) {
  const auto* v = find_field(j, key);
  if (!v || !v->is_string())
    throw Error(where + ": missing or non-string field '" + std::string(key) + "'");
  return v->get<std::string>();
}

inline std::string string_field(const nlohmann::json& j, const char* key,
                                const std::string& fallback, const std::string& where) {
  const auto* v = find_field(j, key);
  if (!v) return fallback;
  if (!v->is_string()) throw Error(where + ": field '" + std::string(key) + "' must be a string");
  return v->get<std::string>();
}

// A string field holding exactly one character (Metaspace's replacement, a delimiter...).
inline char32_t one_char(const std::string& value, const char* key, const std::string& where) {
  const std::u32string c = utf8::decode(value);
  if (c.size() != 1)
    throw Error(where + ": field '" + std::string(key) + "' must be exactly one character");
  return c[0];
}

inline char32_t char_field(const nlohmann::json& j, const char* key, const std::string& where) {
  return one_char(string_field(j, key, where), key, where);
}

inline char32_t char_field(const nlohmann::json& j, const char* key, const std::string& fallback,
                           const std::string& where) {
  return one_char(string_field(j, key, fallback, where), key, where);
}

inline long long int_field(const nlohmann::json& j, const char* key, long long fallback,
                           const std::string& where) {
  const auto* v = find_field(j, key);
  if (!v) return fallback;
  if (!v->is_number_integer())
    throw Error(where + ": field '" + std::string(key) + "' must be an integer");
  return v->get<long long>();
}

inline const nlohmann::json& array_field(const nlohmann::json& j, const char* key,
                                         const std::string& where) {
  const auto* v = find_field(j, key);
  if (!v || !v->is_array())
    throw Error(where + ": missing or non-array field '" + std::string(key) + "'");
  return *v;
}

inline std::string type_of(const nlohmann::json& j, const std::string& what,
                           const std::string& where) {
  if (!j.is_object()) throw Error(where + ": " + what + " must be a JSON object");
  return string_field(j, "type", where + ": " + what);
}

}  // namespace encore::tok

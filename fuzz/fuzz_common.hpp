// Helpers shared by the libFuzzer targets: a UTF-8 checker independent of the library's
// own, and the structural invariants every Encoding must satisfy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string_view>
#include <typeinfo>

#include "encore/encoding.hpp"

namespace encore_fuzz {

// Prints why and stops the process in a way libFuzzer records as a crash.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "\n*** encore fuzz invariant violated: %s\n", what);
  std::fflush(stderr);
  __builtin_trap();
}

[[noreturn]] inline void unexpected_exception(const std::exception& e) {
  std::fprintf(stderr, "\n*** encore fuzz: unexpected exception of type %s: %s\n",
               typeid(e).name(), e.what());
  std::fflush(stderr);
  __builtin_trap();
}

// Number of code points of `s` when it is valid UTF-8 (shortest form, no surrogates,
// <= U+10FFFF); nullopt otherwise. Written independently of src/core/utf8.cpp.
inline std::optional<std::size_t> utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (b < 0x80) {
      ++i;
      ++n;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      len = 2, cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3, cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4, cp = b & 0x07;
    } else {
      return std::nullopt;
    }
    if (s.size() - i < len) return std::nullopt;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return std::nullopt;
    i += len;
    ++n;
  }
  return n;
}

// Invariants of any Encoding produced from input(s) of `len_a` / `len_b` code points.
inline void check_encoding(const encore::Encoding& e, std::size_t len_a, std::size_t len_b) {
  const std::size_t n = e.ids.size();
  if (e.type_ids.size() != n || e.tokens.size() != n || e.offsets.size() != n ||
      e.special_tokens_mask.size() != n || e.sequence_ids.size() != n)
    fail("Encoding vectors have different lengths");
  for (std::size_t i = 0; i < n; ++i) {
    const auto [start, end] = e.offsets[i];
    if (start > end) fail("offset start > end");
    const std::int8_t seq = e.sequence_ids[i];
    if (seq == -1) {
      if (start != 0 || end != 0) fail("template special token with non-(0,0) offsets");
      if (e.special_tokens_mask[i] != 1) fail("template special token without special mask");
      continue;
    }
    if (seq != 0 && seq != 1) fail("sequence id is not -1, 0 or 1");
    if (end > (seq == 0 ? len_a : len_b)) fail("offset end beyond the input's code points");
    if (e.special_tokens_mask[i] > 1) fail("special_tokens_mask value is not 0/1");
  }
}

}  // namespace encore_fuzz

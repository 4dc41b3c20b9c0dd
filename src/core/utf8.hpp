// UTF-8 <-> code points. Decoding is strict (no overlongs, surrogates or values past
// U+10FFFF) because Hugging Face tokenizers only ever sees valid Rust strings.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace encore::utf8 {

// Decodes `text` into code points. Throws encore::InputError naming the byte offset of
// the first invalid sequence.
std::u32string decode(std::string_view text);

// Returns the byte offset of the first invalid sequence, or npos when `text` is valid.
std::size_t find_invalid(std::string_view text);

void append(std::string& out, char32_t cp);
std::string encode(std::u32string_view cps);

inline std::size_t encoded_length(char32_t cp) {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

}  // namespace encore::utf8

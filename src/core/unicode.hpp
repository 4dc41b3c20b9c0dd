// Character properties exactly as Hugging Face `tokenizers` sees them. HF mixes sources:
// Rust's std (whitespace, lowercase), the `regex` crate (\w), and the frozen
// `unicode_categories` crate (control/punctuation/nonspacing-mark tests, pre-2017
// Unicode). We compute everything once from ICU into a flat table, adjusted where those
// crates differ from current Unicode, so lookups in the hot path are one load.
#pragma once

#include <cstdint>
#include <string>

namespace encore::unicode {

enum Flag : std::uint16_t {
  kWhitespace = 1u << 0,     // Rust char::is_whitespace (White_Space property)
  kOther = 1u << 1,          // HF is_other(): Cc/Cf/Cs/Co as the categories crate knows them
  kPunctuation = 1u << 2,    // HF BERT punctuation: ASCII punctuation or Unicode P*
  kNonspacingMark = 1u << 3, // Mn, as the categories crate knows it
  kWord = 1u << 4,           // regex \w
  kChinese = 1u << 5,        // BERT's CJK ideograph ranges
  kHasLower = 1u << 6,       // to_lowercase() differs from the character itself
  kCanonicalDecomp = 1u << 7,// NFD changes the character
  kCompatDecomp = 1u << 8,   // NFKD changes the character
  kCombining = 1u << 9,      // canonical combining class != 0
  kComposes = 1u << 10,      // may take part in canonical composition (NFC may change it)
  kCombiningMark = 1u << 11, // general category M*, as the normalization crate knows it
};

// Flags of code point `c` (0..0x10FFFF).
std::uint16_t flags(char32_t c);

inline bool has(char32_t c, std::uint16_t f) { return (flags(c) & f) != 0; }

// Full lowercase mapping of one character (Rust char::to_lowercase: may yield several).
void append_lowercase(char32_t c, std::u32string& out);

// Single-character lowercase (exact for every character except U+0130).
char32_t lowercase_simple(char32_t c);

// Full canonical (NFD) or compatibility (NFKD) decomposition of one character, without
// reordering; callers reorder runs of combining marks.
void append_decomposition(char32_t c, bool compat, std::u32string& out);

// Canonical combining class.
std::uint8_t combining_class(char32_t c);

// Canonical composite of the pair, or 0 when there is none (excluding composition
// exclusions, as NFC requires).
char32_t compose_pair(char32_t a, char32_t b);

}  // namespace encore::unicode

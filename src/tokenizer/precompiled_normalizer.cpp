#include "tokenizer/precompiled_normalizer.hpp"

#include <algorithm>

#include "core/utf8.hpp"
#include "encore/error.hpp"
#include "tokenizer/graphemes.hpp"

namespace encore::tok {
namespace {

// darts-clone unit layout.
inline bool has_leaf(std::uint32_t u) {
  return ((u >> 8) & 1) == 1;
}
inline std::uint32_t value(std::uint32_t u) {
  return u & ((1u << 31) - 1);
}
inline std::uint32_t label(std::uint32_t u) {
  return u & ((1u << 31) | 0xFF);
}
inline std::uint32_t offset(std::uint32_t u) {
  return (u >> 10) << ((u & (1u << 9)) >> 6);
}

// Hugging Face's replace(): new characters replace old ones; extra new ones are insertions;
// fewer new ones make the last transformation (possibly an earlier character's) swallow
// the difference.
void push_replacement(std::vector<Edit>& edits, std::size_t old_count, std::u32string_view repl) {
  for (char32_t c : repl) edits.push_back({c, 0});
  const long diff = static_cast<long>(repl.size()) - static_cast<long>(old_count);
  if (diff > 0) {
    for (long k = 0; k < diff; ++k) edits[edits.size() - 1 - k].change = 1;
  } else if (diff < 0 && !edits.empty()) {
    edits.back().change += static_cast<int>(diff);
  }
}

}  // namespace

std::string base64_decode(std::string_view in, const std::string& where) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    const int v = val(in[i]);
    if (v < 0) throw Error(where + ": invalid base64 character at offset " + std::to_string(i));
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  for (; i < in.size(); ++i)
    if (in[i] != '=') throw Error(where + ": invalid base64 padding");
  return out;
}

PrecompiledNormalizer::PrecompiledNormalizer(std::string_view blob, const std::string& where) {
  const std::string ctx = where + ": normalizer Precompiled";
  if (blob.size() < 4) throw Error(ctx + ": precompiled_charsmap is too short");
  const auto* b = reinterpret_cast<const unsigned char*>(blob.data());
  const std::uint32_t trie_bytes = b[0] | (b[1] << 8) | (b[2] << 16) | (std::uint32_t(b[3]) << 24);
  if (trie_bytes % 4 != 0 || trie_bytes > blob.size() - 4 || trie_bytes == 0)
    throw Error(ctx + ": precompiled_charsmap has an invalid trie size");
  trie_.resize(trie_bytes / 4);
  for (std::size_t k = 0; k < trie_.size(); ++k) {
    const unsigned char* p = b + 4 + 4 * k;
    trie_[k] = p[0] | (p[1] << 8) | (p[2] << 16) | (std::uint32_t(p[3]) << 24);
  }
  const std::string_view normalized = blob.substr(4 + trie_bytes);
  if (utf8::find_invalid(normalized) != std::string::npos)
    throw Error(ctx + ": precompiled_charsmap's replacement strings are not valid UTF-8");
  blob_ = utf8::decode(normalized);
  char_at_byte_.assign(normalized.size(), -1);
  for (std::size_t k = 0, at = 0; k < normalized.size(); ++k)
    if ((static_cast<unsigned char>(normalized[k]) & 0xC0) != 0x80)
      char_at_byte_[k] = static_cast<std::int32_t>(at++);
  for (int c = 1; c < 128; ++c) {
    const char ch = static_cast<char>(c);
    ascii_[static_cast<std::size_t>(c)] = transform(std::string_view(&ch, 1));
  }
}

std::optional<std::u32string_view> PrecompiledNormalizer::transform(std::string_view key) const {
  const std::size_t n = trie_.size();
  std::size_t pos = 0;
  std::uint32_t unit = trie_[0];
  pos ^= offset(unit);
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) break;
    pos ^= c;
    if (pos >= n) return std::nullopt;
    unit = trie_[pos];
    if (label(unit) != c) return std::nullopt;
    pos ^= offset(unit);
    if (pos >= n) return std::nullopt;
    if (has_leaf(unit)) {
      // The first (shortest) match is the one Hugging Face uses.
      const std::uint32_t v = value(trie_[pos]);
      if (v >= char_at_byte_.size() || char_at_byte_[v] < 0) return std::nullopt;
      const auto start = static_cast<std::size_t>(char_at_byte_[v]);
      const std::size_t stop = std::min(blob_.find(U'\0', start), blob_.size());
      return std::u32string_view(blob_).substr(start, stop - start);
    }
  }
  return std::nullopt;
}

void PrecompiledNormalizer::normalize(NormalizedString& s) const {
  const std::u32string& chars = s.chars();
  const std::size_t n = chars.size();
  std::vector<Edit> edits;
  edits.reserve(n + 8);
  bool modified = false;
  std::string key;
  for (std::size_t i = 0; i < n;) {
    const std::size_t g = grapheme_length(chars, i, n);
    if (g == 1 && chars[i] < 128) {
      if (const auto& r = ascii_[chars[i]]) {
        modified = true;
        push_replacement(edits, 1, *r);
      } else {
        edits.push_back({chars[i], 0});
      }
      ++i;
      continue;
    }
    key.clear();
    for (std::size_t k = i; k < i + g; ++k) utf8::append(key, chars[k]);
    if (key.size() < 6) {
      if (const auto r = transform(key)) {
        modified = true;
        push_replacement(edits, g, *r);
        i += g;
        continue;
      }
    }
    for (std::size_t k = i; k < i + g; ++k) {
      key.clear();
      utf8::append(key, chars[k]);
      if (const auto r = transform(key)) {
        modified = true;
        push_replacement(edits, 1, *r);
      } else {
        edits.push_back({chars[k], 0});
      }
    }
    i += g;
  }
  if (modified) s.transform(edits);
}

}  // namespace encore::tok

#include "tokenizer/byte_level.hpp"

#include "core/unicode.hpp"
#include "core/utf8.hpp"
#include "tokenizer/regex.hpp"

namespace encore::tok {
namespace {

struct ByteMaps {
  std::array<char32_t, 256> to_char{};
  std::array<std::int16_t, 0x144> to_byte{};  // mapped characters are all below U+0144
  ByteMaps() {
    to_byte.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_char[b] = printable ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[b]] = static_cast<std::int16_t>(b);
    }
  }
};

const ByteMaps& maps() {
  static const ByteMaps m;
  return m;
}

// GPT-2's split regex, as Hugging Face's ByteLevel pre-tokenizer writes it, applied as a
// Split with the Isolated behaviour (matches and the gaps between them are all words).
const SplitPreTokenizer& gpt2_split() {
  static const SplitPreTokenizer split(
      std::make_shared<Regex>(
          "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
          "ByteLevel pre-tokenizer"),
      SplitBehavior::Isolated, false);
  return split;
}

inline bool is_space_char(char32_t c) {
  return c == 0x120 || unicode::has(c, unicode::kWhitespace);
}

}  // namespace

const std::array<char32_t, 256>& byte_to_char() {
  return maps().to_char;
}

int char_to_byte(char32_t c) {
  return c < 0x144 ? maps().to_byte[c] : -1;
}

void ByteLevelPreTokenizer::pre_tokenize(std::vector<NormalizedString>& pieces) const {
  const auto& to_char = maps().to_char;
  std::vector<NormalizedString> out;
  out.reserve(pieces.size() * 4);
  std::vector<Range> words;
  std::string bytes;
  for (NormalizedString& p : pieces) {
    if (p.empty()) continue;
    if (add_prefix_space_ && p.chars()[0] != U' ') p.prepend(U" ");
    words.assign(1, Range{0, static_cast<std::uint32_t>(p.size())});
    if (use_regex_) gpt2_split().split(p.chars(), words);
    // Each word becomes its UTF-8 bytes' characters, every byte aligned to its character.
    const auto& c = p.chars();
    const auto& al = p.alignments();
    for (const Range& w : words) {
      std::u32string chars;
      std::vector<Span> spans;
      chars.reserve(w.end - w.begin + 4);
      spans.reserve(w.end - w.begin + 4);
      for (std::uint32_t i = w.begin; i < w.end; ++i) {
        bytes.clear();
        utf8::append(bytes, c[i]);
        for (const char b : bytes) {
          chars.push_back(to_char[static_cast<unsigned char>(b)]);
          spans.push_back(al[i]);
        }
      }
      out.emplace_back(std::move(chars), std::move(spans), p.original_span(w.begin, w.end));
    }
  }
  pieces.swap(out);
}

namespace {

// One code point of valid UTF-8 starting at s[i] (forward) or ending before s[i]
// (backward), with its length.
char32_t decode_at(const std::string& s, std::size_t i, std::size_t& len) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return len = 1, c;
  if (c < 0xE0) return len = 2, ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
  if (c < 0xF0) return len = 3, ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
  return len = 4, ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) |
                      (s[i + 3] & 0x3F);
}

std::size_t start_of_last(const std::string& s, std::size_t end) {
  std::size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

}  // namespace

void trim_byte_level_offsets(Encoding& e, bool add_prefix_space) {
  for (std::size_t i = 0; i < e.size(); ++i) {
    auto& [start, end] = e.offsets[i];
    const std::string& t = e.tokens[i];
    // Count leading and trailing spaces without decoding the whole token.
    std::size_t lead = 0, trail = 0, len = 0;
    for (std::size_t k = 0; k < t.size(); k += len) {
      if (!is_space_char(decode_at(t, k, len))) break;
      ++lead;
    }
    for (std::size_t k = t.size(); k > 0;) {
      const std::size_t b = start_of_last(t, k);
      if (!is_space_char(decode_at(t, b, len))) break;
      ++trail;
      k = b;
    }
    if (lead > 0) {
      const bool is_first = i == 0 || start == 0;
      // The one space ByteLevel prepended to the first word stays in its offsets.
      if (!(is_first && add_prefix_space && lead == 1)) {
        start = std::min<std::uint32_t>(start + static_cast<std::uint32_t>(lead), end);
      }
    }
    if (trail > 0 && end >= trail)
      end = std::max<std::uint32_t>(end - static_cast<std::uint32_t>(trail), start);
  }
}

}  // namespace encore::tok

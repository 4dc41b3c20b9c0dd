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

// GPT-2's split regex, as Hugging Face's ByteLevel pre-tokenizer writes it.
const Regex& gpt2_regex() {
  static const Regex re(
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
      "ByteLevel pre-tokenizer");
  return re;
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
  std::vector<Range> matches;
  std::u32string chars;
  std::vector<Span> spans;
  for (NormalizedString& p : pieces) {
    if (p.empty()) continue;
    if (add_prefix_space_ && p.chars()[0] != U' ') p.prepend(U" ");
    const std::size_t first = out.size();
    if (use_regex_) {
      matches.clear();
      gpt2_regex().find_all(p.chars(), 0, static_cast<std::uint32_t>(p.size()), matches);
      // Isolated: matches and the gaps between them are all words.
      std::uint32_t prev = 0;
      for (const Range& m : matches) {
        if (prev < m.begin) out.push_back(p.slice(prev, m.begin));
        if (m.end > m.begin) out.push_back(p.slice(m.begin, m.end));
        prev = m.end;
      }
      if (prev < p.size()) out.push_back(p.slice(prev, p.size()));
    } else {
      out.push_back(std::move(p));
    }
    // Every character becomes its UTF-8 bytes' characters, all aligned to it.
    for (std::size_t k = first; k < out.size(); ++k) {
      NormalizedString& w = out[k];
      const auto& c = w.chars();
      const auto& al = w.alignments();
      chars.clear();
      spans.clear();
      bool ascii_printable = true;
      for (std::size_t i = 0; i < c.size(); ++i) {
        const char32_t ch = c[i];
        if (ch < 0x80) {
          ascii_printable = ascii_printable && to_char[ch] == ch;
          chars.push_back(to_char[ch]);
          spans.push_back(al[i]);
          continue;
        }
        ascii_printable = false;
        char buf[4];
        const std::size_t n = ch < 0x800 ? 2 : ch < 0x10000 ? 3 : 4;
        if (n == 2) {
          buf[0] = static_cast<char>(0xC0 | (ch >> 6));
          buf[1] = static_cast<char>(0x80 | (ch & 0x3F));
        } else if (n == 3) {
          buf[0] = static_cast<char>(0xE0 | (ch >> 12));
          buf[1] = static_cast<char>(0x80 | ((ch >> 6) & 0x3F));
          buf[2] = static_cast<char>(0x80 | (ch & 0x3F));
        } else {
          buf[0] = static_cast<char>(0xF0 | (ch >> 18));
          buf[1] = static_cast<char>(0x80 | ((ch >> 12) & 0x3F));
          buf[2] = static_cast<char>(0x80 | ((ch >> 6) & 0x3F));
          buf[3] = static_cast<char>(0x80 | (ch & 0x3F));
        }
        for (std::size_t b = 0; b < n; ++b) {
          chars.push_back(to_char[static_cast<unsigned char>(buf[b])]);
          spans.push_back(al[i]);
        }
      }
      if (!ascii_printable) w.assign(chars, spans);
    }
  }
  pieces.swap(out);
}

void trim_byte_level_offsets(Encoding& e, bool add_prefix_space) {
  for (std::size_t i = 0; i < e.size(); ++i) {
    auto& [start, end] = e.offsets[i];
    const std::u32string t = utf8::decode(e.tokens[i]);
    std::size_t lead = 0, trail = 0;
    while (lead < t.size() && is_space_char(t[lead])) ++lead;
    while (trail < t.size() && is_space_char(t[t.size() - 1 - trail])) ++trail;
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

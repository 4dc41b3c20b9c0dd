#include "tokenizer/graphemes.hpp"

#include <unicode/uchar.h>

namespace encore::tok {
namespace {

enum class Gcb : unsigned char {
  Other,
  CR,
  LF,
  Control,
  Extend,
  ZWJ,
  RI,
  Prepend,
  SpacingMark,
  L,
  V,
  T,
  LV,
  LVT
};

Gcb gcb(char32_t c) {
  if (c < 0x7F) {
    if (c == '\r') return Gcb::CR;
    if (c == '\n') return Gcb::LF;
    return c < 0x20 ? Gcb::Control : Gcb::Other;
  }
  switch (u_getIntPropertyValue(static_cast<UChar32>(c), UCHAR_GRAPHEME_CLUSTER_BREAK)) {
    case U_GCB_CR:
      return Gcb::CR;
    case U_GCB_LF:
      return Gcb::LF;
    case U_GCB_CONTROL:
      return Gcb::Control;
    case U_GCB_EXTEND:
      return Gcb::Extend;
    case U_GCB_ZWJ:
      return Gcb::ZWJ;
    case U_GCB_REGIONAL_INDICATOR:
      return Gcb::RI;
    case U_GCB_PREPEND:
      return Gcb::Prepend;
    case U_GCB_SPACING_MARK:
      return Gcb::SpacingMark;
    case U_GCB_L:
      return Gcb::L;
    case U_GCB_V:
      return Gcb::V;
    case U_GCB_T:
      return Gcb::T;
    case U_GCB_LV:
      return Gcb::LV;
    case U_GCB_LVT:
      return Gcb::LVT;
    default:
      return Gcb::Other;
  }
}

bool pictographic(char32_t c) {
  return c >= 0xA9 && u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_EXTENDED_PICTOGRAPHIC);
}

}  // namespace

std::size_t grapheme_length(const std::u32string& s, std::size_t begin, std::size_t end) {
  std::size_t i = begin;
  Gcb prev = gcb(s[i]);
  // GB11: an Extended_Pictographic, then Extend*, then ZWJ, joins the next pictograph.
  bool emoji_seq = pictographic(s[i]);
  bool emoji_zwj = false;
  std::size_t ri_run = prev == Gcb::RI ? 1 : 0;
  for (++i; i < end; ++i) {
    const char32_t c = s[i];
    // ASCII after ASCII (other than CR LF) always breaks: the common case, no lookups.
    if (c < 0x7F && s[i - 1] < 0x7F && !(s[i - 1] == '\r' && c == '\n')) break;
    const Gcb cur = gcb(c);
    bool join;
    if (prev == Gcb::CR && cur == Gcb::LF)
      join = true;  // GB3
    else if (prev == Gcb::CR || prev == Gcb::LF || prev == Gcb::Control)
      join = false;  // GB4
    else if (cur == Gcb::CR || cur == Gcb::LF || cur == Gcb::Control)
      join = false;  // GB5
    else if (prev == Gcb::L &&
             (cur == Gcb::L || cur == Gcb::V || cur == Gcb::LV || cur == Gcb::LVT))
      join = true;  // GB6
    else if ((prev == Gcb::LV || prev == Gcb::V) && (cur == Gcb::V || cur == Gcb::T))
      join = true;  // GB7
    else if ((prev == Gcb::LVT || prev == Gcb::T) && cur == Gcb::T)
      join = true;  // GB8
    else if (cur == Gcb::Extend || cur == Gcb::ZWJ)
      join = true;  // GB9
    else if (cur == Gcb::SpacingMark)
      join = true;  // GB9a
    else if (prev == Gcb::Prepend)
      join = true;  // GB9b
    else if (emoji_zwj && pictographic(c))
      join = true;  // GB11
    else if (prev == Gcb::RI && cur == Gcb::RI)
      join = (ri_run % 2) == 1;  // GB12/13
    else
      join = false;
    if (!join) break;
    // Track the GB11 and GB12 state for the next character.
    const bool pict = pictographic(c);
    if (pict) {
      emoji_seq = true;
      emoji_zwj = false;
    } else if (cur == Gcb::Extend && emoji_seq && !emoji_zwj) {
      // still Extended_Pictographic Extend*
    } else if (cur == Gcb::ZWJ && emoji_seq && !emoji_zwj) {
      emoji_zwj = true;
    } else {
      emoji_seq = emoji_zwj = false;
    }
    ri_run = cur == Gcb::RI ? ri_run + 1 : 0;
    prev = cur;
  }
  return i - begin;
}

}  // namespace encore::tok

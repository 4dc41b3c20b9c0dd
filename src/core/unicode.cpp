#include "core/unicode.hpp"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf16.h>

#include <memory>
#include <mutex>
#include <vector>

namespace encore::unicode {
namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;

// Rust's char::is_whitespace, i.e. the White_Space property (stable since Unicode 6).
bool rust_whitespace(char32_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool bert_chinese(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool ascii_punctuation(char32_t c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}

// The `unicode_categories` crate HF uses for control/punctuation/mark tests was generated
// from UnicodeData.txt of Unicode 8.0 and never updated: characters assigned later have
// no category there.
bool known_to_categories_crate(char32_t c) {
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(c), age);
  return age[0] != 0 && (age[0] < 8 || (age[0] == 8 && age[1] == 0));
}

struct Tables {
  std::vector<std::uint16_t> flags;
  const UNormalizer2* nfd = nullptr;
  const UNormalizer2* nfkd = nullptr;
  const UNormalizer2* nfc = nullptr;
};

std::uint16_t compute_flags(char32_t c, const Tables& t) {
  const auto uc = static_cast<UChar32>(c);
  std::uint16_t f = 0;
  if (rust_whitespace(c)) f |= kWhitespace;
  const auto cat = static_cast<UCharCategory>(u_charType(uc));
  const bool old = known_to_categories_crate(c);
  if (old && (cat == U_CONTROL_CHAR || cat == U_FORMAT_CHAR || cat == U_SURROGATE ||
              cat == U_PRIVATE_USE_CHAR))
    f |= kOther;
  const bool unicode_punct =
      cat == U_CONNECTOR_PUNCTUATION || cat == U_DASH_PUNCTUATION ||
      cat == U_START_PUNCTUATION || cat == U_END_PUNCTUATION ||
      cat == U_INITIAL_PUNCTUATION || cat == U_FINAL_PUNCTUATION || cat == U_OTHER_PUNCTUATION;
  if (ascii_punctuation(c) || (old && unicode_punct)) f |= kPunctuation;
  if (old && cat == U_NON_SPACING_MARK) f |= kNonspacingMark;
  if (u_hasBinaryProperty(uc, UCHAR_ALPHABETIC) || cat == U_NON_SPACING_MARK ||
      cat == U_COMBINING_SPACING_MARK || cat == U_ENCLOSING_MARK ||
      cat == U_DECIMAL_DIGIT_NUMBER || cat == U_CONNECTOR_PUNCTUATION ||
      u_hasBinaryProperty(uc, UCHAR_JOIN_CONTROL))
    f |= kWord;
  if (bert_chinese(c)) f |= kChinese;
  if (u_tolower(uc) != uc || c == 0x130) f |= kHasLower;
  UChar buf[32];
  UErrorCode err = U_ZERO_ERROR;
  if (c < 0xD800 || c > 0xDFFF) {
    if (unorm2_getDecomposition(t.nfd, uc, buf, 32, &err) >= 0 && U_SUCCESS(err))
      f |= kCanonicalDecomp;
    err = U_ZERO_ERROR;
    if (unorm2_getDecomposition(t.nfkd, uc, buf, 32, &err) >= 0 && U_SUCCESS(err))
      f |= kCompatDecomp;
  }
  if (u_getCombiningClass(uc) != 0) f |= kCombining;
  if (u_getIntPropertyValue(uc, UCHAR_NFC_QUICK_CHECK) != UNORM_YES ||
      u_getIntPropertyValue(uc, UCHAR_NFKC_QUICK_CHECK) != UNORM_YES)
    f |= kComposes;
  return f;
}

const Tables& tables() {
  static const Tables* instance = [] {
    auto* t = new Tables();
    UErrorCode err = U_ZERO_ERROR;
    t->nfd = unorm2_getNFDInstance(&err);
    t->nfkd = unorm2_getNFKDInstance(&err);
    t->nfc = unorm2_getNFCInstance(&err);
    t->flags.resize(kMaxCodePoint + 1);
    for (char32_t c = 0; c <= kMaxCodePoint; ++c) t->flags[c] = compute_flags(c, *t);
    return t;
  }();
  return *instance;
}

}  // namespace

std::uint16_t flags(char32_t c) {
  static const std::uint16_t* table = tables().flags.data();
  return c <= kMaxCodePoint ? table[c] : 0;
}

void append_lowercase(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
  } else if (!(flags(c) & kHasLower)) {
    out.push_back(c);
  } else if (c == 0x130) {  // the one unconditional multi-character lowercase mapping
    out.push_back(U'i');
    out.push_back(0x307);
  } else {
    out.push_back(static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
  }
}

char32_t lowercase_simple(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  if (!(flags(c) & kHasLower)) return c;
  return static_cast<char32_t>(u_tolower(static_cast<UChar32>(c)));
}

void append_decomposition(char32_t c, bool compat, std::u32string& out) {
  const auto& t = tables();
  UChar buf[64];
  UErrorCode err = U_ZERO_ERROR;
  const int32_t n =
      unorm2_getDecomposition(compat ? t.nfkd : t.nfd, static_cast<UChar32>(c), buf, 64, &err);
  if (n < 0 || U_FAILURE(err)) {
    out.push_back(c);
    return;
  }
  for (int32_t i = 0; i < n;) {
    UChar32 cp;
    U16_NEXT(buf, i, n, cp);
    out.push_back(static_cast<char32_t>(cp));
  }
}

std::uint8_t combining_class(char32_t c) {
  return c < 0x300 ? 0 : u_getCombiningClass(static_cast<UChar32>(c));
}

char32_t compose_pair(char32_t a, char32_t b) {
  const UChar32 r =
      unorm2_composePair(tables().nfc, static_cast<UChar32>(a), static_cast<UChar32>(b));
  return r < 0 ? 0 : static_cast<char32_t>(r);
}

}  // namespace encore::unicode

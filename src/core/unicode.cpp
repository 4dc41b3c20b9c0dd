#include "core/unicode.hpp"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf16.h>

#include <atomic>
#include <memory>
#include <utility>
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

bool age_at_most(char32_t c, int major, int minor) {
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(c), age);
  return age[0] != 0 && (age[0] < major || (age[0] == major && age[1] <= minor));
}

// The `unicode_categories` crate HF uses for control/punctuation/nonspacing-mark tests was
// generated from Unicode 8.0's UnicodeData.txt: characters assigned later have no category
// there, and a few characters have changed category since.
constexpr int kCategoriesMajor = 8, kCategoriesMinor = 0;
// unicode-normalization-alignments (HF's NFD/NFKD/NFC/NFKC and StripAccents mark test)
// carries Unicode 9.0 tables.
constexpr int kNormalizationMajor = 9, kNormalizationMinor = 0;

enum class OldCategory { Unchanged, Punctuation, NonspacingMark, Other };
OldCategory category_in_unicode8(char32_t c) {
  switch (c) {
    case 0x166D: return OldCategory::Punctuation;     // Po in 8.0, So since 12.0
    case 0x111C9: return OldCategory::Punctuation;    // Po in 8.0, Mn since 13.0
    case 0x1734: return OldCategory::NonspacingMark;  // Mn in 8.0, Mc since 14.0
    case 0x1885: case 0x1886: return OldCategory::Other;  // Lo in 8.0, Mn since 9.0
    case 0xA9BD: return OldCategory::Other;           // Mc in 8.0, Mn since 12.0
    default: return OldCategory::Unchanged;
  }
}

// Rust's std and regex crate already follow Unicode 16.0, newer than Debian 12's ICU 72
// (Unicode 15.0): the 16.0 additions that matter here are listed explicitly.
struct CaseRun {
  char32_t first, last;
  std::int32_t delta;  // lowercase = c + delta
  char32_t step;       // 1: every character, 2: every other one
};
constexpr CaseRun kUnicode16Lowercase[] = {
    {0x1C89, 0x1C89, 1, 1},       {0xA7CB, 0xA7CB, 0x264 - 0xA7CB, 1},
    {0xA7CC, 0xA7CE, 1, 2},       {0xA7D2, 0xA7D4, 1, 2},
    {0xA7DA, 0xA7DA, 1, 1},       {0xA7DC, 0xA7DC, 0x19B - 0xA7DC, 1},
    {0x10D50, 0x10D65, 0x20, 1},  {0x16EA0, 0x16EB8, 0x1B, 1},
};
constexpr std::pair<char32_t, char32_t> kUnicode16Word[] = {
    {0x897, 0x897},     {0x1C89, 0x1C8A},   {0xA7CB, 0xA7CD},   {0xA7DA, 0xA7DC},
    {0x105C0, 0x105F3}, {0x10D40, 0x10D65}, {0x10D69, 0x10D6D}, {0x10D6F, 0x10D85},
    {0x10EC2, 0x10EC4}, {0x10EFC, 0x10EFC}, {0x11380, 0x11389}, {0x1138B, 0x1138B},
    {0x1138E, 0x1138E}, {0x11390, 0x113B5}, {0x113B7, 0x113C0}, {0x113C2, 0x113C2},
    {0x113C5, 0x113C5}, {0x113C7, 0x113CA}, {0x113CC, 0x113D3}, {0x113E1, 0x113E2},
    {0x116D0, 0x116E3}, {0x11BC0, 0x11BE0}, {0x11BF0, 0x11BF9}, {0x11F5A, 0x11F5A},
    {0x13460, 0x143FA}, {0x16100, 0x16139}, {0x16D40, 0x16D6C}, {0x16D70, 0x16D79},
    {0x18CFF, 0x18CFF}, {0x1CCF0, 0x1CCF9}, {0x1E5D0, 0x1E5FA}, {0x2EBF0, 0x2EE5D},
};

char32_t unicode16_lowercase(char32_t c) {
  for (const auto& r : kUnicode16Lowercase) {
    if (c >= r.first && c <= r.last && (c - r.first) % r.step == 0)
      return static_cast<char32_t>(static_cast<std::int32_t>(c) + r.delta);
  }
  return c;
}

bool unicode16_word(char32_t c) {
  for (const auto& [first, last] : kUnicode16Word)
    if (c >= first && c <= last) return true;
  return false;
}

struct Tables {
  const UNormalizer2* nfd = nullptr;
  const UNormalizer2* nfkd = nullptr;
  const UNormalizer2* nfc = nullptr;
};

std::uint16_t compute_flags(char32_t c, const Tables& t) {
  const auto uc = static_cast<UChar32>(c);
  std::uint16_t f = 0;
  if (rust_whitespace(c)) f |= kWhitespace;
  const auto cat = static_cast<UCharCategory>(u_charType(uc));
  const bool is_mark =
      cat == U_NON_SPACING_MARK || cat == U_COMBINING_SPACING_MARK || cat == U_ENCLOSING_MARK;

  // Categories as the Unicode 8.0 `unicode_categories` crate has them.
  const bool in_v8 = age_at_most(c, kCategoriesMajor, kCategoriesMinor);
  const OldCategory changed = category_in_unicode8(c);
  if (in_v8 && (cat == U_CONTROL_CHAR || cat == U_FORMAT_CHAR || cat == U_SURROGATE ||
                cat == U_PRIVATE_USE_CHAR))
    f |= kOther;
  const bool unicode_punct =
      cat == U_CONNECTOR_PUNCTUATION || cat == U_DASH_PUNCTUATION ||
      cat == U_START_PUNCTUATION || cat == U_END_PUNCTUATION ||
      cat == U_INITIAL_PUNCTUATION || cat == U_FINAL_PUNCTUATION || cat == U_OTHER_PUNCTUATION;
  if (ascii_punctuation(c) ||
      (changed == OldCategory::Unchanged ? in_v8 && unicode_punct
                                         : changed == OldCategory::Punctuation))
    f |= kPunctuation;
  if (changed == OldCategory::Unchanged ? in_v8 && cat == U_NON_SPACING_MARK
                                        : changed == OldCategory::NonspacingMark)
    f |= kNonspacingMark;

  // Unicode 16.0, as Rust's std and regex crate see it.
  if (u_hasBinaryProperty(uc, UCHAR_ALPHABETIC) || is_mark || cat == U_DECIMAL_DIGIT_NUMBER ||
      cat == U_CONNECTOR_PUNCTUATION || u_hasBinaryProperty(uc, UCHAR_JOIN_CONTROL) ||
      unicode16_word(c))
    f |= kWord;
  if (bert_chinese(c)) f |= kChinese;
  if (u_tolower(uc) != uc || c == 0x130 || unicode16_lowercase(c) != c) f |= kHasLower;

  // Normalization data as of Unicode 9.0 (the normalization crate's tables).
  const bool in_v9 = age_at_most(c, kNormalizationMajor, kNormalizationMinor);
  // U+1CF2/U+1CF3 were marks (Mc) in 9.0, letters since 10.0; U+111C9 punctuation until 13.0.
  const bool mark_in_v9 = c == 0x1CF2 || c == 0x1CF3 || (is_mark && c != 0x111C9);
  if (in_v9 && mark_in_v9) f |= kCombiningMark;
  UChar buf[32];
  UErrorCode err = U_ZERO_ERROR;
  if (in_v9) {
    if (unorm2_getDecomposition(t.nfd, uc, buf, 32, &err) >= 0 && U_SUCCESS(err))
      f |= kCanonicalDecomp;
    err = U_ZERO_ERROR;
    if (unorm2_getDecomposition(t.nfkd, uc, buf, 32, &err) >= 0 && U_SUCCESS(err))
      f |= kCompatDecomp;
  }
  if (in_v9 && u_getCombiningClass(uc) != 0) f |= kCombining;
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
    return t;
  }();
  return *instance;
}

// Flags are computed per block of 256 code points on first use, so a process that only
// sees ASCII and a few scripts never pays for the whole table.
constexpr std::size_t kBlockBits = 8, kBlockSize = 1u << kBlockBits;
constexpr std::size_t kBlocks = (kMaxCodePoint + 1) >> kBlockBits;
std::atomic<const std::uint16_t*> g_blocks[kBlocks];

const std::uint16_t* load_block(std::size_t b) {
  auto* block = new std::uint16_t[kBlockSize];
  const auto& t = tables();
  for (std::size_t i = 0; i < kBlockSize; ++i)
    block[i] = compute_flags(static_cast<char32_t>((b << kBlockBits) | i), t);
  const std::uint16_t* expected = nullptr;
  if (!g_blocks[b].compare_exchange_strong(expected, block, std::memory_order_acq_rel)) {
    delete[] block;  // another thread won the race
    return expected;
  }
  return block;
}

}  // namespace

std::uint16_t flags(char32_t c) {
  if (c > kMaxCodePoint) return 0;
  const std::size_t b = c >> kBlockBits;
  const std::uint16_t* block = g_blocks[b].load(std::memory_order_acquire);
  if (!block) block = load_block(b);
  return block[c & (kBlockSize - 1)];
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
    out.push_back(lowercase_simple(c));
  }
}

char32_t lowercase_simple(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  if (!(flags(c) & kHasLower)) return c;
  const auto lower = static_cast<char32_t>(u_tolower(static_cast<UChar32>(c)));
  return lower != c ? lower : unicode16_lowercase(c);
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
  if (c < 0x300 || !(flags(c) & kCombining)) return 0;
  return u_getCombiningClass(static_cast<UChar32>(c));
}

char32_t compose_pair(char32_t a, char32_t b) {
  const UChar32 r =
      unorm2_composePair(tables().nfc, static_cast<UChar32>(a), static_cast<UChar32>(b));
  if (r < 0 || !age_at_most(static_cast<char32_t>(r), kNormalizationMajor, kNormalizationMinor))
    return 0;
  return static_cast<char32_t>(r);
}

}  // namespace encore::unicode

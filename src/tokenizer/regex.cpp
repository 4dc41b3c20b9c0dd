#include "tokenizer/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 32
#include <pcre2.h>

#include "core/utf8.hpp"
#include "encore/error.hpp"

namespace encore::tok {
namespace {

// Unicode White_Space = Z* plus TAB..CR and NEL; that is what Oniguruma's \s matches.
constexpr const char* kSpaceClassBody = "\\t-\\r\\x{85}\\p{Z}";

}  // namespace

std::string translate_oniguruma(const std::string& p) {
  std::string out;
  out.reserve(p.size() + 16);
  int class_depth = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      ++i;
      if (e == 's') {
        out +=
            class_depth ? std::string(kSpaceClassBody) : std::string("[") + kSpaceClassBody + "]";
      } else if (e == 'S' && !class_depth) {
        out += std::string("[^") + kSpaceClassBody + "]";
      } else if (e == 'h') {
        out += class_depth ? "0-9a-fA-F" : "[0-9a-fA-F]";
      } else if (e == 'H' && !class_depth) {
        out += "[^0-9a-fA-F]";
      } else {
        out += '\\';
        out += e;
      }
      continue;
    }
    if (c == '[') {
      ++class_depth;
      out += c;
      // A ']' right after '[' or '[^' is a literal inside the class.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (c == ']' && class_depth > 0) --class_depth;
    out += c;
  }
  return out;
}

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
};

Regex::Regex(const std::string& pattern, const std::string& where)
    : pattern_(pattern), impl_(std::make_unique<Impl>()) {
  if (utf8::find_invalid(pattern) != std::string::npos)
    throw Error(where + ": regex pattern is not valid UTF-8");
  const std::u32string p32 = utf8::decode(translate_oniguruma(pattern));
  int err = 0;
  PCRE2_SIZE err_off = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p32.data()), p32.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &err_off, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, 256);
    std::u32string msg;
    for (const PCRE2_UCHAR* q = buf; *q; ++q) msg.push_back(static_cast<char32_t>(*q));
    throw Error(where + ": invalid regex '" + pattern + "': " + utf8::encode(msg) + " at offset " +
                std::to_string(err_off));
  }
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (impl_ && impl_->code) pcre2_code_free(impl_->code);
}

void Regex::find_all(const std::u32string& text, std::uint32_t begin, std::uint32_t end,
                     std::vector<Range>& out) const {
  // One match-data block per thread: a Regex is shared by every thread that encodes.
  struct MatchData {
    pcre2_match_data* md = pcre2_match_data_create(4, nullptr);
    ~MatchData() { pcre2_match_data_free(md); }
  };
  thread_local MatchData tl;
  if (!tl.md) throw Error("regex: out of memory");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + begin);
  const PCRE2_SIZE n = end - begin;
  PCRE2_SIZE at = 0;
  while (at <= n) {
    const int rc =
        impl_->jit ? pcre2_jit_match(impl_->code, subject, n, at, 0, tl.md, nullptr)
                   : pcre2_match(impl_->code, subject, n, at, PCRE2_NO_UTF_CHECK, tl.md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      throw Error("regex '" + pattern_ + "': matching failed (PCRE2 error " + std::to_string(rc) +
                  ")");
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(tl.md);
    const PCRE2_SIZE s = ov[0], e = ov[1];
    out.push_back({static_cast<std::uint32_t>(begin + s), static_cast<std::uint32_t>(begin + e)});
    at = e > s ? e : e + 1;
  }
}

}  // namespace encore::tok

// libFuzzer target: arbitrary bytes as a tokenizer.json.
//
// Expected outcomes: the load (or an encode) throws an encore::Error, or the tokenizer
// loads and encodes/decodes the fixed texts below. A crash, a sanitizer report, a leak,
// a hang, an exception of any other type, or a malformed Encoding is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "encore/error.hpp"
#include "encore/tokenizer.hpp"
#include "fuzz_common.hpp"

namespace {

// Mixed-script texts that reach every normalizer / pre-tokenizer branch: accents (NFD
// and canonical reordering), compatibility characters (U+FB01 ligature, full-width
// letters, U+2126 Ohm), CJK, U+0130, controls, odd whitespace, punctuation, and the
// added tokens of the seed corpus.
constexpr std::string_view kTextA =
    "Hello, World! H\xC3\xA9llo na\xC3\xAFve caf\xC3\xA9 \xEF\xAC\x81nd [MASK] "
    "\xE4\xB8\xAD\xE6\x96\x87 don't \xC4\xB0stanbul \xEF\xBC\xA1\xEF\xBC\xA2 "
    "a\xCC\x81\xCC\xA3 o\xCC\x81\xCC\x82\xCC\xA3 \xE2\x84\xA6\t\x01x\xE2\x80\x83y ``quoted'' <mask> [SEP] ##ing";
constexpr std::string_view kTextB =
    "  the quick-brown fox (jumped) ... \xE2\x80\x94 unaffable [UNK] "
    "\xEF\xBC\x88\xE6\xBC\xA2\xEF\xBC\x89 ";

std::size_t cps(std::string_view s) { return *encore_fuzz::utf8_length(s); }

// Whether the file's pair template uses $A or $B more than once (then, as in Hugging Face,
// the truncated tokens are repeated and the result may exceed max_length). Only consulted
// when the length check fails, so the JSON is parsed again only then.
bool pair_template_repeats_a_sequence(std::string_view json_text) {
  const auto j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  const auto pp = j.is_object() ? j.find("post_processor") : j.end();
  if (pp == j.end() || !pp->is_object()) return false;
  const auto pair = pp->find("pair");
  if (pair == pp->end() || !pair->is_array()) return false;
  int a = 0, b = 0;
  for (const auto& piece : *pair) {
    if (!piece.is_object() || !piece.contains("Sequence")) continue;
    const auto& q = piece["Sequence"];
    if (!q.is_object() || !q.contains("id") || !q["id"].is_string()) continue;
    (q["id"] == "A" ? a : b) += 1;
  }
  return a > 1 || b > 1;
}

void exercise(const encore::Tokenizer& tok, std::string_view json_text) {
  encore::EncodeOptions plain;
  encore::Encoding a = tok.encode(kTextA, plain);
  encore_fuzz::check_encoding(a, cps(kTextA), 0);
  (void)tok.decode(a.ids, true);
  (void)tok.decode(a.ids, false);

  encore::Encoding p = tok.encode_pair(kTextA, kTextB, plain);
  encore_fuzz::check_encoding(p, cps(kTextA), cps(kTextB));
  (void)tok.decode(p.ids, true);

  encore::EncodeOptions raw;
  raw.add_special_tokens = false;
  encore::Encoding r = tok.encode("", raw);
  encore_fuzz::check_encoding(r, 0, 0);

  encore::EncodeOptions trunc;
  trunc.truncation = encore::Truncation{};
  trunc.truncation->max_length = 7;
  try {
    encore::Encoding t = tok.encode_pair(kTextB, kTextA, trunc);
    encore_fuzz::check_encoding(t, cps(kTextB), cps(kTextA));
    // Exceptions, as in Hugging Face: a template adding more than 7 special tokens makes
    // truncation a no-op, and a template repeating $A or $B repeats the truncated tokens.
    if (t.size() > 7 && tok.num_special_tokens_to_add(true) <= 7 &&
        !pair_template_repeats_a_sequence(json_text))
      encore_fuzz::fail("truncated encoding longer than max_length");
    (void)tok.decode(t.ids, true);
  } catch (const encore::InputError& e) {
    // LongestFirst can always be met (and max_length below the special tokens skips it).
    std::fprintf(stderr, "InputError: %s\n", e.what());
    encore_fuzz::fail("LongestFirst truncation threw InputError");
  }

  (void)tok.vocab_size();
  (void)tok.num_special_tokens_to_add(true);
  (void)tok.token_to_id("[UNK]");
  (void)tok.id_to_token(0);
  (void)tok.id_to_token(-1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  try {
    const encore::Tokenizer tok = encore::Tokenizer::from_json(json, "fuzz");
    exercise(tok, json);
  } catch (const encore::Error&) {
    // expected: malformed or unsupported tokenizer.json
  } catch (const std::exception& e) {
    encore_fuzz::unexpected_exception(e);
  }
  return 0;
}

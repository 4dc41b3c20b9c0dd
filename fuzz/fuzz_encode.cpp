// libFuzzer target: arbitrary bytes as text to encode with two fixed tokenizers.
//
// Tokenizer 0 is a real tokenizer.json: the file named by $ENCORE_FUZZ_TOKENIZER, else
// ENCORE_FUZZ_DEFAULT_TOKENIZER (set by fuzz/CMakeLists.txt to bert-base-uncased in the
// shared vocab folder). Tokenizer 1 is built in-process from the same JSON with a
// Sequence[NFKC, Replace, Replace, Strip] normalizer, the Whitespace pre-tokenizer and
// extra added tokens using lstrip / rstrip / single_word / normalized.
//
// Input layout: byte 0 selects the options, byte 1 is max_length, byte 2 the split point
// of a pair; the rest is the text (see README.md). Bytes missing at the end read as 0.
//
// Checked: invalid UTF-8 raises encore::InputError; valid UTF-8 encodes (with truncation,
// InputError only where the request really cannot be met, no truncation at all when
// max_length is below the template's special tokens); every Encoding has equal-length
// vectors, offsets within the input's code points with start <= end, ids known to the
// tokenizer; truncation keeps a prefix/suffix of each sequence and exactly
// min(max_length, untruncated size) tokens, with Encoding::truncated set exactly when
// tokens were removed; decode never throws and returns valid UTF-8.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/error.hpp"
#include "encore/tokenizer.hpp"
#include "fuzz_common.hpp"

#ifndef ENCORE_FUZZ_DEFAULT_TOKENIZER
#define ENCORE_FUZZ_DEFAULT_TOKENIZER "shared/vocab/bert-base-uncased/tokenizer.json"
#endif

namespace {

using encore_fuzz::fail;

std::string read_all(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz_encode: cannot open tokenizer '%s' (set ENCORE_FUZZ_TOKENIZER)\n",
                 path);
    std::abort();
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The second tokenizer: same vocab and post-processor, different front end.
std::string make_variant_json(const std::string& base_text) {
  using nlohmann::json;
  json j = json::parse(base_text);
  j["normalizer"] = json::parse(R"({"type": "Sequence", "normalizers": [
      {"type": "NFKC"},
      {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
      {"type": "Replace", "pattern": {"String": "\u00df"}, "content": "ss"},
      {"type": "Strip", "strip_left": true, "strip_right": true}]})");
  j["pre_tokenizer"] = json::parse(R"({"type": "Whitespace"})");
  std::int64_t next = 0;
  if (j["model"].contains("vocab")) {
    for (const auto& [tok, id] : j["model"]["vocab"].items())
      if (id.is_number_integer()) next = std::max<std::int64_t>(next, id.get<std::int64_t>() + 1);
  }
  for (const auto& t : j["added_tokens"])
    next = std::max<std::int64_t>(next, t["id"].get<std::int64_t>() + 1);
  auto add = [&](const char* content, bool special, bool single_word, bool lstrip, bool rstrip,
                 bool normalized) {
    j["added_tokens"].push_back({{"id", next++},
                                 {"content", content},
                                 {"special", special},
                                 {"single_word", single_word},
                                 {"lstrip", lstrip},
                                 {"rstrip", rstrip},
                                 {"normalized", normalized}});
  };
  add("<mask>", true, false, true, false, true);           // lstrip, matched after NFKC
  add("<eos>", true, false, false, true, false);           // rstrip, raw
  add("hello world", false, true, false, false, true);     // single_word, contains a space
  add("\xEF\xAC\x81x", false, false, true, true, true);    // U+FB01 'x' -> NFKC "fix"
  add("\xC3\x9F!", false, true, true, true, true);          // "ß!" -> Replace -> "ss!"
  add("``", false, false, false, false, true);             // Replace turns it into '"'
  add("  ", false, false, false, false, true);             // Strip turns it into nothing
  add("\xE2\x84\xAB", true, true, true, true, false);      // U+212B Angstrom sign, raw
  add("##x", false, false, false, false, true);
  return j.dump();
}

struct Fixture {
  encore::Tokenizer tok[2];
};

const Fixture& fixture() {
  static const Fixture* f = [] {
    const char* env = std::getenv("ENCORE_FUZZ_TOKENIZER");
    const char* path = env && *env ? env : ENCORE_FUZZ_DEFAULT_TOKENIZER;
    const std::string text = read_all(path);
    try {
      return new Fixture{{encore::Tokenizer::from_json(text, path),
                          encore::Tokenizer::from_json(make_variant_json(text), "variant")}};
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fuzz_encode: cannot load '%s': %s\n", path, e.what());
      std::abort();
    }
  }();
  return *f;
}

// Tokens (id, offsets) of sequence `seq` of an encoding, in order.
std::vector<std::pair<std::int32_t, std::pair<std::uint32_t, std::uint32_t>>> sequence_tokens(
    const encore::Encoding& e, int seq) {
  std::vector<std::pair<std::int32_t, std::pair<std::uint32_t, std::uint32_t>>> out;
  for (std::size_t i = 0; i < e.size(); ++i)
    if (e.sequence_ids[i] == seq) out.push_back({e.ids[i], e.offsets[i]});
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::uint8_t b0 = size > 0 ? data[0] : 0;
  const std::uint8_t b1 = size > 1 ? data[1] : 0;
  const std::uint8_t b2 = size > 2 ? data[2] : 0;
  const std::string_view rest =
      size > 3 ? std::string_view(reinterpret_cast<const char*>(data) + 3, size - 3)
               : std::string_view();

  const encore::Tokenizer& tok = fixture().tok[b0 & 1];
  const bool is_pair = b0 & 2;
  encore::EncodeOptions opts;
  opts.add_special_tokens = !(b0 & 0x40);
  const bool skip_special = b0 & 0x80;
  if (b0 & 4) {
    encore::Truncation t;
    t.max_length = b1;
    switch ((b0 >> 3) & 3) {
      case 1: t.strategy = encore::TruncationStrategy::OnlyFirst; break;
      case 2: t.strategy = encore::TruncationStrategy::OnlySecond; break;
      default: t.strategy = encore::TruncationStrategy::LongestFirst; break;
    }
    t.direction = (b0 & 0x20) ? encore::TruncationDirection::Left
                              : encore::TruncationDirection::Right;
    opts.truncation = t;
  }

  std::string_view text_a = rest, text_b;
  if (is_pair) {
    const std::size_t split = rest.size() * b2 / 255;
    text_a = rest.substr(0, split);
    text_b = rest.substr(split);
  }
  const auto len_a = encore_fuzz::utf8_length(text_a);
  const auto len_b = encore_fuzz::utf8_length(text_b);
  const bool valid = len_a && len_b;

  auto run = [&](const encore::EncodeOptions& o) {
    return is_pair ? tok.encode_pair(text_a, text_b, o) : tok.encode(text_a, o);
  };

  std::optional<encore::Encoding> enc;
  try {
    enc = run(opts);
  } catch (const encore::InputError& e) {
    if (valid && !opts.truncation) fail("InputError for valid UTF-8 without truncation");
    if (valid) {
      // Legitimate only when the truncation request cannot be met: check against the
      // untruncated lengths.
      encore::EncodeOptions full = opts;
      full.truncation.reset();
      const encore::Encoding u = run(full);
      const auto& t = *opts.truncation;
      const std::size_t added = opts.add_special_tokens ? tok.num_special_tokens_to_add(is_pair) : 0;
      const std::size_t na = sequence_tokens(u, 0).size(), nb = sequence_tokens(u, 1).size();
      // max_length below the template's special tokens is not an error: truncation is
      // skipped, as in Hugging Face.
      bool legit = false;
      if (t.max_length >= added && t.strategy != encore::TruncationStrategy::LongestFirst) {
        const std::size_t max_len = t.max_length - added;
        if (max_len > 0 && na + nb > max_len) {
          const std::size_t to_remove = na + nb - max_len;
          if (t.strategy == encore::TruncationStrategy::OnlySecond)
            legit = !is_pair || nb <= to_remove;
          else
            legit = na <= to_remove;
        }
      }
      if (!legit) {
        std::fprintf(stderr, "InputError: %s\n", e.what());
        fail("InputError for a truncation request that can be met");
      }
    }
    return 0;
  } catch (const encore::Error& e) {
    std::fprintf(stderr, "encore::Error: %s\n", e.what());
    fail("encode threw an encore::Error that is not an InputError");
  } catch (const std::exception& e) {
    encore_fuzz::unexpected_exception(e);
  }
  if (!valid) fail("invalid UTF-8 was encoded without an InputError");

  const encore::Encoding& e = *enc;
  encore_fuzz::check_encoding(e, *len_a, *len_b);
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (!tok.id_to_token(e.ids[i])) fail("id outside the vocab and the added tokens");
  }
  if (!is_pair && !sequence_tokens(e, 1).empty()) fail("single input produced sequence 1");

  const std::size_t added = opts.add_special_tokens ? tok.num_special_tokens_to_add(is_pair) : 0;
  if (opts.truncation) {
    const std::size_t max_length = opts.truncation->max_length;
    encore::EncodeOptions full = opts;
    full.truncation.reset();
    const encore::Encoding u = run(full);
    if (u.truncated) fail("Encoding.truncated set without truncation");
    if (max_length < added) {
      // Cannot even hold the special tokens: Hugging Face (and encore) skip truncation.
      if (e.size() != u.size()) fail("truncation applied although max_length < special tokens");
    } else {
      if (e.size() > max_length) fail("truncated encoding longer than max_length");
      if (e.size() != std::min<std::size_t>(max_length, u.size()))
        fail("truncation did not keep min(max_length, untruncated size) tokens");
    }
    if (e.truncated != (e.size() < u.size()))
      fail("Encoding.truncated does not say whether tokens were removed");
    const bool left = opts.truncation->direction == encore::TruncationDirection::Left;
    for (int seq = 0; seq < 2; ++seq) {
      const auto kept = sequence_tokens(e, seq), all = sequence_tokens(u, seq);
      if (kept.size() > all.size()) fail("truncation added tokens");
      const std::size_t from = left ? all.size() - kept.size() : 0;
      for (std::size_t i = 0; i < kept.size(); ++i)
        if (kept[i] != all[from + i]) fail("truncation kept something other than a prefix/suffix");
    }
  } else {
    if (e.truncated) fail("Encoding.truncated set without truncation");
    const std::size_t special =
        static_cast<std::size_t>(std::count(e.sequence_ids.begin(), e.sequence_ids.end(), -1));
    if (special != added) fail("template added an unexpected number of special tokens");
  }

  try {
    const std::string d = tok.decode(e.ids, skip_special);
    if (!encore_fuzz::utf8_length(d)) fail("decode returned invalid UTF-8");
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "decode threw: %s\n", ex.what());
    fail("decode threw");
  }
  return 0;
}

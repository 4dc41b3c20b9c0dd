#include "tokenizer/decoder.hpp"

#include <nlohmann/json.hpp>

#include "core/utf8.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/json_fields.hpp"
#include "tokenizer/metaspace.hpp"
#include "tokenizer/regex.hpp"

namespace encore::tok {
namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

class WordPieceDecoder final : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup)
      : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0) {
        if (!prefix_.empty() && t.compare(0, prefix_.size(), prefix_) == 0)
          t.erase(0, prefix_.size());
        else
          t = " " + t;
      }
      if (cleanup_) t = cleanup_tokenization(std::move(t));
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      const std::u32string cps = utf8::decode(t);
      std::string mine;
      bool ok = true;
      for (char32_t c : cps) {
        const int b = char_to_byte(c);
        if (b < 0) {
          ok = false;
          break;
        }
        mine.push_back(static_cast<char>(b));
      }
      // A token with a character outside the byte alphabet is kept as it is.
      bytes += ok ? mine : t;
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, PrependScheme scheme)
      : rep_(replacement), scheme_(scheme) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::u32string out;
      for (char32_t c : utf8::decode(tokens[i])) {
        if (c == rep_) {
          // The first token loses every replacement character when one was prepended.
          if (i == 0 && scheme_ != PrependScheme::Never) continue;
          out.push_back(U' ');
        } else {
          out.push_back(c);
        }
      }
      tokens[i] = utf8::encode(out);
    }
  }

 private:
  char32_t rep_;
  PrependScheme scheme_;
};

class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (utf8::find_invalid(pending) == std::string::npos) {
        out.push_back(pending);
      } else {
        for (std::size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (std::string& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        auto hex = [](char c) {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          return -1;
        };
        const int hi = hex(t[3]), lo = hex(t[4]);
        if (hi >= 0 && lo >= 0) byte = hi * 16 + lo;
      }
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, std::size_t start, std::size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      const std::u32string c = utf8::decode(t);
      std::size_t begin = 0;
      for (std::size_t i = 0; i < start_ && i < c.size() && c[i] == content_; ++i) begin = i + 1;
      std::size_t end = c.size();
      for (std::size_t i = 0; i < stop_ && i < c.size(); ++i) {
        const std::size_t k = c.size() - i - 1;
        if (c[k] != content_) break;
        end = k;
      }
      t = end > begin ? utf8::encode(std::u32string_view(c).substr(begin, end - begin))
                      : std::string();
    }
  }

 private:
  char32_t content_;
  std::size_t start_, stop_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(std::string pattern, std::shared_ptr<const Regex> regex, std::string content)
      : pattern_(std::move(pattern)), regex_(std::move(regex)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      if (!regex_) {
        replace_all(t, pattern_, content_);
        continue;
      }
      const std::u32string c = utf8::decode(t);
      std::vector<Range> m;
      regex_->find_all(c, 0, static_cast<std::uint32_t>(c.size()), m);
      std::u32string out;
      const std::u32string rep = utf8::decode(content_);
      std::uint32_t at = 0;
      for (const Range& r : m) {
        out.append(c, at, r.begin - at);
        out += rep;
        at = r.end;
      }
      out.append(c, at, std::u32string::npos);
      t = utf8::encode(out);
    }
  }

 private:
  std::string pattern_;
  std::shared_ptr<const Regex> regex_;
  std::string content_;
};

// BPEDecoder: the end-of-word suffix becomes a space (none after the last token).
class BpeSuffixDecoder final : public Decoder {
 public:
  explicit BpeSuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i)
      replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
  }

 private:
  std::string suffix_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<DecoderPtr> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& s : steps_) s->decode_chain(tokens);
  }

 private:
  std::vector<DecoderPtr> steps_;
};

}  // namespace

DecoderPtr wordpiece_decoder(const std::string& prefix, bool cleanup) {
  return std::make_shared<WordPieceDecoder>(prefix, cleanup);
}

DecoderPtr byte_level_decoder() {
  return std::make_shared<ByteLevelDecoder>();
}

DecoderPtr make_decoder(const nlohmann::json& j, const std::string& where) {
  const std::string type = type_of(j, "decoder", where);
  const std::string ctx = where + ": decoder " + type;
  if (type == "WordPiece")
    return wordpiece_decoder(string_field(j, "prefix", "##", ctx),
                             bool_field(j, "cleanup", true, ctx));
  if (type == "ByteLevel") return byte_level_decoder();
  if (type == "Metaspace")
    return std::make_shared<MetaspaceDecoder>(parse_metaspace_replacement(j, ctx),
                                              parse_prepend_scheme(j, ctx));
  if (type == "ByteFallback") return std::make_shared<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_shared<FuseDecoder>();
  if (type == "Strip") {
    const long long start = int_field(j, "start", 0, ctx), stop = int_field(j, "stop", 0, ctx);
    if (start < 0 || stop < 0) throw Error(ctx + ": start and stop must be >= 0");
    return std::make_shared<StripDecoder>(char_field(j, "content", ctx),
                                          static_cast<std::size_t>(start),
                                          static_cast<std::size_t>(stop));
  }
  if (type == "Replace") {
    const auto* pattern = find_field(j, "pattern");
    if (!pattern || !pattern->is_object()) throw Error(ctx + ": missing 'pattern' object");
    const std::string content = string_field(j, "content", ctx);
    if (pattern->contains("Regex")) {
      return std::make_shared<ReplaceDecoder>(
          "", std::make_shared<Regex>(string_field(*pattern, "Regex", ctx), ctx), content);
    }
    return std::make_shared<ReplaceDecoder>(string_field(*pattern, "String", ctx), nullptr,
                                            content);
  }
  if (type == "BPEDecoder")
    return std::make_shared<BpeSuffixDecoder>(string_field(j, "suffix", "</w>", ctx));
  if (type == "Sequence") {
    std::vector<DecoderPtr> steps;
    for (const auto& d : array_field(j, "decoders", ctx)) steps.push_back(make_decoder(d, where));
    return std::make_shared<SequenceDecoder>(std::move(steps));
  }
  throw Error(where + ": unknown decoder type '" + type + "'");
}

std::string decode_tokens(const Decoder* decoder, std::vector<std::string> tokens) {
  std::string out;
  if (!decoder) {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  decoder->decode_chain(tokens);
  for (const auto& t : tokens) out += t;
  return out;
}

std::string cleanup_tokenization(std::string s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) replace_all(s, from, to);
  return s;
}

std::string utf8_lossy(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // Expected length and the valid range of the second byte (Unicode Table 3-7).
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c == 0xE0) {
      len = 3;
      lo = 0xA0;
    } else if (c >= 0xE1 && c <= 0xEC)
      len = 3;
    else if (c == 0xED) {
      len = 3;
      hi = 0x9F;
    } else if (c >= 0xEE && c <= 0xEF)
      len = 3;
    else if (c == 0xF0) {
      len = 4;
      lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3)
      len = 4;
    else if (c == 0xF4) {
      len = 4;
      hi = 0x8F;
    }
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    std::size_t k = 1;
    for (; k < len && i + k < n; ++k) {
      const unsigned char d = s[i + k];
      const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      if (d < l || d > h) break;
    }
    if (k == len) {
      out.append(in, i, len);
    } else {
      out += "\xEF\xBF\xBD";  // the maximal valid prefix counts as one error
    }
    i += k;
  }
  return out;
}

}  // namespace encore::tok

// Metaspace (SentencePiece's whitespace handling): spaces become '▁' (or another
// replacement), a '▁' is prepended per prepend_scheme, and words split before each '▁'.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/pre_tokenizer.hpp"

namespace encore::tok {

enum class PrependScheme { Always, First, Never };

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
      : replacement_(replacement), scheme_(scheme), split_(split) {}
  bool rewrites() const override { return true; }
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override;

 private:
  char32_t replacement_;
  PrependScheme scheme_;
  bool split_;
};

// The Metaspace fields shared by the pre-tokenizer and the decoder: "replacement" (one
// character) and "prepend_scheme", with the legacy "add_prefix_space" read as Hugging
// Face does (false means never, and contradicts any other declared scheme).
char32_t parse_metaspace_replacement(const nlohmann::json& j, const std::string& ctx);
PrependScheme parse_prepend_scheme(const nlohmann::json& j, const std::string& ctx);

}  // namespace encore::tok

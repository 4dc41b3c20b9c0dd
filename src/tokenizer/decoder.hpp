// Decoders turn tokens back into text. As in Hugging Face, each one rewrites the list of
// token strings (decode_chain) and the final list is concatenated; without a decoder the
// tokens are joined with spaces.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace encore::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

using DecoderPtr = std::shared_ptr<const Decoder>;

DecoderPtr make_decoder(const nlohmann::json& j, const std::string& where);
DecoderPtr wordpiece_decoder(const std::string& prefix, bool cleanup);
DecoderPtr byte_level_decoder();

// Runs `decoder` (may be null) and joins the result.
std::string decode_tokens(const Decoder* decoder, std::vector<std::string> tokens);

// Hugging Face's clean_up_tokenization: no space before punctuation and contractions.
std::string cleanup_tokenization(std::string s);

// Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes U+FFFD.
std::string utf8_lossy(const std::string& bytes);

}  // namespace encore::tok

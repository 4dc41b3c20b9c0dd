// Byte-level BPE's pieces (GPT-2, RoBERTa, ModernBERT): every UTF-8 byte of the text is
// mapped to a printable character, the GPT-2 regex splits words, and offsets can be
// trimmed of the spaces the tokens carry.
#pragma once

#include <array>

#include "encore/encoding.hpp"
#include "tokenizer/pre_tokenizer.hpp"

namespace encore::tok {

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the others to
// U+0100 upwards in byte order.
const std::array<char32_t, 256>& byte_to_char();
// The byte a mapped character stands for, or -1.
int char_to_byte(char32_t c);

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
  bool rewrites() const override { return true; }
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override;

 private:
  bool add_prefix_space_, use_regex_;
};

// Hugging Face's process_offsets (ByteLevel and RobertaProcessing trim_offsets): a token's
// offsets lose its leading and trailing spaces ('Ġ' or whitespace), except the prefix
// space ByteLevel added to the first token.
void trim_byte_level_offsets(Encoding& e, bool add_prefix_space);

}  // namespace encore::tok

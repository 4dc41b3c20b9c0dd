// Decoders turn tokens back into text (WordPiece: glue "##" pieces, space the rest).
#pragma once

#include <string>
#include <vector>

namespace encore::tok {

struct WordPieceDecoder {
  std::string prefix = "##";
  bool cleanup = true;
  std::string decode(const std::vector<std::string>& tokens) const;
};

// Hugging Face's clean_up_tokenization: no space before punctuation and contractions.
std::string cleanup_tokenization(std::string s);

}  // namespace encore::tok

// The model stage of the pipeline: turns one pre-tokenized word into tokens. WordPiece,
// BPE, Unigram and WordLevel implement it with Hugging Face `tokenizers` semantics.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.hpp"

namespace encore::tok {

struct ModelToken {
  std::int32_t id;
  std::uint32_t begin, end;  // character range inside the word
  // The token's string is the word's text [begin, end) rather than the vocabulary's entry
  // for `id` (Unigram reports unknown pieces by their text, with the unk id).
  bool surface = false;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the tokens of `word` (n code points, n > 0) to `out`.
  virtual void tokenize(const char32_t* word, std::size_t n,
                        std::vector<ModelToken>& out) const = 0;
  virtual const Vocab& vocab() const = 0;
  virtual std::string_view type() const = 0;
};

using ModelPtr = std::shared_ptr<const Model>;

}  // namespace encore::tok

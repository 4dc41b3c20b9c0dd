// WordLevel: each pre-tokenized word is one vocabulary entry, or the unk token.
#pragma once

#include <string>

#include "tokenizer/model.hpp"

namespace encore::tok {

class WordLevel final : public Model {
 public:
  WordLevel(Vocab vocab, std::string unk_token, const std::string& where);
  void tokenize(const char32_t* word, std::size_t n, std::vector<ModelToken>& out) const override;
  const Vocab& vocab() const override { return vocab_; }
  std::string_view type() const override { return "WordLevel"; }

 private:
  Vocab vocab_;
  std::string unk_token_;
  std::optional<std::int32_t> unk_id_;
};

}  // namespace encore::tok

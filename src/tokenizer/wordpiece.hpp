// WordPiece: greedy longest-match-first subwords, the whole word becoming the unknown
// token when any part has no match (Hugging Face semantics).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/model.hpp"
#include "tokenizer/vocab.hpp"

namespace encore::tok {

class WordPiece final : public Model {
 public:
  WordPiece(Vocab vocab, std::string unk_token, std::string prefix, std::size_t max_chars,
            const std::string& where);

  // Appends the tokens of `word` (n code points) to `out`.
  void tokenize(const char32_t* word, std::size_t n, std::vector<ModelToken>& out) const override;

  const Vocab& vocab() const override { return vocab_; }
  std::string_view type() const override { return "WordPiece"; }
  const std::string& unk_token() const { return unk_token_; }
  std::int32_t unk_id() const { return unk_id_; }
  const std::string& prefix() const { return prefix_; }
  std::size_t max_input_chars_per_word() const { return max_chars_; }

 private:
  Vocab vocab_;
  // Entries that start with the continuing-subword prefix, keyed without it, so a
  // continuation lookup needs no string concatenation.
  TokenMap continuation_;
  std::string unk_token_, prefix_;
  std::int32_t unk_id_;
  std::size_t max_chars_;
  std::size_t longest_piece_ = 0;  // in code points: bounds the longest-match search
};

}  // namespace encore::tok

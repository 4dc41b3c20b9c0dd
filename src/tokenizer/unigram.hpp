// SentencePiece Unigram with Hugging Face semantics: the best-scoring segmentation of a
// word (Viterbi over the lattice of vocabulary pieces), unknown characters scored
// min_score - 10 and fused into runs, reported by their text with the unk id (or as
// <0xXX> byte tokens with byte_fallback).
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/model.hpp"

namespace encore::tok {

class Unigram final : public Model {
 public:
  Unigram(std::vector<std::pair<std::string, double>> pieces, std::optional<std::int32_t> unk_id,
          bool byte_fallback, const std::string& where);

  void tokenize(const char32_t* word, std::size_t n, std::vector<ModelToken>& out) const override;
  const Vocab& vocab() const override { return vocab_; }
  std::string_view type() const override { return "Unigram"; }

 private:
  // Trie over code points: node -> (code point -> child) in one hash map.
  std::int32_t child(std::int32_t node, char32_t c) const {
    if (node == 0 && c < 128) return root_ascii_[c];
    auto it = edges_.find((static_cast<std::uint64_t>(node) << 21) | c);
    return it == edges_.end() ? -1 : it->second;
  }

  Vocab vocab_;
  std::vector<double> scores_;
  std::optional<std::int32_t> unk_id_;
  bool byte_fallback_;
  double unk_score_ = 0;
  std::unordered_map<std::uint64_t, std::int32_t> edges_;
  std::vector<std::int32_t> node_piece_;  // piece id ending at the node, or -1
  std::int32_t root_ascii_[128];
  std::int32_t byte_ids_[256];
};

}  // namespace encore::tok

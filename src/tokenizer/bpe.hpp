// Byte-pair encoding with Hugging Face semantics: a word starts as its characters (with
// continuing_subword_prefix / end_of_word_suffix), unknown characters become byte tokens
// (byte_fallback) or the unk token (fused when fuse_unk), then the lowest-ranked merge
// is applied repeatedly, leftmost first.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/model.hpp"

namespace encore::tok {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::optional<std::string> continuing_subword_prefix;
  std::optional<std::string> end_of_word_suffix;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class Bpe final : public Model {
 public:
  // `merges` in rank order; a merge of tokens missing from the vocabulary is an error.
  Bpe(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges,
      BpeOptions options, const std::string& where);

  void tokenize(const char32_t* word, std::size_t n, std::vector<ModelToken>& out) const override;
  const Vocab& vocab() const override { return vocab_; }
  std::string_view type() const override { return "BPE"; }

 private:
  struct Merge {
    std::uint32_t rank;
    std::int32_t new_id;
  };
  std::optional<std::int32_t> char_id(const char32_t* word, std::size_t i, std::size_t n,
                                      std::string& buf) const;
  const Merge* find_merge(std::int32_t a, std::int32_t b) const {
    auto it = merges_.find((static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
                           static_cast<std::uint32_t>(b));
    return it == merges_.end() ? nullptr : &it->second;
  }

  Vocab vocab_;
  BpeOptions o_;
  std::optional<std::int32_t> unk_id_;
  std::unordered_map<std::uint64_t, Merge> merges_;
  // Single characters' ids when there is no prefix or suffix to add (-1: not a token).
  std::vector<std::int32_t> bmp_ids_;
  std::int32_t byte_ids_[256];  // <0xXX> tokens (-1 when absent)
  bool all_bytes_ = false;
  bool plain_ = false;  // no prefix and no suffix
};

}  // namespace encore::tok

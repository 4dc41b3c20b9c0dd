// Byte-pair encoding with Hugging Face semantics: a word starts as its characters (with
// continuing_subword_prefix / end_of_word_suffix), unknown characters become byte tokens
// (byte_fallback) or the unk token (fused when fuse_unk), then the lowest-ranked merge
// is applied repeatedly, leftmost first.
#pragma once

#include <array>
#include <mutex>
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
  static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
  }
  // Open addressing, linear probing: merge lookups are the hot loop of BPE.
  const Merge* find_merge(std::int32_t a, std::int32_t b) const {
    const std::uint64_t key = pair_key(a, b);
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.merge;
      if (s.key == kEmpty) return nullptr;
    }
  }
  std::size_t slot(std::uint64_t key) const {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  void insert_merge(std::uint64_t key, Merge m);

  // Words seen before skip the merge loop (Hugging Face keeps such a cache too). Sharded
  // so tokenization threads rarely wait on each other; bounded, never evicting.
  struct WordHash {
    using is_transparent = void;
    std::size_t operator()(std::u32string_view s) const noexcept {
      std::uint64_t h = 1469598103934665603ull;
      for (char32_t c : s) h = (h ^ c) * 1099511628211ull;
      return static_cast<std::size_t>(h);
    }
  };
  struct CacheShard {
    std::mutex mutex;
    std::unordered_map<std::u32string, std::vector<ModelToken>, WordHash, std::equal_to<>> words;
  };
  static constexpr std::size_t kCacheShards = 16, kCachePerShard = 1024, kCacheMaxWord = 64;
  void merge_word(const char32_t* word, std::size_t n, std::vector<ModelToken>& out) const;

  mutable std::array<CacheShard, kCacheShards> cache_;
  Vocab vocab_;
  BpeOptions o_;
  std::optional<std::int32_t> unk_id_;
  struct Slot {
    std::uint64_t key;
    Merge merge;
  };
  static constexpr std::uint64_t kEmpty = ~0ull;  // ids are < 2^31, so no real key
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  int shift_ = 64;
  // Single characters' ids when there is no prefix or suffix to add (-1: not a token).
  std::vector<std::int32_t> bmp_ids_;
  std::int32_t byte_ids_[256];  // <0xXX> tokens (-1 when absent)
  bool all_bytes_ = false;
  bool plain_ = false;  // no prefix and no suffix
};

}  // namespace encore::tok

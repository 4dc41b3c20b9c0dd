// encore's tokenizer: reads a Hugging Face tokenizer.json (or a BERT vocab.txt) and
// produces exactly what Hugging Face `tokenizers` produces: ids, type ids, tokens,
// offsets in Unicode code points, special-token mask.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encore/encoding.hpp"
#include "encore/error.hpp"

namespace encore {

enum class TruncationStrategy { LongestFirst, OnlyFirst, OnlySecond };
enum class TruncationDirection { Right, Left };

struct Truncation {
  std::size_t max_length = 512;  // counts the special tokens the template adds
  TruncationStrategy strategy = TruncationStrategy::LongestFirst;
  TruncationDirection direction = TruncationDirection::Right;
};

struct EncodeOptions {
  bool add_special_tokens = true;
  std::optional<Truncation> truncation;  // none: no truncation
};

// Options of a BERT tokenizer described by vocab.txt + tokenizer_config.json.
struct BertVocabOptions {
  bool do_lower_case = true;
  bool tokenize_chinese_chars = true;
  std::optional<bool> strip_accents;  // none: follow do_lower_case
  std::string unk_token = "[UNK]", sep_token = "[SEP]", pad_token = "[PAD]", cls_token = "[CLS]",
              mask_token = "[MASK]";
};

// A byte-level BPE tokenizer described by vocab.json + merges.txt (RoBERTa / GPT-2 layout),
// built as transformers' RobertaConverter / GPT2Converter build it.
struct ByteLevelBpeOptions {
  enum class Layout { Roberta, Gpt2 } layout = Layout::Roberta;
  bool add_prefix_space = false;
  bool trim_offsets = true;
  bool add_bos_token = false;  // GPT-2 layout only: <bos> $A template
  std::string cls_token = "<s>", sep_token = "</s>", bos_token = "<|endoftext|>";
  struct AddedToken {
    std::string content;
    std::int32_t id = -1;  // -1: the token's id in vocab.json
    bool special = true, single_word = false, lstrip = false, rstrip = false, normalized = false;
  };
  std::vector<AddedToken> added_tokens;
};

class Tokenizer {
 public:
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  // `source` names the JSON's origin in error messages.
  static Tokenizer from_json(std::string_view json, const std::string& source);
  static Tokenizer from_vocab_file(const std::filesystem::path& vocab_txt,
                                   const BertVocabOptions& options);
  static Tokenizer from_bpe_files(const std::filesystem::path& vocab_json,
                                  const std::filesystem::path& merges_txt,
                                  const ByteLevelBpeOptions& options);

  // Throws encore::InputError for invalid UTF-8 (with the byte offset), and for only_first /
  // only_second truncation whose target sequence is too short (or absent), as Hugging Face
  // does. As in Hugging Face, a max_length smaller than the template's special tokens leaves
  // the input untruncated.
  Encoding encode(std::string_view text, const EncodeOptions& options = {}) const;
  Encoding encode_pair(std::string_view text, std::string_view pair,
                       const EncodeOptions& options = {}) const;

  std::string decode(std::span<const std::int32_t> ids, bool skip_special_tokens = true) const;

  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(std::int32_t id) const;
  std::size_t vocab_size() const;
  std::size_t num_special_tokens_to_add(bool is_pair) const;

  // The file's own "truncation" / "padding" blocks as JSON text ("null" when absent):
  // reported, never applied; the engine chooses lengths itself.
  const std::string& file_truncation() const;
  const std::string& file_padding() const;
  const std::string& source() const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// A tokenizer found in a model or tokenizer folder, with the default maximum length:
// tokenizer_config.json's model_max_length, capped by config.json's
// max_position_embeddings, else 512.
struct TokenizerBundle {
  Tokenizer tokenizer;
  std::size_t max_length;
  std::filesystem::path loaded_from;  // tokenizer.json or vocab.txt
};

// Prefers tokenizer.json; falls back to vocab.json + merges.txt or vocab.txt (with
// tokenizer_config.json / special_tokens_map.json). A SentencePiece .model alone is an
// error that names the conversion to tokenizer.json.
TokenizerBundle load_tokenizer(const std::filesystem::path& dir);

}  // namespace encore

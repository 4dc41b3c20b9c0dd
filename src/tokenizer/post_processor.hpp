// Post-processing: wraps the encoded sequence(s) with special tokens and assigns type ids
// from a template ([CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1 for BERT), RoBERTa's fixed
// layout, or only fixes offsets (ByteLevel); Sequence chains them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "encore/encoding.hpp"

namespace encore::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Number of special tokens it adds.
  virtual std::size_t added_tokens(bool is_pair) const = 0;
  // Hugging Face's process_encodings: one encoding per input sequence in; out the same
  // list (offset fix-ups) or one merged encoding.
  virtual void process(std::vector<Encoding>& encodings, bool add_special_tokens) const = 0;
};

using PostProcessorPtr = std::shared_ptr<const PostProcessor>;

// Runs `p` (may be null) and concatenates whatever encodings remain.
Encoding post_process(const PostProcessor* p, Encoding a, std::optional<Encoding> b,
                      bool add_special_tokens);

class TemplateProcessor final : public PostProcessor {
 public:
  struct Piece {
    enum Kind { Special, SequenceA, SequenceB } kind;
    std::string special;  // key into special tokens, for Special pieces
    std::int32_t type_id = 0;
  };
  struct SpecialToken {
    std::vector<std::int32_t> ids;
    std::vector<std::string> tokens;
  };

  TemplateProcessor(std::vector<Piece> single, std::vector<Piece> pair,
                    std::map<std::string, SpecialToken> special, const std::string& where);

  std::size_t added_tokens(bool is_pair) const override;
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;

 private:
  std::vector<Piece> single_, pair_;
  std::map<std::string, SpecialToken> special_;
};

// RobertaProcessing: <s> A </s> and <s> A </s> </s> B </s>, every type id 0, offsets
// optionally trimmed as ByteLevel does.
class RobertaProcessor final : public PostProcessor {
 public:
  RobertaProcessor(std::string cls, std::int32_t cls_id, std::string sep, std::int32_t sep_id,
                   bool trim_offsets, bool add_prefix_space)
      : cls_(std::move(cls)),
        sep_(std::move(sep)),
        cls_id_(cls_id),
        sep_id_(sep_id),
        trim_offsets_(trim_offsets),
        add_prefix_space_(add_prefix_space) {}
  std::size_t added_tokens(bool is_pair) const override { return is_pair ? 4 : 2; }
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;

 private:
  std::string cls_, sep_;
  std::int32_t cls_id_, sep_id_;
  bool trim_offsets_, add_prefix_space_;
};

// ByteLevel as a post-processor: only trims offsets.
class ByteLevelProcessor final : public PostProcessor {
 public:
  ByteLevelProcessor(bool trim_offsets, bool add_prefix_space)
      : trim_offsets_(trim_offsets), add_prefix_space_(add_prefix_space) {}
  std::size_t added_tokens(bool) const override { return 0; }
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;

 private:
  bool trim_offsets_, add_prefix_space_;
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<PostProcessorPtr> steps) : steps_(std::move(steps)) {}
  std::size_t added_tokens(bool is_pair) const override;
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;

 private:
  std::vector<PostProcessorPtr> steps_;
};

// Reads TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel or Sequence.
PostProcessorPtr make_post_processor(const nlohmann::json& j, const std::string& where);

// The BERT template, as BertProcessing builds it.
PostProcessorPtr bert_template(const std::string& cls, std::int32_t cls_id, const std::string& sep,
                               std::int32_t sep_id);

}  // namespace encore::tok

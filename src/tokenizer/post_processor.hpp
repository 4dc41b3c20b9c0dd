// Post-processing: wraps the encoded sequence(s) with special tokens and assigns type ids
// from a template ([CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1 for BERT).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "encore/encoding.hpp"

namespace encore::tok {

class TemplateProcessor {
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

  // Number of special tokens the template adds.
  std::size_t added_tokens(bool is_pair) const;
  Encoding process(Encoding a, std::optional<Encoding> b, bool add_special_tokens) const;

 private:
  std::vector<Piece> single_, pair_;
  std::map<std::string, SpecialToken> special_;
};

// Reads TemplateProcessing or BertProcessing; `vocab_lookup` resolves BertProcessing ids.
TemplateProcessor make_post_processor(const nlohmann::json& j, const std::string& where);

// The BERT template, as BertProcessing builds it.
TemplateProcessor bert_template(const std::string& cls, std::int32_t cls_id,
                                const std::string& sep, std::int32_t sep_id);

}  // namespace encore::tok

// The assembled pipeline behind encore::Tokenizer.
#pragma once

#include <optional>
#include <string>

#include "encore/tokenizer.hpp"
#include "tokenizer/added_vocabulary.hpp"
#include "tokenizer/decoder.hpp"
#include "tokenizer/model.hpp"
#include "tokenizer/normalizer.hpp"
#include "tokenizer/post_processor.hpp"
#include "tokenizer/pre_tokenizer.hpp"

namespace encore {

struct Tokenizer::Impl {
  std::string source;
  tok::NormalizerPtr normalizer;         // may be null
  tok::PreTokenizerPtr pre_tokenizer;    // may be null
  tok::ModelPtr model;                   // always set once loaded
  tok::PostProcessorPtr post_processor;  // may be null
  tok::DecoderPtr decoder;               // may be null
  tok::AddedVocabulary added;
  std::string file_truncation = "null", file_padding = "null";

  // Tokens of one input sequence, before truncation and post-processing.
  Encoding encode_sequence(const std::u32string& text, std::int32_t type_id,
                           std::int8_t sequence_id) const;
  Encoding post_process(Encoding a, std::optional<Encoding> b, const EncodeOptions& o) const;
};

}  // namespace encore

// Normalizers: the first stage of the Hugging Face pipeline. Each one rewrites a
// NormalizedString in place, keeping alignments to the original text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/normalized_string.hpp"

namespace encore::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& s) const = 0;
};

using NormalizerPtr = std::shared_ptr<const Normalizer>;

// Builds a normalizer from its tokenizer.json object; `where` names the file for errors.
NormalizerPtr make_normalizer(const nlohmann::json& j, const std::string& where);

class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool handle_chinese_chars, bool strip_accents, bool lowercase)
      : clean_text_(clean_text),
        handle_chinese_chars_(handle_chinese_chars),
        strip_accents_(strip_accents),
        lowercase_(lowercase) {}
  void normalize(NormalizedString& s) const override;

 private:
  bool clean_text_, handle_chinese_chars_, strip_accents_, lowercase_;
};

enum class UnicodeForm { NFD, NFKD, NFC, NFKC };

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) : form_(form) {}
  void normalize(NormalizedString& s) const override;

 private:
  UnicodeForm form_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override;
};

// Removes nonspacing marks (meant to follow NFD/NFKD).
class StripAccentsNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override;
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(NormalizedString& s) const override;

 private:
  bool left_, right_;
};

class Regex;

// Replace: every match of a literal string or of a regex becomes `content`.
class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(std::u32string pattern, std::u32string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  ReplaceNormalizer(std::shared_ptr<const Regex> regex, std::u32string content)
      : regex_(std::move(regex)), content_(std::move(content)) {}
  void normalize(NormalizedString& s) const override;

 private:
  std::u32string pattern_;
  std::shared_ptr<const Regex> regex_;  // set for {"Regex": ...} patterns
  std::u32string content_;
};

// SentencePiece's NMT normalization: drops some control characters, turns others
// (and a few format characters) into spaces.
class NmtNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::u32string prefix) : prefix_(std::move(prefix)) {}
  void normalize(NormalizedString& s) const override;

 private:
  std::u32string prefix_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<NormalizerPtr> steps) : steps_(std::move(steps)) {}
  void normalize(NormalizedString& s) const override;

 private:
  std::vector<NormalizerPtr> steps_;
};

// Shared building blocks (also used by BertNormalizer).
void apply_unicode_form(NormalizedString& s, UnicodeForm form);
void apply_lowercase(NormalizedString& s);
void remove_nonspacing_marks(NormalizedString& s);

}  // namespace encore::tok

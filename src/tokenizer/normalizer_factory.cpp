#include "core/utf8.hpp"
#include "tokenizer/json_fields.hpp"
#include "tokenizer/normalizer.hpp"

namespace encore::tok {

NormalizerPtr make_normalizer(const nlohmann::json& j, const std::string& where) {
  const std::string type = type_of(j, "normalizer", where);
  const std::string ctx = where + ": normalizer " + type;
  if (type == "BertNormalizer") {
    const bool lowercase = bool_field(j, "lowercase", true, ctx);
    // strip_accents: null means "follow lowercase", as in Hugging Face.
    const bool strip = bool_field(j, "strip_accents", lowercase, ctx);
    return std::make_shared<BertNormalizer>(bool_field(j, "clean_text", true, ctx),
                                            bool_field(j, "handle_chinese_chars", true, ctx),
                                            strip, lowercase);
  }
  if (type == "Lowercase") return std::make_shared<LowercaseNormalizer>();
  if (type == "NFD") return std::make_shared<UnicodeNormalizer>(UnicodeForm::NFD);
  if (type == "NFKD") return std::make_shared<UnicodeNormalizer>(UnicodeForm::NFKD);
  if (type == "NFC") return std::make_shared<UnicodeNormalizer>(UnicodeForm::NFC);
  if (type == "NFKC") return std::make_shared<UnicodeNormalizer>(UnicodeForm::NFKC);
  if (type == "StripAccents") return std::make_shared<StripAccentsNormalizer>();
  if (type == "Strip") {
    return std::make_shared<StripNormalizer>(bool_field(j, "strip_left", true, ctx),
                                             bool_field(j, "strip_right", true, ctx));
  }
  if (type == "Replace") {
    const auto* pattern = find_field(j, "pattern");
    if (!pattern || !pattern->is_object())
      throw Error(ctx + ": missing 'pattern' object");
    if (pattern->contains("Regex"))
      throw Error(ctx + ": Regex patterns are not supported (only {\"String\": ...})");
    const std::string from = string_field(*pattern, "String", ctx + " pattern");
    const std::string to = string_field(j, "content", ctx);
    return std::make_shared<ReplaceNormalizer>(utf8::decode(from), utf8::decode(to));
  }
  if (type == "Prepend") {
    return std::make_shared<PrependNormalizer>(utf8::decode(string_field(j, "prepend", ctx)));
  }
  if (type == "Sequence") {
    std::vector<NormalizerPtr> steps;
    for (const auto& step : array_field(j, "normalizers", ctx)) {
      steps.push_back(make_normalizer(step, where));
    }
    return std::make_shared<SequenceNormalizer>(std::move(steps));
  }
  throw Error(where + ": unknown normalizer type '" + type + "'");
}

}  // namespace encore::tok

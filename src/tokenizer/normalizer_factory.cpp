#include "core/utf8.hpp"
#include "tokenizer/json_fields.hpp"
#include "tokenizer/normalizer.hpp"
#include "tokenizer/precompiled_normalizer.hpp"
#include "tokenizer/regex.hpp"

namespace encore::tok {

NormalizerPtr make_normalizer(const nlohmann::json& j, const std::string& where) {
  const std::string type = type_of(j, "normalizer", where);
  const std::string ctx = where + ": normalizer " + type;
  if (type == "BertNormalizer") {
    const bool lowercase = bool_field(j, "lowercase", true, ctx);
    // strip_accents: null means "follow lowercase", as in Hugging Face.
    const bool strip = bool_field(j, "strip_accents", lowercase, ctx);
    return std::make_shared<BertNormalizer>(bool_field(j, "clean_text", true, ctx),
                                            bool_field(j, "handle_chinese_chars", true, ctx), strip,
                                            lowercase);
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
    if (!pattern || !pattern->is_object()) throw Error(ctx + ": missing 'pattern' object");
    const std::string to = string_field(j, "content", ctx);
    if (pattern->contains("Regex")) {
      auto re = std::make_shared<Regex>(string_field(*pattern, "Regex", ctx + " pattern"), ctx);
      return std::make_shared<ReplaceNormalizer>(std::move(re), utf8::decode(to));
    }
    const std::string from = string_field(*pattern, "String", ctx + " pattern");
    return std::make_shared<ReplaceNormalizer>(utf8::decode(from), utf8::decode(to));
  }
  if (type == "Nmt") return std::make_shared<NmtNormalizer>();
  if (type == "Precompiled") {
    const auto* map = find_field(j, "precompiled_charsmap");
    if (!map) return nullptr;  // Hugging Face treats a missing charsmap as identity
    if (!map->is_string()) throw Error(ctx + ": 'precompiled_charsmap' must be a base64 string");
    const std::string blob = base64_decode(map->get<std::string>(), ctx);
    if (blob.empty()) return nullptr;
    return std::make_shared<PrecompiledNormalizer>(blob, where);
  }
  if (type == "Prepend") {
    return std::make_shared<PrependNormalizer>(utf8::decode(string_field(j, "prepend", ctx)));
  }
  if (type == "Sequence") {
    std::vector<NormalizerPtr> steps;
    for (const auto& step : array_field(j, "normalizers", ctx)) {
      if (auto n = make_normalizer(step, where)) steps.push_back(std::move(n));
    }
    return std::make_shared<SequenceNormalizer>(std::move(steps));
  }
  throw Error(where + ": unknown normalizer type '" + type + "'");
}

}  // namespace encore::tok

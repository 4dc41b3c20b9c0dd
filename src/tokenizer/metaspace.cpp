#include "tokenizer/metaspace.hpp"

#include "core/utf8.hpp"
#include "tokenizer/json_fields.hpp"

namespace encore::tok {

void MetaspacePreTokenizer::pre_tokenize(std::vector<NormalizedString>& pieces) const {
  std::vector<NormalizedString> out;
  out.reserve(pieces.size() * 4);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> spaces;
  std::vector<Range> words;
  const std::u32string rep(1, replacement_);
  for (NormalizedString& p : pieces) {
    if (p.empty()) continue;
    spaces.clear();
    const auto& c = p.chars();
    for (std::uint32_t i = 0; i < c.size(); ++i)
      if (c[i] == U' ') spaces.emplace_back(i, i + 1);
    p.replace(spaces, rep);
    const bool starts = !p.empty() && p.chars()[0] == replacement_;
    if (!starts && (scheme_ == PrependScheme::Always ||
                    (scheme_ == PrependScheme::First && p.original().start == 0))) {
      p.prepend(rep);
    }
    if (!split_) {
      out.push_back(std::move(p));
      continue;
    }
    words.assign(1, Range{0, static_cast<std::uint32_t>(p.size())});
    split_at_char(p.chars(), words, replacement_, SplitBehavior::MergedWithNext);
    for (const Range& w : words) out.push_back(p.slice(w.begin, w.end));
  }
  pieces.swap(out);
}

char32_t parse_metaspace_replacement(const nlohmann::json& j, const std::string& ctx) {
  return char_field(j, "replacement", "\u2581", ctx);
}

PrependScheme parse_prepend_scheme(const nlohmann::json& j, const std::string& ctx) {
  PrependScheme scheme = PrependScheme::Always;
  if (const auto* p = find_field(j, "prepend_scheme")) {
    if (!p->is_string()) throw Error(ctx + ": field 'prepend_scheme' must be a string");
    const std::string v = p->get<std::string>();
    if (v == "always")
      scheme = PrependScheme::Always;
    else if (v == "first")
      scheme = PrependScheme::First;
    else if (v == "never")
      scheme = PrependScheme::Never;
    else
      throw Error(ctx + ": unknown prepend_scheme '" + v + "'");
  }
  if (!bool_field(j, "add_prefix_space", true, ctx)) {
    if (scheme != PrependScheme::Never)
      throw Error(
          ctx +
          ": add_prefix_space false does not match prepend_scheme (Hugging Face refuses it too)");
  }
  return scheme;
}

}  // namespace encore::tok

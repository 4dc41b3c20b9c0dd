#include "tokenizer/post_processor.hpp"

#include "tokenizer/byte_level.hpp"
#include "tokenizer/json_fields.hpp"

namespace encore::tok {

TemplateProcessor::TemplateProcessor(std::vector<Piece> single, std::vector<Piece> pair,
                                     std::map<std::string, SpecialToken> special,
                                     const std::string& where)
    : single_(std::move(single)), pair_(std::move(pair)), special_(std::move(special)) {
  for (const auto* tmpl : {&single_, &pair_}) {
    for (const Piece& p : *tmpl) {
      if (p.kind == Piece::Special && !special_.count(p.special))
        throw Error(where + ": post_processor template uses special token '" + p.special +
                    "' missing from its special_tokens");
    }
  }
}

std::size_t TemplateProcessor::added_tokens(bool is_pair) const {
  std::size_t n = 0;
  for (const Piece& p : is_pair ? pair_ : single_)
    if (p.kind == Piece::Special) n += special_.at(p.special).ids.size();
  return n;
}

void TemplateProcessor::process(std::vector<Encoding>& encodings, bool add_special_tokens) const {
  Encoding& a = encodings.at(0);
  Encoding* b = encodings.size() > 1 ? &encodings[1] : nullptr;
  Encoding out;
  out.reserve(a.size() + (b ? b->size() : 0) + 4);
  out.truncated = a.truncated || (b && b->truncated);
  for (const Piece& p : b ? pair_ : single_) {
    if (p.kind == Piece::Special) {
      if (!add_special_tokens) continue;
      const SpecialToken& s = special_.at(p.special);
      for (std::size_t k = 0; k < s.ids.size(); ++k) {
        out.ids.push_back(s.ids[k]);
        out.type_ids.push_back(p.type_id);
        out.tokens.push_back(s.tokens[k]);
        out.offsets.push_back({0, 0});
        out.special_tokens_mask.push_back(1);
        out.sequence_ids.push_back(-1);
      }
    } else {
      Encoding* src = p.kind == Piece::SequenceA ? &a : b;
      if (!src) continue;
      for (auto& t : src->type_ids) t = p.type_id;
      out.append(*src);
    }
  }
  encodings.assign(1, std::move(out));
}

Encoding post_process(const PostProcessor* p, Encoding a, std::optional<Encoding> b,
                      bool add_special_tokens) {
  // Reused per thread: short texts make this per-encode allocation visible.
  thread_local std::vector<Encoding> encs;
  encs.clear();
  encs.push_back(std::move(a));
  if (b) encs.push_back(std::move(*b));
  if (p) p->process(encs, add_special_tokens);
  Encoding out = std::move(encs[0]);
  for (std::size_t k = 1; k < encs.size(); ++k) out.append(encs[k]);
  encs.clear();
  return out;
}

namespace {

void push_special(Encoding& out, std::int32_t id, const std::string& token) {
  out.ids.push_back(id);
  out.type_ids.push_back(0);
  out.tokens.push_back(token);
  out.offsets.push_back({0, 0});
  out.special_tokens_mask.push_back(1);
  out.sequence_ids.push_back(-1);
}

}  // namespace

void RobertaProcessor::process(std::vector<Encoding>& encodings, bool add_special_tokens) const {
  for (Encoding& e : encodings) {
    if (trim_offsets_) trim_byte_level_offsets(e, add_prefix_space_);
    // RoBERTa gives every token type id 0, the second sequence's too.
    for (auto& t : e.type_ids) t = 0;
  }
  if (!add_special_tokens) return;
  Encoding out;
  std::size_t n = 4;
  for (const Encoding& e : encodings) n += e.size();
  out.reserve(n);
  out.truncated = false;
  push_special(out, cls_id_, cls_);
  out.append(encodings[0]);
  push_special(out, sep_id_, sep_);
  if (encodings.size() > 1) {
    push_special(out, sep_id_, sep_);
    out.append(encodings[1]);
    push_special(out, sep_id_, sep_);
  }
  encodings.assign(1, std::move(out));
}

void ByteLevelProcessor::process(std::vector<Encoding>& encodings, bool) const {
  if (!trim_offsets_) return;
  for (Encoding& e : encodings) trim_byte_level_offsets(e, add_prefix_space_);
}

std::size_t SequenceProcessor::added_tokens(bool is_pair) const {
  std::size_t n = 0;
  for (const auto& s : steps_) n += s->added_tokens(is_pair);
  return n;
}

void SequenceProcessor::process(std::vector<Encoding>& encodings, bool add_special_tokens) const {
  for (const auto& s : steps_) s->process(encodings, add_special_tokens);
}

namespace {

std::vector<TemplateProcessor::Piece> parse_template(const nlohmann::json& arr,
                                                     const std::string& where) {
  std::vector<TemplateProcessor::Piece> out;
  if (!arr.is_array()) throw Error(where + ": template must be an array");
  for (const auto& item : arr) {
    TemplateProcessor::Piece p;
    if (const auto* s = find_field(item, "SpecialToken")) {
      p.kind = TemplateProcessor::Piece::Special;
      p.special = string_field(*s, "id", where);
      p.type_id = static_cast<std::int32_t>(int_field(*s, "type_id", 0, where));
    } else if (const auto* q = find_field(item, "Sequence")) {
      const std::string id = string_field(*q, "id", where);
      if (id != "A" && id != "B") throw Error(where + ": template sequence id must be A or B");
      p.kind =
          id == "A" ? TemplateProcessor::Piece::SequenceA : TemplateProcessor::Piece::SequenceB;
      p.type_id = static_cast<std::int32_t>(int_field(*q, "type_id", 0, where));
    } else {
      throw Error(where + ": template piece must be SpecialToken or Sequence");
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::pair<std::string, std::int32_t> token_pair(const nlohmann::json& j, const char* key,
                                                const std::string& where) {
  const auto* v = find_field(j, key);
  if (!v || !v->is_array() || v->size() != 2 || !(*v)[0].is_string() ||
      !(*v)[1].is_number_integer())
    throw Error(where + ": field '" + key + "' must be [token, id]");
  return {(*v)[0].get<std::string>(), (*v)[1].get<std::int32_t>()};
}

}  // namespace

PostProcessorPtr bert_template(const std::string& cls, std::int32_t cls_id, const std::string& sep,
                               std::int32_t sep_id) {
  using P = TemplateProcessor::Piece;
  std::vector<P> single{{P::Special, cls, 0}, {P::SequenceA, "", 0}, {P::Special, sep, 0}};
  std::vector<P> pair{{P::Special, cls, 0},
                      {P::SequenceA, "", 0},
                      {P::Special, sep, 0},
                      {P::SequenceB, "", 1},
                      {P::Special, sep, 1}};
  std::map<std::string, TemplateProcessor::SpecialToken> special{{cls, {{cls_id}, {cls}}},
                                                                 {sep, {{sep_id}, {sep}}}};
  return std::make_shared<TemplateProcessor>(std::move(single), std::move(pair), std::move(special),
                                             "BERT template");
}

PostProcessorPtr make_post_processor(const nlohmann::json& j, const std::string& where) {
  const std::string type = type_of(j, "post_processor", where);
  const std::string ctx = where + ": post_processor " + type;
  if (type == "BertProcessing") {
    const auto [sep, sep_id] = token_pair(j, "sep", ctx);
    const auto [cls, cls_id] = token_pair(j, "cls", ctx);
    return bert_template(cls, cls_id, sep, sep_id);
  }
  if (type == "TemplateProcessing") {
    std::map<std::string, TemplateProcessor::SpecialToken> special;
    if (const auto* st = find_field(j, "special_tokens")) {
      if (!st->is_object()) throw Error(ctx + ": special_tokens must be an object");
      for (const auto& [key, val] : st->items()) {
        TemplateProcessor::SpecialToken s;
        for (const auto& id : array_field(val, "ids", ctx)) {
          if (!id.is_number_integer()) throw Error(ctx + ": special token ids must be integers");
          s.ids.push_back(id.get<std::int32_t>());
        }
        for (const auto& tok : array_field(val, "tokens", ctx)) {
          if (!tok.is_string()) throw Error(ctx + ": special token tokens must be strings");
          s.tokens.push_back(tok.get<std::string>());
        }
        if (s.ids.size() != s.tokens.size())
          throw Error(ctx + ": special token '" + key +
                      "' has different numbers of ids and tokens");
        special.emplace(key, std::move(s));
      }
    }
    const auto* single = find_field(j, "single");
    const auto* pair = find_field(j, "pair");
    if (!single || !pair) throw Error(ctx + ": needs both 'single' and 'pair' templates");
    return std::make_shared<TemplateProcessor>(parse_template(*single, ctx),
                                               parse_template(*pair, ctx), std::move(special), ctx);
  }
  if (type == "RobertaProcessing") {
    const auto [sep, sep_id] = token_pair(j, "sep", ctx);
    const auto [cls, cls_id] = token_pair(j, "cls", ctx);
    return std::make_shared<RobertaProcessor>(cls, cls_id, sep, sep_id,
                                              bool_field(j, "trim_offsets", true, ctx),
                                              bool_field(j, "add_prefix_space", true, ctx));
  }
  if (type == "ByteLevel") {
    return std::make_shared<ByteLevelProcessor>(bool_field(j, "trim_offsets", true, ctx),
                                                bool_field(j, "add_prefix_space", true, ctx));
  }
  if (type == "Sequence") {
    std::vector<PostProcessorPtr> steps;
    for (const auto& p : array_field(j, "processors", ctx))
      steps.push_back(make_post_processor(p, where));
    return std::make_shared<SequenceProcessor>(std::move(steps));
  }
  throw Error(where + ": unknown post_processor type '" + type + "'");
}

}  // namespace encore::tok

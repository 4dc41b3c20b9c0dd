// Builds a Tokenizer from tokenizer.json, from a BERT vocab.txt, or from a folder.
#include <fstream>

#include "core/file_io.hpp"
#include "core/utf8.hpp"
#include "tokenizer/json_fields.hpp"
#include "tokenizer/tokenizer_impl.hpp"

namespace encore {
namespace {

using nlohmann::json;

tok::WordPiece make_wordpiece(const json& j, const std::string& where) {
  const std::string ctx = where + ": model";
  if (!j.is_object()) throw Error(ctx + " must be a JSON object");
  const std::string type = tok::string_field(j, "type", "WordPiece", ctx);
  if (type != "WordPiece") {
    throw Error(where + ": unsupported model type '" + type + "' (encore supports WordPiece)");
  }
  const auto* vocab_json = tok::find_field(j, "vocab");
  if (!vocab_json || !vocab_json->is_object()) throw Error(ctx + ": missing 'vocab' object");
  tok::Vocab vocab;
  for (const auto& [token, id] : vocab_json->items()) {
    if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() > INT32_MAX)
      throw Error(ctx + ": vocab entry '" + token + "' has an invalid id");
    vocab.add(token, id.get<std::int32_t>());
  }
  const long long max_chars = tok::int_field(j, "max_input_chars_per_word", 100, ctx);
  if (max_chars < 0) throw Error(ctx + ": max_input_chars_per_word must be >= 0");
  return tok::WordPiece(std::move(vocab), tok::string_field(j, "unk_token", "[UNK]", ctx),
                        tok::string_field(j, "continuing_subword_prefix", "##", ctx),
                        static_cast<std::size_t>(max_chars), where);
}

std::vector<tok::AddedToken> read_added_tokens(const json& j, const std::string& where) {
  std::vector<tok::AddedToken> out;
  if (j.is_null()) return out;
  if (!j.is_array()) throw Error(where + ": 'added_tokens' must be an array");
  for (const auto& t : j) {
    const std::string ctx = where + ": added_tokens entry";
    tok::AddedToken a;
    a.content = tok::string_field(t, "content", ctx);
    const long long id = tok::int_field(t, "id", -1, ctx);
    if (id < 0 || id > INT32_MAX) throw Error(ctx + " '" + a.content + "' has no valid id");
    a.id = static_cast<std::int32_t>(id);
    a.special = tok::bool_field(t, "special", false, ctx);
    a.single_word = tok::bool_field(t, "single_word", false, ctx);
    a.lstrip = tok::bool_field(t, "lstrip", false, ctx);
    a.rstrip = tok::bool_field(t, "rstrip", false, ctx);
    a.normalized = tok::bool_field(t, "normalized", !a.special, ctx);
    if (utf8::find_invalid(a.content) != std::string::npos)
      throw Error(ctx + " has invalid UTF-8 content");
    out.push_back(std::move(a));
  }
  return out;
}


// Values in tokenizer_config.json / special_tokens_map.json are strings or AddedToken objects.
std::optional<std::string> special_token_value(const json& j, const char* key) {
  const auto* v = tok::find_field(j, key);
  if (!v) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object() && v->contains("content") && (*v)["content"].is_string())
    return (*v)["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

Tokenizer Tokenizer::from_json(std::string_view text, const std::string& source) {
  const json j = parse_json(text, source);
  if (!j.is_object()) throw Error(source + ": tokenizer.json must hold a JSON object");
  auto impl = std::make_shared<Impl>();
  impl->source = source;
  const auto* model = tok::find_field(j, "model");
  if (!model) throw Error(source + ": missing 'model'");
  impl->model.emplace(make_wordpiece(*model, source));
  if (const auto* n = tok::find_field(j, "normalizer")) impl->normalizer = tok::make_normalizer(*n, source);
  if (const auto* p = tok::find_field(j, "pre_tokenizer"))
    impl->pre_tokenizer = tok::make_pre_tokenizer(*p, source);
  if (const auto* p = tok::find_field(j, "post_processor"))
    impl->post_processor.emplace(tok::make_post_processor(*p, source));
  if (const auto* d = tok::find_field(j, "decoder")) {
    const std::string type = tok::type_of(*d, "decoder", source);
    if (type != "WordPiece") throw Error(source + ": unknown decoder type '" + type + "'");
    impl->decoder.emplace(tok::WordPieceDecoder{
        tok::string_field(*d, "prefix", "##", source + ": decoder"),
        tok::bool_field(*d, "cleanup", true, source + ": decoder")});
  }
  const auto it = j.find("added_tokens");
  impl->added = tok::AddedVocabulary(read_added_tokens(it == j.end() ? json() : *it, source),
                                     impl->normalizer.get());
  if (const auto* t = tok::find_field(j, "truncation")) impl->file_truncation = t->dump();
  if (const auto* p = tok::find_field(j, "padding")) impl->file_padding = p->dump();
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_file(const std::filesystem::path& path) {
  return from_json(read_file(path, "tokenizer file"), path.string());
}

Tokenizer Tokenizer::from_vocab_file(const std::filesystem::path& path,
                                     const BertVocabOptions& o) {
  const std::string text = read_file(path, "vocabulary file");
  const std::string where = path.string();
  if (const auto bad = utf8::find_invalid(text); bad != std::string::npos)
    throw Error(where + ": invalid UTF-8 at byte offset " + std::to_string(bad));
  // One token per line, id = line number; only the newline is stripped (as HF does).
  tok::Vocab vocab;
  std::size_t start = 0;
  std::int32_t id = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    vocab.add(text.substr(start, nl - start), id++);
    start = nl + 1;
  }
  auto impl = std::make_shared<Impl>();
  impl->source = where;
  impl->normalizer = std::make_shared<tok::BertNormalizer>(
      true, o.tokenize_chinese_chars, o.strip_accents.value_or(o.do_lower_case), o.do_lower_case);
  impl->pre_tokenizer = std::make_shared<tok::BertPreTokenizer>();
  std::vector<tok::AddedToken> added;
  for (const std::string* s : {&o.pad_token, &o.unk_token, &o.cls_token, &o.sep_token, &o.mask_token}) {
    const auto found = vocab.find(*s);
    if (!found) continue;
    tok::AddedToken a;
    a.content = *s;
    a.id = *found;
    a.special = true;
    a.normalized = false;
    added.push_back(std::move(a));
  }
  const auto cls = vocab.find(o.cls_token);
  const auto sep = vocab.find(o.sep_token);
  if (!cls || !sep) {
    throw Error(where + ": vocabulary lacks the " + (cls ? o.sep_token : o.cls_token) +
                " token needed to build the BERT template");
  }
  impl->post_processor.emplace(tok::bert_template(o.cls_token, *cls, o.sep_token, *sep));
  impl->decoder.emplace(tok::WordPieceDecoder{"##", true});
  impl->model.emplace(std::move(vocab), o.unk_token, "##", 100, where);
  impl->added = tok::AddedVocabulary(std::move(added), impl->normalizer.get());
  return Tokenizer(std::move(impl));
}

TokenizerBundle load_tokenizer(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw Error("model folder '" + dir.string() + "' does not exist");
  if (!fs::is_directory(dir, ec)) throw Error("'" + dir.string() + "' is not a folder");

  json tok_config = json::object();
  if (fs::exists(dir / "tokenizer_config.json"))
    tok_config = read_json_file(dir / "tokenizer_config.json");

  std::optional<Tokenizer> tokenizer;
  fs::path from;
  if (fs::exists(dir / "tokenizer.json")) {
    from = dir / "tokenizer.json";
    tokenizer = Tokenizer::from_file(from);
  } else if (fs::exists(dir / "vocab.txt")) {
    from = dir / "vocab.txt";
    BertVocabOptions o;
    const std::string ctx = (dir / "tokenizer_config.json").string();
    o.do_lower_case = tok::bool_field(tok_config, "do_lower_case", true, ctx);
    o.tokenize_chinese_chars = tok::bool_field(tok_config, "tokenize_chinese_chars", true, ctx);
    if (const auto* v = tok::find_field(tok_config, "strip_accents")) {
      if (!v->is_boolean()) throw Error(ctx + ": field 'strip_accents' must be a boolean or null");
      o.strip_accents = v->get<bool>();
    }
    json special_map = json::object();
    if (fs::exists(dir / "special_tokens_map.json"))
      special_map = read_json_file(dir / "special_tokens_map.json");
    for (auto [key, field] : {std::pair{"unk_token", &o.unk_token}, {"sep_token", &o.sep_token},
                              {"pad_token", &o.pad_token}, {"cls_token", &o.cls_token},
                              {"mask_token", &o.mask_token}}) {
      if (auto v = special_token_value(tok_config, key)) *field = *v;
      else if (auto m = special_token_value(special_map, key)) *field = *m;
    }
    tokenizer = Tokenizer::from_vocab_file(from, o);
  } else {
    throw Error("model folder '" + dir.string() +
                "' has neither tokenizer.json nor vocab.txt");
  }

  // model_max_length, capped by the model's position table; HF writes a huge sentinel
  // (1e30) when a tokenizer has no limit.
  std::optional<std::size_t> max_len;
  if (const auto* m = tok::find_field(tok_config, "model_max_length"); m && m->is_number()) {
    const double v = m->get<double>();
    if (v >= 1 && v < 1e9) max_len = static_cast<std::size_t>(v);
  }
  if (fs::exists(dir / "config.json")) {
    const json config = read_json_file(dir / "config.json", "model config");
    if (const auto* p = tok::find_field(config, "max_position_embeddings");
        p && p->is_number_integer() && p->get<long long>() > 0) {
      const auto v = static_cast<std::size_t>(p->get<long long>());
      max_len = max_len ? std::min(*max_len, v) : v;
    }
  }
  return TokenizerBundle{std::move(*tokenizer), max_len.value_or(512), from};
}

}  // namespace encore

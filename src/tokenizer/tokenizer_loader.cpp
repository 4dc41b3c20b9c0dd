// Builds a Tokenizer from tokenizer.json, from a BERT vocab.txt, or from a folder.
#include <algorithm>
#include <fstream>
#include <map>

#include "core/file_io.hpp"
#include "core/utf8.hpp"
#include "tokenizer/bpe.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/json_fields.hpp"
#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/unigram.hpp"
#include "tokenizer/word_level.hpp"
#include "tokenizer/wordpiece.hpp"

namespace encore {
namespace {

using nlohmann::json;

tok::Vocab read_vocab_object(const json& v, const std::string& ctx) {
  if (!v.is_object()) throw Error(ctx + ": 'vocab' must be an object of token -> id");
  tok::Vocab vocab;
  for (const auto& [token, id] : v.items()) {
    if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() > INT32_MAX)
      throw Error(ctx + ": vocab entry '" + token + "' has an invalid id");
    vocab.add(token, id.get<std::int32_t>());
  }
  return vocab;
}

std::optional<std::string> optional_string(const json& j, const char* key, const std::string& ctx) {
  const auto* v = tok::find_field(j, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw Error(ctx + ": field '" + key + "' must be a string or null");
  return v->get<std::string>();
}

std::vector<std::pair<std::string, std::string>> read_merges(const json& arr,
                                                             const std::string& ctx) {
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(arr.size());
  for (std::size_t k = 0; k < arr.size(); ++k) {
    const json& m = arr[k];
    if (m.is_string()) {
      // The older "a b" form: exactly one space.
      const std::string line = m.get<std::string>();
      const auto sp = line.find(' ');
      if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
        throw Error(ctx + ": merge " + std::to_string(k) + " '" + line +
                    "' is not two tokens separated by one space");
      merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      throw Error(ctx + ": merge " + std::to_string(k) + " must be \"a b\" or [\"a\", \"b\"]");
    }
  }
  return merges;
}

tok::BpeOptions read_bpe_options(const json& j, const std::string& ctx) {
  tok::BpeOptions o;
  if (const auto* d = tok::find_field(j, "dropout")) {
    if (!d->is_number() || d->get<double>() != 0.0)
      throw Error(ctx + ": BPE dropout " + d->dump() +
                  " is not supported (encore is deterministic; use null)");
  }
  o.unk_token = optional_string(j, "unk_token", ctx);
  o.continuing_subword_prefix = optional_string(j, "continuing_subword_prefix", ctx);
  o.end_of_word_suffix = optional_string(j, "end_of_word_suffix", ctx);
  o.fuse_unk = tok::bool_field(j, "fuse_unk", false, ctx);
  o.byte_fallback = tok::bool_field(j, "byte_fallback", false, ctx);
  o.ignore_merges = tok::bool_field(j, "ignore_merges", false, ctx);
  return o;
}

tok::ModelPtr make_model(const json& j, const std::string& where) {
  const std::string ctx = where + ": model";
  if (!j.is_object()) throw Error(ctx + " must be a JSON object");
  // Old files omit "type": infer it from the fields, as Hugging Face's untagged reader does.
  std::string fallback = "WordPiece";
  if (j.contains("merges"))
    fallback = "BPE";
  else if (const auto* v = tok::find_field(j, "vocab"); v && v->is_array())
    fallback = "Unigram";
  const std::string type = tok::string_field(j, "type", fallback, ctx);
  const std::string mctx = ctx + " " + type;
  if (type == "WordPiece") {
    const auto* vocab_json = tok::find_field(j, "vocab");
    if (!vocab_json) throw Error(mctx + ": missing 'vocab' object");
    const long long max_chars = tok::int_field(j, "max_input_chars_per_word", 100, mctx);
    if (max_chars < 0) throw Error(mctx + ": max_input_chars_per_word must be >= 0");
    return std::make_shared<tok::WordPiece>(
        read_vocab_object(*vocab_json, mctx), tok::string_field(j, "unk_token", "[UNK]", mctx),
        tok::string_field(j, "continuing_subword_prefix", "##", mctx),
        static_cast<std::size_t>(max_chars), where);
  }
  if (type == "BPE") {
    const auto* vocab_json = tok::find_field(j, "vocab");
    if (!vocab_json) throw Error(mctx + ": missing 'vocab' object");
    const auto* merges = tok::find_field(j, "merges");
    std::vector<std::pair<std::string, std::string>> m;
    if (merges) {
      if (!merges->is_array()) throw Error(mctx + ": 'merges' must be an array");
      m = read_merges(*merges, mctx);
    }
    return std::make_shared<tok::Bpe>(read_vocab_object(*vocab_json, mctx), m,
                                      read_bpe_options(j, mctx), where);
  }
  if (type == "Unigram") {
    const auto& vocab_json = tok::array_field(j, "vocab", mctx);
    std::vector<std::pair<std::string, double>> pieces;
    pieces.reserve(vocab_json.size());
    for (std::size_t k = 0; k < vocab_json.size(); ++k) {
      const json& e = vocab_json[k];
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
        throw Error(mctx + ": vocab entry " + std::to_string(k) + " must be [piece, score]");
      pieces.emplace_back(e[0].get<std::string>(), e[1].get<double>());
    }
    std::optional<std::int32_t> unk_id;
    if (const auto* u = tok::find_field(j, "unk_id")) {
      if (!u->is_number_integer() || u->get<long long>() < 0 || u->get<long long>() > INT32_MAX)
        throw Error(mctx + ": unk_id must be a non-negative integer or null");
      unk_id = u->get<std::int32_t>();
    }
    return std::make_shared<tok::Unigram>(std::move(pieces), unk_id,
                                          tok::bool_field(j, "byte_fallback", false, mctx), where);
  }
  if (type == "WordLevel") {
    const auto* vocab_json = tok::find_field(j, "vocab");
    if (!vocab_json) throw Error(mctx + ": missing 'vocab' object");
    return std::make_shared<tok::WordLevel>(read_vocab_object(*vocab_json, mctx),
                                            tok::string_field(j, "unk_token", "<unk>", mctx),
                                            where);
  }
  throw Error(where + ": unsupported model type '" + type +
              "' (encore supports WordPiece, BPE, Unigram and WordLevel)");
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
  impl->model = make_model(*model, source);
  if (const auto* n = tok::find_field(j, "normalizer"))
    impl->normalizer = tok::make_normalizer(*n, source);
  if (const auto* p = tok::find_field(j, "pre_tokenizer"))
    impl->pre_tokenizer = tok::make_pre_tokenizer(*p, source);
  if (const auto* p = tok::find_field(j, "post_processor"))
    impl->post_processor = tok::make_post_processor(*p, source);
  if (const auto* d = tok::find_field(j, "decoder")) impl->decoder = tok::make_decoder(*d, source);
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

Tokenizer Tokenizer::from_vocab_file(const std::filesystem::path& path, const BertVocabOptions& o) {
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
  for (const std::string* s :
       {&o.pad_token, &o.unk_token, &o.cls_token, &o.sep_token, &o.mask_token}) {
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
  impl->post_processor = tok::bert_template(o.cls_token, *cls, o.sep_token, *sep);
  impl->decoder = tok::wordpiece_decoder("##", true);
  impl->model = std::make_shared<tok::WordPiece>(std::move(vocab), o.unk_token, "##", 100, where);
  impl->added = tok::AddedVocabulary(std::move(added), impl->normalizer.get());
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_bpe_files(const std::filesystem::path& vocab_json,
                                    const std::filesystem::path& merges_txt,
                                    const ByteLevelBpeOptions& o) {
  const std::string where = vocab_json.string();
  tok::Vocab vocab = read_vocab_object(read_json_file(vocab_json, "BPE vocabulary"), where);
  const std::string text = read_file(merges_txt, "BPE merges file");
  if (const auto bad = utf8::find_invalid(text); bad != std::string::npos)
    throw Error(merges_txt.string() + ": invalid UTF-8 at byte offset " + std::to_string(bad));
  // One merge per line, "a b"; the "#version" header and empty lines are skipped.
  std::vector<std::pair<std::string, std::string>> merges;
  std::size_t start = 0, line_no = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    start = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    const auto sp = line.find(' ');
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
      throw Error(merges_txt.string() + ":" + std::to_string(line_no) +
                  ": a merge must be two tokens separated by one space");
    merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  auto impl = std::make_shared<Impl>();
  impl->source = where;
  impl->pre_tokenizer = std::make_shared<tok::ByteLevelPreTokenizer>(o.add_prefix_space, true);
  impl->decoder = tok::byte_level_decoder();
  std::vector<tok::AddedToken> added;
  for (const auto& t : o.added_tokens) {
    tok::AddedToken a;
    a.content = t.content;
    a.id = t.id >= 0 ? t.id : vocab.find(t.content).value_or(-1);
    if (a.id < 0)
      throw Error(where + ": special token '" + t.content + "' is not in the vocabulary");
    a.special = t.special;
    a.single_word = t.single_word;
    a.lstrip = t.lstrip;
    a.rstrip = t.rstrip;
    a.normalized = t.normalized;
    added.push_back(std::move(a));
  }
  auto id_of = [&](const std::string& token) {
    for (const auto& a : added)
      if (a.content == token) return a.id;
    const auto id = vocab.find(token);
    if (!id) throw Error(where + ": special token '" + token + "' is not in the vocabulary");
    return *id;
  };
  if (o.layout == ByteLevelBpeOptions::Layout::Roberta) {
    impl->post_processor = std::make_shared<tok::RobertaProcessor>(
        o.cls_token, id_of(o.cls_token), o.sep_token, id_of(o.sep_token), o.trim_offsets,
        o.add_prefix_space);
  } else if (o.add_bos_token) {
    using P = tok::TemplateProcessor::Piece;
    std::map<std::string, tok::TemplateProcessor::SpecialToken> special{
        {o.bos_token, {{id_of(o.bos_token)}, {o.bos_token}}}};
    impl->post_processor = std::make_shared<tok::TemplateProcessor>(
        std::vector<P>{{P::Special, o.bos_token, 0}, {P::SequenceA, "", 0}},
        std::vector<P>{{P::Special, o.bos_token, 0}, {P::SequenceA, "", 0}, {P::SequenceB, "", 1}},
        std::move(special), where);
  } else {
    impl->post_processor = std::make_shared<tok::ByteLevelProcessor>(false, o.add_prefix_space);
  }
  tok::BpeOptions bo;
  bo.continuing_subword_prefix = "";
  bo.end_of_word_suffix = "";
  impl->model = std::make_shared<tok::Bpe>(std::move(vocab), merges, bo, merges_txt.string());
  impl->added = tok::AddedVocabulary(std::move(added), impl->normalizer.get());
  return Tokenizer(std::move(impl));
}

namespace {

// The added tokens a folder declares: tokenizer_config.json's added_tokens_decoder (id ->
// AddedToken), else its special-token fields and special_tokens_map.json's.
std::vector<ByteLevelBpeOptions::AddedToken> folder_added_tokens(const json& config,
                                                                 const json& special_map,
                                                                 const std::string& ctx) {
  std::vector<ByteLevelBpeOptions::AddedToken> out;
  if (const auto* d = tok::find_field(config, "added_tokens_decoder"); d && d->is_object()) {
    for (const auto& [key, v] : d->items()) {
      ByteLevelBpeOptions::AddedToken a;
      try {
        a.id = std::stoi(key);
      } catch (const std::exception&) {
        throw Error(ctx + ": added_tokens_decoder key '" + key + "' is not an id");
      }
      a.content = tok::string_field(v, "content", ctx);
      a.special = tok::bool_field(v, "special", false, ctx);
      a.single_word = tok::bool_field(v, "single_word", false, ctx);
      a.lstrip = tok::bool_field(v, "lstrip", false, ctx);
      a.rstrip = tok::bool_field(v, "rstrip", false, ctx);
      a.normalized = tok::bool_field(v, "normalized", !a.special, ctx);
      out.push_back(std::move(a));
    }
    std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
    return out;
  }
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                          "cls_token", "mask_token"}) {
    const json* v = tok::find_field(config, key);
    if (!v) v = tok::find_field(special_map, key);
    if (!v) continue;
    ByteLevelBpeOptions::AddedToken a;
    if (v->is_string()) {
      a.content = v->get<std::string>();
    } else if (v->is_object()) {
      a.content = tok::string_field(*v, "content", ctx);
      a.single_word = tok::bool_field(*v, "single_word", false, ctx);
      a.lstrip = tok::bool_field(*v, "lstrip", false, ctx);
      a.rstrip = tok::bool_field(*v, "rstrip", false, ctx);
      a.normalized = tok::bool_field(*v, "normalized", false, ctx);
    } else {
      continue;
    }
    bool seen = false;
    for (const auto& b : out) seen = seen || b.content == a.content;
    if (!seen) out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

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
    for (auto [key, field] : {std::pair{"unk_token", &o.unk_token},
                              {"sep_token", &o.sep_token},
                              {"pad_token", &o.pad_token},
                              {"cls_token", &o.cls_token},
                              {"mask_token", &o.mask_token}}) {
      if (auto v = special_token_value(tok_config, key))
        *field = *v;
      else if (auto m = special_token_value(special_map, key))
        *field = *m;
    }
    tokenizer = Tokenizer::from_vocab_file(from, o);
  } else if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
    from = dir / "vocab.json";
    const std::string ctx = (dir / "tokenizer_config.json").string();
    json special_map = json::object();
    if (fs::exists(dir / "special_tokens_map.json"))
      special_map = read_json_file(dir / "special_tokens_map.json");
    ByteLevelBpeOptions o;
    const std::string cls = tok::string_field(tok_config, "tokenizer_class", "", ctx);
    o.layout = cls.find("GPT2") != std::string::npos ? ByteLevelBpeOptions::Layout::Gpt2
                                                     : ByteLevelBpeOptions::Layout::Roberta;
    o.add_prefix_space = tok::bool_field(tok_config, "add_prefix_space", false, ctx);
    o.trim_offsets = tok::bool_field(tok_config, "trim_offsets", true, ctx);
    o.add_bos_token = tok::bool_field(tok_config, "add_bos_token", false, ctx);
    if (auto v = special_token_value(tok_config, "cls_token"))
      o.cls_token = *v;
    else if (auto m = special_token_value(special_map, "cls_token"))
      o.cls_token = *m;
    if (auto v = special_token_value(tok_config, "sep_token"))
      o.sep_token = *v;
    else if (auto m = special_token_value(special_map, "sep_token"))
      o.sep_token = *m;
    if (auto v = special_token_value(tok_config, "bos_token"))
      o.bos_token = *v;
    else if (auto m = special_token_value(special_map, "bos_token"))
      o.bos_token = *m;
    o.added_tokens = folder_added_tokens(tok_config, special_map, ctx);
    tokenizer = Tokenizer::from_bpe_files(from, dir / "merges.txt", o);
  } else {
    for (const char* spm :
         {"sentencepiece.bpe.model", "spiece.model", "spm.model", "tokenizer.model"}) {
      if (fs::exists(dir / spm)) {
        throw Error("model folder '" + dir.string() + "' has a SentencePiece model (" + spm +
                    ") but no tokenizer.json; encore reads tokenizer.json. Convert it once with "
                    "transformers: python3 -c \"from transformers import AutoTokenizer; "
                    "AutoTokenizer.from_pretrained('" +
                    dir.string() + "').save_pretrained('" + dir.string() + "')\"");
      }
    }
    throw Error("model folder '" + dir.string() +
                "' has no tokenizer.json, vocab.json + merges.txt, or vocab.txt");
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

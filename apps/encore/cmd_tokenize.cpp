// encore tokenize: Hugging Face-identical tokenization, one JSON line per input.
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "encore/tokenizer.hpp"
#include "jsonl_inputs.hpp"

namespace encore::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string text;
  std::string pair;
  std::string input;
  std::size_t max_length = 0;
  bool no_truncation = false;
  bool no_special_tokens = false;
  bool with_mask = false;
  std::string strategy = "longest_first";
  std::string decode;
  bool keep_special = false;
};

// "1,2,3", "1 2 3" or "[1, 2, 3]" -> ids.
std::vector<std::int32_t> parse_ids(const std::string& s) {
  std::vector<std::int32_t> ids;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    std::size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(cur, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != cur.size() || v < 0 || v > INT32_MAX)
      throw InputError("--decode: '" + cur + "' is not a token id (a non-negative integer)");
    ids.push_back(static_cast<std::int32_t>(v));
    cur.clear();
  };
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '[' || c == ']' || c == '\t' || c == '\n') flush();
    else cur += c;
  }
  flush();
  return ids;
}

void run_decode(const TokenizeArgs& a) {
  const TokenizerBundle bundle = load_tokenizer(a.model.empty() ? default_model_dir() : a.model);
  const std::vector<std::int32_t> ids = parse_ids(a.decode);
  // Hugging Face skips ids it does not know; a CLI user is told instead.
  for (std::int32_t id : ids) {
    if (!bundle.tokenizer.id_to_token(id))
      throw InputError("--decode: id " + std::to_string(id) + " is not in the vocabulary (" +
                       std::to_string(bundle.tokenizer.vocab_size()) + " tokens)");
  }
  nlohmann::json j;
  j["ids"] = ids;
  j["text"] = bundle.tokenizer.decode(ids, !a.keep_special);
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

TruncationStrategy parse_strategy(const std::string& s) {
  if (s == "longest_first") return TruncationStrategy::LongestFirst;
  if (s == "only_first") return TruncationStrategy::OnlyFirst;
  return TruncationStrategy::OnlySecond;
}

void run_tokenize(const TokenizeArgs& a, bool has_text, bool has_pair) {
  if (!a.decode.empty()) {
    if (has_text || !a.input.empty()) throw InputError("give either --decode IDS or a text, not both");
    run_decode(a);
    return;
  }
  if (!has_text && a.input.empty())
    throw InputError("give a TEXT argument, --input FILE.jsonl or --decode IDS");
  if (has_text && !a.input.empty()) throw InputError("give either TEXT or --input, not both");
  const TokenizerBundle bundle = load_tokenizer(a.model.empty() ? default_model_dir() : a.model);

  EncodeOptions options;
  options.add_special_tokens = !a.no_special_tokens;
  if (!a.no_truncation) {
    options.truncation = Truncation{a.max_length ? a.max_length : bundle.max_length,
                                    parse_strategy(a.strategy), TruncationDirection::Right};
  }

  std::vector<TextInput> rows;
  if (has_text) {
    check_utf8(a.text, "TEXT");
    if (has_pair) check_utf8(a.pair, "--pair");
    rows.push_back({a.text, has_pair ? std::optional<std::string>(a.pair) : std::nullopt});
  } else {
    rows = read_jsonl_inputs(a.input);
  }

  // Hugging Face silently skips truncation below the special-token count; a CLI user asking
  // for such a length gets told instead.
  if (options.truncation && options.add_special_tokens) {
    for (const auto& r : rows) {
      const std::size_t special = bundle.tokenizer.num_special_tokens_to_add(r.pair.has_value());
      if (options.truncation->max_length < special)
        throw InputError("--max-length " + std::to_string(options.truncation->max_length) +
                         " cannot hold the " + std::to_string(special) +
                         " special tokens this input needs");
    }
  }

  std::string out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const TextInput& r = rows[i];
    Encoding e;
    try {
      e = r.pair ? bundle.tokenizer.encode_pair(r.text, *r.pair, options)
                 : bundle.tokenizer.encode(r.text, options);
    } catch (const InputError& err) {
      throw InputError(has_text ? std::string(err.what())
                                : a.input + " row " + std::to_string(i + 1) + ": " + err.what());
    }
    nlohmann::json j;
    j["ids"] = e.ids;
    j["type_ids"] = e.type_ids;
    j["tokens"] = e.tokens;
    nlohmann::json offsets = nlohmann::json::array();
    for (const auto& [s, t] : e.offsets) offsets.push_back({s, t});
    j["offsets"] = std::move(offsets);
    if (a.with_mask) j["special_tokens_mask"] = e.special_tokens_mask;
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
    if (out.size() > (1 << 16)) {
      std::cout << out;
      out.clear();
    }
  }
  std::cout << out << std::flush;
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  auto* cmd = app.add_subcommand("tokenize", "Tokenize text exactly like Hugging Face tokenizers");
  cmd->add_option("--model", args->model,
                  "Model or tokenizer folder (tokenizer.json, vocab.json + merges.txt, or vocab.txt)");
  auto* text = cmd->add_option("text", args->text, "Text to tokenize");
  auto* pair = cmd->add_option("--pair", args->pair, "Second text of a pair");
  cmd->add_option("--input", args->input, "JSON lines file of {\"text\", \"text_pair\"?} ('-': stdin)");
  cmd->add_option("--max-length", args->max_length,
                  "Truncate to N tokens including special tokens (default: the model's limit)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-truncation", args->no_truncation, "Never truncate");
  cmd->add_option("--truncation-strategy", args->strategy, "longest_first|only_first|only_second")
      ->check(CLI::IsMember({"longest_first", "only_first", "only_second"}));
  cmd->add_flag("--no-special-tokens", args->no_special_tokens, "Do not add [CLS]/[SEP]");
  cmd->add_flag("--special-tokens-mask", args->with_mask, "Also print special_tokens_mask");
  cmd->add_option("--decode", args->decode,
                  "Decode token ids instead (\"1,2,3\" or \"[1, 2, 3]\"), skipping special tokens");
  cmd->add_flag("--keep-special-tokens", args->keep_special, "With --decode: keep special tokens");
  cmd->callback([args, text, pair] { run_tokenize(*args, text->count() > 0, pair->count() > 0); });
}

}  // namespace encore::cli

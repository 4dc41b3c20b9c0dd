// The encode pipeline: added tokens -> normalizer -> pre-tokenizer -> WordPiece ->
// truncation -> post-processor, in Hugging Face's order.
#include <algorithm>

#include "core/utf8.hpp"
#include "tokenizer/tokenizer_impl.hpp"

namespace encore {
namespace {

using tok::NormalizedString;

// Collects tokens of one sequence.
struct SequenceBuilder {
  Encoding& enc;
  std::int32_t type_id;
  std::int8_t sequence_id;

  void add(std::int32_t id, std::string token, tok::Span span) {
    enc.ids.push_back(id);
    enc.type_ids.push_back(type_id);
    enc.tokens.push_back(std::move(token));
    enc.offsets.push_back({span.start, span.end});
    enc.special_tokens_mask.push_back(0);
    enc.sequence_ids.push_back(sequence_id);
  }
};

std::string slice_utf8(const std::u32string& s, std::size_t begin, std::size_t end) {
  return utf8::encode(std::u32string_view(s).substr(begin, end - begin));
}

}  // namespace

Encoding Tokenizer::Impl::encode_sequence(const std::u32string& text, std::int32_t type_id,
                                          std::int8_t sequence_id) const {
  Encoding enc;
  enc.reserve(text.size() / 3 + 4);
  SequenceBuilder out{enc, type_id, sequence_id};
  std::vector<tok::Range> words;
  std::vector<tok::ModelToken> pieces;

  auto emit = [&](const NormalizedString& ns, std::uint32_t offset) {
    for (const auto& p : pieces) {
      std::string token = p.surface ? slice_utf8(ns.chars(), offset + p.begin, offset + p.end)
                                    : model->vocab().token(p.id);
      out.add(p.id, std::move(token), ns.original_span(offset + p.begin, offset + p.end));
    }
  };

  // Pre-tokenizes and runs the model over normalized characters [begin, end) of `ns`.
  std::vector<NormalizedString> split;
  auto run_model = [&](const NormalizedString& ns, std::uint32_t begin, std::uint32_t end) {
    if (begin >= end) return;
    if (pre_tokenizer && pre_tokenizer->rewrites()) {
      // General path: the pre-tokenizer rewrites characters, so words are new strings.
      split.clear();
      split.push_back(ns.slice(begin, end));
      pre_tokenizer->pre_tokenize(split);
      for (const NormalizedString& w : split) {
        if (w.empty()) continue;
        pieces.clear();
        model->tokenize(w.chars().data(), w.size(), pieces);
        emit(w, 0);
      }
      return;
    }
    words.assign(1, tok::Range{begin, end});
    if (pre_tokenizer) pre_tokenizer->split(ns.chars(), words);
    const char32_t* chars = ns.chars().data();
    for (const tok::Range& w : words) {
      pieces.clear();
      model->tokenize(chars + w.begin, w.end - w.begin, pieces);
      emit(ns, w.begin);
    }
  };

  // Normalizes original characters [begin, end), then cuts out normalized added tokens.
  std::vector<tok::AddedMatch> matches;
  auto run_piece = [&](std::uint32_t begin, std::uint32_t end) {
    if (begin >= end) return;
    NormalizedString ns(text.data(), begin, end);
    if (normalizer) normalizer->normalize(ns);
    if (!added.has_set(true)) {
      run_model(ns, 0, static_cast<std::uint32_t>(ns.size()));
      return;
    }
    matches.clear();
    added.find_matches(ns.chars(), 0, ns.size(), true, matches);
    std::uint32_t at = 0;
    for (const auto& m : matches) {
      run_model(ns, at, m.begin);
      out.add(m.id, slice_utf8(ns.chars(), m.begin, m.end), ns.original_span(m.begin, m.end));
      at = m.end;
    }
    run_model(ns, at, static_cast<std::uint32_t>(ns.size()));
  };

  const auto n = static_cast<std::uint32_t>(text.size());
  if (!added.has_set(false)) {
    run_piece(0, n);
    return enc;
  }
  std::vector<tok::AddedMatch> raw;
  added.find_matches(text, 0, n, false, raw);
  std::uint32_t at = 0;
  for (const auto& m : raw) {
    run_piece(at, m.begin);
    out.add(m.id, slice_utf8(text, m.begin, m.end), {m.begin, m.end});
    at = m.end;
  }
  run_piece(at, n);
  return enc;
}

namespace {

// Hugging Face's truncate_encodings, with `max_len` already net of the special tokens.
void truncate_pair(Encoding& a, std::optional<Encoding>& b, const Truncation& t,
                   std::size_t max_len) {
  const bool left = t.direction == TruncationDirection::Left;
  const std::size_t total = a.size() + (b ? b->size() : 0);
  if (max_len == 0) {
    a.truncate(0, left);
    if (b) b->truncate(0, left);
    return;
  }
  if (total <= max_len) return;
  const std::size_t to_remove = total - max_len;
  if (t.strategy == TruncationStrategy::LongestFirst) {
    if (!b) {
      a.truncate(max_len, left);
      return;
    }
    std::size_t n1 = a.size(), n2 = b->size();
    const bool swap = n1 > n2;
    if (swap) std::swap(n1, n2);
    n2 = n1 > max_len ? n1 : std::max(n1, max_len - n1);
    if (n1 + n2 > max_len) {
      n1 = max_len / 2;
      n2 = n1 + max_len % 2;
    }
    if (swap) std::swap(n1, n2);
    a.truncate(n1, left);
    b->truncate(n2, left);
    return;
  }
  Encoding* target = &a;
  if (t.strategy == TruncationStrategy::OnlySecond) {
    if (!b) throw InputError("truncation strategy only_second needs a text pair");
    target = &*b;
  }
  if (target->size() <= to_remove) {
    throw InputError("truncation: the sequence to truncate is too short to fit max_length " +
                     std::to_string(t.max_length));
  }
  target->truncate(target->size() - to_remove, left);
}

}  // namespace

Encoding Tokenizer::Impl::post_process(Encoding a, std::optional<Encoding> b,
                                       const EncodeOptions& o) const {
  if (o.truncation) {
    const std::size_t added_n =
        o.add_special_tokens && post_processor ? post_processor->added_tokens(b.has_value()) : 0;
    // Hugging Face skips truncation when max_length cannot even hold the special tokens.
    if (o.truncation->max_length >= added_n)
      truncate_pair(a, b, *o.truncation, o.truncation->max_length - added_n);
  }
  return tok::post_process(post_processor.get(), std::move(a), std::move(b), o.add_special_tokens);
}

Encoding Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  const std::u32string cps = utf8::decode(text);
  return impl_->post_process(impl_->encode_sequence(cps, 0, 0), std::nullopt, options);
}

Encoding Tokenizer::encode_pair(std::string_view text, std::string_view pair,
                                const EncodeOptions& options) const {
  const std::u32string a = utf8::decode(text);
  std::u32string b;
  try {
    b = utf8::decode(pair);
  } catch (const InputError& e) {
    throw InputError(std::string("text_pair: ") + e.what());
  }
  return impl_->post_process(impl_->encode_sequence(a, 0, 0), impl_->encode_sequence(b, 1, 1),
                             options);
}

std::optional<std::int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (const auto* t = impl_->added.find(token)) return t->id;
  return impl_->model->vocab().find(token);
}

std::optional<std::string> Tokenizer::id_to_token(std::int32_t id) const {
  if (const auto* t = impl_->added.find(id)) return t->content;
  const std::string& s = impl_->model->vocab().token(id);
  if (s.empty() && !impl_->model->vocab().find(s)) return std::nullopt;
  return s;
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (std::int32_t id : ids) {
    if (skip_special_tokens) {
      if (const auto* t = impl_->added.find(id); t && t->special) continue;
    }
    if (auto t = id_to_token(id)) tokens.push_back(std::move(*t));
  }
  return tok::decode_tokens(impl_->decoder.get(), std::move(tokens));
}

std::size_t Tokenizer::vocab_size() const {
  std::size_t n = impl_->model->vocab().size();
  for (const auto& t : impl_->added.tokens())
    if (!impl_->model->vocab().find(t.content)) ++n;
  return n;
}

std::size_t Tokenizer::num_special_tokens_to_add(bool is_pair) const {
  return impl_->post_processor ? impl_->post_processor->added_tokens(is_pair) : 0;
}

const std::string& Tokenizer::file_truncation() const {
  return impl_->file_truncation;
}
const std::string& Tokenizer::file_padding() const {
  return impl_->file_padding;
}
const std::string& Tokenizer::source() const {
  return impl_->source;
}

}  // namespace encore

#include "tokenizer/word_level.hpp"

#include "core/utf8.hpp"
#include "encore/error.hpp"

namespace encore::tok {

WordLevel::WordLevel(Vocab vocab, std::string unk_token, const std::string&)
    : vocab_(std::move(vocab)), unk_token_(std::move(unk_token)) {
  vocab_.finalize();
  unk_id_ = vocab_.find(unk_token_);
}

void WordLevel::tokenize(const char32_t* word, std::size_t n, std::vector<ModelToken>& out) const {
  const std::string w = utf8::encode(std::u32string_view(word, n));
  if (const auto id = vocab_.find(w)) {
    out.push_back({*id, 0, static_cast<std::uint32_t>(n)});
    return;
  }
  if (!unk_id_)
    throw InputError("WordLevel: '" + w + "' is not in the vocabulary and the unk_token '" +
                     unk_token_ + "' is missing from it");
  out.push_back({*unk_id_, 0, static_cast<std::uint32_t>(n)});
}

}  // namespace encore::tok

#include "tokenizer/wordpiece.hpp"

#include <algorithm>

#include "core/utf8.hpp"
#include "encore/error.hpp"

namespace encore::tok {
namespace {

std::size_t count_code_points(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

WordPiece::WordPiece(Vocab vocab, std::string unk_token, std::string prefix, std::size_t max_chars,
                     const std::string& where)
    : vocab_(std::move(vocab)),
      unk_token_(std::move(unk_token)),
      prefix_(std::move(prefix)),
      max_chars_(max_chars) {
  vocab_.finalize();
  const auto unk = vocab_.find(unk_token_);
  if (!unk) {
    throw Error(where + ": the WordPiece vocabulary has no entry for its unk_token '" + unk_token_ +
                "'");
  }
  unk_id_ = *unk;
  for (const auto& [token, id] : vocab_.map()) {
    longest_piece_ = std::max(longest_piece_, count_code_points(token));
    if (!prefix_.empty() && token.size() >= prefix_.size() &&
        token.compare(0, prefix_.size(), prefix_) == 0) {
      continuation_.emplace(token.substr(prefix_.size()), id);
    }
  }
  if (prefix_.empty()) continuation_ = vocab_.map();
}

void WordPiece::tokenize(const char32_t* word, std::size_t n, std::vector<ModelToken>& out) const {
  if (n == 0) return;
  if (n > max_chars_) {
    out.push_back({unk_id_, 0, static_cast<std::uint32_t>(n)});
    return;
  }
  // UTF-8 of the word plus the byte offset of every character boundary.
  thread_local std::string bytes;
  thread_local std::vector<std::uint32_t> at;
  bytes.clear();
  at.resize(n + 1);
  for (std::size_t i = 0; i < n; ++i) {
    at[i] = static_cast<std::uint32_t>(bytes.size());
    utf8::append(bytes, word[i]);
  }
  at[n] = static_cast<std::uint32_t>(bytes.size());

  const std::size_t first = out.size();
  std::size_t start = 0;
  while (start < n) {
    const TokenMap& table = start == 0 ? vocab_.map() : continuation_;
    std::size_t end = std::min(n, start + longest_piece_);
    bool found = false;
    for (; end > start; --end) {
      auto it = table.find(std::string_view(bytes).substr(at[start], at[end] - at[start]));
      if (it != table.end()) {
        out.push_back(
            {it->second, static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end)});
        found = true;
        break;
      }
    }
    if (!found) {
      out.resize(first);
      out.push_back({unk_id_, 0, static_cast<std::uint32_t>(n)});
      return;
    }
    start = end;
  }
}

}  // namespace encore::tok

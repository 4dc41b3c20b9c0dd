#include "tokenizer/unigram.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "core/utf8.hpp"
#include "encore/error.hpp"

namespace encore::tok {

Unigram::Unigram(std::vector<std::pair<std::string, double>> pieces,
                 std::optional<std::int32_t> unk_id, bool byte_fallback, const std::string& where)
    : unk_id_(unk_id), byte_fallback_(byte_fallback) {
  const std::string ctx = where + ": model Unigram";
  if (pieces.empty()) throw Error(ctx + ": the vocabulary is empty");
  if (unk_id_ && (*unk_id_ < 0 || static_cast<std::size_t>(*unk_id_) >= pieces.size()))
    throw Error(ctx + ": unk_id " + std::to_string(*unk_id_) + " is outside the vocabulary");
  double min_score = std::numeric_limits<double>::infinity();
  node_piece_.push_back(-1);
  for (auto& c : root_ascii_) c = -1;
  scores_.reserve(pieces.size());
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    auto& [token, score] = pieces[id];
    if (!std::isfinite(score))
      throw Error(ctx + ": piece " + std::to_string(id) + " has a non-finite score");
    if (utf8::find_invalid(token) != std::string::npos)
      throw Error(ctx + ": piece " + std::to_string(id) + " is not valid UTF-8");
    min_score = std::min(min_score, score);
    scores_.push_back(score);
    std::int32_t node = 0;
    for (char32_t c : utf8::decode(token)) {
      std::int32_t next = child(node, c);
      if (next < 0) {
        next = static_cast<std::int32_t>(node_piece_.size());
        node_piece_.push_back(-1);
        if (node == 0 && c < 128)
          root_ascii_[c] = next;
        else
          edges_.emplace((static_cast<std::uint64_t>(node) << 21) | c, next);
      }
      node = next;
    }
    // A repeated piece maps to its last id, as Hugging Face's token_to_ids does.
    if (node != 0) node_piece_[static_cast<std::size_t>(node)] = static_cast<std::int32_t>(id);
    vocab_.add(std::move(token), static_cast<std::int32_t>(id));
  }
  vocab_.finalize();
  unk_score_ = min_score - 10.0;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    const auto id = vocab_.find(name);
    byte_ids_[b] = id ? *id : -1;
  }
}

void Unigram::tokenize(const char32_t* word, std::size_t n, std::vector<ModelToken>& out) const {
  struct Node {
    double score;
    std::int32_t id;
    std::int32_t start;  // -1: not reached yet
  };
  thread_local std::vector<Node> best;
  best.assign(n + 1, Node{0.0, -1, -1});
  for (std::size_t i = 0; i < n; ++i) {
    const double here = best[i].score;
    bool single = false;
    std::int32_t node = 0;
    for (std::size_t j = i; j < n; ++j) {
      node = child(node, word[j]);
      if (node < 0) break;
      const std::int32_t piece = node_piece_[static_cast<std::size_t>(node)];
      if (piece < 0) continue;
      const double cand = scores_[static_cast<std::size_t>(piece)] + here;
      Node& t = best[j + 1];
      if (t.start < 0 || cand > t.score) t = Node{cand, piece, static_cast<std::int32_t>(i)};
      if (j == i) single = true;
    }
    if (!single) {
      const double cand = unk_score_ + here;
      Node& t = best[i + 1];
      if (t.start < 0 || cand > t.score) {
        if (!unk_id_)
          throw InputError(
              "Unigram model has no unk_id and the text has a character outside its vocabulary");
        t = Node{cand, *unk_id_, static_cast<std::int32_t>(i)};
      }
    }
  }
  // Walk back from the end; runs of unknown pieces fuse into one.
  struct Piece {
    std::uint32_t b, e;
    std::int32_t id;  // -1: a fused unknown run, looked up by its text
  };
  thread_local std::vector<Piece> pieces;
  pieces.clear();
  std::size_t end = n;
  std::optional<std::uint32_t> unk_run_end;
  std::uint32_t unk_run_begin = 0;
  while (end > 0) {
    const Node& nd = best[end];
    const auto start = static_cast<std::uint32_t>(nd.start);
    if (unk_id_ && nd.id == *unk_id_) {
      if (!unk_run_end) unk_run_end = static_cast<std::uint32_t>(end);
      unk_run_begin = start;
    } else {
      if (unk_run_end) {
        pieces.push_back({unk_run_begin, *unk_run_end, -1});
        unk_run_end.reset();
      }
      pieces.push_back({start, static_cast<std::uint32_t>(end), nd.id});
    }
    end = start;
  }
  if (unk_run_end) pieces.push_back({unk_run_begin, *unk_run_end, -1});

  std::string buf;
  for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
    const auto [b, e, piece_id] = *it;
    if (piece_id >= 0) {
      out.push_back({piece_id, b, e, false});
      continue;
    }
    buf = utf8::encode(std::u32string_view(word + b, e - b));
    if (const auto id = vocab_.find(buf)) {
      out.push_back({*id, b, e, true});
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char ch : buf) all = all && byte_ids_[ch] >= 0;
      if (all) {
        for (unsigned char ch : buf) out.push_back({byte_ids_[ch], b, e, false});
        continue;
      }
    }
    if (!unk_id_)
      throw InputError(
          "Unigram model has no unk_id and the text has a piece outside its vocabulary");
    out.push_back({*unk_id_, b, e, true});
  }
}

}  // namespace encore::tok

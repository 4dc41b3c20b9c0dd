#include "tokenizer/bpe.hpp"

#include <algorithm>
#include <cstdio>

#include "core/utf8.hpp"
#include "encore/error.hpp"

namespace encore::tok {
namespace {

struct Symbol {
  std::int32_t id;
  std::uint32_t begin, end;
  std::int32_t prev, next;
  bool alive;
};

struct QueuedMerge {
  std::uint32_t rank;
  std::uint32_t pos;
  std::int32_t new_id;
  // The heap pops the largest: invert so the lowest rank, then leftmost, wins.
  bool operator<(const QueuedMerge& o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

}  // namespace

Bpe::Bpe(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges,
         BpeOptions options, const std::string& where)
    : vocab_(std::move(vocab)), o_(std::move(options)) {
  vocab_.finalize();
  const std::string ctx = where + ": model BPE";
  if (o_.unk_token) unk_id_ = vocab_.find(*o_.unk_token);
  const std::size_t prefix_len =
      o_.continuing_subword_prefix ? o_.continuing_subword_prefix->size() : 0;
  std::size_t cap = 16;
  while (cap < merges.size() * 2) cap *= 2;
  slots_.assign(cap, Slot{kEmpty, Merge{0, 0}});
  mask_ = cap - 1;
  shift_ = 64;
  for (std::size_t c = cap; c > 1; c >>= 1) --shift_;
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const auto a_id = vocab_.find(a);
    const auto b_id = vocab_.find(b);
    if (!a_id)
      throw Error(ctx + ": merge " + std::to_string(rank) + " uses '" + a +
                  "', not in the vocabulary");
    if (!b_id)
      throw Error(ctx + ": merge " + std::to_string(rank) + " uses '" + b +
                  "', not in the vocabulary");
    if (b.size() < prefix_len)
      throw Error(ctx + ": merge " + std::to_string(rank) + ": '" + b +
                  "' is shorter than the continuing_subword_prefix");
    // The merged token drops the continuing-subword prefix of its right part.
    const std::string merged = a + b.substr(prefix_len);
    const auto m = vocab_.find(merged);
    if (!m)
      throw Error(ctx + ": merge " + std::to_string(rank) + " makes '" + merged +
                  "', not in the vocabulary");
    // A repeated pair keeps its last rank, as Hugging Face's map does.
    insert_merge(pair_key(*a_id, *b_id), Merge{static_cast<std::uint32_t>(rank), *m});
  }
  plain_ = !o_.continuing_subword_prefix.value_or("").size() &&
           !o_.end_of_word_suffix.value_or("").size();
  std::string buf;
  if (plain_) bmp_ids_.assign(0x10000, -1);
  for (char32_t c = 1; plain_ && c < 0x10000; ++c) {
    if (c >= 0xD800 && c < 0xE000) continue;
    buf.clear();
    utf8::append(buf, c);
    if (auto id = vocab_.find(buf)) bmp_ids_[c] = *id;
  }
  all_bytes_ = true;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    const auto id = vocab_.find(name);
    byte_ids_[b] = id ? *id : -1;
    all_bytes_ = all_bytes_ && id.has_value();
  }
}

void Bpe::insert_merge(std::uint64_t key, Merge m) {
  for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key || s.key == kEmpty) {
      s = Slot{key, m};
      return;
    }
  }
}

std::optional<std::int32_t> Bpe::char_id(const char32_t* word, std::size_t i, std::size_t n,
                                         std::string& buf) const {
  const char32_t c = word[i];
  if (plain_ && c < 0x10000) {
    const std::int32_t id = bmp_ids_[c];
    if (id < 0) return std::nullopt;
    return id;
  }
  buf.clear();
  if (i > 0 && o_.continuing_subword_prefix) buf += *o_.continuing_subword_prefix;
  utf8::append(buf, c);
  if (i + 1 == n && o_.end_of_word_suffix) buf += *o_.end_of_word_suffix;
  return vocab_.find(buf);
}

void Bpe::tokenize(const char32_t* word, std::size_t n, std::vector<ModelToken>& out) const {
  if (n > kCacheMaxWord) {
    merge_word(word, n, out);
    return;
  }
  const std::u32string_view key(word, n);
  CacheShard& shard = cache_[WordHash{}(key) % kCacheShards];
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    if (auto it = shard.words.find(key); it != shard.words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const std::size_t first = out.size();
  merge_word(word, n, out);
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.words.size() < kCachePerShard)
    shard.words.emplace(
        std::u32string(key),
        std::vector<ModelToken>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
}

void Bpe::merge_word(const char32_t* word, std::size_t n, std::vector<ModelToken>& out) const {
  std::string buf;
  if (o_.ignore_merges) {
    buf.clear();
    for (std::size_t i = 0; i < n; ++i) utf8::append(buf, word[i]);
    if (auto id = vocab_.find(buf)) {
      out.push_back({*id, 0, static_cast<std::uint32_t>(n)});
      return;
    }
  }
  thread_local std::vector<Symbol> sym;
  sym.clear();
  auto add = [&](std::int32_t id, std::uint32_t b, std::uint32_t e) {
    const auto k = static_cast<std::int32_t>(sym.size());
    sym.push_back({id, b, e, k - 1, -1, true});
    if (k > 0) sym[static_cast<std::size_t>(k - 1)].next = k;
  };
  // A pending unknown run [unk_b, unk_e) in characters.
  bool unk = false;
  std::uint32_t unk_b = 0, unk_e = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto b = static_cast<std::uint32_t>(i), e = static_cast<std::uint32_t>(i + 1);
    if (const auto id = char_id(word, i, n, buf)) {
      if (unk) {
        add(*unk_id_, unk_b, unk_e);
        unk = false;
      }
      add(*id, b, e);
      continue;
    }
    if (o_.byte_fallback) {
      // Hugging Face looks up the bytes of the (prefixed) string it failed to find.
      if (plain_) {
        buf.clear();
        utf8::append(buf, word[i]);
      }
      bool all = true;
      for (unsigned char ch : buf) all = all && byte_ids_[ch] >= 0;
      if (all) {
        for (unsigned char ch : buf) add(byte_ids_[ch], b, e);
        continue;  // a pending unknown run stays pending, as in Hugging Face
      }
    }
    if (o_.unk_token) {
      if (!unk_id_) throw Error("BPE: unk_token '" + *o_.unk_token + "' is not in the vocabulary");
      if (unk && o_.fuse_unk) {
        unk_e = e;
      } else {
        if (unk) add(*unk_id_, unk_b, unk_e);
        unk = true;
        unk_b = b;
        unk_e = e;
      }
    }
    // Without an unk_token the character is dropped, as Hugging Face does.
  }
  if (unk) add(*unk_id_, unk_b, unk_e);

  if (sym.size() > 1) {
    // A binary heap kept in a per-thread vector, so its storage is reused across words.
    thread_local std::vector<QueuedMerge> queue;
    queue.clear();
    auto push = [](const QueuedMerge& m) {
      queue.push_back(m);
      std::push_heap(queue.begin(), queue.end());
    };
    for (std::size_t k = 0; k + 1 < sym.size(); ++k) {
      if (const Merge* m = find_merge(sym[k].id, sym[k + 1].id))
        push({m->rank, static_cast<std::uint32_t>(k), m->new_id});
    }
    while (!queue.empty()) {
      std::pop_heap(queue.begin(), queue.end());
      const QueuedMerge top = queue.back();
      queue.pop_back();
      Symbol& s = sym[top.pos];
      if (!s.alive || s.next < 0) continue;
      Symbol& right = sym[static_cast<std::size_t>(s.next)];
      const Merge* now = find_merge(s.id, right.id);
      if (!now || now->new_id != top.new_id) continue;  // an expired entry
      s.id = top.new_id;
      s.end = right.end;
      right.alive = false;
      s.next = right.next;
      if (s.next >= 0)
        sym[static_cast<std::size_t>(s.next)].prev = static_cast<std::int32_t>(top.pos);
      if (s.prev >= 0) {
        if (const Merge* m = find_merge(sym[static_cast<std::size_t>(s.prev)].id, s.id))
          push({m->rank, static_cast<std::uint32_t>(s.prev), m->new_id});
      }
      if (s.next >= 0) {
        if (const Merge* m = find_merge(s.id, sym[static_cast<std::size_t>(s.next)].id))
          push({m->rank, top.pos, m->new_id});
      }
    }
  }
  for (const Symbol& s : sym)
    if (s.alive) out.push_back({s.id, s.begin, s.end});
}

}  // namespace encore::tok

// PyTorch checkpoints: the shared fixtures against their safetensors twins, the malicious
// fixtures (refused, nothing executed), hand-built pickles and zips for the edge cases, and
// the CLI on a pytorch_model.bin folder.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "encore/error.hpp"
#include "io/pickle.hpp"
#include "io/safetensors.hpp"
#include "io/torch_checkpoint.hpp"
#include "io/zip_archive.hpp"

namespace encore::io {
namespace {

namespace fs = std::filesystem;
using test::expect_error;

fs::path checkpoints() {
  return test::shared_dir() / "models" / "checkpoints";
}

// ---------------------------------------------------------------------------------------
// Builders for hand-made files

std::string le(std::uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

// Protocol-2 pickle opcodes, appended one call at a time.
struct P {
  std::string b;
  P& proto() { return raw("\x80\x02"); }
  P& raw(std::string_view s) {
    b += s;
    return *this;
  }
  P& op(char c) {
    b += c;
    return *this;
  }
  P& byte(unsigned v) {
    b += static_cast<char>(v);
    return *this;
  }
  P& mark() { return op('('); }
  P& str(std::string_view s) { return op('X').raw(le(s.size(), 4)).raw(s); }
  P& integer(std::int64_t v) {
    if (v >= 0 && v < 256) return op('K').raw(le(static_cast<std::uint64_t>(v), 1));
    if (v >= INT32_MIN && v <= INT32_MAX) return op('J').raw(le(static_cast<std::uint32_t>(v), 4));
    return raw("\x8a\x08").raw(le(static_cast<std::uint64_t>(v), 8));
  }
  P& global(std::string_view module, std::string_view name) {
    return op('c').raw(module).op('\n').raw(name).op('\n');
  }
  P& ints(const std::vector<std::int64_t>& v) {
    mark();
    for (auto x : v) integer(x);
    return op('t');
  }
  P& stop() { return op('.'); }
  std::span<const std::byte> span() const {
    return {reinterpret_cast<const std::byte*>(b.data()), b.size()};
  }
};

struct TensorSpec {
  std::string name, storage_type, key;
  std::int64_t storage_numel, offset;
  std::vector<std::int64_t> size, stride;
};

// An OrderedDict state dict as torch.save writes it (zip flavour: 5-item persistent ids;
// legacy: a sixth None).
std::string state_dict_pickle(const std::vector<TensorSpec>& tensors, bool legacy = false) {
  P p;
  p.proto().global("collections", "OrderedDict").op(')').op('R').mark();
  for (const auto& t : tensors) {
    p.str(t.name).global("torch._utils", "_rebuild_tensor_v2").mark();
    p.mark()
        .str("storage")
        .global("torch", t.storage_type)
        .str(t.key)
        .str("cpu")
        .integer(t.storage_numel);
    if (legacy) p.op('N');
    p.op('t').op('Q').integer(t.offset).ints(t.size).ints(t.stride).op('\x89');
    p.global("collections", "OrderedDict").op(')').op('R').op('t').op('R');
  }
  p.op('u').stop();
  return p.b;
}

// A zip of stored entries; zip64 writes the ZIP64 end records with saturated classic fields
// (as torch does for big files).
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries,
                     bool zip64 = false) {
  std::string out, cd;
  for (const auto& [name, data] : entries) {
    const std::size_t offset = out.size();
    out += le(0x04034b50, 4) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4) +
           le(data.size(), 4) + le(data.size(), 4) + le(name.size(), 2) + le(0, 2) + name + data;
    cd += le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4) +
          le(data.size(), 4) + le(data.size(), 4) + le(name.size(), 2) + le(0, 2) + le(0, 2) +
          le(0, 2) + le(0, 2) + le(0, 4) + le(offset, 4) + name;
  }
  const std::size_t cd_offset = out.size();
  out += cd;
  if (zip64) {
    const std::size_t z64 = out.size();
    out += le(0x06064b50, 4) + le(44, 8) + le(45, 2) + le(45, 2) + le(0, 4) + le(0, 4) +
           le(entries.size(), 8) + le(entries.size(), 8) + le(cd.size(), 8) + le(cd_offset, 8);
    out += le(0x07064b50, 4) + le(0, 4) + le(z64, 8) + le(1, 4);
    out += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(0xFFFF, 2) + le(0xFFFF, 2) +
           le(0xFFFFFFFF, 4) + le(0xFFFFFFFF, 4) + le(0, 2);
  } else {
    out += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(entries.size(), 2) + le(entries.size(), 2) +
           le(cd.size(), 4) + le(cd_offset, 4) + le(0, 2);
  }
  return out;
}

std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// A torch zip checkpoint under folder `archive/`.
std::string torch_zip(const std::vector<TensorSpec>& tensors,
                      const std::map<std::string, std::string>& storages, bool zip64 = false,
                      const std::string& folder = "archive") {
  std::vector<std::pair<std::string, std::string>> e = {
      {folder + "/data.pkl", state_dict_pickle(tensors)}};
  for (const auto& [k, d] : storages) e.emplace_back(folder + "/data/" + k, d);
  e.emplace_back(folder + "/version", "3\n");
  return make_zip(e, zip64);
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TorchCheckpoint parse(const std::string& s, bool strip = false) {
  return TorchCheckpoint::parse(bytes_of(s), "mem.bin", {strip});
}

// ---------------------------------------------------------------------------------------
// The shared fixtures against their safetensors twins

// `prefix`: the checkpoint's name for a twin tensor may carry the base model's prefix (a
// DistilBertForMaskedLM state dict beside a DistilBertModel twin), as the weight loader
// accepts both.
void expect_same_weights(const WeightStore& ckpt, const WeightStore& twin,
                         const std::string& prefix = "") {
  ASSERT_FALSE(twin.names().empty());
  for (const auto& name : twin.names()) {
    const TensorView* a = twin.find(name);
    const TensorView* b = ckpt.find(name);
    if (!b && !prefix.empty()) b = ckpt.find(prefix + name);
    ASSERT_NE(b, nullptr) << name << " missing from " << ckpt.source();
    ASSERT_EQ(b->shape, a->shape) << name;
    if (is_floating(a->dtype)) {
      const auto x = to_float32(*a), y = to_float32(*b);
      ASSERT_EQ(x.size(), y.size()) << name;
      EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0) << name;
    } else {
      ASSERT_EQ(a->dtype, b->dtype) << name;
      EXPECT_EQ(std::memcmp(a->data, b->data, a->bytes), 0) << name;
    }
  }
}

// Every non-malicious fixture folder and its twin (the README's "same weights as").
const std::map<std::string, fs::path>& twins() {
  static const std::map<std::string, fs::path> t = {
      {"clinc-bert-mini-bin", test::shared_dir() / "models" / "clinc-bert-mini"},
      {"distilbert-cls-legacy", test::shared_dir() / "models" / "arch" / "distilbert-cls"},
      {"distilbert-cls-pth", test::shared_dir() / "models" / "arch" / "distilbert-cls"},
      {"distilbert-st-mlm", test::shared_dir() / "models" / "arch" / "distilbert-st"},
      {"xlmr-cls-sharded", test::shared_dir() / "models" / "arch" / "xlmr-cls"},
  };
  return t;
}

TEST(TorchCheckpointFixtures, EveryFolderMatchesItsSafetensorsTwin) {
  std::set<std::string> seen;
  for (const auto& e : fs::directory_iterator(checkpoints())) {
    if (!e.is_directory() || e.path().filename() == "malicious") continue;
    const std::string name = e.path().filename().string();
    SCOPED_TRACE(name);
    ASSERT_TRUE(twins().count(name)) << "a new fixture folder: add its twin to this test";
    seen.insert(name);
    const auto ckpt = WeightStore::open(e.path());
    const auto twin = WeightStore::open(twins().at(name));
    EXPECT_EQ(twin.format(), "safetensors");
    expect_same_weights(ckpt, twin, name == "distilbert-st-mlm" ? "distilbert." : "");
  }
  EXPECT_EQ(seen.size(), twins().size());
}

// A training script's checkpoint: torch.save({"epoch": ..., "state_dict": model.state_dict(),
// "optimizer": ...}). Built from the legacy fixture by wrapping its state-dict pickle (memo
// indices are unchanged: the wrapper memoizes nothing), beside the fixture's config.
TEST(TorchCheckpointFixtures, WrappedTrainingCheckpointIsUnwrapped) {
  const fs::path src = checkpoints() / "distilbert-cls-legacy";
  const std::string file = test::slurp(src / "pytorch_model.bin");
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(file.data()),
                                         file.size());
  std::size_t pos = 0;
  for (int i = 0; i < 3; ++i)  // magic number, protocol version, sys_info
    pos += pickle::unpickle(bytes.subspan(pos), "fixture").end_offset();
  const std::size_t dict_end = pos + pickle::unpickle(bytes.subspan(pos), "fixture").end_offset();
  ASSERT_EQ(file.substr(pos, 2), "\x80\x02");
  ASSERT_EQ(file[dict_end - 1], '.');
  const std::string body = file.substr(pos + 2, dict_end - pos - 3);  // without PROTO and STOP
  for (const std::string key : {"state_dict", "model_state_dict"}) {
    SCOPED_TRACE(key);
    P w;
    w.proto().op('}').mark().str("epoch").integer(3);
    w.str("optimizer")
        .op('}')
        .mark()
        .str("lr")
        .op('G')
        .raw(std::string("\x3f\x1a\x36\xe2\xeb\x1c\x43\x2d", 8));
    w.op('u');  // the optimizer's state: no tensors, nothing to read
    w.str(key).raw(body).op('u').stop();
    const fs::path dir = test::temp_dir("wrapped_" + key);
    for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json",
                          "special_tokens_map.json", "vocab.txt"})
      fs::copy_file(src / f, dir / f);
    test::write_file(dir / "checkpoint.pth", file.substr(0, pos) + w.b + file.substr(dict_end));
    const auto ckpt = WeightStore::open(dir);
    EXPECT_EQ(ckpt.source(), dir / "checkpoint.pth");
    expect_same_weights(ckpt, WeightStore::open(twins().at("distilbert-cls-legacy")));
    fs::remove_all(dir);
  }
  // A wrapper without weights under any of those keys is refused with what it holds.
  P none;
  none.proto().op('}').mark().str("epoch").integer(3).str("weights").op('}').op('u').stop();
  expect_error(
      [&] {
        parse(make_zip({{"a/data.pkl", none.b}}));
      },
      {"no tensors in the state dict", "'epoch', 'weights'"});
}

TEST(TorchCheckpointFixtures, ClincBertMiniBinIsF32UpcastOfF16) {
  const auto ckpt = WeightStore::open(checkpoints() / "clinc-bert-mini-bin");
  const auto twin = WeightStore::open(test::shared_dir() / "models" / "clinc-bert-mini");
  EXPECT_EQ(ckpt.format(), "torch zip");
  EXPECT_FALSE(ckpt.sharded());
  EXPECT_EQ(ckpt.source(), checkpoints() / "clinc-bert-mini-bin" / "pytorch_model.bin");
  EXPECT_EQ(ckpt.names(), twin.names());
  const TensorView* w = ckpt.find("bert.embeddings.word_embeddings.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, DType::F32);
  EXPECT_EQ(twin.find(w->name)->dtype, DType::F16);
  EXPECT_EQ(ckpt.bytes_on_disk(), fs::file_size(ckpt.source()));
}

TEST(TorchCheckpointFixtures, LegacyFormatWithPositionIds) {
  const auto ckpt = WeightStore::open(checkpoints() / "distilbert-cls-legacy");
  EXPECT_EQ(ckpt.format(), "torch legacy");
  const TensorView* ids = ckpt.find("distilbert.embeddings.position_ids");
  ASSERT_NE(ids, nullptr);
  EXPECT_EQ(ids->dtype, DType::I64);
  EXPECT_EQ(ids->shape, (std::vector<std::int64_t>{1, 512}));
  for (std::int64_t i = 0; i < 512; ++i) {
    std::int64_t v;
    std::memcpy(&v, ids->data + 8 * i, 8);
    ASSERT_EQ(v, i);
  }
}

TEST(TorchCheckpointFixtures, PthDataParallelPrefixIsStripped) {
  const fs::path dir = checkpoints() / "distilbert-cls-pth";
  const auto ckpt = WeightStore::open(dir);
  EXPECT_EQ(ckpt.source(), dir / "model.pth");
  for (const auto& n : ckpt.names()) EXPECT_FALSE(n.starts_with("module.")) << n;
  EXPECT_NE(ckpt.find("distilbert.embeddings.word_embeddings.weight"), nullptr);
  // Read directly without the option, the names keep their prefix.
  const auto raw = TorchCheckpoint::open(dir / "model.pth");
  EXPECT_NE(raw.find("module.distilbert.embeddings.word_embeddings.weight"), nullptr);
}

TEST(TorchCheckpointFixtures, MlmHeadTiedToWordEmbeddings) {
  const auto ckpt = WeightStore::open(checkpoints() / "distilbert-st-mlm");
  const TensorView* proj = ckpt.find("vocab_projector.weight");
  const TensorView* emb = ckpt.find("distilbert.embeddings.word_embeddings.weight");
  ASSERT_NE(proj, nullptr);
  ASSERT_NE(emb, nullptr);
  EXPECT_NE(ckpt.find("vocab_transform.weight"), nullptr);
  EXPECT_NE(ckpt.find("vocab_layer_norm.weight"), nullptr);
  EXPECT_EQ(proj->shape, emb->shape);
  ASSERT_EQ(proj->bytes, emb->bytes);
  EXPECT_EQ(std::memcmp(proj->data, emb->data, emb->bytes), 0);
  EXPECT_EQ(proj->data, emb->data);  // one storage, two views
}

TEST(TorchCheckpointFixtures, ShardedBinIndex) {
  const fs::path dir = checkpoints() / "xlmr-cls-sharded";
  const auto ckpt = WeightStore::open(dir);
  EXPECT_TRUE(ckpt.sharded());
  EXPECT_EQ(ckpt.source(), dir / "pytorch_model.bin.index.json");
  EXPECT_EQ(ckpt.files().size(), 2u);
  EXPECT_EQ(ckpt.bytes_on_disk(), fs::file_size(dir / "pytorch_model-00001-of-00002.bin") +
                                      fs::file_size(dir / "pytorch_model-00002-of-00002.bin"));
  for (const auto& n : ckpt.names())
    EXPECT_TRUE(ckpt.file_of(n).filename().string().starts_with("pytorch_model-0000")) << n;
}

// ---------------------------------------------------------------------------------------
// Malicious fixtures

void remove_canaries() {
  for (const auto& e : fs::directory_iterator("/tmp"))
    if (e.path().filename().string().starts_with("encore_pickle_canary_")) fs::remove(e.path());
}
std::vector<std::string> canaries() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator("/tmp"))
    if (e.path().filename().string().starts_with("encore_pickle_canary_"))
      out.push_back(e.path().string());
  return out;
}

TEST(TorchCheckpointMalicious, EveryFolderIsRefusedAndNothingRuns) {
  const std::map<std::string, std::vector<std::string>> expected = {
      {"os-system", {"refusing to load", "'posix.system'", "nothing in the file was executed"}},
      {"builtins-eval", {"refusing to load", "'builtins.eval'"}},
      {"subprocess-popen", {"refusing to load", "'subprocess.Popen'"}},
      {"truncated-zip", {"truncated"}},
      {"tar-format", {"tar", "not supported"}},
      {"storage-oob",
       {"'bert.embeddings.LayerNorm.weight'", "needs 96 elements", "holds 16", "out of bounds"}},
  };
  remove_canaries();
  std::set<std::string> seen;
  for (const auto& e : fs::directory_iterator(checkpoints() / "malicious")) {
    const std::string name = e.path().filename().string();
    SCOPED_TRACE(name);
    ASSERT_TRUE(expected.count(name)) << "a new malicious fixture: add its expected message";
    seen.insert(name);
    auto frags = expected.at(name);
    frags.push_back((e.path() / "pytorch_model.bin").string());
    expect_error([&] { WeightStore::open(e.path()); }, frags);
  }
  EXPECT_EQ(seen.size(), expected.size());
  EXPECT_TRUE(canaries().empty()) << canaries().front();
}

TEST(TorchCheckpointMalicious, SecondOutOfBoundsTensorNamed) {
  // storage-oob's second tensor alone (the file stops at its first): offset 90 of a
  // 96-float storage, 96 long.
  const std::string z =
      torch_zip({{"bert.embeddings.LayerNorm.bias", "FloatStorage", "1", 96, 90, {96}, {1}}},
                {{"1", floats(std::vector<float>(96, 1.f))}});
  expect_error([&] { parse(z); },
               {"'bert.embeddings.LayerNorm.bias'", "offset 90", "needs 186", "holds 96"});
}

// ---------------------------------------------------------------------------------------
// The pickle VM

pickle::Pickle run(const P& p) {
  return pickle::unpickle(p.span(), "test.pkl");
}

TEST(TorchPickle, ReadsTheValuesAStateDictUses) {
  P p;
  p.proto().op('}').op('q').byte(0).mark();
  p.str("i").integer(-5).str("big").integer(INT64_MIN).str("f").op('G').raw(
      std::string("\x3f\xf8\x00\x00\x00\x00\x00\x00", 8));
  p.str("t").op('\x88').str("n").op('N').str("b").op('C').byte(2).raw("xy");
  p.str("l1").raw("\x8a\x02\xff\x7f");  // LONG1 32767
  p.str("s").raw("\x8c\x03").raw("abc").str("again").op('h').byte(0);
  p.op('u').stop();
  const auto r = run(p);
  const auto& root = r.root();
  ASSERT_EQ(root.kind, pickle::Kind::Dict);
  std::map<std::string, const pickle::Value*> m;
  for (const auto& [k, v] : root.entries) m[k->str] = v;
  EXPECT_EQ(m["i"]->integer, -5);
  EXPECT_EQ(m["big"]->integer, INT64_MIN);
  EXPECT_EQ(m["f"]->real, 1.5);
  EXPECT_TRUE(m["t"]->boolean);
  EXPECT_EQ(m["n"]->kind, pickle::Kind::None);
  EXPECT_EQ(m["b"]->str, "xy");
  EXPECT_EQ(m["l1"]->integer, 32767);
  EXPECT_EQ(m["s"]->str, "abc");
  EXPECT_EQ(m["again"], &root);  // the memo returns the same object: a cycle, no leak
  EXPECT_EQ(r.end_offset(), p.b.size());
}

TEST(TorchPickle, NewobjStringsAndPersistentIds) {
  // NEWOBJ of OrderedDict is a dict, as REDUCE; protocol-2 strings; BINPERSID wraps its id.
  P p;
  p.proto().mark().global("collections", "OrderedDict").op(')').byte(0x81);
  p.op('U').byte(2).raw("py").op('T').raw(le(3, 4)).raw("str");
  p.op('B').raw(le(1, 4)).raw("b").str("key").op('Q').op('t').stop();
  const auto r = run(p);
  const auto& items = r.root().items;
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0]->kind, pickle::Kind::Dict);
  EXPECT_EQ(items[1]->str, "py");
  EXPECT_EQ(items[2]->str, "str");
  EXPECT_EQ(items[3]->kind, pickle::Kind::Bytes);
  ASSERT_EQ(items[4]->kind, pickle::Kind::PersistentId);
  EXPECT_EQ(items[4]->items[0]->str, "key");
  EXPECT_TRUE(pickle::global_allowed("torch._utils", "_rebuild_tensor_v2"));
  EXPECT_FALSE(pickle::global_allowed("torch", "load"));
}

TEST(TorchPickle, EdgeCasesFailCleanly) {
  auto err = [](const P& p, std::vector<std::string> frags) {
    frags.push_back("test.pkl");
    expect_error([&] { run(p); }, frags);
  };
  err(P().proto().op('\xff'), {"unsupported pickle opcode 0xff"});
  err(P().proto().op('i'), {"unsupported pickle opcode 0x69"});  // INST: never used by torch
  err(P().proto().op('h').raw("\x05"), {"memo index 5 was never stored"});
  err(P().proto().op('j').raw(le(0xFFFFFFFF, 4)), {"memo index 4294967295"});
  err(P().proto().op('\x86'), {"stack underflow"});
  err(P().proto().op('}').op('N').op('s'), {"stack underflow"});
  err(P().proto().mark().op('0'), {"stack underflow"});  // cannot pop below a MARK
  err(P().proto().op('t'), {"no MARK"});
  err(P().proto().op('N'), {"no STOP"});
  err(P().proto().op('.'), {"STOP with an empty stack"});
  err(P().raw("\x80\x09"), {"protocol 9"});
  // Huge lengths are checked against what is left before anything is allocated.
  err(P().proto().raw("\x8d").raw(le(1ull << 62, 8)), {"truncated pickle", "4611686018427387904"});
  err(P().proto().op('X').raw(le(0xFFFFFFFF, 4)).raw("abc"), {"truncated pickle"});
  err(P().proto().op('B').raw(le(0x7FFFFFFF, 4)), {"truncated pickle"});
  err(P().proto().op('T').raw(le(0x80000000, 4)), {"negative BINSTRING length"});
  err(P().proto().raw("\x8a\xff").raw("ab"), {"truncated pickle"});
  // Nesting is bounded.
  P deep;
  deep.proto();
  for (int i = 0; i < 5000; ++i) deep.mark();
  err(deep, {"MARKs nested deeper than 1000"});
  // Type errors.
  err(P().proto().op(']').op('N').op('s'), {"stack underflow"});
  err(P().proto().op(']').str("k").op('N').op('s'), {"SETITEM on a list"});
  err(P().proto().op('}').op('N').op('a'), {"APPEND to a dict"});
  err(P().proto().op('N').op(')').op('R'), {"REDUCE applied to a None"});
  err(P().proto().global("torch", "FloatStorage").op(')').op('R'),
      {"'torch.FloatStorage'", "data, not a constructor"});
  err(P().proto().global("collections", "OrderedDict").op('N').op('R'), {"must be a tuple"});
  err(P().proto().op('N').op('N').op('b'), {"BUILD on a None"});
}

TEST(TorchPickle, ForbiddenGlobalsAreRefusedWhenRead) {
  auto err = [](const P& p, const std::string& name) {
    expect_error([&] { run(p); }, {"refusing to load", "'" + name + "'", "byte"});
  };
  err(P().proto().global("posix", "system"), "posix.system");
  err(P().proto().global("torch", "load"), "torch.load");
  err(P().proto().global("torch._utils", "_rebuild_device_tensor_from_numpy"),
      "torch._utils._rebuild_device_tensor_from_numpy");
  // Protocol 4's STACK_GLOBAL takes the names from the stack.
  err(P().raw("\x80\x04").raw("\x8c\x02").raw("os").raw("\x8c\x06").raw("system").raw("\x93"),
      "os.system");
  err(P().raw("\x80\x04")
          .raw("\x8c\x08")
          .raw("builtins")
          .raw("\x8c\x04")
          .raw("eval")
          .raw("\x94\x93"),
      "builtins.eval");
  expect_error([&] { run(P().raw("\x80\x04").op('N').raw("\x8c\x01x\x93")); },
               {"STACK_GLOBAL needs two strings"});
  // An unterminated GLOBAL line.
  expect_error([&] { run(P().proto().op('c').raw(std::string(300, 'a'))); },
               {"not terminated by a newline"});
  // Non-printable bytes in a name are escaped in the message.
  expect_error([&] { run(P().proto().global("o\x01s", "x")); }, {"'o\\x01s.x'"});
}

TEST(TorchPickle, LimitsBoundTheWork) {
  P p;
  p.proto();
  for (int i = 0; i < 100; ++i) p.op('N');
  pickle::Limits small;
  small.max_stack = 50;
  expect_error([&] { pickle::unpickle(p.span(), "x", small); }, {"stack deeper than 50"});
  small = {};
  small.max_nodes = 10;
  expect_error([&] { pickle::unpickle(p.span(), "x", small); }, {"more than 10 values"});
  P memo;
  memo.proto().op('N');
  for (int i = 0; i < 20; ++i) memo.op('q').raw(le(static_cast<std::uint64_t>(i), 1));
  small = {};
  small.max_memo = 8;
  expect_error([&] { pickle::unpickle(memo.span(), "x", small); }, {"memo larger than 8"});
  // A list appended to itself many times: a cyclic graph, built and freed without recursion.
  P cyc;
  cyc.proto().op(']').op('q').byte(0);
  for (int i = 0; i < 1000; ++i) cyc.op('h').byte(0).op('a');
  cyc.stop();
  const auto r = run(cyc);
  EXPECT_EQ(r.root().items.size(), 1000u);
  EXPECT_EQ(r.root().items[0], &r.root());
}

// ---------------------------------------------------------------------------------------
// The zip reader

TEST(TorchZip, ReadsClassicAndZip64Directories) {
  for (bool zip64 : {false, true}) {
    const std::string z = make_zip({{"a/x", "hello"}, {"a/y", ""}, {"a/z", "zz"}}, zip64);
    const auto zip = ZipArchive::parse(bytes_of(z), "t.zip");
    ASSERT_EQ(zip.entries().size(), 3u);
    EXPECT_EQ(zip.entries()[0].name, "a/x");
    const auto* x = zip.find("a/x");
    ASSERT_NE(x, nullptr);
    const auto d = zip.data(*x);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(d.data()), d.size()), "hello");
    EXPECT_EQ(d.data(), bytes_of(z).data() + 30 + 3);  // in place, no copy
    EXPECT_EQ(zip.data(*zip.find("a/y")).size(), 0u);
    EXPECT_EQ(zip.find("a/w"), nullptr);
  }
}

TEST(TorchZip, MalformedArchivesNameTheFile) {
  const std::string good = make_zip({{"a/x", "hello"}, {"a/y", "world"}});
  auto err = [](const std::string& z, const std::vector<std::string>& frags) {
    auto f = frags;
    f.push_back("t.zip");
    expect_error(
        [&] {
          const auto zip = ZipArchive::parse(bytes_of(z), "t.zip");
          for (const auto& e : zip.entries()) (void)zip.data(e);
        },
        f);
  };
  for (std::size_t cut : {0ul, 10ul, good.size() / 2, good.size() - 1})
    err(good.substr(0, cut), {"truncated"});
  // A central directory count beyond what its size can hold.
  std::string lie = good;
  lie.replace(lie.size() - 12, 2, le(0xFFFE, 2));
  lie.replace(lie.size() - 14, 2, le(0xFFFE, 2));
  err(lie, {"entries cannot fit"});
  // A compressed entry (method 8), and data running past the end.
  std::string deflate = good;
  const auto cd = deflate.find(std::string("PK\x01\x02", 4));
  deflate[cd + 10] = 8;
  err(deflate, {"compressed (method 8)", "'a/x'"});
  std::string longer = good;
  longer.replace(cd + 20, 8, le(1000, 4) + le(1000, 4));
  err(longer, {"'a/x'", "run past the end"});
  // ZIP64 locator pointing nowhere.
  std::string z64 = make_zip({{"a/x", "hello"}}, true);
  z64.replace(z64.size() - 22 - 20 + 8, 8, le(1ull << 40, 8));
  err(z64, {"ZIP64 end-of-central-directory record"});
  err(make_zip({{"a/x", "1"}, {"a/x", "2"}}), {"'a/x' appears twice"});
}

// ---------------------------------------------------------------------------------------
// Tensors from hand-built checkpoints

TEST(TorchTensors, ContiguousViewsPointIntoTheFile) {
  const std::string z = torch_zip({{"w", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
                                   {"tail", "FloatStorage", "0", 6, 4, {2}, {1}},
                                   {"scalar", "DoubleStorage", "1", 1, 0, {}, {}},
                                   {"empty", "FloatStorage", "2", 0, 0, {0, 5}, {5, 1}},
                                   {"ids", "LongStorage", "3", 2, 0, {2}, {1}}},
                                  {{"0", floats({1, 2, 3, 4, 5, 6})},
                                   {"1", le(0x4004000000000000ull, 8)},
                                   {"2", ""},
                                   {"3", le(7, 8) + le(static_cast<std::uint64_t>(-1), 8)}},
                                  true);
  const auto c = parse(z);
  EXPECT_EQ(c.format(), "torch zip");
  EXPECT_EQ(c.names(), (std::vector<std::string>{"empty", "ids", "scalar", "tail", "w"}));
  const TensorView* w = c.find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(to_float32(*w), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_GE(w->data, bytes_of(z).data());
  EXPECT_LT(w->data, bytes_of(z).data() + z.size());
  EXPECT_EQ(to_float32(*c.find("tail")), (std::vector<float>{5, 6}));
  EXPECT_EQ(to_float32(*c.find("scalar")), (std::vector<float>{2.5f}));
  EXPECT_EQ(c.find("empty")->numel(), 0);
  EXPECT_EQ(c.find("ids")->dtype, DType::I64);
}

TEST(TorchTensors, StridedTensorsAreCopiedContiguous) {
  // A transposed [3, 2] view of a [2, 3] storage, and every other element of a row.
  const std::string z = torch_zip({{"t", "FloatStorage", "0", 6, 0, {3, 2}, {1, 3}},
                                   {"every_other", "FloatStorage", "0", 6, 1, {2}, {2}}},
                                  {{"0", floats({1, 2, 3, 4, 5, 6})}});
  const auto c = parse(z);
  EXPECT_EQ(to_float32(*c.find("t")), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(to_float32(*c.find("every_other")), (std::vector<float>{2, 4}));
  // A broadcast (stride 0) bigger than its storage is refused, not materialised.
  const std::string bomb = torch_zip({{"b", "FloatStorage", "0", 1, 0, {1 << 20, 1 << 20}, {0, 0}}},
                                     {{"0", floats({1})}});
  expect_error([&] { parse(bomb); }, {"'b'", "non-contiguous", "refusing to expand"});
}

TEST(TorchTensors, BadTensorsAndStoragesAreNamed) {
  const auto one = floats({1, 2, 3, 4});
  auto err = [&](const TensorSpec& t, const std::vector<std::string>& frags,
                 std::string storage = "") {
    if (storage.empty()) storage = one;
    expect_error([&] { parse(torch_zip({t}, {{t.key, storage}})); }, frags);
  };
  err({"a", "FloatStorage", "0", 4, 1, {4}, {1}}, {"'a'", "needs 5 elements", "holds 4"});
  err({"a", "FloatStorage", "0", 4, 0, {2, 2}, {2, 2}}, {"'a'", "needs 5"});
  err({"a", "FloatStorage", "0", 4, 0, {1ll << 62, 4}, {4, 1}}, {"'a'", "overflows"});
  err({"a", "FloatStorage", "0", 4, -1, {4}, {1}}, {"'a'", "negative storage offset"});
  err({"a", "FloatStorage", "0", 4, 0, {4}, {1, 1}}, {"'a'", "different lengths"});
  err({"a", "FloatStorage", "0", 8, 0, {4}, {1}}, {"storage '0'", "holds 16 bytes", "8 F32"});
  err({"a", "QInt8Storage", "0", 4, 0, {4}, {1}}, {"'torch.QInt8Storage'", "refusing"});
  // Storage missing from the archive.
  expect_error(
      [&] {
        parse(torch_zip({{"a", "FloatStorage", "9", 4, 0, {4}, {1}}}, {}));
      },
      {"storage '9'", "no entry 'archive/data/9'"});
  // The same storage declared twice with different sizes.
  expect_error(
      [&] {
        parse(torch_zip({{"a", "FloatStorage", "0", 4, 0, {4}, {1}},
                         {"b", "FloatStorage", "0", 3, 0, {3}, {1}}},
                        {{"0", one}}));
      },
      {"storage '0' is declared as 4 F32 elements and as 3"});
  // Not a state dict, not a checkpoint, no data.pkl.
  expect_error(
      [&] {
        parse(make_zip({{"archive/data.pkl", P().proto().op(']').stop().b}}));
      },
      {"expected a state dict", "found a list"});
  expect_error([&] { parse("hello world"); }, {"mem.bin", "not a PyTorch checkpoint"});
  expect_error([&] { parse(make_zip({{"archive/other", "x"}})); }, {"no 'archive/data.pkl'"});
  expect_error([&] { parse(make_zip({{"top", "x"}})); }, {"not inside a folder"});
}

TEST(TorchTensors, AnyTopLevelFolderAndNonTensorEntries) {
  // save_pretrained names the folder after the file; non-tensor values are skipped.
  P p;
  p.proto().global("collections", "OrderedDict").op(')').op('R').mark();
  p.str("config").integer(3).str("nothing").op('N');
  p.str("w").global("torch._utils", "_rebuild_parameter").mark();
  p.global("torch._utils", "_rebuild_tensor").mark();
  p.mark().str("storage").global("torch", "HalfStorage").str("k").str("cpu").integer(2).op('t');
  p.op('Q').integer(0).ints({2}).ints({1}).op('t').op('R');
  p.op('\x88').global("collections", "OrderedDict").op(')').op('R').op('t').op('R');
  p.op('u');
  p.op('}').str("_metadata").op('}').op('s').op('b');  // the OrderedDict's _metadata attribute
  p.stop();
  const std::string z = make_zip(
      {{"my model-00001/data.pkl", p.b}, {"my model-00001/data/k", le(0x3C00, 2) + le(0xC000, 2)}});
  const auto c = parse(z);
  EXPECT_EQ(c.names(), std::vector<std::string>{"w"});
  EXPECT_EQ(c.find("w")->dtype, DType::F16);
  EXPECT_EQ(to_float32(*c.find("w")), (std::vector<float>{1, -2}));
  // A big-endian byteorder record is refused.
  const std::string be =
      make_zip({{"a/data.pkl", p.b}, {"a/byteorder", "big"}, {"a/data/k", "xxxx"}});
  expect_error([&] { parse(be); }, {"byteorder 'big'"});
}

std::string legacy_file(const std::vector<TensorSpec>& tensors,
                        const std::vector<std::pair<std::string, std::string>>& storages,
                        const std::vector<std::string>& keys) {
  std::string out = "\x80\x02\x8a\x0a";
  out += std::string("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10) + ".";
  out += P().proto().integer(1001).stop().b;
  out += P().proto().op('}').str("little_endian").op('\x88').op('s').stop().b;
  out += state_dict_pickle(tensors, true);
  P k;
  k.proto().op(']').mark();
  for (const auto& key : keys) k.str(key);
  k.op('e').stop();
  out += k.b;
  for (const auto& [count, data] : storages) out += count + data;
  return out;
}

TEST(TorchTensors, LegacyFormat) {
  const auto s0 = floats({1, 2, 3}), s1 = floats({9, 8});
  const std::string f = legacy_file(
      {{"a", "FloatStorage", "100", 3, 1, {2}, {1}}, {"b", "FloatStorage", "200", 2, 0, {2}, {1}}},
      {{le(2, 8), s1}, {le(3, 8), s0}}, {"200", "100"});
  const auto c = parse(f);
  EXPECT_EQ(c.format(), "torch legacy");
  EXPECT_EQ(to_float32(*c.find("a")), (std::vector<float>{2, 3}));
  EXPECT_EQ(to_float32(*c.find("b")), (std::vector<float>{9, 8}));

  expect_error([&] { parse(f.substr(0, f.size() - 3)); }, {"storage '100'", "truncated"});
  expect_error(
      [&] {
        parse(
            legacy_file({{"a", "FloatStorage", "100", 3, 0, {3}, {1}}}, {{le(4, 8), s0}}, {"100"}));
      },
      {"storage '100'", "holds 4 elements", "declares 3"});
  expect_error(
      [&] {
        parse(legacy_file({{"a", "FloatStorage", "100", 3, 0, {3}, {1}}},
                          {{le(3, 8), s0}, {le(3, 8), s0}}, {"7", "100"}));
      },
      {"storage '7' is listed but no tensor uses it"});
  expect_error(
      [&] {
        parse(legacy_file({{"a", "FloatStorage", "100", 3, 0, {3}, {1}}}, {}, {}));
      },
      {"storage '100' is used but missing"});
  std::string bad_magic = f;
  bad_magic[5] ^= 1;
  expect_error([&] { parse(bad_magic); }, {"magic number"});
}

// ---------------------------------------------------------------------------------------
// WeightStore's choice of files

TEST(TorchWeightStore, ModulePrefixStrippedOnlyWhenEveryKeyHasIt) {
  const auto data = floats({1, 2});
  const fs::path dir = test::temp_dir("torch_pth");
  test::write_file(dir / "weights.pt",
                   torch_zip({{"module.a", "FloatStorage", "0", 2, 0, {2}, {1}},
                              {"module.b.c", "FloatStorage", "0", 2, 0, {1}, {1}}},
                             {{"0", data}}));
  auto store = WeightStore::open(dir);
  EXPECT_EQ(store.names(), (std::vector<std::string>{"a", "b.c"}));
  EXPECT_EQ(store.source(), dir / "weights.pt");
  store.close();

  test::write_file(dir / "weights.pt", torch_zip({{"module.a", "FloatStorage", "0", 2, 0, {2}, {1}},
                                                  {"b", "FloatStorage", "0", 2, 0, {1}, {1}}},
                                                 {{"0", data}}));
  EXPECT_EQ(WeightStore::open(dir).names(), (std::vector<std::string>{"b", "module.a"}));

  // Two candidate files: ambiguous.
  test::write_file(dir / "optimizer.pth", "x");
  expect_error([&] { WeightStore::open(dir); },
               {dir.string(), "ambiguous", "optimizer.pth", "weights.pt"});
  fs::remove_all(dir);
}

TEST(TorchWeightStore, SafetensorsPreferredOverBin) {
  const fs::path dir = test::temp_dir("torch_both");
  const fs::path st = test::shared_dir() / "models" / "tiny-random-bert" / "model.safetensors";
  fs::copy_file(st, dir / "model.safetensors");
  // A pytorch_model.bin that would be refused if it were read.
  fs::copy_file(checkpoints() / "malicious" / "os-system" / "pytorch_model.bin",
                dir / "pytorch_model.bin");
  const auto store = WeightStore::open(dir);
  EXPECT_EQ(store.source(), dir / "model.safetensors");
  EXPECT_EQ(store.format(), "safetensors");
  EXPECT_EQ(store.bytes_on_disk(), fs::file_size(st));
  fs::remove(dir / "model.safetensors");
  expect_error([&] { WeightStore::open(dir); }, {"'posix.system'"});
  fs::remove_all(dir);
}

TEST(TorchWeightStore, ShardedBinIndexIsValidated) {
  const fs::path src = checkpoints() / "xlmr-cls-sharded";
  const fs::path dir = test::temp_dir("torch_shards");
  for (const auto& e : fs::directory_iterator(src))
    if (e.path().extension() == ".bin") fs::copy_file(e.path(), dir / e.path().filename());
  auto index = nlohmann::json::parse(test::slurp(src / "pytorch_model.bin.index.json"));
  auto& wm = index["weight_map"];
  const std::string first = wm.begin().key();
  wm[first] = "pytorch_model-00003-of-00002.bin";
  test::write_file(dir / "pytorch_model.bin.index.json", index.dump());
  expect_error(
      [&] { WeightStore::open(dir); },
      {"pytorch_model.bin.index.json", "'pytorch_model-00003-of-00002.bin'", "does not exist"});
  wm[first] = "../x.bin";
  test::write_file(dir / "pytorch_model.bin.index.json", index.dump());
  expect_error([&] { WeightStore::open(dir); }, {"inside the model folder"});
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------
// The CLI

// `encore run` over `texts` on both folders must write bit-identical outputs.
void expect_same_run(const fs::path& ckpt, const fs::path& twin, const std::string& texts) {
  const fs::path dir = test::temp_dir("torch_cli_" + ckpt.filename().string());
  auto a = test::run_cli("run --model " + ckpt.string() + " --threads 1 " + texts + " --output " +
                         (dir / "bin.safetensors").string());
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = test::run_cli("run --model " + twin.string() + " --threads 1 " + texts + " --output " +
                         (dir / "st.safetensors").string());
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const auto x = SafetensorsFile::open(dir / "bin.safetensors");
  const auto y = SafetensorsFile::open(dir / "st.safetensors");
  ASSERT_EQ(x.names(), y.names());
  ASSERT_FALSE(x.names().empty());
  for (const auto& t : y.tensors()) {
    const TensorView* u = x.find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(u->dtype, t.dtype) << t.name;
    EXPECT_EQ(u->shape, t.shape) << t.name;
    ASSERT_EQ(u->bytes, t.bytes) << t.name;
    EXPECT_EQ(std::memcmp(u->data, t.data, t.bytes), 0) << t.name;
  }
  fs::remove_all(dir);
}

TEST(TorchCli, RunOnBinEqualsRunOnSafetensors) {
  expect_same_run(checkpoints() / "clinc-bert-mini-bin",
                  test::shared_dir() / "models" / "clinc-bert-mini",
                  "--input " + (test::shared_dir() / "reference" / "texts.jsonl").string());
}

TEST(TorchCli, EveryFixtureRunsLikeItsTwin) {
  // The legacy file's extra position_ids and the MLM head's keys are unused names.
  const std::string texts = test::shell_quote("book a flight to paris") + " " +
                            test::shell_quote("Ünïcode, émoji 🙂 and numbers 12345");
  for (const auto& [name, twin] : twins()) {
    SCOPED_TRACE(name);
    expect_same_run(checkpoints() / name, twin, texts);
  }
}

TEST(TorchCli, MaliciousCheckpointExitsWithOne) {
  remove_canaries();
  const fs::path mal = checkpoints() / "malicious" / "os-system";
  // As shipped (no tokenizer files: the CLI stops before the weights).
  auto r = test::run_cli("classify --model " + mal.string() + " hello");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_CONTAINS(r.err, mal.string());
  EXPECT_TRUE(r.out.empty()) << r.out;
  // With tiny-random-bert's tokenizer beside it, the weights are what is refused.
  const fs::path dir = test::temp_dir("torch_cli_malicious");
  for (const auto& e : fs::directory_iterator(mal))
    fs::copy_file(e.path(), dir / e.path().filename());
  for (const char* f : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"})
    if (fs::exists(test::shared_dir() / "models" / "tiny-random-bert" / f))
      fs::copy_file(test::shared_dir() / "models" / "tiny-random-bert" / f, dir / f);
  r = test::run_cli("classify --model " + dir.string() + " hello");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_CONTAINS(r.err, "refusing to load");
  EXPECT_CONTAINS(r.err, "'posix.system'");
  EXPECT_CONTAINS(r.err, (dir / "pytorch_model.bin").string());
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(canaries().empty());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace encore::io

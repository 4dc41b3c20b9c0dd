// safetensors reader / writer / WeightStore: the shared checkpoints, exact float
// conversions, writer round trips, and one test per kind of corrupt file (crafted here).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../test_support.hpp"
#include "encore/error.hpp"
#include "io/safetensors.hpp"

namespace encore::io {
namespace {

using test::expect_error;

namespace fs = std::filesystem;
using test::shared_dir;
using test::temp_dir;
using test::write_file;

fs::path model_file(const std::string& model) {
  return shared_dir() / "models" / model / "model.safetensors";
}

// A safetensors file from a literal header and data section.
std::string raw_file(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

// Writes `content` to a fresh file and expects open() to fail naming the file and `fragments`.
void expect_open_error(const std::string& test, const std::string& content,
                       std::vector<std::string> fragments) {
  const fs::path p = temp_dir("st_" + test) / (test + ".safetensors");
  write_file(p, content);
  fragments.push_back(p.string());
  expect_error([&] { SafetensorsFile::open(p); }, fragments);
}

std::vector<std::uint16_t> raw_u16(const TensorView& t) {
  std::vector<std::uint16_t> v(t.bytes / 2);
  std::memcpy(v.data(), t.data, t.bytes);
  return v;
}

// binary16 by the definition (sign, 5-bit exponent biased by 15, 10-bit fraction), in
// double arithmetic: an independent check of the bit-twiddling converter.
double f16_by_definition(std::uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1F, frac = h & 0x3FF;
  double v;
  if (exp == 0)
    v = std::ldexp(frac, -24);
  else if (exp == 31)
    v = frac ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else
    v = std::ldexp(1024 + frac, exp - 25);
  return sign ? -v : v;
}

// ---------------------------------------------------------------------------------------
// Reading the shared checkpoints

TEST(SafetensorsFile, OpensTinyRandomBert) {
  const auto f = SafetensorsFile::open(model_file("tiny-random-bert"));
  // 5 embedding tensors, 16 per layer x 2, pooler 2, classifier 2.
  EXPECT_EQ(f.tensors().size(), 41u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const TensorView* w = f.find("bert.embeddings.word_embeddings.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, DType::F32);
  EXPECT_EQ(w->shape, (std::vector<std::int64_t>{30522, 96}));
  EXPECT_EQ(w->numel(), 30522 * 96);
  EXPECT_EQ(w->bytes, 30522u * 96u * 4u);
  const TensorView* c = f.find("classifier.weight");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->shape, (std::vector<std::int64_t>{3, 96}));
  EXPECT_EQ(f.find("nope"), nullptr);
  const auto names = f.names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(names.front(), "bert.embeddings.LayerNorm.bias");
}

TEST(SafetensorsFile, OpensAllSharedModelsAndConvertsEveryTensor) {
  for (const char* m : {"tiny-random-bert", "clinc-bert-mini", "clinc-bert-small"}) {
    SCOPED_TRACE(m);
    const auto f = SafetensorsFile::open(model_file(m));
    std::size_t bytes = 0;
    for (const auto& t : f.tensors()) {
      const auto v = to_float32(t);
      ASSERT_EQ(v.size(), static_cast<std::size_t>(t.numel()));
      for (float x : v) ASSERT_TRUE(std::isfinite(x)) << t.name;
      bytes += t.bytes;
    }
    // The data section is exactly the tensors (the Python writer packs them).
    std::uint64_t header = 0;
    std::memcpy(&header, test::slurp(model_file(m)).data(), 8);
    EXPECT_EQ(bytes, f.file_size() - 8 - header);
  }
}

TEST(SafetensorsFile, ClincMiniF16MatchesValuesComputedByHand) {
  const auto f = SafetensorsFile::open(model_file("clinc-bert-mini"));
  for (const char* name : {"bert.embeddings.LayerNorm.weight", "classifier.bias",
                           "bert.encoder.layer.1.attention.self.query.weight"}) {
    SCOPED_TRACE(name);
    const TensorView* t = f.find(name);
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->dtype, DType::F16);
    const auto bits = raw_u16(*t);
    const auto v = to_float32(*t);
    ASSERT_EQ(v.size(), bits.size());
    for (std::size_t i = 0; i < v.size(); ++i)
      ASSERT_EQ(static_cast<double>(v[i]), f16_by_definition(bits[i])) << i;
  }
  // A fixed element, decoded by hand: the bits, and the value they denote.
  const TensorView* ln = f.find("bert.embeddings.LayerNorm.weight");
  const auto bits = raw_u16(*ln);
  const std::uint16_t b = bits[0];
  const float v = to_float32(*ln)[0];
  const int exp = (b >> 10) & 0x1F;
  ASSERT_TRUE(exp > 0 && exp < 31);  // a normal number
  const double by_hand =
      (b >> 15 ? -1.0 : 1.0) * (1.0 + (b & 0x3FF) / 1024.0) * std::pow(2.0, exp - 15);
  EXPECT_EQ(static_cast<double>(v), by_hand);
}

TEST(SafetensorsConvert, F16KnownBitPatterns) {
  EXPECT_EQ(f16_to_float(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_float(0xC000), -2.0f);
  EXPECT_EQ(f16_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_float(0x7BFF), 65504.0f);                  // largest finite
  EXPECT_EQ(f16_to_float(0x0400), std::ldexp(1.0f, -14));     // smallest normal
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(f16_to_float(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(f16_to_float(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_float(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(f16_to_float(0x8000)));
  EXPECT_EQ(f16_to_float(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_float(0x7E00)));
  EXPECT_TRUE(std::isnan(f16_to_float(0x7C01)));  // signalling NaN stays NaN, not inf
}

TEST(SafetensorsConvert, F16AllBitPatternsMatchTheDefinition) {
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float v = f16_to_float(static_cast<std::uint16_t>(h));
    const double want = f16_by_definition(static_cast<std::uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(v)) << std::hex << h;
    } else {
      ASSERT_EQ(static_cast<double>(v), want) << std::hex << h;
      ASSERT_EQ(std::signbit(v), std::signbit(want)) << std::hex << h;
    }
  }
}

TEST(SafetensorsConvert, BF16IsTheUpperHalfOfF32) {
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_float(0xC049), -3.140625f);
  EXPECT_EQ(bf16_to_float(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bf16_to_float(0x7FC0)));
  EXPECT_EQ(bf16_to_float(0x0001), std::bit_cast<float>(0x00010000u));  // subnormal
  for (std::uint32_t h = 0; h <= 0xFFFF; h += 7) {
    const float v = bf16_to_float(static_cast<std::uint16_t>(h));
    ASSERT_EQ(std::bit_cast<std::uint32_t>(v), h << 16);
  }
}

TEST(SafetensorsConvert, AllFloatDtypesAndIntegerRejection) {
  SafetensorsWriter w;
  const double d[] = {1.5, -1e40, 3.0};
  const std::uint16_t h[] = {0x3C00, 0x0001};
  const std::uint16_t bf[] = {0xC049};
  const std::int64_t ints[] = {1, 2};
  w.add("d", DType::F64, {3}, d, sizeof d);
  w.add("h", DType::F16, {2}, h, sizeof h);
  w.add("bf", DType::BF16, {1}, bf, sizeof bf);
  w.add("i", DType::I64, {2}, ints, sizeof ints);
  const fs::path p = temp_dir("st_convert") / "c.safetensors";
  w.write(p);
  const auto f = SafetensorsFile::open(p);
  const auto dv = to_float32(*f.find("d"));
  EXPECT_EQ(dv[0], 1.5f);
  EXPECT_EQ(dv[1], -std::numeric_limits<float>::infinity());  // beyond float: a C++ cast
  EXPECT_EQ(dv[2], 3.0f);
  EXPECT_EQ(to_float32(*f.find("h")), (std::vector<float>{1.0f, std::ldexp(1.0f, -24)}));
  EXPECT_EQ(to_float32(*f.find("bf")), (std::vector<float>{-3.140625f}));
  float out[2] = {0, 0};
  to_float32(*f.find("h"), out);
  EXPECT_EQ(out[0], 1.0f);
  expect_error([&] { to_float32(*f.find("i")); }, {"'i'", "I64", "floating-point"});
  expect_error([&] { to_float32(*f.find("i"), out); }, {"'i'", "I64"});
}

// ---------------------------------------------------------------------------------------
// Writer

TEST(SafetensorsWriter, RoundTrip) {
  SafetensorsWriter w;
  const std::vector<float> a{1.0f, -2.5f, 3.25f, 0.0f, 1e-30f, -7.0f};
  const std::int64_t ids[] = {101, 2023, -1};
  const float scalar = 42.0f;
  w.add("zeta.ids", DType::I64, {3}, ids, sizeof ids);
  w.add_f32("alpha.weight", {2, 3}, a);
  w.add("mid.scalar", DType::F32, {}, &scalar, sizeof scalar);
  w.add("mid.empty", DType::F32, {0, 5}, nullptr, 0);
  w.metadata("format", "pt");
  w.metadata("note", "caf\xC3\xA9");

  const fs::path dir = temp_dir("st_roundtrip");
  const fs::path p = dir / "out.safetensors";
  w.write(p);
  EXPECT_FALSE(fs::exists(dir / "out.safetensors.tmp"));

  const auto f = SafetensorsFile::open(p);
  EXPECT_EQ(f.names(),
            (std::vector<std::string>{"alpha.weight", "mid.empty", "mid.scalar", "zeta.ids"}));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "caf\xC3\xA9");
  const TensorView* t = f.find("alpha.weight");
  EXPECT_EQ(t->shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(to_float32(*t), a);
  const TensorView* s = f.find("mid.scalar");
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(s->numel(), 1);
  EXPECT_EQ(to_float32(*s), std::vector<float>{42.0f});
  EXPECT_EQ(f.find("mid.empty")->numel(), 0);
  EXPECT_TRUE(to_float32(*f.find("mid.empty")).empty());
  const TensorView* i = f.find("zeta.ids");
  EXPECT_EQ(i->dtype, DType::I64);
  std::int64_t back[3];
  std::memcpy(back, i->data, sizeof back);
  EXPECT_EQ(back[2], -1);

  // Layout: 8-byte aligned data section, tensors stored in name order.
  const std::string bytes = test::slurp(p);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const std::string text = bytes.substr(8, n);
  const auto last = text.find_last_not_of(' ');
  EXPECT_EQ(text[last], '}');
  EXPECT_LT(n - (last + 1), 8u);  // padded with spaces, less than one word
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["alpha.weight"]["data_offsets"], nlohmann::json({0, 24}));
  EXPECT_EQ(header["mid.scalar"]["data_offsets"], nlohmann::json({24, 28}));
  EXPECT_EQ(header["zeta.ids"]["data_offsets"], nlohmann::json({28, 52}));
  EXPECT_EQ(bytes.size(), 8 + n + 52);
}

TEST(SafetensorsWriter, ReproducesThePythonWriterByteForByte) {
  // tiny-random-bert was written by shared/peers/ref_bert.py's writer.
  const fs::path src = model_file("tiny-random-bert");
  const auto f = SafetensorsFile::open(src);
  SafetensorsWriter w;
  for (const auto& t : f.tensors()) w.add(t.name, t.dtype, t.shape, t.data, t.bytes);
  for (const auto& [k, v] : f.metadata()) w.metadata(k, v);
  const fs::path out = temp_dir("st_bytes") / "copy.safetensors";
  w.write(out);
  EXPECT_TRUE(test::slurp(out) == test::slurp(src));
}

TEST(SafetensorsWriter, RejectsInconsistentTensors) {
  SafetensorsWriter w;
  const float x[3] = {1, 2, 3};
  expect_error([&] { w.add("x", DType::F32, {2, 2}, x, sizeof x); }, {"'x'", "[2, 2]", "16", "12"});
  expect_error([&] { w.add("x", DType::F32, {-3}, x, sizeof x); }, {"'x'", "negative"});
  expect_error([&] { w.add("__metadata__", DType::F32, {3}, x, sizeof x); }, {"reserved"});
  w.add("x", DType::F32, {3}, x, sizeof x);
  expect_error([&] { w.add("x", DType::F32, {3}, x, sizeof x); }, {"'x'", "twice"});
}

TEST(SafetensorsWriter, FailureLeavesNoFileBehind) {
  SafetensorsWriter w;
  const float x = 1;
  w.add("x", DType::F32, {1}, &x, sizeof x);
  const fs::path dir = temp_dir("st_writefail");
  const fs::path target = dir / "missing_subdir" / "out.safetensors";
  expect_error([&] { w.write(target); }, {"out.safetensors.tmp"});
  EXPECT_FALSE(fs::exists(target));
  // The rename fails when the target is a non-empty directory: the .tmp must be cleaned up.
  const fs::path blocker = dir / "blocked.safetensors";
  fs::create_directories(blocker / "inside");
  expect_error([&] { w.write(blocker); }, {"rename", "blocked.safetensors"});
  EXPECT_FALSE(fs::exists(dir / "blocked.safetensors.tmp"));
}

TEST(SafetensorsFile, MoveAndClose) {
  auto f = SafetensorsFile::open(model_file("tiny-random-bert"));
  SafetensorsFile g = std::move(f);
  EXPECT_FALSE(f.is_open());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_EQ(f.find("classifier.bias"), nullptr);
  ASSERT_TRUE(g.is_open());
  const TensorView* b = g.find("classifier.bias");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(to_float32(*b).size(), 3u);
  g.close();
  EXPECT_FALSE(g.is_open());
  EXPECT_EQ(g.find("classifier.bias"), nullptr);
  EXPECT_TRUE(g.tensors().empty());
  g.close();  // idempotent
}

// ---------------------------------------------------------------------------------------
// Corrupt files: each error names the file and what is wrong.

TEST(SafetensorsErrors, MissingFileAndDirectory) {
  const fs::path dir = temp_dir("st_missing");
  expect_error([&] { SafetensorsFile::open(dir / "nope.safetensors"); },
               {(dir / "nope.safetensors").string(), "does not exist"});
  expect_error([&] { SafetensorsFile::open(dir); }, {dir.string(), "directory"});
}

TEST(SafetensorsErrors, ShorterThan8Bytes) {
  expect_open_error("short", std::string("\x05\x00\x00", 3), {"3 bytes", "8-byte header length"});
  expect_open_error("empty", "", {"0 bytes"});
}

TEST(SafetensorsErrors, HeaderLengthBeyondFile) {
  std::string claims_100(8, '\0');
  claims_100[0] = 100;
  expect_open_error("beyond", claims_100 + "{}",
                    {"header length 100", "exceeds the file size (10 bytes)"});
  std::string huge(8, '\xFF');
  expect_open_error("beyond_max", huge + "{}", {"header length 18446744073709551615"});
}

TEST(SafetensorsErrors, HeaderOver100MB) {
  // A sparse file: big enough to hold the claimed header, cheap to create.
  const fs::path p = temp_dir("st_hugeheader") / "huge.safetensors";
  std::string start(8, '\0');
  const std::uint64_t n = 100'000'001;
  std::memcpy(start.data(), &n, 8);
  write_file(p, start + "{");
  fs::resize_file(p, 8 + n + 8);
  expect_error([&] { SafetensorsFile::open(p); }, {p.string(), "100 MB"});
  fs::remove(p);
}

TEST(SafetensorsErrors, HeaderNotJson) {
  expect_open_error("notjson", raw_file("{\"a\": [1, 2"), {"malformed JSON"});
  expect_open_error("notutf8", raw_file("{\"\xFF\": 1}"), {"malformed JSON"});
  expect_open_error("notobject", raw_file("[1, 2]"), {"header must be a JSON object", "array"});
  // nlohmann reports a number beyond double's range as out_of_range, not parse_error.
  expect_open_error("bignumber", raw_file(R"({"w":1e999})"), {"malformed JSON", "1e999"});
}

TEST(SafetensorsErrors, UnknownDtype) {
  expect_open_error("dtype",
                    raw_file(R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", "ab"),
                    {"tensor 'w'", "unsupported dtype 'F8_E4M3'"});
  expect_open_error("dtype_type",
                    raw_file(R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,2]}})", "ab"),
                    {"tensor 'w'", "dtype"});
}

TEST(SafetensorsErrors, OverlappingOffsets) {
  expect_open_error("overlap",
                    raw_file(R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},)"
                             R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                             std::string(12, '\0')),
                    {"tensors 'a' and 'b' overlap", "[0, 8]", "[4, 12]"});
  // Contained entirely inside a bigger tensor, and not adjacent in sorted order.
  expect_open_error("overlap_inner",
                    raw_file(R"({"big":{"dtype":"U8","shape":[10],"data_offsets":[0,10]},)"
                             R"("x":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},)"
                             R"("y":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})",
                             std::string(10, '\0')),
                    {"'big' and 'x' overlap"});
  // Empty tensors occupy nothing and may share an offset.
  const fs::path p = temp_dir("st_empty_ok") / "e.safetensors";
  write_file(p, raw_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                         R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                         std::string(4, '\0')));
  EXPECT_NO_THROW(SafetensorsFile::open(p));
}

TEST(SafetensorsErrors, OutOfRangeOffsets) {
  expect_open_error(
      "range",
      raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(7, '\0')),
      {"tensor 'w'", "[0, 8]", "out of range", "7 bytes"});
  expect_open_error(
      "range_reversed",
      raw_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", std::string(8, '\0')),
      {"tensor 'w'", "end before begin"});
  expect_open_error("range_negative",
                    raw_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[-4,0]}})"),
                    {"tensor 'w'", "non-negative"});
  expect_open_error("range_arity",
                    raw_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[0]}})"),
                    {"tensor 'w'", "[begin, end]"});
  expect_open_error("range_huge",
                    raw_file(R"({"w":{"dtype":"U8","shape":[1],)"
                             R"("data_offsets":[18446744073709551615,18446744073709551616]}})"),
                    {"tensor 'w'", "non-negative integers"});
}

TEST(SafetensorsErrors, WrongSizeForDtype) {
  expect_open_error(
      "size",
      raw_file(R"({"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')),
      {"tensor 'w'", "wrong size for dtype F16", "8 bytes, expected 6"});
}

TEST(SafetensorsErrors, BadShapes) {
  expect_open_error("shape_neg",
                    raw_file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})"),
                    {"tensor 'w'", "non-negative integers"});
  expect_open_error("shape_float",
                    raw_file(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}})"),
                    {"tensor 'w'", "non-negative integers"});
  expect_open_error("shape_missing", raw_file(R"({"w":{"dtype":"F32","data_offsets":[0,0]}})"),
                    {"tensor 'w'", "'shape'"});
  expect_open_error("shape_overflow",
                    raw_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],)"
                             R"("data_offsets":[0,0]}})"),
                    {"tensor 'w'", "too many elements"});
  // A zero dimension makes any other dimensions harmless.
  const fs::path p = temp_dir("st_zero_dim") / "z.safetensors";
  write_file(p, raw_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,0],)"
                         R"("data_offsets":[0,0]}})"));
  const auto f = SafetensorsFile::open(p);
  EXPECT_EQ(f.find("w")->numel(), 0);
}

TEST(SafetensorsErrors, DuplicateTensorAndBadEntries) {
  expect_open_error("dup",
                    raw_file(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                             "ab"),
                    {"tensor 'w' appears twice"});
  expect_open_error("entry", raw_file(R"({"w":[1,2]})"), {"tensor 'w'", "JSON object"});
  expect_open_error("meta", raw_file(R"({"__metadata__":{"format":1}})"),
                    {"__metadata__", "'format'", "string"});
  expect_open_error("meta_type", raw_file(R"({"__metadata__":[]})"), {"__metadata__"});
}

// ---------------------------------------------------------------------------------------
// WeightStore

// Splits tiny-random-bert into two shards plus an index; `edit_index` may corrupt it.
fs::path make_sharded(const std::string& name,
                      const std::function<void(nlohmann::json&)>& edit_index = {}) {
  const fs::path dir = temp_dir(name);
  const auto f = SafetensorsFile::open(model_file("tiny-random-bert"));
  SafetensorsWriter a, b;
  nlohmann::json index = {{"metadata", {{"total_size", 12851724}}},
                          {"weight_map", nlohmann::json::object()}};
  for (const auto& t : f.tensors()) {
    const bool first = t.name.find("encoder.layer.1.") == std::string::npos &&
                       t.name.find("classifier") == std::string::npos;
    (first ? a : b).add(t.name, t.dtype, t.shape, t.data, t.bytes);
    index["weight_map"][t.name] =
        first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  a.write(dir / "model-00001-of-00002.safetensors");
  b.write(dir / "model-00002-of-00002.safetensors");
  if (edit_index) edit_index(index);
  write_file(dir / "model.safetensors.index.json", index.dump(2));
  return dir;
}

TEST(SafetensorsWeightStore, SingleFile) {
  const fs::path dir = shared_dir() / "models" / "tiny-random-bert";
  auto store = WeightStore::open(dir);
  EXPECT_FALSE(store.sharded());
  EXPECT_EQ(store.source(), dir / "model.safetensors");
  EXPECT_EQ(store.names().size(), 41u);
  ASSERT_NE(store.find("classifier.weight"), nullptr);
  EXPECT_EQ(store.file_of("classifier.weight"), dir / "model.safetensors");
  EXPECT_EQ(store.find("missing"), nullptr);
  expect_error([&] { store.file_of("missing"); }, {"'missing'"});
  store.close();
  EXPECT_EQ(store.find("classifier.weight"), nullptr);
  EXPECT_TRUE(store.files().empty());
}

TEST(SafetensorsWeightStore, ShardedLooksUpAcrossShards) {
  const fs::path dir = make_sharded("ws_sharded");
  const auto store = WeightStore::open(dir);
  const auto whole = SafetensorsFile::open(model_file("tiny-random-bert"));
  EXPECT_TRUE(store.sharded());
  EXPECT_EQ(store.files().size(), 2u);
  EXPECT_EQ(store.names(), whole.names());
  for (const auto& t : whole.tensors()) {
    const TensorView* s = store.find(t.name);
    ASSERT_NE(s, nullptr) << t.name;
    ASSERT_EQ(s->bytes, t.bytes);
    EXPECT_EQ(std::memcmp(s->data, t.data, t.bytes), 0) << t.name;
  }
  EXPECT_EQ(store.file_of("classifier.bias"), dir / "model-00002-of-00002.safetensors");
  EXPECT_EQ(store.file_of("bert.pooler.dense.bias"), dir / "model-00001-of-00002.safetensors");
}

TEST(SafetensorsWeightStore, ShardedIndexPointingToMissingShard) {
  const fs::path dir = make_sharded("ws_missing_shard", [](nlohmann::json& j) {
    j["weight_map"]["classifier.bias"] = "model-00003-of-00002.safetensors";
  });
  expect_error([&] { WeightStore::open(dir); },
               {(dir / "model.safetensors.index.json").string(),
                "shard 'model-00003-of-00002.safetensors'", "classifier.bias", "does not exist"});
}

TEST(SafetensorsWeightStore, ShardedIndexErrors) {
  const fs::path wrong = make_sharded("ws_wrong_shard", [](nlohmann::json& j) {
    j["weight_map"]["classifier.bias"] = "model-00001-of-00002.safetensors";
  });
  expect_error([&] { WeightStore::open(wrong); },
               {"'classifier.bias'", "model-00001-of-00002.safetensors", "does not contain it"});

  const fs::path escape = make_sharded("ws_escape", [](nlohmann::json& j) {
    j["weight_map"]["classifier.bias"] = "../model.safetensors";
  });
  expect_error([&] { WeightStore::open(escape); },
               {"'../model.safetensors'", "inside the model folder"});

  const fs::path no_map =
      make_sharded("ws_nomap", [](nlohmann::json& j) { j.erase("weight_map"); });
  expect_error([&] { WeightStore::open(no_map); }, {"weight_map"});

  // The same tensor stored in both shards.
  const fs::path both = make_sharded("ws_both");
  {
    const auto f = SafetensorsFile::open(both / "model-00002-of-00002.safetensors");
    const auto whole = SafetensorsFile::open(model_file("tiny-random-bert"));
    SafetensorsWriter w;
    for (const auto& t : f.tensors()) w.add(t.name, t.dtype, t.shape, t.data, t.bytes);
    const TensorView* extra = whole.find("bert.pooler.dense.bias");
    w.add(extra->name, extra->dtype, extra->shape, extra->data, extra->bytes);
    w.write(both / "model-00002-of-00002.safetensors");
  }
  expect_error([&] { WeightStore::open(both); },
               {"'bert.pooler.dense.bias'", "appears in both", "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors"});

  // A name listed twice in weight_map (JSON parsers would silently keep the last).
  const fs::path dup = temp_dir("ws_dup_key");
  fs::copy_file(model_file("tiny-random-bert"), dup / "model-00001-of-00001.safetensors");
  write_file(dup / "model.safetensors.index.json",
             R"({"weight_map": {"classifier.bias": "model-00001-of-00001.safetensors",)"
             R"( "classifier.bias": "model-00001-of-00001.safetensors"}})");
  expect_error([&] { WeightStore::open(dup); }, {"'classifier.bias' appears twice"});
}

TEST(SafetensorsWeightStore, PytorchBinOnlyFolder) {
  // pytorch_model.bin is read when there is no safetensors file (test_torch_checkpoint.cpp
  // covers real ones); a broken one is reported as such.
  const fs::path dir = temp_dir("ws_pt_only");
  write_file(dir / "pytorch_model.bin", "PK\x03\x04 not really a zip");
  expect_error([&] { WeightStore::open(dir); },
               {(dir / "pytorch_model.bin").string(), "truncated or not a zip archive"});
  const fs::path sharded = temp_dir("ws_pt_sharded");
  write_file(sharded / "pytorch_model.bin.index.json", "{}");
  expect_error([&] { WeightStore::open(sharded); },
               {"pytorch_model.bin.index.json", "missing or non-object 'weight_map'"});
}

TEST(SafetensorsWeightStore, EmptyAndMissingFolder) {
  const fs::path dir = temp_dir("ws_empty");
  expect_error([&] { WeightStore::open(dir); }, {dir.string(), "no weights", "model.safetensors"});
  expect_error([&] { WeightStore::open(dir / "nowhere"); },
               {(dir / "nowhere").string(), "does not exist"});
  write_file(dir / "file.txt", "x");
  expect_error([&] { WeightStore::open(dir / "file.txt"); }, {"not a folder"});
}

TEST(SafetensorsWeightStore, CorruptSingleFileNamesTheFile) {
  const fs::path dir = temp_dir("ws_corrupt");
  write_file(dir / "model.safetensors", "short");
  expect_error([&] { WeightStore::open(dir); }, {(dir / "model.safetensors").string(), "5 bytes"});
}

}  // namespace
}  // namespace encore::io

// libFuzzer target: arbitrary bytes as a model folder's config.json; bytes after the first
// NUL (when there is one) become 1_Pooling/config.json.
//
// Expected outcomes: EncoderConfig::load throws encore::Error, or it returns a config that
// satisfies the invariants the weight loader and runtime rely on. A crash, a sanitizer
// report, an exception of any other type, or a broken invariant is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "encore/error.hpp"
#include "fuzz_common.hpp"
#include "model/encoder_config.hpp"

namespace {

namespace fs = std::filesystem;
using encore_fuzz::fail;

const fs::path& model_dir() {
  static const fs::path dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "encore_fuzz_config_XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) fail("mkdtemp failed");
    fs::create_directories(fs::path(tmpl) / "1_Pooling");
    return fs::path(tmpl);
  }();
  return dir;
}

void write(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("cannot write the fuzz input file");
}

void check(const encore::EncoderConfig& c) {
  if (c.model_type != "bert") fail("accepted a model_type other than bert");
  if (c.hidden_size <= 0 || c.num_attention_heads <= 0 || c.num_hidden_layers <= 0 ||
      c.intermediate_size <= 0 || c.vocab_size <= 0 || c.max_position_embeddings <= 0 ||
      c.type_vocab_size <= 0)
    fail("non-positive dimension accepted");
  if (c.hidden_size % c.num_attention_heads != 0) fail("hidden_size not divisible by heads");
  if (c.head_dim() * c.num_attention_heads != c.hidden_size) fail("head_dim inconsistent");
  if (!(c.layer_norm_eps > 0)) fail("non-positive layer_norm_eps");
  if (c.num_labels < 0 || static_cast<std::size_t>(c.num_labels) != c.id2label.size())
    fail("num_labels differs from id2label");
  if (c.pad_token_id && (*c.pad_token_id < -c.vocab_size || *c.pad_token_id >= c.vocab_size))
    fail("pad_token_id out of range");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto nul = bytes.find('\0');
  const fs::path& dir = model_dir();
  write(dir / "config.json", bytes.substr(0, nul));
  std::error_code ec;
  if (nul == std::string_view::npos)
    fs::remove(dir / "1_Pooling" / "config.json", ec);
  else
    write(dir / "1_Pooling" / "config.json", bytes.substr(nul + 1));
  try {
    check(encore::EncoderConfig::load(dir));
  } catch (const encore::Error&) {
    // expected for malformed input
  } catch (const std::exception& e) {
    encore_fuzz::unexpected_exception(e);
  }
  return 0;
}

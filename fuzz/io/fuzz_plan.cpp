// libFuzzer target: arbitrary bytes as a plan's encore-plan.json (beside a small fixed
// model.safetensors). "@BYTES@" and "@SUM@" in the input are replaced by the weights file's
// real size and checksum, so the fuzzer also reaches manifests that pass the integrity check.
//
// Expected outcomes: quant::read_plan throws encore::Error, or it returns a manifest that
// satisfies the invariants the loader relies on. A crash, a sanitizer report, an exception of
// any other type, or a broken invariant is a bug.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "encore/error.hpp"
#include "fuzz_common.hpp"
#include "quant/plan.hpp"

namespace {

namespace fs = std::filesystem;
using encore_fuzz::fail;

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("cannot write the fuzz input file");
}

struct Dir {
  fs::path path;
  std::string bytes, sum;
};

const Dir& plan_dir() {
  static const Dir dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "encore_fuzz_plan_XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) fail("mkdtemp failed");
    Dir d{tmpl, {}, {}};
    write(d.path / "model.safetensors", std::string(1000, 'w'));  // only its size and checksum matter
    d.bytes = std::to_string(fs::file_size(d.path / "model.safetensors"));
    d.sum = encore::quant::file_checksum(d.path / "model.safetensors");
    return d;
  }();
  return dir;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

void check(const encore::quant::PlanManifest& m) {
  using encore::kernels::LinearPrecision;
  if (m.version != encore::quant::kPlanVersion) fail("accepted another plan version");
  const bool is_static = m.precision == encore::Precision::Int8Static;
  for (const auto& l : m.layers) {
    if (l.precision != LinearPrecision::FP32 && l.precision != LinearPrecision::BF16 &&
        l.precision != LinearPrecision::Int8)
      fail("layer precision out of range");
    if (l.input_ranges && l.precision != LinearPrecision::Int8) fail("ranges on a non-INT8 layer");
    if (l.precision == LinearPrecision::Int8 && is_static != l.input_ranges.has_value())
      fail("INT8 layer ranges do not match the plan's mode");
    if (l.input_ranges)
      for (const auto& [lo, hi] : *l.input_ranges)
        if (!std::isfinite(lo) || !std::isfinite(hi) || lo > 0 || hi < 0 || !(hi > lo)) fail("bad range accepted");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Dir& d = plan_dir();
  std::string text(reinterpret_cast<const char*>(data), size);
  replace_all(text, "@BYTES@", d.bytes);
  replace_all(text, "@SUM@", d.sum);
  write(d.path / encore::quant::kPlanFile, text);
  try {
    check(encore::quant::read_plan(d.path));
  } catch (const encore::Error&) {
    // expected for malformed input
  } catch (const std::exception& e) {
    encore_fuzz::unexpected_exception(e);
  }
  return 0;
}

// libFuzzer target: arbitrary bytes as a PyTorch checkpoint (torch zip, legacy torch.save,
// or anything else), read in memory through TorchCheckpoint::parse, and the same bytes as
// a bare pickle through the restricted VM.
//
// Expected outcomes: encore::Error, or a checkpoint whose tensors are sorted, findable,
// sized numel * dtype size, readable to the last byte (the input is libFuzzer's exact-size
// heap copy, so ASan catches any view that strays outside it) and convertible to float32
// when floating. A crash, a sanitizer report, a leak, a hang, an exception of any other
// type or a broken invariant is a bug. No input may execute anything: the VM has no way to.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "encore/error.hpp"
#include "fuzz_common.hpp"
#include "io/pickle.hpp"
#include "io/torch_checkpoint.hpp"

namespace {

using encore::io::TorchCheckpoint;
using encore_fuzz::fail;

void check(const TorchCheckpoint& c) {
  const auto names = c.names();
  for (std::size_t i = 1; i < names.size(); ++i)
    if (!(names[i - 1] < names[i])) fail("names() not strictly sorted");
  for (const auto& t : c.tensors()) {
    if (c.find(t.name) != &t) fail("find() does not return the listed tensor");
    if (t.numel() < 0) fail("negative numel");
    if (t.bytes != static_cast<std::size_t>(t.numel()) * encore::io::dtype_size(t.dtype))
      fail("bytes != numel * dtype size");
    unsigned sum = 0;
    for (std::size_t i = 0; i < t.bytes; ++i) sum += static_cast<unsigned>(t.data[i]);
    (void)sum;
    if (encore::io::is_floating(t.dtype)) {
      const std::vector<float> v = encore::io::to_float32(t);
      if (v.size() != static_cast<std::size_t>(t.numel())) fail("to_float32 size mismatch");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    // Alternate the DataParallel prefix option on the input's length.
    TorchCheckpoint c = TorchCheckpoint::parse(bytes, "fuzz.bin", {(size & 1) != 0});
    check(c);
    c.close();
    if (c.is_open() || !c.tensors().empty()) fail("close() left state behind");
  } catch (const encore::Error&) {
    // expected for malformed or refused input
  } catch (const std::exception& e) {
    encore_fuzz::unexpected_exception(e);
  }
  try {
    const auto p = encore::io::pickle::unpickle(bytes, "fuzz.pkl");
    if (p.end_offset() == 0 || p.end_offset() > size) fail("end_offset outside the input");
  } catch (const encore::Error&) {
  } catch (const std::exception& e) {
    encore_fuzz::unexpected_exception(e);
  }
  return 0;
}

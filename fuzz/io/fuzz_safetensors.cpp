// libFuzzer target: arbitrary bytes as a .safetensors file.
//
// Expected outcomes: SafetensorsFile::open throws encore::Error, or it succeeds and then
// every tensor lies inside the file, every float tensor converts, and the file survives a
// SafetensorsWriter round trip unchanged. A crash, a sanitizer report, an exception of any
// other type, or a round-trip difference is a bug.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "encore/error.hpp"
#include "fuzz_common.hpp"
#include "io/safetensors.hpp"

namespace {

using encore::io::SafetensorsFile;
using encore_fuzz::fail;

// The bytes go into an in-memory file (no disk traffic); open() reaches it by path.
struct MemFile {
  int fd;
  std::string path;
  explicit MemFile(const char* name) : fd(::memfd_create(name, MFD_CLOEXEC)) {
    if (fd < 0) fail("memfd_create failed");
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  void set(const void* data, std::size_t size) const {
    if (::ftruncate(fd, 0) != 0) fail("ftruncate failed");
    for (std::size_t done = 0; done < size;) {
      const ssize_t w = ::pwrite(fd, static_cast<const char*>(data) + done, size - done,
                                 static_cast<off_t>(done));
      if (w <= 0) fail("pwrite failed");
      done += static_cast<std::size_t>(w);
    }
  }
};

void check_file(const SafetensorsFile& f, std::size_t file_size) {
  const auto names = f.names();
  for (std::size_t i = 1; i < names.size(); ++i)
    if (!(names[i - 1] < names[i])) fail("names() not strictly sorted");
  for (const auto& t : f.tensors()) {
    if (f.find(t.name) != &t) fail("find() does not return the listed tensor");
    if (t.numel() < 0) fail("negative numel");
    if (t.bytes != static_cast<std::size_t>(t.numel()) * encore::io::dtype_size(t.dtype))
      fail("bytes != numel * dtype size");
    if (t.bytes > file_size) fail("tensor larger than the file");
    // Touch every byte: a view outside the mapping faults here.
    unsigned sum = 0;
    for (std::size_t i = 0; i < t.bytes; ++i) sum += static_cast<unsigned>(t.data[i]);
    (void)sum;
    if (encore::io::is_floating(t.dtype)) {
      const std::vector<float> v = encore::io::to_float32(t);
      if (v.size() != static_cast<std::size_t>(t.numel())) fail("to_float32 size mismatch");
    } else {
      bool threw = false;
      try {
        (void)encore::io::to_float32(t);
      } catch (const encore::Error&) {
        threw = true;
      }
      if (!threw) fail("to_float32 accepted an integer tensor");
    }
  }
}

void round_trip(const SafetensorsFile& f) {
  encore::io::SafetensorsWriter w;
  for (const auto& t : f.tensors()) w.add(t.name, t.dtype, t.shape, t.data, t.bytes);
  for (const auto& [k, v] : f.metadata()) w.metadata(k, v);
  const std::string bytes = w.serialize();

  static const MemFile second("fuzz_safetensors_rt");
  second.set(bytes.data(), bytes.size());
  SafetensorsFile g = [&] {
    try {
      return SafetensorsFile::open(second.path);
    } catch (const encore::Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      fail("the reader rejects what the writer wrote");
    }
  }();
  if (g.metadata() != f.metadata()) fail("round trip changed the metadata");
  if (g.tensors().size() != f.tensors().size()) fail("round trip changed the tensor count");
  for (std::size_t i = 0; i < f.tensors().size(); ++i) {
    const auto &a = f.tensors()[i], &b = g.tensors()[i];
    if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || a.bytes != b.bytes ||
        (a.bytes && std::memcmp(a.data, b.data, a.bytes) != 0))
      fail("round trip changed a tensor");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const MemFile input("fuzz_safetensors");
  input.set(data, size);
  try {
    SafetensorsFile f = SafetensorsFile::open(input.path);
    check_file(f, size);
    round_trip(f);
    f.close();
    if (f.is_open() || !f.tensors().empty()) fail("close() left state behind");
  } catch (const encore::Error&) {
    // expected for malformed input
  } catch (const std::exception& e) {
    encore_fuzz::unexpected_exception(e);
  }
  return 0;
}

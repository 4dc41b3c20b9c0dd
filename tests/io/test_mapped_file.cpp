// io::MappedFile: contents, empty files, the errors it names, moves, and that no mapping
// outlives its owner, including a loader that throws half-way (checked in /proc/self/maps).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include "../test_support.hpp"
#include "encore/error.hpp"
#include "io/mapped_file.hpp"
#include "io/safetensors.hpp"
#include "io/torch_checkpoint.hpp"

namespace encore::io {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::temp_dir;
using test::write_file;

// How many mappings of `path` this process holds.
int mappings_of(const fs::path& path) {
  std::ifstream maps("/proc/self/maps");
  const std::string name = fs::canonical(path).string();
  int n = 0;
  for (std::string line; std::getline(maps, line);)
    if (line.size() >= name.size() &&
        line.compare(line.size() - name.size(), name.size(), name) == 0)
      ++n;
  return n;
}

#define REQUIRE_PROC_MAPS() \
  if (!fs::exists("/proc/self/maps")) GTEST_SKIP() << "no /proc/self/maps to count mappings in"

TEST(MappedFile, MapsTheWholeFileAndUnmapsOnDestruction) {
  REQUIRE_PROC_MAPS();
  const fs::path p = temp_dir("mapped_file") / "data.bin";
  write_file(p, "hello, mapping");
  {
    const MappedFile m = MappedFile::open(p, "test file");
    ASSERT_EQ(m.size(), 14u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), m.size()), "hello, mapping");
    EXPECT_EQ(mappings_of(p), 1);
  }
  EXPECT_EQ(mappings_of(p), 0);
}

TEST(MappedFile, MovesTransferTheMappingAndAssignmentReleasesTheOldOne) {
  REQUIRE_PROC_MAPS();
  const fs::path dir = temp_dir("mapped_file_move");
  write_file(dir / "a.bin", "aaaa");
  write_file(dir / "b.bin", "bbbbbbbb");
  MappedFile a = MappedFile::open(dir / "a.bin", "test file");
  MappedFile moved(std::move(a));
  EXPECT_EQ(a.data(),
            nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(moved.size(), 4u);
  moved = MappedFile::open(dir / "b.bin", "test file");
  EXPECT_EQ(moved.size(), 8u);
  EXPECT_EQ(mappings_of(dir / "a.bin"), 0);
  EXPECT_EQ(mappings_of(dir / "b.bin"), 1);
  moved.reset();
  EXPECT_EQ(moved.data(), nullptr);
  EXPECT_EQ(mappings_of(dir / "b.bin"), 0);
}

TEST(MappedFile, AnEmptyFileIsAnEmptyMapping) {
  const fs::path p = temp_dir("mapped_file_empty") / "empty.bin";
  write_file(p, "");
  const MappedFile m = MappedFile::open(p, "test file");
  EXPECT_EQ(m.data(), nullptr);
  EXPECT_EQ(m.size(), 0u);
  EXPECT_TRUE(m.bytes().empty());
}

TEST(MappedFile, ErrorsNameTheFileAndWhatWasExpected) {
  const fs::path dir = temp_dir("mapped_file_errors");
  expect_error([&] { MappedFile::open(dir / "missing.bin", "weights file"); },
               {"weights file", "missing.bin", "does not exist"});
  expect_error([&] { MappedFile::open(dir, "weights file"); },
               {dir.string(), "is a directory", "expected a weights file"});
  expect_error([&] { MappedFile::open("/dev/null", "weights file"); },
               {"/dev/null", "not a regular file"});
}

// A loader that refuses a file half-way must not leave the file mapped.
TEST(MappedFile, LoadersThatRefuseAFileLeaveNoMappingBehind) {
  REQUIRE_PROC_MAPS();
  const fs::path dir = temp_dir("mapped_file_loaders");
  const fs::path bad_st = dir / "bad.safetensors";
  std::string header = "{not json";
  std::string st(8, '\0');
  st[0] = static_cast<char>(header.size());
  write_file(bad_st, st + header);
  EXPECT_THROW(SafetensorsFile::open(bad_st), Error);
  EXPECT_EQ(mappings_of(bad_st), 0);

  const fs::path bad_pt = dir / "bad.bin";
  write_file(bad_pt, "PK\x03\x04 this is not a complete zip archive");
  EXPECT_THROW(TorchCheckpoint::open(bad_pt), Error);
  EXPECT_EQ(mappings_of(bad_pt), 0);

  expect_error([&] { TorchCheckpoint::open(dir / "missing.bin"); },
               {"PyTorch checkpoint", "missing.bin", "does not exist"});
  write_file(dir / "empty.bin", "");
  expect_error([&] { TorchCheckpoint::open(dir / "empty.bin"); },
               {"empty.bin", "empty file, not a PyTorch checkpoint"});
}

}  // namespace
}  // namespace encore::io

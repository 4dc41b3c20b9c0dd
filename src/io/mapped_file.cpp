#include "io/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "encore/error.hpp"

namespace encore::io {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

MappedFile MappedFile::open(const std::filesystem::path& path, std::string_view what) {
  const std::string where = path.string();
  Fd fd;  // the mapping keeps the file alive; the descriptor closes on return
  fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd.fd < 0) {
    if (errno == ENOENT) throw Error(std::string(what) + " '" + where + "' does not exist");
    throw Error("cannot open " + std::string(what) + " '" + where + "': " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) throw Error("cannot stat '" + where + "': " + std::strerror(errno));
  if (S_ISDIR(st.st_mode))
    throw Error("'" + where + "' is a directory, expected a " + std::string(what));
  if (!S_ISREG(st.st_mode)) throw Error("'" + where + "' is not a regular file");
  MappedFile f;
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) return f;  // mmap refuses a zero length; the caller reports the empty file
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.fd, 0);
  if (m == MAP_FAILED) throw Error("cannot memory-map '" + where + "': " + std::strerror(errno));
  f.data_ = static_cast<const std::byte*>(m);
  f.size_ = size;
  return f;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  reset();
}

void MappedFile::reset() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace encore::io

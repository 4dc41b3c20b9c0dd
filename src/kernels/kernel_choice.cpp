#include "kernels/kernel_choice.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/cache_dir.hpp"

#include "core/cpu_features.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace encore::kernels {
namespace {

std::filesystem::path cache_file() { return encore::cache_file("kernels.json"); }

// One section per CPU model: a winner on one CPU says nothing of another. Not per thread
// count: a layout changes the last bits of results, which must not depend on the threads.
std::string section() {
  const CpuFeatures& f = cpu_features();
  return (f.model_name.empty() ? f.vendor : f.model_name) + "/" + f.isa_level();
}

nlohmann::json read_cache() {
  std::ifstream in(cache_file());
  if (!in) return nlohmann::json::object();
  try {
    auto j = nlohmann::json::parse(in);
    return j.is_object() ? j : nlohmann::json::object();
  } catch (const std::exception&) {
    return nlohmann::json::object();
  }
}

void write_cache(const nlohmann::json& j) {
  const auto path = cache_file();
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  // Write then rename: concurrent processes never read half a file.
  const auto tmp = path.string() + "." + std::to_string(::getpid()) + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) return;  // a read-only cache only costs timing again next time
    out << j.dump(2) << "\n";
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

// Holds an exclusive lock on the cache for its lifetime: processes that start together (a
// test suite, several servers) time a shape once and then agree on its winner, because a
// layout can change the last bits of the results.
class CacheLock {
 public:
  CacheLock() {
    const auto path = cache_file();
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    fd_ = ::open((path.string() + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      fd_ = -1;  // no lock: only the agreement across processes is lost
    }
  }
  ~CacheLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  CacheLock(const CacheLock&) = delete;
  CacheLock& operator=(const CacheLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace

KernelChoices& KernelChoices::instance() {
  static KernelChoices k;
  return k;
}

std::string KernelChoices::choose(const std::string& op, const std::vector<std::string>& candidates,
                                  const std::function<double(const std::string&)>& score,
                                  const std::string& forced) {
  if (!forced.empty()) return forced;
  if (candidates.size() == 1) return candidates.front();
  const std::string key = section() + "|" + op;
  std::lock_guard<std::mutex> lock(mutex_);
  auto is_candidate = [&](const std::string& c) {
    return std::find(candidates.begin(), candidates.end(), c) != candidates.end();
  };
  if (auto it = decided_.find(key); it != decided_.end() && is_candidate(it->second))
    return it->second;
  const CacheLock file_lock;
  nlohmann::json cache = read_cache();
  if (!ignore_file_ && cache.contains(section()) && cache[section()].contains(op)) {
    const auto& v = cache[section()][op];
    if (v.is_string() && is_candidate(v.get<std::string>()))
      return decided_[key] = v.get<std::string>();
  }
  std::string best;
  double best_score = std::numeric_limits<double>::infinity();
  for (const auto& c : candidates) {
    const double s = score(c);
    if (s < best_score) {
      best_score = s;
      best = c;
    }
  }
  cache[section()][op] = best;
  write_cache(cache);
  return decided_[key] = best;
}

void KernelChoices::retune() {
  std::lock_guard<std::mutex> lock(mutex_);
  decided_.clear();
  ignore_file_ = true;
}

std::map<std::string, std::string> KernelChoices::decisions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return decided_;
}

}  // namespace encore::kernels

// Kernel variants chosen by measurement, not by a fixed rule: the first time an operation
// shape runs on a CPU model, its candidates are timed on that shape and the winner is cached
// per CPU model ($XDG_CACHE_HOME or ~/.cache/encore/kernels.json), like the roofline. Within
// a process a key is decided once, and processes sharing a cache take turns (a file lock), so
// every load agrees: a choice may change the last bits of results, never their dependence on
// the batch or the thread count.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace encore::kernels {

class KernelChoices {
 public:
  static KernelChoices& instance();

  // The winner for `op` (e.g. "linear.fp32.768x3072"): the cached one if it is still a
  // candidate, else the candidate with the lowest `score` (timed now), which is then cached.
  // `forced`, when set, wins without timing (environment overrides for A/B runs and tests).
  std::string choose(const std::string& op, const std::vector<std::string>& candidates,
                     const std::function<double(const std::string&)>& score,
                     const std::string& forced = "");

  // Forget cached winners (this process's and the file's) so the next choose() times again:
  // `encore tune`.
  void retune();
  // Decisions this process has made or read: op -> winner.
  std::map<std::string, std::string> decisions() const;

 private:
  KernelChoices() = default;
  mutable std::mutex mutex_;
  std::map<std::string, std::string> decided_;
  bool ignore_file_ = false;
};

}  // namespace encore::kernels

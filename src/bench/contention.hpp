// Competing load for `bench --contend N`: N child processes that spin on the CPU for as long
// as the object lives (a server's CPU is always shared: HTTP and tokenizer threads, other pods,
// noisy neighbours). Children die with the parent (PR_SET_PDEATHSIG), so a killed bench leaves
// no spinner behind.
#pragma once

#include <sys/types.h>

#include <vector>

namespace encore::bench {

class Contention {
 public:
  explicit Contention(int processes);
  ~Contention();
  Contention(const Contention&) = delete;
  Contention& operator=(const Contention&) = delete;

  int processes() const { return static_cast<int>(children_.size()); }

 private:
  void stop();
  std::vector<pid_t> children_;
};

}  // namespace encore::bench

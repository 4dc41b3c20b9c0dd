#include "runtime/threads.hpp"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

#include <omp.h>

namespace encore::runtime {
namespace {

// cgroup v2 cpu.max ("max 100000" or "200000 100000"), else v1 cfs quota/period.
int cgroup_cpu_limit() {
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string quota;
  long period = 0;
  if (v2 >> quota >> period && quota != "max" && period > 0) {
    return std::max(1, static_cast<int>(std::ceil(std::stod(quota) / static_cast<double>(period))));
  }
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  long q = -1, p = 0;
  if (q1 >> q && p1 >> p && q > 0 && p > 0)
    return std::max(1, static_cast<int>(std::ceil(static_cast<double>(q) / static_cast<double>(p))));
  return 0;
}

}  // namespace

int available_cpus() {
  int n = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = omp_get_num_procs();
  if (const int limit = cgroup_cpu_limit(); limit > 0) n = std::min(n, limit);
  return std::max(n, 1);
}

int configure_threads(int requested) {
  const int n = requested > 0 ? requested : available_cpus();
  omp_set_num_threads(n);
  return n;
}

}  // namespace encore::runtime

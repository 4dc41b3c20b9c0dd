#include "runtime/cpu_share.hpp"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/env.hpp"

namespace encore::runtime {
namespace {

constexpr double kWindowS = 0.2;

double clock_s(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Sum of the busy ticks of the CPUs in our affinity set ("cpuN user nice system idle iowait
// irq softirq steal ..."), in seconds.
double affinity_busy_s() {
  cpu_set_t set;
  const bool have_set = sched_getaffinity(0, sizeof(set), &set) == 0;
  std::FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return 0;
  char line[512];
  unsigned long long busy = 0;
  while (std::fgets(line, sizeof(line), f)) {
    if (std::strncmp(line, "cpu", 3) != 0) break;  // the cpu lines come first
    int cpu = -1;
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                       steal = 0;
    if (std::sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &user, &nice,
                    &system, &idle, &iowait, &irq, &softirq, &steal) < 9)
      continue;  // the aggregate "cpu " line
    if (have_set && (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &set))) continue;
    busy += user + nice + system + irq + softirq + steal;
  }
  std::fclose(f);
  static const long hz = std::max(1L, sysconf(_SC_CLK_TCK));
  return static_cast<double>(busy) / static_cast<double>(hz);
}

}  // namespace

int threads_for_share(int configured, double others) {
  if (configured <= 1) return std::max(configured, 1);
  const int taken = static_cast<int>(std::ceil(std::max(0.0, others - 0.4)));
  return std::clamp(configured - taken, 1, configured);
}

double others_busy(const CpuShareSample& before, const CpuShareSample& after) {
  const double wall = after.wall_s - before.wall_s;
  if (wall <= 0) return 0;
  return std::max(0.0, ((after.busy_s - before.busy_s) - (after.self_s - before.self_s)) / wall);
}

CpuShareSample sample_cpu_share() {
  CpuShareSample s;
  s.wall_s = clock_s(CLOCK_MONOTONIC);
  s.self_s = clock_s(CLOCK_PROCESS_CPUTIME_ID);
  s.busy_s = affinity_busy_s();
  return s;
}

int threads_now(int configured) {
  if (configured <= 1) return std::max(configured, 1);
  static const bool adaptive = !env_off("ENCORE_ADAPTIVE_THREADS");
  if (!adaptive) return configured;
  static std::mutex mutex;
  static CpuShareSample last;
  static std::atomic<double> last_wall{-1.0};
  static std::atomic<double> others{0.0};
  const double now = clock_s(CLOCK_MONOTONIC);
  if (now - last_wall.load(std::memory_order_relaxed) >= kWindowS) {
    std::unique_lock<std::mutex> lock(mutex, std::try_to_lock);  // one caller samples
    if (lock.owns_lock() && now - last_wall.load(std::memory_order_relaxed) >= kWindowS) {
      const CpuShareSample s = sample_cpu_share();
      if (last_wall.load(std::memory_order_relaxed) >= 0) others.store(others_busy(last, s));
      last = s;
      last_wall.store(s.wall_s, std::memory_order_relaxed);
    }
  }
  return threads_for_share(configured, others.load(std::memory_order_relaxed));
}

}  // namespace encore::runtime

// How many of our CPUs other processes are using right now, and so how many threads a forward
// should run on. Every parallel region of a forward waits for its slowest thread; when another
// process keeps one of two cores busy, one of our threads is descheduled for whole time slices
// and each of the ~100 regions per forward waits for it (measured: INT8 1x16 went from 5 ms to
// 449 ms on a 2-core Xeon). Running on the CPUs left free avoids that wait.
//
// The share is measured, not guessed: busy time of the CPUs in our affinity set (/proc/stat,
// steal included) minus this process's own CPU time, over windows of at least 200 ms.
#pragma once

#include <cstdint>

namespace encore::runtime {

struct CpuShareSample {
  double busy_s = 0;  // busy CPU seconds of the CPUs we may run on, since boot
  double self_s = 0;  // this process's CPU seconds
  double wall_s = 0;  // monotonic clock
};

// Threads to use out of `configured` when other processes keep `others` CPUs busy: a CPU
// counts as taken from 0.4 busy on (one competing process at its fair share on 2 cores shows
// about 0.67). Never below 1.
int threads_for_share(int configured, double others);

// Busy CPUs of other processes between two samples (>= 0).
double others_busy(const CpuShareSample& before, const CpuShareSample& after);
CpuShareSample sample_cpu_share();

// The thread count for the next forward: `configured` reduced by the CPUs other processes
// used in the last window. Cheap (an atomic load) except once per window. ENCORE_ADAPTIVE_THREADS=0
// turns it off (always `configured`).
int threads_now(int configured);

}  // namespace encore::runtime

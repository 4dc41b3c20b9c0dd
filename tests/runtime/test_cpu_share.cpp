// Thread count under a shared CPU: the rule, the measurement, and a real competing process.
#include <gtest/gtest.h>

#include <cstdlib>

#include <unistd.h>

#include <chrono>
#include <thread>

#include "bench/contention.hpp"
#include "runtime/cpu_share.hpp"
#include "runtime/threads.hpp"

namespace encore::runtime {
namespace {

TEST(CpuShare, ThreadsForShare) {
  EXPECT_EQ(threads_for_share(2, 0.0), 2);
  EXPECT_EQ(threads_for_share(2, 0.35), 2);  // background noise keeps every thread
  EXPECT_EQ(threads_for_share(2, 0.67), 1);  // one spinner at its fair share of 2 cores
  EXPECT_EQ(threads_for_share(2, 1.0), 1);
  EXPECT_EQ(threads_for_share(2, 5.0), 1);  // never below one
  EXPECT_EQ(threads_for_share(4, 1.0), 3);
  EXPECT_EQ(threads_for_share(4, 2.2), 2);
  EXPECT_EQ(threads_for_share(1, 3.0), 1);
  EXPECT_EQ(threads_for_share(0, 0.0), 1);
}

TEST(CpuShare, OthersBusyIsTotalBusyMinusOurOwn) {
  const CpuShareSample a{10.0, 2.0, 100.0}, b{11.5, 2.5, 101.0};
  EXPECT_DOUBLE_EQ(others_busy(a, b), 1.0);
  const CpuShareSample c{10.1, 2.5, 101.0};  // ours exceeds the total (tick rounding): 0
  EXPECT_DOUBLE_EQ(others_busy(a, c), 0.0);
  EXPECT_DOUBLE_EQ(others_busy(a, a), 0.0);  // no time passed
}

// Two spinning processes started by bench::Contention are seen as other processes' load and
// are gone when the object is destroyed.
TEST(CpuShare, ACompetingProcessIsMeasuredAndThreadsDrop) {
  if (available_cpus() < 2) GTEST_SKIP() << "needs 2 CPUs";
  // ctest sets ENCORE_ADAPTIVE_THREADS=0 for the other tests (tests/CMakeLists.txt); this one
  // tests the adaptation, read on the first threads_now call of the process.
  unsetenv("ENCORE_ADAPTIVE_THREADS");
  {
    const bench::Contention contention(2);
    EXPECT_EQ(contention.processes(), 2);
    const CpuShareSample before = sample_cpu_share();
    threads_now(2);  // the first call only takes its baseline
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const double others = others_busy(before, sample_cpu_share());
    EXPECT_GE(others, 1.0) << "two spinners on " << available_cpus() << " CPUs";
    EXPECT_LT(threads_now(2), 2);
  }
}

}  // namespace
}  // namespace encore::runtime

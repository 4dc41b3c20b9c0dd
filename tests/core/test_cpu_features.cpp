// CPU features from cpuid + XCR0 agree with what the Linux kernel reports in /proc/cpuinfo
// (which lists a flag only when both the CPU and the kernel enable it).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "core/cpu_features.hpp"

namespace encore {
namespace {

struct ProcCpuinfo {
  std::string model_name;
  std::set<std::string> flags;
};

ProcCpuinfo proc_cpuinfo() {
  ProcCpuinfo p;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (p.model_name.empty() && line.rfind("model name", 0) == 0)
      p.model_name = line.substr(line.find(':') + 2);
    if (p.flags.empty() && line.rfind("flags", 0) == 0) {
      std::istringstream ss(line.substr(line.find(':') + 1));
      for (std::string f; ss >> f;) p.flags.insert(f);
    }
  }
  return p;
}

TEST(CpuFeatures, AgreeWithProcCpuinfo) {
  const ProcCpuinfo p = proc_cpuinfo();
  if (p.flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags here";
  const CpuFeatures& f = cpu_features();
  const std::pair<const char*, bool> checks[] = {{"avx2", f.avx2},
                                                 {"fma", f.fma},
                                                 {"f16c", f.f16c},
                                                 {"avx_vnni", f.avx_vnni},
                                                 {"avx512f", f.avx512f},
                                                 {"avx512bw", f.avx512bw},
                                                 {"avx512dq", f.avx512dq},
                                                 {"avx512vl", f.avx512vl},
                                                 {"avx512_vnni", f.avx512_vnni},
                                                 {"avx512_bf16", f.avx512_bf16},
                                                 {"avx512_fp16", f.avx512_fp16}};
  for (const auto& [flag, ours] : checks) EXPECT_EQ(ours, p.flags.count(flag) == 1) << flag;
  // AMX also needs this process's tile permission: ours implies the kernel's flag, and the
  // kernel's flag without ours must come with the reason.
  for (const auto& [flag, ours] :
       {std::pair{"amx_tile", f.amx_tile}, std::pair{"amx_bf16", f.amx_bf16},
        std::pair{"amx_int8", f.amx_int8}}) {
    if (ours) {
      EXPECT_EQ(p.flags.count(flag), 1u) << flag;
    }
    if (p.flags.count(flag) && !ours) {
      EXPECT_FALSE(f.amx_note.empty()) << flag;
    }
  }
  // The kernel copies the brand string once at boot; a hypervisor may show the guest another
  // one later (seen: kernel "AMD EPYC", cpuid "Oxide Virtual Turin-like Processor"). So outside
  // a VM they must be equal; inside one ours must still be a clean brand string.
  if (!p.model_name.empty() && !f.model_name.empty()) {
    if (p.flags.count("hypervisor") == 0) {
      EXPECT_EQ(f.model_name, p.model_name);
    }
    EXPECT_NE(f.model_name.front(), ' ');
    EXPECT_NE(f.model_name.back(), ' ');
    for (const char c : f.model_name) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << f.model_name;
  }
}

TEST(CpuFeatures, IsaLevelFollowsTheFeatures) {
  const CpuFeatures& f = cpu_features();
  const std::string level = f.isa_level();
  if (f.has_avx512_core() && f.avx2 && f.fma) {
    EXPECT_EQ(level, "x86-64-v4");
  }
  if (level == "x86-64-v4") {
    EXPECT_TRUE(f.has_avx512_core() && f.avx2);
  }
  if (level == "x86-64-v3") {
    EXPECT_TRUE(f.avx2 && f.fma && !f.has_avx512_core());
  }
  if (!f.avx2) {
    EXPECT_NE(level.find("x86-64"), std::string::npos);
  }
  // A feature needs its OS state: zmm-using features imply XCR0's AVX-512 state.
  if (f.avx512f) {
    EXPECT_TRUE(f.os_avx512);
  }
  if (f.amx_tile) {
    EXPECT_TRUE(f.os_amx);
  }
  const auto j = f.to_json();
  for (const char* k : {"vendor", "model_name", "isa_level", "features", "family", "model"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["features"].size(), f.names().size());
  EXPECT_EQ(f.summary().rfind(level, 0), 0u) << f.summary();
  // Read once: the same object every time.
  EXPECT_EQ(&cpu_features(), &f);
}

}  // namespace
}  // namespace encore

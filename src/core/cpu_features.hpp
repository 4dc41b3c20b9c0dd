// What this CPU can run, read once from cpuid and the OS (XSAVE state in XCR0, and on Linux
// the AMX tile-data permission, which a process must request before its first tile
// instruction). A feature counts only when both the CPU and the OS enable it: a CPU with
// AVX-512 under an OS that does not save zmm state cannot use it.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace encore {

struct CpuFeatures {
  std::string vendor;      // "GenuineIntel", "AuthenticAMD", ...
  std::string model_name;  // cpuid brand string
  int family = 0, model = 0, stepping = 0;

  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avx_vnni = false;  // VEX-encoded vpdpbusd (Alder Lake, Zen 5)
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512_vnni = false, avx512_bf16 = false, avx512_fp16 = false;
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;

  // OS state: ymm saved (XCR0 bits 1-2), zmm/opmask saved (5-7), AMX tiles saved (17-18)
  // and, on Linux, tile data permitted for this process (arch_prctl ARCH_REQ_XCOMP_PERM).
  bool os_avx = false, os_avx512 = false, os_amx = false;
  std::string amx_note;  // why AMX is off although the CPU has it, when that happens

  // The x86-64 micro-architecture level (psABI): "x86-64", "x86-64-v2", "-v3" or "-v4".
  std::string isa_level() const;
  // Usable extensions that matter for encore's kernels, lower case as in /proc/cpuinfo.
  std::vector<std::string> names() const;
  // "x86-64-v4 (avx2 fma ... amx_int8)"
  std::string summary() const;
  nlohmann::json to_json() const;

  // Convenience groupings the kernels test.
  bool has_avx512_core() const { return avx512f && avx512bw && avx512dq && avx512vl; }
};

// Read on first use (thread-safe), then cached for the process.
const CpuFeatures& cpu_features();

}  // namespace encore

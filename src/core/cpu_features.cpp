#include "core/cpu_features.hpp"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace encore {
namespace {

#if defined(__x86_64__) || defined(__i386__)
struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned sub = 0) {
  Regs r;
  if (!__get_cpuid_count(leaf, sub, &r.a, &r.b, &r.c, &r.d)) return {};
  return r;
}

bool bit(unsigned v, int n) {
  return (v >> n) & 1u;
}

unsigned long long xcr0() {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

// Linux gives AMX tile data only to processes that ask (since 5.16); without it the first
// tile instruction faults.
bool request_amx_permission(std::string& note) {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023, kXfeatureTileData = 18;
  unsigned long long permitted = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &permitted) == 0 &&
      bit(static_cast<unsigned>(permitted >> 16), 2))
    return true;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureTileData) == 0) return true;
  note = "the kernel refused AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM)";
  return false;
#else
  note = "no way to request AMX tile data on this OS";
  return false;
#endif
}

CpuFeatures read_features() {
  CpuFeatures f;
  const Regs r0 = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor, &r0.b, 4);
  std::memcpy(vendor + 4, &r0.d, 4);
  std::memcpy(vendor + 8, &r0.c, 4);
  f.vendor = vendor;
  const unsigned max_leaf = r0.a;

  const Regs r1 = cpuid(1);
  f.stepping = static_cast<int>(r1.a & 0xF);
  const int base_family = static_cast<int>((r1.a >> 8) & 0xF),
            base_model = static_cast<int>((r1.a >> 4) & 0xF);
  f.family = base_family == 0xF ? base_family + static_cast<int>((r1.a >> 20) & 0xFF) : base_family;
  f.model =
      base_family >= 0x6 ? base_model + (static_cast<int>((r1.a >> 16) & 0xF) << 4) : base_model;
  f.sse42 = bit(r1.c, 20) && bit(r1.c, 23);  // + popcnt
  f.fma = bit(r1.c, 12);
  f.f16c = bit(r1.c, 29);
  const bool osxsave = bit(r1.c, 27), cpu_avx = bit(r1.c, 28);

  const unsigned long long xcr = osxsave ? xcr0() : 0;
  f.os_avx = (xcr & 0x6) == 0x6;
  f.os_avx512 = f.os_avx && (xcr & 0xE0) == 0xE0;
  const bool os_tiles = (xcr & 0x60000) == 0x60000;
  f.avx = cpu_avx && f.os_avx;
  f.fma = f.fma && f.os_avx;
  f.f16c = f.f16c && f.os_avx;

  if (max_leaf >= 7) {
    const Regs r7 = cpuid(7, 0), r71 = cpuid(7, 1);
    f.bmi2 = bit(r7.b, 8);
    f.avx2 = f.os_avx && bit(r7.b, 5);
    f.avx_vnni = f.os_avx && bit(r71.a, 4);
    if (f.os_avx512) {
      f.avx512f = bit(r7.b, 16);
      f.avx512dq = bit(r7.b, 17);
      f.avx512bw = bit(r7.b, 30);
      f.avx512vl = bit(r7.b, 31);
      f.avx512_vnni = bit(r7.c, 11);
      f.avx512_fp16 = bit(r7.d, 23);
      f.avx512_bf16 = bit(r71.a, 5);
    }
    const bool cpu_amx = bit(r7.d, 24);
    if (cpu_amx) {
      if (!os_tiles) {
        f.amx_note = "the OS does not save AMX tile state (XCR0)";
      } else if (request_amx_permission(f.amx_note)) {
        f.os_amx = true;
        f.amx_tile = true;
        f.amx_bf16 = bit(r7.d, 22);
        f.amx_int8 = bit(r7.d, 25);
      }
    }
  }

  if (cpuid(0x80000000).a >= 0x80000004) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002 + i);
      std::memcpy(brand + 16 * i, &r, 16);
    }
    f.model_name = brand;
    const auto first = f.model_name.find_first_not_of(' ');
    const auto last = f.model_name.find_last_not_of(' ');
    f.model_name = first == std::string::npos ? "" : f.model_name.substr(first, last - first + 1);
  }
  return f;
}
#else
CpuFeatures read_features() {
  return {};
}
#endif

}  // namespace

std::string CpuFeatures::isa_level() const {
  if (!sse42) return "x86-64";
  if (!(avx2 && fma && bmi2 && f16c)) return "x86-64-v2";
  if (!has_avx512_core()) return "x86-64-v3";
  return "x86-64-v4";
}

std::vector<std::string> CpuFeatures::names() const {
  std::vector<std::string> n;
  const std::pair<const char*, bool> all[] = {{"avx2", avx2},
                                              {"fma", fma},
                                              {"f16c", f16c},
                                              {"avx_vnni", avx_vnni},
                                              {"avx512f", avx512f},
                                              {"avx512bw", avx512bw},
                                              {"avx512dq", avx512dq},
                                              {"avx512vl", avx512vl},
                                              {"avx512_vnni", avx512_vnni},
                                              {"avx512_bf16", avx512_bf16},
                                              {"avx512_fp16", avx512_fp16},
                                              {"amx_tile", amx_tile},
                                              {"amx_bf16", amx_bf16},
                                              {"amx_int8", amx_int8}};
  for (const auto& [name, on] : all)
    if (on) n.emplace_back(name);
  return n;
}

std::string CpuFeatures::summary() const {
  std::string s = isa_level() + " (";
  const auto n = names();
  for (std::size_t i = 0; i < n.size(); ++i) s += (i ? " " : "") + n[i];
  s += ")";
  if (!amx_note.empty()) s += "; AMX off: " + amx_note;
  return s;
}

nlohmann::json CpuFeatures::to_json() const {
  nlohmann::json j{{"vendor", vendor},    {"model_name", model_name}, {"family", family},
                   {"model", model},      {"stepping", stepping},     {"isa_level", isa_level()},
                   {"features", names()}, {"os_avx512", os_avx512},   {"os_amx", os_amx}};
  if (!amx_note.empty()) j["amx_note"] = amx_note;
  return j;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = read_features();
  return f;
}

}  // namespace encore

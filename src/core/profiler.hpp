// A per-operation profiler that writes Chrome's Trace Event Format (chrome://tracing,
// Perfetto). Off by default: an off profiler costs one predictable branch per operation.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace encore {

class Profiler {
 public:
  static Profiler& instance();

  void enable();
  bool enabled() const { return enabled_; }

  // Microseconds since the profiler was enabled.
  std::int64_t now_us() const;
  void record(std::string name, const char* category, std::int64_t start_us, std::int64_t end_us,
              nlohmann::json args);
  // {"traceEvents": [...]} with complete ("X") events, one tid per thread.
  void write_chrome_trace(const std::filesystem::path& path) const;
  std::size_t event_count() const;

 private:
  bool enabled_ = false;
  std::chrono::steady_clock::time_point origin_;
  mutable std::mutex mutex_;
  struct Event {
    std::string name;
    const char* category;
    std::int64_t start_us, end_us;
    int tid;
    nlohmann::json args;
  };
  std::vector<Event> events_;
};

// Records one complete event from construction to destruction when profiling is on.
class ProfileScope {
 public:
  // The event is named `name`, or "layer<index>.<name>" when index >= 0; the string is only
  // built when profiling is on.
  ProfileScope(const char* category, const char* name, int index = -1) {
    if (Profiler::instance().enabled()) {
      active_ = true;
      category_ = category;
      name_ = index >= 0 ? "layer" + std::to_string(index) + "." + name : name;
      start_ = Profiler::instance().now_us();
    }
  }
  ~ProfileScope() {
    if (active_) Profiler::instance().record(std::move(name_), category_, start_, Profiler::instance().now_us(), std::move(args_));
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

  bool active() const { return active_; }
  // Attach arguments (shapes, FLOPs) only when active: callers guard work with active().
  void set_args(nlohmann::json args) { args_ = std::move(args); }
  void add_arg(const char* key, nlohmann::json value) { args_[key] = std::move(value); }
  // Adds "gflops" computed from the elapsed time so far.
  void set_flops(double flops);

 private:
  bool active_ = false;
  const char* category_ = "";
  std::string name_;
  std::int64_t start_ = 0;
  nlohmann::json args_;
};

}  // namespace encore

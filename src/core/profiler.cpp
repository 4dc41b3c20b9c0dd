#include "core/profiler.hpp"

#include "core/cpu_features.hpp"

#include <fstream>
#include <thread>
#include <unordered_map>

#include "encore/error.hpp"

namespace encore {
namespace {

int thread_index() {
  static std::atomic<int> next{1};
  thread_local const int id = next++;
  return id;
}

}  // namespace

Profiler& Profiler::instance() {
  static Profiler p;
  return p;
}

void Profiler::enable() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!enabled_) origin_ = std::chrono::steady_clock::now();
  enabled_ = true;
}

std::int64_t Profiler::now_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - origin_)
      .count();
}

void Profiler::record(std::string name, const char* category, std::int64_t start_us,
                      std::int64_t end_us, nlohmann::json args) {
  const int tid = thread_index();
  std::lock_guard<std::mutex> lock(mutex_);
  events_.push_back({std::move(name), category, start_us, end_us, tid, std::move(args)});
}

std::size_t Profiler::event_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_.size();
}

void Profiler::write_chrome_trace(const std::filesystem::path& path) const {
  nlohmann::json events = nlohmann::json::array();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& e : events_) {
      nlohmann::json j{{"name", e.name}, {"cat", e.category}, {"ph", "X"},     {"ts", e.start_us},
                       {"dur", e.end_us - e.start_us},       {"pid", 1},     {"tid", e.tid}};
      if (!e.args.is_null()) j["args"] = e.args;
      events.push_back(std::move(j));
    }
  }
  nlohmann::json doc{{"traceEvents", std::move(events)}, {"displayTimeUnit", "ms"},
                     {"otherData", {{"producer", "encore"}, {"cpu", cpu_features().to_json()}}}};
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw Error("cannot write profile '" + path.string() + "'");
    out << doc.dump() << "\n";
    if (!out) throw Error("cannot write profile '" + path.string() + "'");
  }
  std::filesystem::rename(tmp, path);
}

void ProfileScope::set_flops(double flops) {
  if (!active_) return;
  const double us = static_cast<double>(std::max<std::int64_t>(Profiler::instance().now_us() - start_, 1));
  args_["gflop"] = flops / 1e9;
  args_["gflops_per_s"] = flops / us / 1e3;
}

}  // namespace encore

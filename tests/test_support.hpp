// Shared helpers for the test suite.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <numbers>
#include <random>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "encore/error.hpp"
#include "io/safetensors.hpp"
#include "kernels/activation.hpp"

// Asserts that `haystack` (a message) contains `needle`, printing the message otherwise.
#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << haystack

namespace encore::test {

// The activations in double precision, as the kernels' reference.
inline double reference_activation(kernels::Activation act, double v) {
  using kernels::Activation;
  switch (act) {
    case Activation::None: return v;
    case Activation::GeluErf: return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    case Activation::GeluTanh:
      return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (v + 0.044715 * v * v * v)));
    case Activation::Relu: return v > 0 ? v : 0.0;
    case Activation::Silu: return v / (1.0 + std::exp(-v));
    case Activation::Tanh: return std::tanh(v);
  }
  return v;
}

// n floats drawn from N(mean, stddev²) with a fixed seed (kernel and calibration tests).
inline std::vector<float> normal_vector(std::size_t n, unsigned seed, float stddev = 1.f, float mean = 0.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Comparisons of outputs against references (reference, architecture and precision tests).
// Infinity when the sizes differ.
inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  float m = 0.f;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

inline std::size_t argmax(const std::vector<float>& v) {
  return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Cosine of two n-vectors in double; 1 for two zero vectors.
inline double cosine(const float* a, const float* b, std::size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return aa == 0 && bb == 0 ? 1.0 : ab / std::sqrt(aa * bb);
}

// An I64 reference tensor (input_ids, token_type_ids) as values.
inline std::vector<std::int64_t> int64_values(const io::TensorView& t) {
  EXPECT_EQ(t.dtype, io::DType::I64) << t.name;
  std::vector<std::int64_t> v(static_cast<std::size_t>(t.numel()));
  if (t.dtype == io::DType::I64) std::memcpy(v.data(), t.data, v.size() * sizeof(std::int64_t));
  return v;
}

inline std::filesystem::path shared_dir() { return ENCORE_SHARED_DIR; }
inline std::filesystem::path data_dir() { return ENCORE_TEST_DATA_DIR; }

inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh, empty directory under the system temp dir.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("encore_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_file(const std::filesystem::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary);
  out << content;
}

// Runs `fn`, expects encore::Error, and checks the message contains every fragment.
inline void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected encore::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << "message lacks '" << f << "': " << msg;
  }
}

struct CliResult {
  int exit_code;
  std::string out, err;
};

// Runs the encore binary with `args` (already shell-quoted) and captures its output.
inline CliResult run_cli(const std::string& args, const std::string& stdin_file = "") {
  static int counter = 0;
  const auto dir = std::filesystem::temp_directory_path();
  const std::string tag = std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const auto out = dir / ("encore_cli_out_" + tag), err = dir / ("encore_cli_err_" + tag);
  std::string cmd = std::string(ENCORE_CLI_PATH) + " " + args + " >" + out.string() + " 2>" +
                    err.string();
  if (!stdin_file.empty()) cmd += " <" + stdin_file;
  const int status = std::system(cmd.c_str());
  CliResult r{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(out),
              slurp(err)};
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace encore::test

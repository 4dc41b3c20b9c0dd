// Kernel choice by measurement: the cheapest candidate wins, is cached per CPU model in the
// cache file, is not timed again, and can be forced or re-measured.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "kernels/kernel_choice.hpp"
#include "kernels/linear.hpp"
#include "test_support.hpp"

namespace encore::kernels {
namespace {

class KernelChoice : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("kernel_choice");
    const char* old = std::getenv("XDG_CACHE_HOME");
    had_ = old != nullptr;
    if (old) saved_ = old;
    setenv("XDG_CACHE_HOME", dir_.c_str(), 1);  // not the user's cache
    KernelChoices::instance().retune();
  }
  void TearDown() override {
    if (had_)
      setenv("XDG_CACHE_HOME", saved_.c_str(), 1);
    else
      unsetenv("XDG_CACHE_HOME");
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  bool had_ = false;
  std::string saved_;
};

TEST_F(KernelChoice, TheFastestCandidateWinsAndIsCached) {
  auto& k = KernelChoices::instance();
  int timed = 0;
  auto score = [&](const std::string& c) {
    ++timed;
    return c == "b" ? 1.0 : 2.0;
  };
  EXPECT_EQ(k.choose("test.op", {"a", "b", "c"}, score), "b");
  EXPECT_EQ(timed, 3);
  EXPECT_EQ(k.choose("test.op", {"a", "b", "c"}, score), "b");
  EXPECT_EQ(timed, 3) << "a decided op is not timed again";
  const auto j = nlohmann::json::parse(test::slurp(dir_ / "encore" / "kernels.json"));
  ASSERT_EQ(j.size(), 1u);  // one section: this CPU model and thread count
  EXPECT_EQ(j.begin()->at("test.op"), "b");
  EXPECT_EQ(k.decisions().size(), 1u);
  // A winner that is no longer a candidate is measured again.
  EXPECT_EQ(k.choose("test.op", {"a", "c"}, score), "a");
  EXPECT_EQ(timed, 5);
  // Forced: no timing at all.
  EXPECT_EQ(k.choose("test.other", {"a", "b"}, score, "a"), "a");
  EXPECT_EQ(timed, 5);
  // retune() forgets: timed again although cached.
  k.retune();
  EXPECT_EQ(k.choose("test.op", {"a", "b", "c"}, score), "b");
  EXPECT_EQ(timed, 8);
}

// FP32 linears on oneDNN's gemm:jit (CPUs without AVX-512) run either plain weight layout;
// both must agree with the plain reference (oneDNN forced: encore's own kernel may win here).
TEST_F(KernelChoice, BothPlainWeightLayoutsMatchTheReference) {
  const int in = 96, out = 80, rows = 7;
  const auto w = test::normal_vector(static_cast<std::size_t>(in) * out, 5, 0.2f),
             b = test::normal_vector(out, 6);
  const auto x = test::normal_vector(static_cast<std::size_t>(rows) * in, 9);
  dnnl::stream stream(cpu_engine());
  bool chose = false;
  for (const char* layout : {"ab", "ba"}) {
    setenv("ENCORE_FP32_WEIGHTS", layout, 1);
    setenv("ENCORE_FP32_KERNEL", "onednn", 1);
    Linear lin(w.data(), b.data(), in, out, Activation::None);
    unsetenv("ENCORE_FP32_WEIGHTS");
    unsetenv("ENCORE_FP32_KERNEL");
    const std::string kernel = lin.kernel_name(rows);
    // brgemm: one blocked layout, no plain layout to choose
    if (kernel.find("(weights ") == std::string::npos) continue;
    chose = true;
    EXPECT_NE(kernel.find(std::string("weights ") + layout), std::string::npos) << kernel;
    std::vector<float> y(static_cast<std::size_t>(rows) * out);
    std::vector<char> scratch(lin.scratchpad_bytes(rows) + 64);
    lin.forward(x.data(), rows, y.data(), stream, scratch.data());
    stream.wait();
    for (int r = 0; r < rows; ++r)
      for (int o = 0; o < out; ++o) {
        double acc = b[o];
        for (int i = 0; i < in; ++i) acc += static_cast<double>(x[r * in + i]) * w[o * in + i];
        EXPECT_NEAR(y[static_cast<std::size_t>(r * out + o)], acc, 5e-5)
            << layout << " row " << r << " col " << o;
      }
  }
  if (!chose) GTEST_SKIP() << "AVX-512 here (oneDNN's brgemm): no layout to choose";
}

}  // namespace
}  // namespace encore::kernels

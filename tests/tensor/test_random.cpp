// Random numbers: the CPU random kernel against the Philox layout of backends/philox.h (element by element),
// independence from the thread count, and the creation functions built on it (rand, randn, randint, randperm,
// manual_seed): reproducibility, ranges, moments and coverage.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <set>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"
#include "backends/philox.h"
#include "tensor/functions.h"
#include "tensor/random.h"

namespace tandem {
namespace {

template <typename T>
std::vector<T> kernel_fill(RandomKind kind, int64_t n, uint64_t seed, uint64_t offset, double p0, double p1) {
  std::vector<T> out(static_cast<size_t>(n));
  Strided s{out.data(), dtype_of<T>::value, {n}, {1}};
  cpu::cpu_backend().random(kind, s, seed, offset, p0, p1);
  return out;
}

/// The uniform of element i of the stream (seed, offset) for a 4- or 8-byte element type, straight from the
/// documented layout.
double layout_uniform(int64_t i, uint64_t seed, uint64_t offset, bool four_bytes) {
  const auto k = static_cast<uint64_t>(i);
  if (four_bytes) return philox_uniform_float(philox4x32_10(offset + k / 4, seed).v[k % 4]);
  const Philox4 r = philox4x32_10(offset + k / 2, seed);
  return philox_uniform_double(r.v[2 * (k % 2)], r.v[2 * (k % 2) + 1]);
}

/// Element i of a standard normal fill, from the documented Box-Muller pairing.
double layout_normal(int64_t i, uint64_t seed, uint64_t offset, bool four_bytes) {
  const int64_t first = i - i % 2;
  const double u1 = layout_uniform(first, seed, offset, four_bytes);
  const double u2 = layout_uniform(first + 1, seed, offset, four_bytes);
  const double r = std::sqrt(-2.0 * std::log(1.0 - u1));
  return i % 2 == 0 ? r * std::cos(2.0 * std::numbers::pi * u2) : r * std::sin(2.0 * std::numbers::pi * u2);
}

// ---- the kernel against the layout ----------------------------------------------------------------------------

TEST(RandomKernel, Float32UniformFollowsTheLayout) {
  const auto v = kernel_fill<float>(RandomKind::Uniform, 37, 1234, 5, 0.0, 1.0);
  for (int64_t i = 0; i < 37; ++i)
    EXPECT_EQ(v[static_cast<size_t>(i)], static_cast<float>(layout_uniform(i, 1234, 5, true))) << i;
}

TEST(RandomKernel, Float64UniformFollowsTheLayout) {
  const auto v = kernel_fill<double>(RandomKind::Uniform, 37, 99, 17, -2.0, 3.0);
  for (int64_t i = 0; i < 37; ++i)
    EXPECT_NEAR(v[static_cast<size_t>(i)], -2.0 + 5.0 * layout_uniform(i, 99, 17, false), 1e-14) << i;
}

TEST(RandomKernel, NormalFollowsTheBoxMullerPairing) {
  const auto f = kernel_fill<float>(RandomKind::Normal, 23, 7, 3, 0.0, 1.0);
  const auto d = kernel_fill<double>(RandomKind::Normal, 23, 7, 3, 1.5, 2.0);
  for (int64_t i = 0; i < 23; ++i) {
    EXPECT_NEAR(f[static_cast<size_t>(i)], layout_normal(i, 7, 3, true), 1e-5) << i;
    EXPECT_NEAR(d[static_cast<size_t>(i)], 1.5 + 2.0 * layout_normal(i, 7, 3, false), 1e-12) << i;
  }
}

TEST(RandomKernel, IntegerFollowsTheLayoutForEveryDtype) {
  const auto l = kernel_fill<int64_t>(RandomKind::Integer, 41, 5, 0, -3.0, 10.0);
  const auto f = kernel_fill<float>(RandomKind::Integer, 41, 5, 0, -3.0, 10.0);
  for (int64_t i = 0; i < 41; ++i) {
    EXPECT_EQ(l[static_cast<size_t>(i)], -3 + static_cast<int64_t>(std::floor(layout_uniform(i, 5, 0, false) * 13)));
    EXPECT_EQ(f[static_cast<size_t>(i)], static_cast<float>(-3 + std::floor(layout_uniform(i, 5, 0, true) * 13)));
  }
}

TEST(RandomKernel, AnElementDependsOnlyOnItsPosition) {
  // an odd count still pairs its last element with the stream's next uniform
  const auto short_run = kernel_fill<float>(RandomKind::Normal, 5, 11, 2, 0.0, 1.0);
  const auto long_run = kernel_fill<float>(RandomKind::Normal, 6, 11, 2, 0.0, 1.0);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(short_run[i], long_run[i]);
  // offset counts blocks: offset 1 skips the first 4 floats
  const auto shifted = kernel_fill<float>(RandomKind::Uniform, 4, 11, 3, 0.0, 1.0);
  const auto base = kernel_fill<float>(RandomKind::Uniform, 8, 11, 2, 0.0, 1.0);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(shifted[i], base[i + 4]);
}

TEST(RandomKernel, ResultDoesNotDependOnTheThreadCount) {
  const int previous = cpu::get_num_threads();
  const int64_t n = 300001;  // many blocks, an odd count
  cpu::set_num_threads(1);
  const auto f1 = kernel_fill<float>(RandomKind::Normal, n, 42, 9, 0.0, 1.0);
  const auto d1 = kernel_fill<double>(RandomKind::Uniform, n, 42, 9, 0.0, 1.0);
  const auto i1 = kernel_fill<int64_t>(RandomKind::Integer, n, 42, 9, 0.0, 1000.0);
  cpu::set_num_threads(2);
  const auto f2 = kernel_fill<float>(RandomKind::Normal, n, 42, 9, 0.0, 1.0);
  const auto d2 = kernel_fill<double>(RandomKind::Uniform, n, 42, 9, 0.0, 1.0);
  const auto i2 = kernel_fill<int64_t>(RandomKind::Integer, n, 42, 9, 0.0, 1000.0);
  cpu::set_num_threads(previous);
  EXPECT_EQ(f1, f2);
  EXPECT_EQ(d1, d2);
  EXPECT_EQ(i1, i2);
}

TEST(RandomKernel, RejectsBadOperands) {
  std::vector<float> buf(8);
  Strided strided{buf.data(), kFloat32, {4}, {2}};
  EXPECT_THROW(cpu::cpu_backend().random(RandomKind::Uniform, strided, 0, 0, 0, 1), Error);
  std::vector<int64_t> ints(4);
  Strided integer{ints.data(), kInt64, {4}, {1}};
  EXPECT_THROW(cpu::cpu_backend().random(RandomKind::Normal, integer, 0, 0, 0, 1), Error);
  EXPECT_THROW(cpu::cpu_backend().random(RandomKind::Integer, integer, 0, 0, 5, 5), Error);
  bool flags[4];
  Strided boolean{flags, kBool, {4}, {1}};
  EXPECT_THROW(cpu::cpu_backend().random(RandomKind::Integer, boolean, 0, 0, 0, 2), Error);
}

// ---- creation functions -----------------------------------------------------------------------------------------

TEST(Random, SameSeedSameValuesDifferentSeedDifferentValues) {
  manual_seed(2024);
  const auto a = randn({1000}).to_vector<float>();
  const auto b = rand({3, 7}, kFloat64).to_vector<double>();
  manual_seed(2024);
  EXPECT_EQ(randn({1000}).to_vector<float>(), a);
  EXPECT_EQ(rand({3, 7}, kFloat64).to_vector<double>(), b);
  manual_seed(2025);
  const auto c = randn({1000}).to_vector<float>();
  EXPECT_NE(c, a);
  // successive draws from one seed differ too
  EXPECT_NE(randn({1000}).to_vector<float>(), c);
}

TEST(Random, RngStateCanBeSavedAndRestored) {
  manual_seed(5);
  randn({3});
  const PhiloxState state = get_rng_state();
  const auto a = rand({17}).to_vector<float>();
  set_rng_state(state);
  EXPECT_EQ(rand({17}).to_vector<float>(), a);
}

TEST(Random, NormalMomentsAreClose) {
  manual_seed(0);
  for (ScalarType dtype : {kFloat32, kFloat64}) {
    const auto v = randn({100000}, dtype).to_vector<double>();
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    const double std_dev = std::sqrt(var / static_cast<double>(v.size() - 1));
    EXPECT_NEAR(mean, 0.0, 0.015) << dtype;  // ~5 standard errors
    EXPECT_NEAR(std_dev, 1.0, 0.015) << dtype;
    for (double x : v) ASSERT_TRUE(std::isfinite(x));
  }
}

TEST(Random, UniformIsInRangeAndSpreadOut) {
  manual_seed(1);
  for (ScalarType dtype : {kFloat32, kFloat64}) {
    const auto v = rand({100000}, dtype).to_vector<double>();
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    EXPECT_GE(*lo, 0.0);
    EXPECT_LT(*hi, 1.0);
    EXPECT_LT(*lo, 0.001);
    EXPECT_GT(*hi, 0.999);
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    EXPECT_NEAR(mean, 0.5, 0.005);
  }
  // an arbitrary interval through the kernel
  const auto w = kernel_fill<float>(RandomKind::Uniform, 10000, 3, 0, -2.5, 4.0);
  for (float x : w) {
    ASSERT_GE(x, -2.5f);
    ASSERT_LT(x, 4.0f);
  }
}

TEST(Random, RandintStaysInRangeAndCoversIt) {
  manual_seed(3);
  const Tensor t = randint(3, 8, {10000});
  EXPECT_EQ(t.dtype(), kInt64);
  const auto v = t.to_vector<int64_t>();
  std::set<int64_t> seen(v.begin(), v.end());
  EXPECT_EQ(seen, (std::set<int64_t>{3, 4, 5, 6, 7}));
  const auto negative = randint(-4, -1, {2000}).to_vector<int64_t>();
  std::set<int64_t> seen_negative(negative.begin(), negative.end());
  EXPECT_EQ(seen_negative, (std::set<int64_t>{-4, -3, -2}));
  const auto as_float = randint(0, 2, {500}, kFloat32).to_vector<float>();
  for (float x : as_float) ASSERT_TRUE(x == 0.0f || x == 1.0f);
  EXPECT_THROW(randint(5, 5, {3}), Error);
}

TEST(Random, RandpermIsAPermutation) {
  manual_seed(4);
  for (int64_t n : {0, 1, 2, 10, 1000}) {
    auto v = randperm(n).to_vector<int64_t>();
    std::sort(v.begin(), v.end());
    std::vector<int64_t> expected(static_cast<size_t>(n));
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(v, expected) << n;
  }
  const auto a = randperm(50).to_vector<int64_t>();
  const auto b = randperm(50).to_vector<int64_t>();
  EXPECT_NE(a, b);
  manual_seed(4);
  for (int64_t n : {0, 1, 2, 10, 1000}) randperm(n);
  EXPECT_EQ(randperm(50).to_vector<int64_t>(), a);
}

TEST(Random, RandomFillsDoNotDependOnTheThreadCount) {
  const int previous = cpu::get_num_threads();
  cpu::set_num_threads(1);
  manual_seed(8);
  const auto one = randn({200000}).to_vector<float>();
  cpu::set_num_threads(2);
  manual_seed(8);
  const auto two = randn({200000}).to_vector<float>();
  cpu::set_num_threads(previous);
  EXPECT_EQ(one, two);
}

}  // namespace
}  // namespace tandem

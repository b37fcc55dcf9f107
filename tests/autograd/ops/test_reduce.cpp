// Reductions: forward values against loops written here, shapes with keepdim and negative/multiple dims,
// dtype rules (bool/int64 sums, integer mean is an error), ties, first-occurrence argmax, prod with zeros,
// float32 accuracy on long sums, sum_to, gradcheck and gradgradcheck in float64 (contiguous and
// non-contiguous inputs), and the errors for misuse.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/functions.h"

namespace tandem {
namespace {

using autograd::gradcheck;
using autograd::gradgradcheck;
using autograd::variable_list;

Tensor leaf(const Dims& sizes, uint64_t seed = 0) {
  manual_seed(seed);
  return randn(sizes, TensorOptions(kFloat64).requires_grad(true));
}

/// A float64 leaf with `sizes` whose memory is laid out transposed (last two dims swapped): non-contiguous.
Tensor transposed_leaf(const Dims& sizes, uint64_t seed = 0) {
  Dims swapped = sizes;
  std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
  manual_seed(seed);
  Tensor t = randn(swapped, TensorOptions(kFloat64)).transpose(-1, -2).detach();
  t.requires_grad_(true);
  return t;
}

template <typename Fn>
void expect_grads(Fn fn, const Tensor& x, bool second_order = true) {
  EXPECT_NO_THROW(EXPECT_TRUE(gradcheck([&](const variable_list& in) { return fn(in[0]); }, {x})));
  if (second_order) {
    EXPECT_NO_THROW(EXPECT_TRUE(gradgradcheck([&](const variable_list& in) { return fn(in[0]); }, {x})));
  }
}

/// The error message of fn(), or "" when it does not throw.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// x[i][j][k] of a [I, J, K] tensor's values in row-major order.
struct Grid3 {
  std::vector<double> v;
  int64_t I, J, K;
  explicit Grid3(const Tensor& t) : v(t.to_vector<double>()), I(t.size(0)), J(t.size(1)), K(t.size(2)) {}
  double operator()(int64_t i, int64_t j, int64_t k) const { return v[static_cast<size_t>((i * J + j) * K + k)]; }
};

// ---------------------------------------------------------------------------------------------------------------
// sum / mean
// ---------------------------------------------------------------------------------------------------------------
TEST(Reduce, SumValuesAndShapes) {
  Tensor x = leaf({3, 4, 5}).detach();
  Grid3 g(x);
  Tensor s1 = x.sum(1);
  ASSERT_EQ(s1.sizes(), Dims({3, 5}));
  std::vector<double> got = s1.to_vector<double>();
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t k = 0; k < 5; ++k) {
      double want = 0;
      for (int64_t j = 0; j < 4; ++j) want += g(i, j, k);
      EXPECT_NEAR(got[static_cast<size_t>(i * 5 + k)], want, 1e-12);
    }
  Tensor s2 = x.sum({-1, 0}, /*keepdim=*/true);
  ASSERT_EQ(s2.sizes(), Dims({1, 4, 1}));
  got = s2.to_vector<double>();
  for (int64_t j = 0; j < 4; ++j) {
    double want = 0;
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t k = 0; k < 5; ++k) want += g(i, j, k);
    EXPECT_NEAR(got[static_cast<size_t>(j)], want, 1e-12);
  }
  double total = 0;
  for (double v : g.v) total += v;
  EXPECT_EQ(x.sum().dim(), 0);
  EXPECT_NEAR(x.sum().item<double>(), total, 1e-12);
  EXPECT_NEAR(x.sum(Dims{}).item<double>(), total, 1e-12);  // empty dims list: everything
  EXPECT_NEAR(sum(x.transpose(0, 2)).item<double>(), total, 1e-12);
}

TEST(Reduce, SumDtypes) {
  Tensor b = tensor<bool>({true, false, true, true});
  EXPECT_EQ(b.sum().dtype(), kInt64);
  EXPECT_EQ(b.sum().item<int64_t>(), 3);
  Tensor i = tensor<int64_t>({4, -7, 10});
  EXPECT_EQ(i.sum().dtype(), kInt64);
  EXPECT_EQ(i.sum().item<int64_t>(), 7);
  EXPECT_EQ(tensor<float>({1.5f, 2.f}).sum().dtype(), kFloat32);
  EXPECT_EQ(i.prod().item<int64_t>(), -280);
  EXPECT_EQ(b.prod().dtype(), kInt64);
  EXPECT_EQ(b.prod().item<int64_t>(), 0);
}

TEST(Reduce, Float32LongSumsMatchDoubleReference) {
  manual_seed(3);
  Tensor x = rand({1 << 21});
  std::vector<float> v = x.to_vector<float>();
  double want = 0;
  for (float f : v) want += f;
  EXPECT_NEAR(x.sum().item<float>(), want, want * 1e-6);
  EXPECT_NEAR(x.mean().item<float>(), want / v.size(), want / v.size() * 1e-6);
  // Column sums of [4096, 512] (the outer-reduction path) and row sums (the inner path).
  Tensor m = x.reshape({4096, 512});
  std::vector<float> cols = m.sum(0).to_vector<float>();
  std::vector<float> rows = m.sum(1).to_vector<float>();
  for (int64_t j = 0; j < 512; j += 37) {
    double c = 0;
    for (int64_t i = 0; i < 4096; ++i) c += v[static_cast<size_t>(i * 512 + j)];
    EXPECT_NEAR(cols[static_cast<size_t>(j)], c, c * 1e-6);
  }
  for (int64_t i = 0; i < 4096; i += 301) {
    double r = 0;
    for (int64_t j = 0; j < 512; ++j) r += v[static_cast<size_t>(i * 512 + j)];
    EXPECT_NEAR(rows[static_cast<size_t>(i)], r, r * 1e-6);
  }
}

TEST(Reduce, SumAndMeanGradients) {
  Tensor x = leaf({3, 4, 2});
  for (bool keepdim : {false, true}) {
    expect_grads([&](const Tensor& t) { return t.sum(1, keepdim); }, x);
    expect_grads([&](const Tensor& t) { return t.sum({-1, 0}, keepdim); }, x);
    expect_grads([&](const Tensor& t) { return t.mean(-2, keepdim); }, x);
    expect_grads([&](const Tensor& t) { return t.mean({0, 2}, keepdim); }, x);
  }
  expect_grads([](const Tensor& t) { return t.sum(); }, x);
  expect_grads([](const Tensor& t) { return t.mean(); }, x);
  Tensor nc = transposed_leaf({4, 3});
  ASSERT_FALSE(nc.is_contiguous());
  expect_grads([](const Tensor& t) { return t.sum(0); }, nc);
  expect_grads([](const Tensor& t) { return (t * t).mean(-1, true); }, nc);
}

TEST(Reduce, MeanValuesAndErrors) {
  Tensor x = leaf({2, 6}).detach();
  std::vector<double> v = x.to_vector<double>();
  std::vector<double> m = x.mean(1).to_vector<double>();
  for (int r = 0; r < 2; ++r) {
    double s = 0;
    for (int c = 0; c < 6; ++c) s += v[static_cast<size_t>(r * 6 + c)];
    EXPECT_NEAR(m[static_cast<size_t>(r)], s / 6, 1e-12);
  }
  const std::string msg = error_of([] { tensor<int64_t>({1, 2, 3}).mean(); });
  EXPECT_NE(msg.find("mean"), std::string::npos) << msg;
  EXPECT_NE(msg.find("int64"), std::string::npos) << msg;
  EXPECT_THROW(tensor<bool>({true}).mean(Dims{0}), Error);
}

TEST(Reduce, DimErrors) {
  Tensor x = leaf({2, 3}).detach();
  EXPECT_THROW(x.sum({0, 0}), Error);
  EXPECT_THROW(x.sum({1, -1}), Error);
  EXPECT_THROW(x.sum(2), Error);
  EXPECT_THROW(x.mean(-3), Error);
  EXPECT_THROW(x.amax({0, -2}), Error);
  EXPECT_THROW(x.prod(5), Error);
  EXPECT_THROW(std::get<0>(x.max(2)), Error);
  EXPECT_THROW(x.argmax(-3), Error);
  EXPECT_THROW(x.logsumexp({1, 1}), Error);
  const std::string msg = error_of([&] { x.sum({1, -1}); });
  EXPECT_NE(msg.find("sum"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------------------------------
// prod
// ---------------------------------------------------------------------------------------------------------------
TEST(Reduce, ProdValuesAndGradients) {
  Tensor x = leaf({3, 4});
  std::vector<double> v = x.detach().to_vector<double>();
  std::vector<double> p = x.prod(1).to_vector<double>();
  for (int r = 0; r < 3; ++r) {
    double want = 1;
    for (int c = 0; c < 4; ++c) want *= v[static_cast<size_t>(r * 4 + c)];
    EXPECT_NEAR(p[static_cast<size_t>(r)], want, 1e-12);
  }
  for (bool keepdim : {false, true}) {
    expect_grads([&](const Tensor& t) { return t.prod(1, keepdim); }, x);
    expect_grads([&](const Tensor& t) { return t.prod(-2, keepdim); }, x);
  }
  expect_grads([](const Tensor& t) { return t.prod(); }, x);
  expect_grads([](const Tensor& t) { return t.prod(0); }, transposed_leaf({3, 2}));
}

TEST(Reduce, ProdWithZeros) {
  // Row 0: one zero; row 1: two zeros; row 2: none; row 3: zero at the end.
  Tensor x = tensor<double>({2, 0, 3, -1, 0, 5, 0, 2, 1.5, -2, 3, 0.5, 4, 2, 3, 0}).reshape({4, 4}).detach();
  x.requires_grad_(true);
  Tensor y = x.prod(1);
  y.sum().backward();
  std::vector<double> g = x.grad().to_vector<double>();
  const std::vector<double> want = {0,  -6,   0,    0,  // d/dx01 = 2 * 3 * -1
                                    0,  0,    0,    0,  // two zeros: everything 0
                                    -3, 2.25, -1.5, -9, 0, 0, 0, 24};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-12) << i;
  for (bool keepdim : {false, true}) expect_grads([&](const Tensor& t) { return t.prod(1, keepdim); }, x);
  expect_grads([&](const Tensor& t) { return t.prod(0); }, x);
  // The product of everything with a single zero.
  Tensor z = tensor<double>({1.5, 0, -2, 3}).detach();
  z.requires_grad_(true);
  z.prod().backward();
  const std::vector<double> gz = z.grad().to_vector<double>();
  EXPECT_NEAR(gz[1], -9, 1e-12);
  EXPECT_NEAR(gz[0], 0, 1e-12);
  expect_grads([](const Tensor& t) { return t.prod(); }, z);
}

// ---------------------------------------------------------------------------------------------------------------
// max / min / amax / amin / argmax / argmin
// ---------------------------------------------------------------------------------------------------------------
TEST(Reduce, MaxMinValuesIndicesAndFirstOccurrence) {
  Tensor x = tensor<double>({1, 3, 3, 2, 7, 7, 0, 7, -1, -1, 5, -1}).reshape({3, 4});
  auto [values, indices] = x.max(1);
  EXPECT_EQ(values.to_vector<double>(), (std::vector<double>{3, 7, 5}));
  EXPECT_EQ(indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(indices.dtype(), kInt64);
  auto [mins, min_idx] = x.min(-1, /*keepdim=*/true);
  EXPECT_EQ(mins.sizes(), Dims({3, 1}));
  EXPECT_EQ(mins.to_vector<double>(), (std::vector<double>{1, 0, -1}));
  EXPECT_EQ(min_idx.to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 0}));
  EXPECT_EQ(x.argmax().item<int64_t>(), 4);  // flat index of the first 7
  EXPECT_EQ(x.argmin().item<int64_t>(), 8);
  EXPECT_EQ(x.argmax(0).to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 2, 1}));
  EXPECT_EQ(x.argmin(0, true).sizes(), Dims({1, 4}));
  EXPECT_EQ(x.max().item<double>(), 7);
  EXPECT_EQ(x.min().item<double>(), -1);
  EXPECT_EQ(x.amax({0, 1}).item<double>(), 7);
  EXPECT_EQ(x.amin({0}).to_vector<double>(), (std::vector<double>{-1, -1, 0, -1}));
  // argmax of a non-contiguous tensor counts in its logical (row-major) order.
  Tensor t = x.t();  // [4, 3]: row 0 is (1, 7, -1)
  EXPECT_EQ(t.argmax().item<int64_t>(), 1);
  // Integer tensors.
  Tensor i = tensor<int64_t>({4, 9, 9, -3});
  EXPECT_EQ(i.max().item<int64_t>(), 9);
  EXPECT_EQ(i.argmax().item<int64_t>(), 1);
  EXPECT_EQ(std::get<1>(i.min(0)).item<int64_t>(), 3);
}

TEST(Reduce, MaxPropagatesNan) {
  Tensor x = tensor<double>({1, std::nan(""), 3});
  EXPECT_TRUE(std::isnan(x.max().item<double>()));
  EXPECT_TRUE(std::isnan(x.amin({0}).item<double>()));
  EXPECT_EQ(x.argmax().item<int64_t>(), 1);
}

TEST(Reduce, TiedExtremaShareTheGradient) {
  Tensor x = tensor<double>({1, 3, 3, 2, 3}).detach();
  x.requires_grad_(true);
  x.max().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 1.0 / 3, 1.0 / 3, 0, 1.0 / 3}));
  x.set_grad(Tensor());
  x.amin({0}).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 0, 0, 0, 0}));
  // max(dim) sends the whole gradient to the returned (first) index.
  x.set_grad(Tensor());
  std::get<0>(x.max(0)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 1, 0, 0, 0}));
  // Two rows with ties, amax over dim 1 with keepdim.
  Tensor y = tensor<double>({2, 2, 1, 0, 5, 5}).reshape({2, 3}).detach();
  y.requires_grad_(true);
  (y.amax({1}, true) * tensor<double>({1, 10}).reshape({2, 1})).sum().backward();
  EXPECT_EQ(y.grad().to_vector<double>(), (std::vector<double>{0.5, 0.5, 0, 0, 5, 5}));
}

TEST(Reduce, MaxMinGradients) {
  Tensor x = leaf({3, 4}, 7);
  for (bool keepdim : {false, true}) {
    expect_grads([&](const Tensor& t) { return std::get<0>(t.max(1, keepdim)); }, x);
    expect_grads([&](const Tensor& t) { return std::get<0>(t.min(-2, keepdim)); }, x);
    expect_grads([&](const Tensor& t) { return t.amax({0, 1}, keepdim); }, x);
    expect_grads([&](const Tensor& t) { return t.amin({-1}, keepdim); }, x);
  }
  expect_grads([](const Tensor& t) { return t.max(); }, x);
  expect_grads([](const Tensor& t) { return t.min(); }, x);
  Tensor nc = transposed_leaf({4, 3}, 8);
  expect_grads([](const Tensor& t) { return std::get<0>(t.max(0)); }, nc);
  expect_grads([](const Tensor& t) { return t.amin({1}, true); }, nc);
}

TEST(Reduce, EmptyReductions) {
  Tensor e = zeros({0, 3});
  EXPECT_EQ(e.sum().item<float>(), 0);
  EXPECT_EQ(e.prod().item<float>(), 1);
  EXPECT_EQ(e.sum(0).sizes(), Dims({3}));
  EXPECT_EQ(e.sum(1).sizes(), Dims({0}));
  EXPECT_FALSE(e.any().item<bool>());
  EXPECT_TRUE(e.all().item<bool>());
  EXPECT_THROW(e.max(), Error);
  EXPECT_THROW(e.argmax(), Error);
  EXPECT_THROW(e.amax({0}), Error);
}

// ---------------------------------------------------------------------------------------------------------------
// var / std / logsumexp / norm / any / all
// ---------------------------------------------------------------------------------------------------------------
TEST(Reduce, VarStdValues) {
  Tensor x = leaf({3, 5}, 4).detach();
  std::vector<double> v = x.to_vector<double>();
  for (int64_t correction : {0, 1}) {
    std::vector<double> var = x.var({1}, correction).to_vector<double>();
    std::vector<double> sd = x.std({-1}, correction, true).to_vector<double>();
    for (int r = 0; r < 3; ++r) {
      double mean = 0;
      for (int c = 0; c < 5; ++c) mean += v[static_cast<size_t>(r * 5 + c)] / 5;
      double ss = 0;
      for (int c = 0; c < 5; ++c) ss += std::pow(v[static_cast<size_t>(r * 5 + c)] - mean, 2);
      EXPECT_NEAR(var[static_cast<size_t>(r)], ss / static_cast<double>(5 - correction), 1e-12);
      EXPECT_NEAR(sd[static_cast<size_t>(r)], std::sqrt(ss / static_cast<double>(5 - correction)), 1e-12);
    }
  }
  double mean = 0;
  for (double d : v) mean += d / 15;
  double ss = 0;
  for (double d : v) ss += (d - mean) * (d - mean);
  EXPECT_NEAR(x.var().item<double>(), ss / 14, 1e-12);
  EXPECT_NEAR(x.std(0).item<double>(), std::sqrt(ss / 15), 1e-12);
  EXPECT_EQ(x.var({0, 1}, 1, true).sizes(), Dims({1, 1}));
  EXPECT_THROW(tensor<int64_t>({1, 2}).var(), Error);
  EXPECT_THROW(tensor<int64_t>({1, 2}).std(), Error);
}

TEST(Reduce, VarStdGradients) {
  Tensor x = leaf({3, 4}, 5);
  for (bool keepdim : {false, true}) {
    expect_grads([&](const Tensor& t) { return t.var({1}, 1, keepdim); }, x);
    expect_grads([&](const Tensor& t) { return t.std({0, -1}, 0, keepdim); }, x);
  }
  expect_grads([](const Tensor& t) { return t.var(); }, x);
  expect_grads([](const Tensor& t) { return t.std(0); }, transposed_leaf({4, 3}, 6));
}

TEST(Reduce, LogsumexpValuesStabilityAndGradients) {
  Tensor x = leaf({3, 4}, 9);
  std::vector<double> v = x.detach().to_vector<double>();
  std::vector<double> l = x.logsumexp({1}).to_vector<double>();
  for (int r = 0; r < 3; ++r) {
    double s = 0;
    for (int c = 0; c < 4; ++c) s += std::exp(v[static_cast<size_t>(r * 4 + c)]);
    EXPECT_NEAR(l[static_cast<size_t>(r)], std::log(s), 1e-12);
  }
  Tensor big = tensor<float>({1000.f, 1000.f, 990.f});
  EXPECT_NEAR(big.logsumexp({0}).item<float>(), 1000.f + std::log(2.f + std::exp(-10.f)), 1e-3);
  const float inf = std::numeric_limits<float>::infinity();
  Tensor all_neg_inf = tensor<float>({-inf, -inf});
  EXPECT_EQ(all_neg_inf.logsumexp({0}).item<float>(), -inf);
  EXPECT_EQ(x.logsumexp({0, 1}, true).sizes(), Dims({1, 1}));
  for (bool keepdim : {false, true}) {
    expect_grads([&](const Tensor& t) { return t.logsumexp({1}, keepdim); }, x);
    expect_grads([&](const Tensor& t) { return t.logsumexp({-2, -1}, keepdim); }, x);
  }
  expect_grads([](const Tensor& t) { return t.logsumexp({0}); }, transposed_leaf({4, 3}, 10));
  EXPECT_THROW(tensor<int64_t>({1, 2}).logsumexp({0}), Error);
}

TEST(Reduce, NormValuesAndGradients) {
  Tensor x = tensor<double>({3, -4, 0, 1}).detach();
  EXPECT_NEAR(x.norm().item<double>(), std::sqrt(26.0), 1e-12);
  EXPECT_NEAR(x.norm(1).item<double>(), 8, 1e-12);
  EXPECT_NEAR(x.norm(std::numeric_limits<double>::infinity()).item<double>(), 4, 1e-12);
  EXPECT_NEAR(x.norm(-std::numeric_limits<double>::infinity()).item<double>(), 0, 1e-12);
  EXPECT_NEAR(x.norm(3).item<double>(), std::cbrt(27.0 + 64 + 1), 1e-12);
  EXPECT_NEAR(x.norm(0).item<double>(), 3, 1e-12);
  Tensor y = leaf({3, 4}, 11);
  expect_grads([](const Tensor& t) { return t.norm(); }, y);
  expect_grads([](const Tensor& t) { return t.norm(1); }, y);
  expect_grads([](const Tensor& t) { return t.norm(std::numeric_limits<double>::infinity()); }, y);
  expect_grads([](const Tensor& t) { return t.norm(3); }, y);
  expect_grads([](const Tensor& t) { return t.norm(); }, transposed_leaf({4, 3}, 12));
  // The gradient of the 2-norm at 0 is 0, not nan.
  Tensor z = zeros({3}, TensorOptions(kFloat64).requires_grad(true));
  z.norm().backward();
  EXPECT_EQ(z.grad().to_vector<double>(), (std::vector<double>{0, 0, 0}));
  EXPECT_THROW(tensor<int64_t>({1}).norm(), Error);
}

TEST(Reduce, AnyAll) {
  EXPECT_TRUE(tensor<bool>({false, true}).any().item<bool>());
  EXPECT_FALSE(tensor<bool>({false, true}).all().item<bool>());
  EXPECT_TRUE(tensor<double>({1, 2, -3}).all().item<bool>());
  EXPECT_FALSE(tensor<double>({0, 0}).any().item<bool>());
  EXPECT_TRUE(tensor<int64_t>({0, 4}).any().item<bool>());
  EXPECT_EQ(tensor<double>({1, 2}).any().dtype(), kBool);
  EXPECT_TRUE(tensor<double>({std::nan("")}).all().item<bool>());
}

// ---------------------------------------------------------------------------------------------------------------
// sum_to
// ---------------------------------------------------------------------------------------------------------------
TEST(Reduce, SumToValuesAndGradients) {
  Tensor x = leaf({2, 3, 4}, 13);
  EXPECT_TRUE(sum_to(x, {2, 3, 4}).is_same(x));  // the no-op case returns the tensor itself
  EXPECT_TRUE(x.sum_to({2, 3, 4}).is_same(x));
  Grid3 g(x.detach());
  std::vector<double> a = sum_to(x, {3, 1}).to_vector<double>();
  ASSERT_EQ(sum_to(x, {3, 1}).sizes(), Dims({3, 1}));
  for (int64_t j = 0; j < 3; ++j) {
    double want = 0;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t k = 0; k < 4; ++k) want += g(i, j, k);
    EXPECT_NEAR(a[static_cast<size_t>(j)], want, 1e-12);
  }
  std::vector<double> b = x.sum_to({1, 1, 4}).to_vector<double>();
  for (int64_t k = 0; k < 4; ++k) {
    double want = 0;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j) want += g(i, j, k);
    EXPECT_NEAR(b[static_cast<size_t>(k)], want, 1e-12);
  }
  EXPECT_EQ(sum_to(x, {}).dim(), 0);
  for (const Dims& shape : {Dims{3, 1}, Dims{4}, Dims{2, 1, 4}, Dims{}, Dims{1, 3, 4}})
    expect_grads([&](const Tensor& t) { return sum_to(t, shape); }, x);
  Tensor nc = transposed_leaf({2, 3, 4}, 16);
  for (const Dims& shape : {Dims{3, 1}, Dims{1, 4}})
    expect_grads([&](const Tensor& t) { return sum_to(t, shape); }, nc);
  EXPECT_THROW(sum_to(x, {3, 3}), Error);
  EXPECT_THROW(sum_to(x, {1, 2, 3, 4}), Error);
  EXPECT_THROW(sum_to(x, {5}), Error);
}

TEST(Reduce, BroadcastGradientsAreSummedBack) {
  Tensor a = leaf({3, 1}, 14);
  Tensor b = leaf({4}, 15);
  (a * b).sum().backward();
  EXPECT_EQ(a.grad().sizes(), Dims({3, 1}));
  EXPECT_EQ(b.grad().sizes(), Dims({4}));
  const double sb = b.detach().sum().item<double>();
  for (double v : a.grad().to_vector<double>()) EXPECT_NEAR(v, sb, 1e-12);
  const double sa = a.detach().sum().item<double>();
  for (double v : b.grad().to_vector<double>()) EXPECT_NEAR(v, sa, 1e-12);
}

}  // namespace
}  // namespace tandem

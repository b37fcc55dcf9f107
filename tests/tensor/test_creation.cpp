// Tests of tensor creation (tensor/creation.cpp): constant fills, ranges, identity, values from host memory,
// borrowed memory (from_blob), the *_like family, the requires_grad option and seeded random tensors.
#include <gtest/gtest.h>
#include <tandem.h>

#include <cmath>
#include <numeric>
#include <set>

namespace {

using namespace tandem;

template <typename T>
std::vector<T> values(const Tensor& t) {
  return t.to_vector<T>();
}

TEST(Creation, EmptyHasShapeDtypeAndContiguousStrides) {
  Tensor t = empty({2, 3, 4});
  EXPECT_EQ(t.sizes(), Dims({2, 3, 4}));
  EXPECT_EQ(t.strides(), Dims({12, 4, 1}));
  EXPECT_EQ(t.dtype(), kFloat32);
  EXPECT_EQ(t.device(), Device(kCPU));
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.storage_offset(), 0);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(t.is_leaf());
  EXPECT_FALSE(t.requires_grad());
}

TEST(Creation, ZerosOnesFullInEveryDtype) {
  for (ScalarType dt : {kFloat32, kFloat64, kInt64, kBool}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor z = zeros({2, 2}, dt), o = ones({3}, dt), f = full({2}, 1.0, dt);
    EXPECT_EQ(z.dtype(), dt);
    EXPECT_EQ(o.dtype(), dt);
    EXPECT_EQ(values<double>(z), std::vector<double>(4, 0.0));
    EXPECT_EQ(values<double>(o), std::vector<double>(3, 1.0));
    EXPECT_EQ(values<double>(f), std::vector<double>(2, 1.0));
  }
  EXPECT_EQ(values<float>(full({2, 2}, -2.5)), std::vector<float>(4, -2.5f));
  EXPECT_EQ(values<int64_t>(full({3}, 7, kInt64)), std::vector<int64_t>(3, 7));
}

TEST(Creation, ScalarTensorIsZeroDimensional) {
  Tensor s = scalar_tensor(3.5, kFloat64);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.sizes(), Dims{});
  EXPECT_EQ(s.item<double>(), 3.5);
  EXPECT_EQ(scalar_tensor(2).dtype(), kFloat32);
}

TEST(Creation, ZeroSizedTensors) {
  Tensor t = zeros({0, 3});
  EXPECT_EQ(t.numel(), 0);
  EXPECT_EQ(t.sizes(), Dims({0, 3}));
  EXPECT_TRUE(values<float>(t).empty());
}

TEST(Creation, ArangeInfersInt64FromIntegralArguments) {
  Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), kInt64);
  EXPECT_EQ(values<int64_t>(a), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  Tensor b = arange(2, 11, 3);
  EXPECT_EQ(b.dtype(), kInt64);
  EXPECT_EQ(values<int64_t>(b), (std::vector<int64_t>{2, 5, 8}));
  Tensor down = arange(3, 0, -1);
  EXPECT_EQ(values<int64_t>(down), (std::vector<int64_t>{3, 2, 1}));
}

TEST(Creation, ArangeWithFractionalArgumentsIsFloat32) {
  Tensor a = arange(0, 1, 0.25);
  EXPECT_EQ(a.dtype(), kFloat32);
  EXPECT_EQ(values<float>(a), (std::vector<float>{0.f, 0.25f, 0.5f, 0.75f}));
  Tensor b = arange(2.5);
  EXPECT_EQ(b.dtype(), kFloat32);
  EXPECT_EQ(values<float>(b), (std::vector<float>{0.f, 1.f, 2.f}));
}

TEST(Creation, ArangeHonoursAnExplicitDtype) {
  Tensor a = arange(4, kFloat64);
  EXPECT_EQ(a.dtype(), kFloat64);
  EXPECT_EQ(values<double>(a), (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(arange(0, 3, 1, kFloat32).dtype(), kFloat32);
  EXPECT_EQ(arange(0).numel(), 0);
}

TEST(Creation, LinspaceHitsBothEndpointsExactly) {
  Tensor l = linspace(0, 1, 5);
  EXPECT_EQ(l.dtype(), kFloat32);
  EXPECT_EQ(values<float>(l), (std::vector<float>{0.f, 0.25f, 0.5f, 0.75f, 1.f}));
  Tensor m = linspace(-1.3, 2.7, 7, kFloat64);
  std::vector<double> v = values<double>(m);
  ASSERT_EQ(v.size(), 7u);
  EXPECT_EQ(v.front(), -1.3);
  EXPECT_EQ(v.back(), 2.7);
  for (size_t i = 1; i < v.size(); ++i) EXPECT_NEAR(v[i] - v[i - 1], 4.0 / 6.0, 1e-12);
  EXPECT_EQ(values<float>(linspace(3, 9, 1)), std::vector<float>{3.f});
  EXPECT_EQ(linspace(0, 1, 0).numel(), 0);
  std::vector<double> down = values<double>(linspace(1, 0, 3, kFloat64));
  EXPECT_EQ(down, (std::vector<double>{1.0, 0.5, 0.0}));
}

TEST(Creation, Eye) {
  EXPECT_EQ(values<float>(eye(3)), (std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  Tensor r = eye(2, 3, kInt64);
  EXPECT_EQ(r.sizes(), Dims({2, 3}));
  EXPECT_EQ(r.dtype(), kInt64);
  EXPECT_EQ(values<int64_t>(r), (std::vector<int64_t>{1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(values<double>(eye(3, 2, kFloat64)), (std::vector<double>{1, 0, 0, 1, 0, 0}));
}

TEST(Creation, TensorFromValuesInfersTheDtype) {
  Tensor f = tensor({1.5f, -2.f});
  EXPECT_EQ(f.dtype(), kFloat32);
  EXPECT_EQ(values<float>(f), (std::vector<float>{1.5f, -2.f}));
  Tensor d = tensor({1.5, 2.25});
  EXPECT_EQ(d.dtype(), kFloat64);
  Tensor i = tensor({1, 2, 3});
  EXPECT_EQ(i.dtype(), kInt64);
  EXPECT_EQ(values<int64_t>(i), (std::vector<int64_t>{1, 2, 3}));
  Tensor l = tensor(std::vector<int64_t>{4, 5});
  EXPECT_EQ(l.dtype(), kInt64);
  Tensor b = tensor({true, false, true});
  EXPECT_EQ(b.dtype(), kBool);
  EXPECT_EQ(values<bool>(b), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(f.sizes(), Dims({2}));
}

TEST(Creation, TensorFromValuesWithAnExplicitDtypeConverts) {
  Tensor t = tensor({1, 2}, kFloat64);
  EXPECT_EQ(t.dtype(), kFloat64);
  EXPECT_EQ(values<double>(t), (std::vector<double>{1.0, 2.0}));
  Tensor b = tensor({0.f, 2.f}, kBool);
  EXPECT_EQ(values<bool>(b), (std::vector<bool>{false, true}));
}

TEST(Creation, RequiresGradOptionMakesALeafThatRequiresGrad) {
  Tensor z = zeros({2}, requires_grad());
  EXPECT_TRUE(z.requires_grad());
  EXPECT_TRUE(z.is_leaf());
  EXPECT_FALSE(z.grad().defined());
  EXPECT_TRUE(randn({2}, TensorOptions(kFloat64).requires_grad(true)).requires_grad());
  EXPECT_TRUE(tensor({1.0}, requires_grad()).requires_grad());
  EXPECT_TRUE(ones_like(z, requires_grad()).requires_grad());
  EXPECT_FALSE(ones_like(z).requires_grad());  // *_like does not copy requires_grad
  EXPECT_THROW(zeros({2}, TensorOptions(kInt64).requires_grad(true)), Error);
  EXPECT_THROW(arange(3, requires_grad()), Error);  // integral arange is int64
}

TEST(Creation, FromBlobSharesTheCallersMemory) {
  std::vector<float> buffer = {0, 1, 2, 3, 4, 5};
  Tensor t = from_blob(buffer.data(), {2, 3});
  EXPECT_EQ(t.dtype(), kFloat32);
  EXPECT_EQ(t.data_ptr(), static_cast<void*>(buffer.data()));
  buffer[4] = 40;
  EXPECT_EQ(t.select(0, 1).select(0, 1).item<float>(), 40.f);
  t.fill_(7);
  EXPECT_EQ(buffer, std::vector<float>(6, 7.f));
}

TEST(Creation, FromBlobWithStridesAndDeleter) {
  auto* data = new double[6]{0, 1, 2, 3, 4, 5};
  bool deleted = false;
  {
    Tensor t = from_blob(data, {3, 2}, {1, 3}, [&](void* p) {
      delete[] static_cast<double*>(p);
      deleted = true;
    }, kFloat64);
    EXPECT_FALSE(t.is_contiguous());
    EXPECT_EQ(values<double>(t), (std::vector<double>{0, 3, 1, 4, 2, 5}));
    Tensor view = t.t();
    EXPECT_FALSE(deleted);
    t = Tensor();
    EXPECT_FALSE(deleted) << "a view still holds the storage";
    EXPECT_EQ(values<double>(view), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  }
  EXPECT_TRUE(deleted);
}

TEST(Creation, LikeFunctionsCopyShapeAndDtype) {
  Tensor base = zeros({2, 3}, kFloat64);
  for (const Tensor& t : {empty_like(base), zeros_like(base), ones_like(base), full_like(base, 2), rand_like(base),
                          randn_like(base)}) {
    EXPECT_EQ(t.sizes(), base.sizes());
    EXPECT_EQ(t.dtype(), kFloat64);
  }
  EXPECT_EQ(values<double>(full_like(base, 2)), std::vector<double>(6, 2.0));
  EXPECT_EQ(zeros_like(base, kInt64).dtype(), kInt64);
  Tensor strided_base = zeros({3, 2}).t();
  EXPECT_TRUE(zeros_like(strided_base).is_contiguous());
  EXPECT_EQ(zeros_like(strided_base).sizes(), Dims({2, 3}));
}

TEST(Creation, RandIsInTheUnitIntervalAndRandnIsStandardNormal) {
  manual_seed(123);
  std::vector<double> u = values<double>(rand({20000}, kFloat64));
  for (double v : u) ASSERT_TRUE(v >= 0 && v < 1) << v;
  const double mean_u = std::accumulate(u.begin(), u.end(), 0.0) / static_cast<double>(u.size());
  EXPECT_NEAR(mean_u, 0.5, 0.01);

  std::vector<float> n = values<float>(randn({20000}));
  double mean = 0, sq = 0;
  for (float v : n) mean += v, sq += static_cast<double>(v) * v;
  mean /= static_cast<double>(n.size());
  const double var = sq / static_cast<double>(n.size()) - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.03);
  EXPECT_NEAR(var, 1.0, 0.04);
}

TEST(Creation, ManualSeedMakesRandomnessReproducible) {
  manual_seed(7);
  std::vector<float> a1 = values<float>(randn({64}));
  std::vector<float> a2 = values<float>(rand({5, 3}));
  std::vector<int64_t> a3 = values<int64_t>(randperm(10));
  manual_seed(7);
  EXPECT_EQ(values<float>(randn({64})), a1);
  EXPECT_EQ(values<float>(rand({5, 3})), a2);
  EXPECT_EQ(values<int64_t>(randperm(10)), a3);
  manual_seed(8);
  EXPECT_NE(values<float>(randn({64})), a1);
  // consecutive draws differ
  manual_seed(7);
  std::vector<float> first = values<float>(randn({64}));
  EXPECT_NE(values<float>(randn({64})), first);
}

TEST(Creation, RandomDtypes) {
  EXPECT_EQ(rand({2}, kFloat64).dtype(), kFloat64);
  EXPECT_EQ(randn({2}).dtype(), kFloat32);
  EXPECT_THROW(rand({2}, kInt64), Error);
  EXPECT_THROW(randn({2}, kBool), Error);
}

TEST(Creation, RandintStaysInItsRange) {
  manual_seed(1);
  Tensor r = randint(-3, 4, {1000});
  EXPECT_EQ(r.dtype(), kInt64);
  std::set<int64_t> seen;
  for (int64_t v : values<int64_t>(r)) {
    ASSERT_GE(v, -3);
    ASSERT_LT(v, 4);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u) << "every value in [-3, 4) should appear in 1000 draws";
  EXPECT_EQ(randint(0, 5, {3}, kFloat32).dtype(), kFloat32);
}

TEST(Creation, RandpermIsAPermutation) {
  manual_seed(3);
  std::vector<int64_t> p = values<int64_t>(randperm(50));
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> expected(50);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(sorted, expected);
  EXPECT_NE(p, expected) << "a shuffle of 50 elements should move something";
  EXPECT_EQ(randperm(0).numel(), 0);
}

TEST(Creation, BernoulliGivesZerosAndOnesWithTheRightFrequency) {
  manual_seed(5);
  std::vector<float> b = values<float>(bernoulli({10000}, 0.3));
  double ones_count = 0;
  for (float v : b) {
    ASSERT_TRUE(v == 0.f || v == 1.f);
    ones_count += v;
  }
  EXPECT_NEAR(ones_count / 10000.0, 0.3, 0.02);
  EXPECT_EQ(bernoulli({2}, 0.5, kFloat64).dtype(), kFloat64);
  EXPECT_EQ(values<float>(bernoulli({4}, 0.0)), std::vector<float>(4, 0.f));
  EXPECT_EQ(values<float>(bernoulli({4}, 1.0)), std::vector<float>(4, 1.f));
}

TEST(Creation, RandomTensorsCanRequireGrad) {
  Tensor w = randn({3, 2}, requires_grad());
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
}

}  // namespace

// The CUDA backend checked against the CPU backend (the oracle): every op runs on both devices with the same
// random inputs — random shapes, broadcasting, non-contiguous views (transposed, strided, permuted), float32 and
// float64 — and the forward results and the gradients (through autograd, x.grad on both devices) must agree
// within the stated tolerances (cuda_test_util.h: float32 2e-5 relative forward / 2e-4 backward, float64 1e-11 /
// 1e-10; integer, bool and index results exactly). Random numbers must be the CPU's for the same seed: uniform
// and integer samples bit for bit, normal samples to a few ulp. Every test skips without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cuda_test_util.h"
#include "tensor/dispatch.h"

namespace tandem {
namespace {

using cuda_test::Arg;
using cuda_test::check_op;
using cuda_test::constant;
using cuda_test::every_other;
using cuda_test::kExact;
using cuda_test::matches_cpu;
using cuda_test::plain;
using cuda_test::ShapeSource;
using cuda_test::Tolerance;
using cuda_test::transposed;

const Device kCuda(kCUDA);
const std::vector<ScalarType> kFloatTypes = {kFloat32, kFloat64};

Tensor normal(const Dims& shape, ScalarType dtype, double scale = 1) { return randn(shape, TensorOptions(dtype)) * scale; }
/// Values in [lo, hi).
Tensor uniform(const Dims& shape, ScalarType dtype, double lo, double hi) {
  return rand(shape, TensorOptions(dtype)) * (hi - lo) + lo;
}
/// Small integers as floats, so that ties and exact equalities occur.
Tensor small_integers(const Dims& shape, ScalarType dtype, int64_t high = 4) {
  return randint(0, high, shape).to(dtype);
}

// =============================================================================================================
// Element-wise
// =============================================================================================================

TEST(CudaVsCpu, UnaryOps) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(1);
  ShapeSource shapes(1);
  for (ScalarType dt : kFloatTypes) {
    const int64_t a = shapes.size(2, 7), b = shapes.size(2, 9);
    // Bases hold the transposed shape [b, a]; every op sees the non-contiguous [a, b] view.
    const Tensor any = normal({b, a}, dt, 2);
    const Tensor positive = uniform({b, a}, dt, 0.2, 3);
    struct Case {
      const char* name;
      bool positive_input;
      std::function<Tensor(const Tensor&)> fn;
    };
    const std::vector<Case> cases = {
        {"neg", false, [](const Tensor& x) { return x.neg(); }},
        {"exp", false, [](const Tensor& x) { return x.exp(); }},
        {"log", true, [](const Tensor& x) { return x.log(); }},
        {"sqrt", true, [](const Tensor& x) { return x.sqrt(); }},
        {"rsqrt", true, [](const Tensor& x) { return x.rsqrt(); }},
        {"abs", false, [](const Tensor& x) { return x.abs(); }},
        {"sign", false, [](const Tensor& x) { return x.sign(); }},
        {"tanh", false, [](const Tensor& x) { return x.tanh(); }},
        {"sigmoid", false, [](const Tensor& x) { return x.sigmoid(); }},
        {"relu", false, [](const Tensor& x) { return x.relu(); }},
        {"leaky_relu", false, [](const Tensor& x) { return leaky_relu(x, 0.1); }},
        {"gelu", false, [](const Tensor& x) { return gelu(x); }},
        {"gelu_tanh", false, [](const Tensor& x) { return gelu(x, "tanh"); }},
        {"silu", false, [](const Tensor& x) { return silu(x); }},
        {"softplus", false, [](const Tensor& x) { return softplus(x, 2, 3); }},
        {"square", false, [](const Tensor& x) { return x.square(); }},
        {"reciprocal", true, [](const Tensor& x) { return x.reciprocal(); }},
        {"sin", false, [](const Tensor& x) { return x.sin(); }},
        {"cos", false, [](const Tensor& x) { return x.cos(); }},
        {"erf", false, [](const Tensor& x) { return x.erf(); }},
        {"log1p", true, [](const Tensor& x) { return x.log1p(); }},
        {"expm1", false, [](const Tensor& x) { return x.expm1(); }},
        {"floor", false, [](const Tensor& x) { return x.floor(); }},
        {"ceil", false, [](const Tensor& x) { return x.ceil(); }},
        {"round", false, [](const Tensor& x) { return x.round(); }},
        {"clamp", false, [](const Tensor& x) { return x.clamp(-0.5, 0.7); }},
        {"clamp_min", false, [](const Tensor& x) { return x.clamp_min(0.3); }},
        {"pow2", false, [](const Tensor& x) { return x.pow(2); }},
        {"pow3", false, [](const Tensor& x) { return x.pow(3); }},
        {"pow_half", true, [](const Tensor& x) { return x.pow(0.5); }},
        {"pow_minus1", true, [](const Tensor& x) { return x.pow(-1); }},
        {"pow_2.7", true, [](const Tensor& x) { return x.pow(2.7); }},
        {"rpow", false, [](const Tensor& x) { return pow(2.0, x); }},
        {"add_scalar", false, [](const Tensor& x) { return x + 1.5; }},
        {"sub_scalar", false, [](const Tensor& x) { return x - 0.25; }},
        {"mul_scalar", false, [](const Tensor& x) { return x * -2.5; }},
        {"rsub_scalar", false, [](const Tensor& x) { return 3.0 - x; }},
        {"div_scalar", false, [](const Tensor& x) { return x / 4.0; }},
        {"rdiv_scalar", true, [](const Tensor& x) { return 2.0 / x; }},
    };
    for (const Case& c : cases) {
      check_op(std::string(c.name) + " " + dtype_name(dt), {transposed(c.positive_input ? positive : any)},
               [&](const std::vector<Tensor>& in) { return c.fn(in[0]); }, dt);
    }
  }
}

TEST(CudaVsCpu, UnaryOpsOnContiguousAndMisalignedRows) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(2);
  for (ScalarType dt : kFloatTypes) {
    // 4099 elements: whole vectorised tiles plus a tail; the slice starting at 1 is contiguous but misaligned.
    const Tensor x = normal({4099}, dt);
    check_op(std::string("tanh contiguous ") + dtype_name(dt), {plain(x)},
             [](const std::vector<Tensor>& in) { return in[0].tanh(); }, dt);
    check_op(std::string("sigmoid misaligned ") + dtype_name(dt),
             {Arg{x, [](const Tensor& t) { return t.slice(0, 1, t.size(0)); }, true}},
             [](const std::vector<Tensor>& in) { return in[0].sigmoid() * in[0]; }, dt);
    check_op(std::string("exp every other ") + dtype_name(dt), {every_other(x, 0)},
             [](const std::vector<Tensor>& in) { return in[0].exp(); }, dt);
  }
}

TEST(CudaVsCpu, BinaryOpsWithBroadcasting) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(3);
  ShapeSource shapes(3);
  for (ScalarType dt : kFloatTypes) {
    const int64_t a = shapes.size(2, 5), b = shapes.size(2, 6), c = shapes.size(2, 7);
    // x: [a, 1, c] (broadcast along dim 1); y: [b, c] seen through a transposed base [c, b].
    const Tensor x = normal({a, 1, c}, dt);
    const Tensor y = normal({c, b}, dt);
    const Tensor positive_x = uniform({a, 1, c}, dt, 0.3, 2);
    const Tensor positive_y = uniform({c, b}, dt, 0.3, 2);
    struct Case {
      const char* name;
      bool positive;
      std::function<Tensor(const Tensor&, const Tensor&)> fn;
    };
    const std::vector<Case> cases = {
        {"add", false, [](const Tensor& p, const Tensor& q) { return p + q; }},
        {"add_alpha", false, [](const Tensor& p, const Tensor& q) { return add(p, q, 0.5); }},
        {"sub", false, [](const Tensor& p, const Tensor& q) { return p - q; }},
        {"mul", false, [](const Tensor& p, const Tensor& q) { return p * q; }},
        {"div", true, [](const Tensor& p, const Tensor& q) { return p / q; }},
        {"pow", true, [](const Tensor& p, const Tensor& q) { return pow(p, q); }},
        {"maximum", false, [](const Tensor& p, const Tensor& q) { return maximum(p, q); }},
        {"minimum", false, [](const Tensor& p, const Tensor& q) { return minimum(p, q); }},
    };
    for (const Case& k : cases) {
      check_op(std::string(k.name) + " " + dtype_name(dt),
               {plain(k.positive ? positive_x : x), transposed(k.positive ? positive_y : y)},
               [&](const std::vector<Tensor>& in) { return k.fn(in[0], in[1]); }, dt);
    }
    // A 0-d operand broadcast against a matrix, and an expanded (stride 0) operand.
    check_op(std::string("mul by 0-d ") + dtype_name(dt), {plain(normal({}, dt)), plain(normal({a, c}, dt))},
             [](const std::vector<Tensor>& in) { return in[0] * in[1]; }, dt);
    check_op(std::string("add expanded ") + dtype_name(dt),
             {Arg{normal({c}, dt), [a, c](const Tensor& t) { return t.expand({a, c}); }, true}, plain(normal({a, c}, dt))},
             [](const std::vector<Tensor>& in) { return in[0] + in[1]; }, dt);
  }
}

/// The same random values with the given shape on the CPU and on CUDA, each a view whose memory order is one
/// random permutation of its dims (the CUDA view is taken of the moved base, so both have the same strides).
std::pair<Tensor, Tensor> randomly_laid_out(const Dims& shape, ScalarType dtype, std::mt19937& rng) {
  std::vector<int64_t> order(shape.size());
  for (size_t d = 0; d < order.size(); ++d) order[d] = static_cast<int64_t>(d);
  std::shuffle(order.begin(), order.end(), rng);
  Dims stored(shape.size()), inverse(shape.size());
  for (size_t d = 0; d < order.size(); ++d) {
    stored[d] = shape[static_cast<size_t>(order[d])];
    inverse[static_cast<size_t>(order[d])] = static_cast<int64_t>(d);
  }
  const Tensor base = normal(stored, dtype);
  return {base.permute(inverse), base.to(kCuda).permute(inverse)};
}

TEST(CudaVsCpu, ElementwiseOverRandomLayouts) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(30);
  std::mt19937 rng(30);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int trial = 0; trial < 40; ++trial) {
    const ScalarType dt = trial % 2 ? kFloat64 : kFloat32;
    Dims shape, shape_b;
    const int64_t rank = pick(1, 5);
    for (int64_t d = 0; d < rank; ++d) {
      shape.push_back(pick(1, 5));
      shape_b.push_back(pick(0, 2) == 0 ? 1 : shape.back());  // broadcast along some dims
    }
    SCOPED_TRACE("trial " + std::to_string(trial) + " shapes " + shape.str() + " and " + shape_b.str());
    const auto [a, da] = randomly_laid_out(shape, dt, rng);
    const auto [b, db] = randomly_laid_out(shape_b, dt, rng);
    const auto [c, dc] = randomly_laid_out(shape_b, kFloat32, rng);
    const Tensor cond = c.gt(0), dcond = dc.gt(0);
    // add and mul round once, identically on both devices: exact comparisons check the indexing.
    EXPECT_TRUE(matches_cpu(a + b, da + db, kExact));
    EXPECT_TRUE(matches_cpu(a * b, da * db, kExact));
    EXPECT_TRUE(matches_cpu(where(cond, a, b), where(dcond, da, db), kExact));
    EXPECT_TRUE(matches_cpu(a.to(kInt64), da.to(kInt64), kExact));
    EXPECT_TRUE(matches_cpu(a.contiguous(), da.contiguous(), kExact));
    if (rank >= 2) {
      const Tensor at = a.transpose(0, rank - 1), dat = da.transpose(0, rank - 1);
      EXPECT_TRUE(matches_cpu(at * b.transpose(0, rank - 1) - at, dat * db.transpose(0, rank - 1) - dat, kExact));
    }
  }
}

TEST(CudaVsCpu, ReductionsOverRandomShapesAndDims) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(31);
  std::mt19937 rng(31);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int trial = 0; trial < 60; ++trial) {
    const ScalarType dt = trial % 2 ? kFloat64 : kFloat32;
    Dims shape;
    const int64_t rank = pick(1, 4);
    for (int64_t d = 0; d < rank; ++d) shape.push_back(pick(1, 6) == 1 ? 1 : pick(2, 40));
    Dims dims;
    for (int64_t d = 0; d < rank; ++d)
      if (pick(0, 1)) dims.push_back(d);
    if (dims.empty()) dims.push_back(pick(0, rank - 1));
    const bool keepdim = pick(0, 1) == 1;
    const int64_t one_dim = dims[static_cast<size_t>(pick(0, static_cast<int64_t>(dims.size()) - 1))];
    SCOPED_TRACE("trial " + std::to_string(trial) + " shape " + shape.str() + " dims " + dims.str());
    // The device gets the same values in the same (permuted) layout: a permuted view of a moved base.
    std::vector<int64_t> order(static_cast<size_t>(rank));
    for (int64_t d = 0; d < rank; ++d) order[static_cast<size_t>(d)] = d;
    std::shuffle(order.begin(), order.end(), rng);
    Dims stored(static_cast<size_t>(rank)), inverse(static_cast<size_t>(rank));
    for (int64_t d = 0; d < rank; ++d) {
      stored[static_cast<size_t>(d)] = shape[static_cast<size_t>(order[static_cast<size_t>(d)])];
      inverse[static_cast<size_t>(order[static_cast<size_t>(d)])] = d;
    }
    const Tensor base = uniform(stored, dt, 0.5, 1.5);
    const Tensor x = base.permute(inverse), gx = base.to(kCuda).permute(inverse);
    const Tolerance tol = cuda_test::forward_tolerance(dt);
    EXPECT_TRUE(matches_cpu(x.sum(dims, keepdim), gx.sum(dims, keepdim), tol));
    EXPECT_TRUE(matches_cpu(x.amax(dims, keepdim), gx.amax(dims, keepdim), kExact));
    EXPECT_TRUE(matches_cpu(x.amin(dims, keepdim), gx.amin(dims, keepdim), kExact));
    EXPECT_TRUE(matches_cpu(x.prod(one_dim, keepdim), gx.prod(one_dim, keepdim), tol));
    EXPECT_TRUE(matches_cpu(x.argmax(one_dim, keepdim), gx.argmax(one_dim, keepdim), kExact));
    EXPECT_TRUE(matches_cpu(x.argmin(one_dim, keepdim), gx.argmin(one_dim, keepdim), kExact));
    EXPECT_TRUE(matches_cpu(x.gt(1.2).any(), gx.gt(1.2).any(), kExact));
    EXPECT_TRUE(matches_cpu(x.softmax(one_dim), gx.softmax(one_dim), tol));
  }
}

TEST(CudaVsCpu, NanPropagation) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (ScalarType dt : kFloatTypes) {
    const Tensor x = tensor(std::vector<double>{1.0, nan, -2.0, inf, -inf, 0.0, nan}, TensorOptions(dt));
    const Tensor y = tensor(std::vector<double>{nan, 3.0, -1.0, 2.0, nan, -0.0, 1.0}, TensorOptions(dt));
    const Tensor gx = x.to(kCuda), gy = y.to(kCuda);
    EXPECT_TRUE(matches_cpu(maximum(x, y), maximum(gx, gy), kExact));
    EXPECT_TRUE(matches_cpu(minimum(x, y), minimum(gx, gy), kExact));
    EXPECT_TRUE(matches_cpu(x.relu(), gx.relu(), kExact));
    EXPECT_TRUE(matches_cpu(x.sign(), gx.sign(), kExact));
    EXPECT_TRUE(matches_cpu(x.clamp(-1, 1), gx.clamp(-1, 1), kExact));
    EXPECT_TRUE(matches_cpu(x.max(), gx.max(), kExact));
    EXPECT_TRUE(matches_cpu(x.argmax(), gx.argmax(), kExact));
    EXPECT_TRUE(matches_cpu(x.argmin(), gx.argmin(), kExact));
    EXPECT_TRUE(matches_cpu(x.ne(x), gx.ne(gx), kExact));
    EXPECT_TRUE(matches_cpu(x.softmax(0), gx.softmax(0), kExact));
  }
}

TEST(CudaVsCpu, ComparisonsAndLogicalOps) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(4);
  for (ScalarType dt : {kFloat32, kFloat64, kInt64}) {
    const Tensor x = small_integers({5, 1, 4}, dt), y = small_integers({3, 4}, dt);
    const Tensor gx = x.to(kCuda), gy = y.to(kCuda);
    EXPECT_TRUE(matches_cpu(x.eq(y), gx.eq(gy), kExact));
    EXPECT_TRUE(matches_cpu(x.ne(y), gx.ne(gy), kExact));
    EXPECT_TRUE(matches_cpu(x.lt(y), gx.lt(gy), kExact));
    EXPECT_TRUE(matches_cpu(x.le(y), gx.le(gy), kExact));
    EXPECT_TRUE(matches_cpu(x.gt(y), gx.gt(gy), kExact));
    EXPECT_TRUE(matches_cpu(x.ge(y), gx.ge(gy), kExact));
    EXPECT_TRUE(matches_cpu(x.eq(2), gx.eq(2), kExact));
    EXPECT_TRUE(matches_cpu(x.lt(1.5), gx.lt(1.5), kExact));
    EXPECT_TRUE(matches_cpu(x.ge(1), gx.ge(1), kExact));
    EXPECT_TRUE(matches_cpu(x.logical_not(), gx.logical_not(), kExact));
    EXPECT_TRUE(matches_cpu(x.logical_and(y), gx.logical_and(gy), kExact));
    EXPECT_TRUE(matches_cpu(x.logical_or(y), gx.logical_or(gy), kExact));
  }
  const Tensor p = rand({6, 5}).lt(0.5), q = rand({5, 6}).lt(0.5).t();
  const Tensor gp = p.to(kCuda), gq = q.to(kCuda);
  EXPECT_TRUE(matches_cpu(p.logical_and(q), gp.logical_and(gq), kExact));
  EXPECT_TRUE(matches_cpu(p.logical_or(q), gp.logical_or(gq), kExact));
  EXPECT_TRUE(matches_cpu(p.logical_not(), gp.logical_not(), kExact));
  EXPECT_TRUE(matches_cpu(p.eq(q), gp.eq(gq), kExact));
}

TEST(CudaVsCpu, IntegerAndBoolArithmetic) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(5);
  const Tensor x = randint(-20, 20, {4, 6}), y = randint(1, 9, {6, 4}).t();
  const Tensor gx = x.to(kCuda), gy = y.to(kCuda);
  EXPECT_TRUE(matches_cpu(x + y, gx + gy, kExact));
  EXPECT_TRUE(matches_cpu(x - y, gx - gy, kExact));
  EXPECT_TRUE(matches_cpu(x * y, gx * gy, kExact));
  EXPECT_TRUE(matches_cpu(x / y, gx / gy, cuda_test::forward_tolerance(kFloat32)));
  EXPECT_TRUE(matches_cpu(pow(y, y), pow(gy, gy), kExact));
  EXPECT_TRUE(matches_cpu(x.pow(3), gx.pow(3), kExact));
  EXPECT_TRUE(matches_cpu(pow(2.0, y), pow(2.0, gy), kExact));
  EXPECT_TRUE(matches_cpu(maximum(x, y), maximum(gx, gy), kExact));
  EXPECT_TRUE(matches_cpu(minimum(x, y), minimum(gx, gy), kExact));
  EXPECT_TRUE(matches_cpu(x.neg(), gx.neg(), kExact));
  EXPECT_TRUE(matches_cpu(x.abs(), gx.abs(), kExact));
  EXPECT_TRUE(matches_cpu(x.sign(), gx.sign(), kExact));
  EXPECT_TRUE(matches_cpu(x.clamp(-5, 7), gx.clamp(-5, 7), kExact));
  EXPECT_TRUE(matches_cpu(x + 3, gx + 3, kExact));
  EXPECT_TRUE(matches_cpu(x * 4, gx * 4, kExact));
  EXPECT_TRUE(matches_cpu(x.square(), gx.square(), kExact));
  EXPECT_TRUE(matches_cpu(x.sum(), gx.sum(), kExact));
  EXPECT_TRUE(matches_cpu(x.sum(1), gx.sum(1), kExact));
  EXPECT_TRUE(matches_cpu(y.prod(0), gy.prod(0), kExact));
  EXPECT_TRUE(matches_cpu(x.amax(0), gx.amax(0), kExact));
  EXPECT_TRUE(matches_cpu(x.argmin(1), gx.argmin(1), kExact));
  const Tensor p = rand({7, 3}).lt(0.4), q = rand({7, 3}).lt(0.6);
  const Tensor gp = p.to(kCuda), gq = q.to(kCuda);
  EXPECT_TRUE(matches_cpu(p + q, gp + gq, kExact));
  EXPECT_TRUE(matches_cpu(p * q, gp * gq, kExact));
  EXPECT_TRUE(matches_cpu(p.sum(), gp.sum(), kExact));
  EXPECT_TRUE(matches_cpu(p.any(), gp.any(), kExact));
  EXPECT_TRUE(matches_cpu(p.all(), gp.all(), kExact));
}

TEST(CudaVsCpu, DtypeConversions) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(6);
  const Tensor f = normal({5, 7}, kFloat64, 10).t();  // non-contiguous
  const std::vector<ScalarType> all = {kFloat32, kFloat64, kInt64, kBool};
  for (ScalarType from : all) {
    const Tensor x = f.to(from);
    const Tensor gx = x.to(kCuda);
    for (ScalarType to : all) {
      SCOPED_TRACE(std::string(dtype_name(from)) + " -> " + dtype_name(to));
      EXPECT_TRUE(matches_cpu(x.to(to), gx.to(to), kExact));
      // A moving conversion: the dtype changes on the way to the device.
      EXPECT_TRUE(matches_cpu(x.to(to), x.to(kCuda, to), kExact));
    }
  }
}

TEST(CudaVsCpu, WhereAndMaskedFill) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(7);
  for (ScalarType dt : kFloatTypes) {
    const Tensor cond = rand({4, 1, 5}).lt(0.5);
    const Arg permuted{normal({5, 3, 4}, dt), [](const Tensor& t) { return t.permute({2, 1, 0}); }, true};
    check_op(std::string("where ") + dtype_name(dt), {constant(cond), plain(normal({3, 5}, dt)), permuted},
             [](const std::vector<Tensor>& in) { return where(in[0], in[1], in[2]); }, dt);
    check_op(std::string("where scalar ") + dtype_name(dt), {constant(cond), plain(normal({4, 3, 5}, dt))},
             [](const std::vector<Tensor>& in) { return where(in[0], in[1], 2.5); }, dt);
    check_op(std::string("masked_fill ") + dtype_name(dt), {plain(normal({4, 3, 5}, dt)), constant(cond)},
             [](const std::vector<Tensor>& in) { return in[0].masked_fill(in[1], -1.25); }, dt);
  }
}

// =============================================================================================================
// Reductions
// =============================================================================================================

TEST(CudaVsCpu, Reductions) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(8);
  ShapeSource shapes(8);
  for (ScalarType dt : kFloatTypes) {
    const int64_t a = shapes.size(2, 6), b = shapes.size(3, 7), c = shapes.size(2, 9);
    // Bases [c, b, a] permuted to [a, b, c]: no dim is contiguous in the natural order.
    const Arg x{normal({c, b, a}, dt), [](const Tensor& t) { return t.permute({2, 1, 0}); }, true};
    const Arg near_one{uniform({c, b, a}, dt, 0.6, 1.4), [](const Tensor& t) { return t.permute({2, 1, 0}); }, true};
    const std::string s = std::string(" ") + dtype_name(dt);
    auto run = [&](const std::string& name, const Arg& arg, std::function<Tensor(const Tensor&)> fn) {
      check_op(name + s, {arg}, [fn](const std::vector<Tensor>& in) { return fn(in[0]); }, dt);
    };
    run("sum", x, [](const Tensor& t) { return t.sum(); });
    run("sum dim 0", x, [](const Tensor& t) { return t.sum(0); });
    run("sum dim 2 keepdim", x, [](const Tensor& t) { return t.sum(2, true); });
    run("sum dims 0 2", x, [](const Tensor& t) { return t.sum({0, 2}); });
    run("sum dims -1 1", x, [](const Tensor& t) { return t.sum({-1, 1}, true); });
    run("mean", x, [](const Tensor& t) { return t.mean(); });
    run("mean dim 1", x, [](const Tensor& t) { return t.mean(1); });
    run("prod", near_one, [](const Tensor& t) { return t.prod(); });
    run("prod dim 2", near_one, [](const Tensor& t) { return t.prod(2); });
    run("max", x, [](const Tensor& t) { return t.max(); });
    run("min", x, [](const Tensor& t) { return t.min(); });
    run("amax dims 0 1", x, [](const Tensor& t) { return t.amax({0, 1}); });
    run("amin dim 2", x, [](const Tensor& t) { return t.amin(2, true); });
    run("max dim values", x, [](const Tensor& t) { return std::get<0>(t.max(1)); });
    run("min dim values", x, [](const Tensor& t) { return std::get<0>(t.min(0, true)); });
    run("var", x, [](const Tensor& t) { return t.var(); });
    run("var dims", x, [](const Tensor& t) { return t.var({0, 2}, 0, true); });
    run("std dim", x, [](const Tensor& t) { return t.std({1}); });
    run("logsumexp", x, [](const Tensor& t) { return t.logsumexp(1); });
    run("logsumexp dims", x, [](const Tensor& t) { return t.logsumexp({0, 2}, true); });
    run("norm 2", x, [](const Tensor& t) { return t.norm(); });
    run("norm 1", x, [](const Tensor& t) { return t.norm(1); });
    run("sum of a column vector", Arg{normal({1, b}, dt), {}, true}, [](const Tensor& t) { return t.sum(0); });

    // Arg-reductions and max(dim) indices with ties: the first occurrence wins on both devices.
    const Tensor ties = small_integers({a, b, c}, dt, 3).permute({2, 0, 1});
    const Tensor gties = ties.to(kCuda);
    for (int64_t d = 0; d < 3; ++d) {
      SCOPED_TRACE("dim " + std::to_string(d));
      EXPECT_TRUE(matches_cpu(ties.argmax(d), gties.argmax(d), kExact));
      EXPECT_TRUE(matches_cpu(ties.argmin(d, true), gties.argmin(d, true), kExact));
      EXPECT_TRUE(matches_cpu(std::get<1>(ties.max(d)), std::get<1>(gties.max(d)), kExact));
      EXPECT_TRUE(matches_cpu(std::get<1>(ties.min(d)), std::get<1>(gties.min(d)), kExact));
    }
    EXPECT_TRUE(matches_cpu(ties.argmax(), gties.argmax(), kExact));
    EXPECT_TRUE(matches_cpu(ties.argmin(), gties.argmin(), kExact));
    EXPECT_TRUE(matches_cpu(ties.gt(1).any(), gties.gt(1).any(), kExact));
    EXPECT_TRUE(matches_cpu(ties.all(), gties.all(), kExact));
    EXPECT_TRUE(matches_cpu(ties.lt(5).all(), gties.lt(5).all(), kExact));
  }
}

TEST(CudaVsCpu, LargeReductionsSplitAcrossBlocks) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(9);
  const Tolerance f32{1e-5, 1e-5};
  // Positive values: the float32 CPU sum is then accurate to far better than the tolerance.
  const Tensor everything = rand({1 << 20});
  EXPECT_TRUE(matches_cpu(everything.sum(), everything.to(kCuda).sum(), f32));
  const Tensor tall = rand({200000, 3});
  EXPECT_TRUE(matches_cpu(tall.sum(0), tall.to(kCuda).sum(0), f32));        // few long columns
  EXPECT_TRUE(matches_cpu(tall.amax(0), tall.to(kCuda).amax(0), kExact));
  EXPECT_TRUE(matches_cpu(tall.t().sum(1), tall.to(kCuda).t().sum(1), f32));  // the same through a transpose
  const Tensor wide = rand({3, 200000}, kFloat64);
  EXPECT_TRUE(matches_cpu(wide.sum(1), wide.to(kCuda).sum(1), Tolerance{1e-12, 0}));  // few long rows
  EXPECT_TRUE(matches_cpu(wide.mean(0), wide.to(kCuda).mean(0), Tolerance{1e-12, 0}));
  const Tensor many_short = rand({100000, 5});
  EXPECT_TRUE(matches_cpu(many_short.sum(1), many_short.to(kCuda).sum(1), f32));
  EXPECT_TRUE(matches_cpu(many_short.argmax(1), many_short.to(kCuda).argmax(1), kExact));
  // The first of two equal maxima far apart in a long row.
  Tensor row = ones({300001});
  row.narrow(0, 70001, 1).fill_(5);
  row.narrow(0, 250000, 1).fill_(5);
  EXPECT_TRUE(matches_cpu(row.argmax(), row.to(kCuda).argmax(), kExact));
  EXPECT_EQ(row.to(kCuda).argmax().item<int64_t>(), 70001);
  EXPECT_TRUE(matches_cpu(row.argmin(), row.to(kCuda).argmin(), kExact));
  // Empty reductions.
  const Tensor empty_rows = zeros({0, 4});
  EXPECT_TRUE(matches_cpu(empty_rows.sum(0), empty_rows.to(kCuda).sum(0), kExact));
  EXPECT_TRUE(matches_cpu(empty_rows.prod(0), empty_rows.to(kCuda).prod(0), kExact));
  EXPECT_THROW(empty_rows.to(kCuda).amax(0), Error);
}

// =============================================================================================================
// Linear algebra and softmax
// =============================================================================================================

TEST(CudaVsCpu, Matmul) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(10);
  ShapeSource shapes(10);
  for (ScalarType dt : kFloatTypes) {
    const int64_t m = shapes.size(2, 9), k = shapes.size(2, 33), n = shapes.size(2, 17), batch = shapes.size(2, 4);
    const Tolerance fwd = dt == kFloat64 ? Tolerance{1e-11, 1e-12} : Tolerance{1e-4, 1e-4};
    const Tolerance bwd = dt == kFloat64 ? Tolerance{1e-10, 1e-12} : Tolerance{1e-4, 1e-4};
    const std::string s = std::string(" ") + dtype_name(dt);
    auto mm_fn = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
    check_op("dot" + s, {plain(normal({k}, dt)), plain(normal({k}, dt))}, mm_fn, fwd, bwd);
    check_op("matrix x vector" + s, {plain(normal({m, k}, dt)), plain(normal({k}, dt))}, mm_fn, fwd, bwd);
    check_op("vector x matrix" + s, {plain(normal({k}, dt)), plain(normal({k, n}, dt))}, mm_fn, fwd, bwd);
    check_op("matrix x matrix" + s, {plain(normal({m, k}, dt)), plain(normal({k, n}, dt))}, mm_fn, fwd, bwd);
    check_op("transposed x matrix" + s, {transposed(normal({k, m}, dt)), plain(normal({k, n}, dt))}, mm_fn, fwd, bwd);
    check_op("matrix x transposed" + s, {plain(normal({m, k}, dt)), transposed(normal({n, k}, dt))}, mm_fn, fwd, bwd);
    check_op("both transposed" + s, {transposed(normal({k, m}, dt)), transposed(normal({n, k}, dt))}, mm_fn, fwd, bwd);
    check_op("strided columns" + s, {every_other(normal({m, 2 * k}, dt), 1), plain(normal({k, n}, dt))}, mm_fn, fwd, bwd);
    check_op("batched" + s, {plain(normal({batch, m, k}, dt)), plain(normal({batch, k, n}, dt))}, mm_fn, fwd, bwd);
    check_op("batched broadcast" + s, {plain(normal({2, 1, m, k}, dt)), plain(normal({batch, k, n}, dt))}, mm_fn, fwd, bwd);
    check_op("batched x matrix" + s, {plain(normal({batch, m, k}, dt)), transposed(normal({n, k}, dt))}, mm_fn, fwd, bwd);
    check_op("expanded rows" + s,
             {Arg{normal({1, k}, dt), [m](const Tensor& t) { return t.expand({m, -1}); }, true}, plain(normal({k, n}, dt))},
             mm_fn, fwd, bwd);
    check_op("mm" + s, {plain(normal({m, k}, dt)), plain(normal({k, n}, dt))},
             [](const std::vector<Tensor>& in) { return in[0].mm(in[1]); }, fwd, bwd);
    check_op("bmm" + s, {plain(normal({batch, m, k}, dt)), transposed(normal({batch, n, k}, dt))},
             [](const std::vector<Tensor>& in) { return in[0].bmm(in[1]); }, fwd, bwd);
    check_op("empty inner dim" + s, {plain(zeros({m, 0}, TensorOptions(dt))), plain(zeros({0, n}, TensorOptions(dt)))},
             mm_fn, fwd, bwd);
  }
}

TEST(CudaVsCpu, MatmulTf32Switch) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(11);
  EXPECT_FALSE(cuda::allow_tf32());
  const Tensor a = normal({64, 32}, kFloat32), b = normal({32, 48}, kFloat32);
  const Tensor expected = a.matmul(b);
  cuda::set_allow_tf32(true);
  EXPECT_TRUE(cuda::allow_tf32());
  const Tensor fast = a.to(kCuda).matmul(b.to(kCuda));
  cuda::set_allow_tf32(false);
  EXPECT_FALSE(cuda::allow_tf32());
  EXPECT_TRUE(matches_cpu(expected, fast, Tolerance{1e-2, 5e-2}));  // TF32 inputs carry 10 mantissa bits
  EXPECT_TRUE(matches_cpu(expected, a.to(kCuda).matmul(b.to(kCuda)), Tolerance{1e-4, 1e-4}));
}

/// The backend's matmul on strided operands and outputs (the output layouts the tensor layer never makes but
/// convolution and callers of the backend do): column-major output, output with no unit stride (computed into
/// a buffer), broadcast batch, operands with no unit stride (copied first).
TEST(CudaVsCpu, MatmulStridedOperandsAtTheBackend) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(12);
  Backend& gpu = backend_for(kCUDA);
  Backend& cpu = backend_for(kCPU);
  const int64_t B = 3, M = 5, K = 7, N = 4;
  struct Layout {
    const char* name;
    Dims storage;                                     // the buffer's shape
    std::function<Tensor(const Tensor&)> view;        // the [B, R, C] operand inside it
  };
  auto row_major = [](int64_t b, int64_t r, int64_t c) {
    return Layout{"row-major", {b, r, c}, [](const Tensor& t) { return t; }};
  };
  auto col_major = [](int64_t b, int64_t r, int64_t c) {
    return Layout{"column-major", {b, c, r}, [](const Tensor& t) { return t.transpose(1, 2); }};
  };
  auto gapped = [](int64_t b, int64_t r, int64_t c) {  // no unit stride at all
    return Layout{"gapped", {b, r, 2 * c}, [](const Tensor& t) { return t.slice(2, 0, t.size(2), 2); }};
  };
  auto broadcast = [](int64_t, int64_t r, int64_t c) {  // batch of 1 used for every batch entry
    return Layout{"broadcast batch", {1, r, c}, [](const Tensor& t) { return t; }};
  };
  using Maker = std::function<Layout(int64_t, int64_t, int64_t)>;
  const std::vector<Maker> inputs = {row_major, col_major, gapped, broadcast};
  const std::vector<Maker> outputs = {row_major, col_major, gapped};
  for (ScalarType dt : kFloatTypes) {
    for (const Maker& la : inputs) {
      for (const Maker& lb : inputs) {
        for (const Maker& lc : outputs) {
          const Layout A = la(B, M, K), Bl = lb(B, K, N), C = lc(B, M, N);
          SCOPED_TRACE(std::string(A.name) + " x " + Bl.name + " -> " + C.name + " " + dtype_name(dt));
          const Tensor a = normal(A.storage, dt), b = normal(Bl.storage, dt);
          const Tensor c_cpu = zeros(C.storage, TensorOptions(dt)), c_gpu = zeros(C.storage, TensorOptions(dt).device(kCuda));
          const Tensor ga = a.to(kCuda), gb = b.to(kCuda);
          cpu.matmul(detail::strided(A.view(a)), detail::strided(Bl.view(b)), detail::strided(C.view(c_cpu)));
          gpu.matmul(detail::strided(A.view(ga)), detail::strided(Bl.view(gb)), detail::strided(C.view(c_gpu)));
          const Tolerance tol = dt == kFloat64 ? Tolerance{1e-12, 1e-12} : Tolerance{1e-5, 1e-5};
          EXPECT_TRUE(matches_cpu(c_cpu, c_gpu, tol));  // the whole buffer: gaps stay zero
        }
      }
    }
  }
}

TEST(CudaVsCpu, SoftmaxAndLogSoftmax) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(13);
  ShapeSource shapes(13);
  for (ScalarType dt : kFloatTypes) {
    const int64_t a = shapes.size(2, 5), b = shapes.size(2, 6), c = shapes.size(2, 40);
    const std::string s = std::string(" ") + dtype_name(dt);
    for (int64_t d = 0; d < 3; ++d) {
      const Arg x{normal({c, b, a}, dt, 3), [](const Tensor& t) { return t.permute({2, 1, 0}); }, true};
      check_op("softmax dim " + std::to_string(d) + s, {x},
               [d](const std::vector<Tensor>& in) { return in[0].softmax(d); }, dt);
      check_op("log_softmax dim " + std::to_string(d) + s, {plain(normal({a, b, c}, dt, 3))},
               [d](const std::vector<Tensor>& in) { return in[0].log_softmax(d); }, dt);
    }
    // Long rows (a block per row), a single-element dim, and large logits.
    check_op("softmax long rows" + s, {plain(normal({3, 3000}, dt, 4))},
             [](const std::vector<Tensor>& in) { return in[0].softmax(-1); }, dt);
    check_op("log_softmax long rows" + s, {plain(normal({3, 3000}, dt, 4))},
             [](const std::vector<Tensor>& in) { return in[0].log_softmax(1); }, dt);
    check_op("softmax size-1 dim" + s, {plain(normal({4, 1}, dt))},
             [](const std::vector<Tensor>& in) { return in[0].softmax(1); }, dt);
    check_op("log_softmax large logits" + s, {plain(normal({5, 7}, dt, 200))},
             [](const std::vector<Tensor>& in) { return in[0].log_softmax(1); }, dt);
  }
}

// =============================================================================================================
// Joining, splitting and indexing
// =============================================================================================================

TEST(CudaVsCpu, CatStackSplit) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(14);
  for (ScalarType dt : kFloatTypes) {
    const std::string s = std::string(" ") + dtype_name(dt);
    check_op("cat dim 0" + s, {plain(normal({2, 5}, dt)), transposed(normal({5, 3}, dt))},
             [](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, 0); }, dt);
    check_op("cat dim 1" + s, {plain(normal({4, 2}, dt)), every_other(normal({4, 6}, dt), 1)},
             [](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[0]}, 1); }, dt);
    check_op("stack" + s, {plain(normal({3, 4}, dt)), transposed(normal({4, 3}, dt))},
             [](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, 1); }, dt);
    check_op("split" + s, {plain(normal({7, 3}, dt))}, [](const std::vector<Tensor>& in) {
      const std::vector<Tensor> parts = in[0].split(3, 0);
      return cat({parts[0] * 2, parts[1].exp(), parts[2] - 1}, 0);
    }, dt);
    check_op("chunk" + s, {transposed(normal({6, 4}, dt))}, [](const std::vector<Tensor>& in) {
      const std::vector<Tensor> parts = in[0].chunk(3, 1);
      return parts[0] * parts[1] + parts[2];
    }, dt);
  }
}

TEST(CudaVsCpu, IndexingOps) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(15);
  for (ScalarType dt : kFloatTypes) {
    const std::string s = std::string(" ") + dtype_name(dt);
    const Tensor repeated = tensor(std::vector<int64_t>{2, 0, 2, 4, 1, 2});  // repeated entries add up backward
    check_op("index_select dim 0" + s, {plain(normal({5, 3}, dt)), constant(repeated)},
             [](const std::vector<Tensor>& in) { return in[0].index_select(0, in[1]); }, dt);
    check_op("index_select dim 1" + s, {transposed(normal({5, 4}, dt)), constant(repeated)},
             [](const std::vector<Tensor>& in) { return in[0].index_select(1, in[1]); }, dt);
    check_op("index_select strided index" + s,
             {plain(normal({3, 5}, dt)), Arg{tensor(std::vector<int64_t>{4, 9, 0, 9, 3, 9}),
                                             [](const Tensor& t) { return t.slice(0, 0, 6, 2); }, false}},
             [](const std::vector<Tensor>& in) { return in[0].index_select(1, in[1]); }, dt);
    const Tensor gather_index = randint(0, 4, {3, 6});
    check_op("gather dim 1" + s, {plain(normal({3, 4}, dt)), constant(gather_index)},
             [](const std::vector<Tensor>& in) { return in[0].gather(1, in[1]); }, dt);
    check_op("gather dim 0" + s, {transposed(normal({7, 5}, dt)), constant(randint(0, 5, {4, 7}))},
             [](const std::vector<Tensor>& in) { return in[0].gather(0, in[1]); }, dt);
    check_op("scatter_add" + s, {plain(normal({3, 4}, dt)), constant(gather_index), plain(normal({3, 6}, dt))},
             [](const std::vector<Tensor>& in) { return in[0].scatter_add(1, in[1], in[2]); }, dt);
    check_op("index_add" + s, {plain(normal({5, 3}, dt)), constant(repeated), transposed(normal({3, 6}, dt))},
             [](const std::vector<Tensor>& in) { return in[0].index_add(0, in[1], in[2]); }, dt);
    check_op("masked_fill broadcast mask" + s, {plain(normal({4, 5}, dt)), constant(rand({5}).lt(0.5))},
             [](const std::vector<Tensor>& in) { return in[0].masked_fill(in[1], 7.0); }, dt);
    const Tensor tokens = tensor(std::vector<int64_t>{3, 0, 5, 3, 1, 0, 5, 2}).reshape({2, 4});
    check_op("embedding" + s, {plain(normal({6, 3}, dt)), constant(tokens)},
             [](const std::vector<Tensor>& in) { return embedding(in[0], in[1]); }, dt);
    check_op("embedding padding_idx" + s, {plain(normal({6, 3}, dt)), constant(tokens)},
             [](const std::vector<Tensor>& in) { return embedding(in[0], in[1], 0); }, dt);
  }
  const Tensor labels = randint(0, 5, {3, 4});
  EXPECT_TRUE(matches_cpu(one_hot(labels, 6), one_hot(labels.to(kCuda), 6), kExact));
  EXPECT_TRUE(matches_cpu(one_hot(labels), one_hot(labels.to(kCuda)), kExact));
  // Integer and bool payloads of the index kernels.
  const Tensor ints = randint(-9, 9, {4, 5}), idx = randint(0, 5, {4, 3});
  EXPECT_TRUE(matches_cpu(ints.gather(1, idx), ints.to(kCuda).gather(1, idx.to(kCuda)), kExact));
  const Tensor rows = tensor(std::vector<int64_t>{2, 0, 2, 3});
  EXPECT_TRUE(matches_cpu(ints.index_select(0, rows), ints.to(kCuda).index_select(0, rows.to(kCuda)), kExact));
  const Tensor src = randint(-9, 9, {4, 3});
  EXPECT_TRUE(matches_cpu(ints.scatter_add(1, idx, src), ints.to(kCuda).scatter_add(1, idx.to(kCuda), src.to(kCuda)), kExact));
  const Tensor flags = rand({4, 5}).lt(0.3), more = rand({4, 3}).lt(0.5);
  EXPECT_TRUE(matches_cpu(flags.scatter_add(1, idx, more), flags.to(kCuda).scatter_add(1, idx.to(kCuda), more.to(kCuda)), kExact));
}

// =============================================================================================================
// Convolution, pooling, dropout, normalisation
// =============================================================================================================

TEST(CudaVsCpu, Convolution) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(16);
  for (ScalarType dt : kFloatTypes) {
    const std::string s = std::string(" ") + dtype_name(dt);
    const Tolerance fwd = dt == kFloat64 ? Tolerance{1e-11, 1e-12} : Tolerance{1e-4, 1e-4};
    const Tolerance bwd = dt == kFloat64 ? Tolerance{1e-10, 1e-11} : Tolerance{1e-4, 1e-4};
    struct Case {
      const char* name;
      Dims stride, padding, dilation;
      int64_t groups;
    };
    const std::vector<Case> cases = {
        {"plain", {1}, {0}, {1}, 1},
        {"stride 2 padding 1", {2}, {1}, {1}, 1},
        {"dilation 2", {1}, {2}, {2}, 1},
        {"groups 2", {1, 2}, {1, 0}, {1}, 2},
        {"everything", {2, 1}, {1, 2}, {2, 1}, 2},
    };
    for (const Case& c : cases) {
      // Input [2, 4, 9, 8] through a permuted base (channels-last memory).
      const Arg x{normal({2, 9, 8, 4}, dt), [](const Tensor& t) { return t.permute({0, 3, 1, 2}); }, true};
      check_op(std::string("conv2d ") + c.name + s, {x, plain(normal({6, 4 / c.groups, 3, 3}, dt)), plain(normal({6}, dt))},
               [&c](const std::vector<Tensor>& in) {
                 return conv2d(in[0], in[1], in[2], c.stride, c.padding, c.dilation, c.groups);
               },
               fwd, bwd);
    }
    check_op("conv2d without bias" + s, {plain(normal({3, 2, 7, 7}, dt)), plain(normal({4, 2, 2, 3}, dt))},
             [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), {2}, {1}); }, fwd, bwd);
    check_op("conv1d" + s, {transposed(normal({2, 11, 4}, dt)), plain(normal({6, 2, 3}, dt)), plain(normal({6}, dt))},
             [](const std::vector<Tensor>& in) { return conv1d(in[0], in[1], in[2], 2, 1, 2, 2); }, fwd, bwd);
    check_op("unfold" + s, {plain(normal({2, 3, 6, 5}, dt))},
             [](const std::vector<Tensor>& in) { return unfold(in[0], {3, 2}, {1, 2}, {1}, {2, 1}); }, fwd, bwd);
    check_op("fold" + s, {plain(normal({2, 3 * 3 * 2, 15}, dt))},
             [](const std::vector<Tensor>& in) { return fold(in[0], {6, 5}, {3, 2}, {1, 2}, {1}, {2, 1}); }, fwd, bwd);
  }
}

TEST(CudaVsCpu, Pooling) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(17);
  for (ScalarType dt : kFloatTypes) {
    const std::string s = std::string(" ") + dtype_name(dt);
    const Arg x{normal({2, 9, 10, 3}, dt), [](const Tensor& t) { return t.permute({0, 3, 1, 2}); }, true};
    check_op("max_pool2d" + s, {x}, [](const std::vector<Tensor>& in) { return max_pool2d(in[0], {2}); }, dt);
    check_op("max_pool2d stride padding" + s, {x},
             [](const std::vector<Tensor>& in) { return max_pool2d(in[0], {3}, {2}, {1}); }, dt);
    check_op("max_pool2d dilation" + s, {x},
             [](const std::vector<Tensor>& in) { return max_pool2d(in[0], {3, 2}, {1, 2}, {1, 0}, {2, 1}); }, dt);
    // Ties: the first maximum wins on both devices, so the gradients land on the same elements.
    check_op("max_pool2d ties" + s, {plain(small_integers({2, 3, 8, 8}, dt, 3))},
             [](const std::vector<Tensor>& in) { return max_pool2d(in[0], {3}, {1}, {1}); }, kExact,
             cuda_test::backward_tolerance(dt));
    check_op("avg_pool2d" + s, {x}, [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {2}); }, dt);
    check_op("avg_pool2d stride padding" + s, {x},
             [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {3}, {2}, {1}); }, dt);
  }
}

TEST(CudaVsCpu, DropoutUsesTheSameMask) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (ScalarType dt : kFloatTypes) {
    const Tensor x = normal({37, 29}, dt);
    manual_seed(99);
    const Tensor on_cpu = dropout(x, 0.3);
    manual_seed(99);
    const Tensor on_cuda = dropout(x.to(kCuda), 0.3);
    EXPECT_TRUE(matches_cpu(on_cpu.eq(0), on_cuda.eq(0), kExact)) << "the dropped elements differ";
    EXPECT_TRUE(matches_cpu(on_cpu, on_cuda, cuda_test::forward_tolerance(dt)));
    manual_seed(100);
    check_op(std::string("dropout backward ") + dtype_name(dt), {plain(x)}, [](const std::vector<Tensor>& in) {
      // The same seed before each device's call: the same mask.
      manual_seed(123);
      return dropout(in[0], 0.5);
    }, dt);
  }
}

TEST(CudaVsCpu, Normalization) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(18);
  for (ScalarType dt : kFloatTypes) {
    const std::string s = std::string(" ") + dtype_name(dt);
    check_op("layer_norm" + s, {plain(normal({4, 3, 5}, dt, 2)), plain(normal({3, 5}, dt)), plain(normal({3, 5}, dt))},
             [](const std::vector<Tensor>& in) { return layer_norm(in[0], {3, 5}, in[1], in[2]); }, dt);
    check_op("layer_norm without affine" + s, {transposed(normal({6, 4}, dt, 3))},
             [](const std::vector<Tensor>& in) { return layer_norm(in[0], {6}); }, dt);
    const Tensor x = normal({5, 3, 4, 2}, dt, 2);
    const Tensor weight = normal({3}, dt), bias = normal({3}, dt);
    // Training mode: batch statistics, and the running statistics updated in place on each device.
    const Tensor mean_cpu = zeros({3}, TensorOptions(dt)), var_cpu = ones({3}, TensorOptions(dt));
    const Tensor mean_gpu = mean_cpu.to(kCuda), var_gpu = var_cpu.to(kCuda);
    check_op("batch_norm training" + s, {plain(x), plain(weight), plain(bias)}, [&](const std::vector<Tensor>& in) {
      const bool cuda_side = in[0].is_cuda();
      return batch_norm(in[0], cuda_side ? mean_gpu : mean_cpu, cuda_side ? var_gpu : var_cpu, in[1], in[2], true, 0.2);
    }, dt);
    EXPECT_TRUE(matches_cpu(mean_cpu, mean_gpu, cuda_test::forward_tolerance(dt)));
    EXPECT_TRUE(matches_cpu(var_cpu, var_gpu, cuda_test::forward_tolerance(dt)));
    check_op("batch_norm evaluation" + s, {plain(x), plain(weight), plain(bias)}, [&](const std::vector<Tensor>& in) {
      const bool cuda_side = in[0].is_cuda();
      return batch_norm(in[0], cuda_side ? mean_gpu : mean_cpu, cuda_side ? var_gpu : var_cpu, in[1], in[2], false);
    }, dt);
  }
}

// =============================================================================================================
// Losses
// =============================================================================================================

TEST(CudaVsCpu, Losses) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(19);
  for (ScalarType dt : kFloatTypes) {
    const std::string s = std::string(" ") + dtype_name(dt);
    const int64_t N = 6, C = 5;
    const Tensor logits = normal({N, C}, dt, 2);
    Tensor target = randint(0, C, {N});
    target.narrow(0, 2, 1).fill_(-100);  // one ignored sample
    const Tensor weights = uniform({C}, dt, 0.5, 2);
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      const std::string rs = r == Reduction::Mean ? " mean" : (r == Reduction::Sum ? " sum" : " none");
      check_op("cross_entropy" + rs + s, {plain(logits), constant(target)},
               [r](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], Tensor(), -100, 0.0, r); }, dt);
      check_op("cross_entropy weighted smoothed" + rs + s, {transposed(normal({C, N}, dt)), constant(target), plain(weights)},
               [r](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], in[2], -100, 0.1, r); }, dt);
      check_op("nll_loss" + rs + s, {plain(logits), constant(target)}, [r](const std::vector<Tensor>& in) {
        return nll_loss(in[0].log_softmax(1), in[1], Tensor(), -100, r);
      }, dt);
    }
    check_op("cross_entropy ignore_index 3" + s, {plain(logits), constant(randint(0, C, {N}))},
             [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], Tensor(), 3); }, dt);
    check_op("cross_entropy spatial" + s, {plain(normal({2, C, 3, 4}, dt)), constant(randint(0, C, {2, 3, 4}))},
             [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], Tensor(), -100, 0.05); }, dt);
    check_op("cross_entropy probabilities" + s, {plain(logits), constant(normal({N, C}, dt).softmax(1))},
             [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], Tensor(), -100, 0.2); }, dt);
    const Tensor input = normal({4, 7}, dt, 2), other = normal({4, 7}, dt, 2);
    check_op("mse_loss" + s, {plain(input), transposed(normal({7, 4}, dt))},
             [](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); }, dt);
    check_op("l1_loss sum" + s, {plain(input), plain(other)},
             [](const std::vector<Tensor>& in) { return l1_loss(in[0], in[1], Reduction::Sum); }, dt);
    check_op("huber_loss" + s, {plain(input), plain(other)},
             [](const std::vector<Tensor>& in) { return huber_loss(in[0], in[1], 0.7); }, dt);
    check_op("smooth_l1_loss none" + s, {plain(input), plain(other)},
             [](const std::vector<Tensor>& in) { return smooth_l1_loss(in[0], in[1], 0.5, Reduction::None); }, dt);
    check_op("binary_cross_entropy_with_logits" + s,
             {plain(input), constant(rand({4, 7}, TensorOptions(dt))), plain(uniform({7}, dt, 0.5, 2)),
              plain(uniform({7}, dt, 0.5, 3))},
             [](const std::vector<Tensor>& in) {
               return binary_cross_entropy_with_logits(in[0], in[1], in[2], in[3]);
             },
             dt);
    check_op("kl_div" + s, {plain(input.log_softmax(1)), constant(other.softmax(1))},
             [](const std::vector<Tensor>& in) { return kl_div(in[0], in[1], Reduction::Sum); }, dt);
    check_op("kl_div log_target" + s, {plain(input.log_softmax(1)), plain(other.log_softmax(1))},
             [](const std::vector<Tensor>& in) { return kl_div(in[0], in[1], Reduction::Mean, true); }, dt);
  }
}

// =============================================================================================================
// Random numbers, copies, modules
// =============================================================================================================

TEST(CudaVsCpu, RandomNumbersFollowTheCpuStream) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const TensorOptions on_gpu = TensorOptions(kFloat32).device(kCuda);
  auto both = [](uint64_t seed, const std::function<Tensor(Device)>& make) {
    manual_seed(seed);
    Tensor a = make(Device(kCPU));
    manual_seed(seed);
    Tensor b = make(kCuda);
    return std::make_pair(a, b);
  };
  for (ScalarType dt : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dt));
    auto [u1, u2] = both(1, [dt](Device d) { return rand({1001}, TensorOptions(dt).device(d)); });
    EXPECT_TRUE(matches_cpu(u1, u2, kExact));
    auto [b1, b2] = both(2, [dt](Device d) {
      Tensor t = empty({7, 13}, TensorOptions(dt).device(d));
      t.uniform_(-0.3, 0.77);
      return t;
    });
    EXPECT_TRUE(matches_cpu(b1, b2, kExact));
    // Normal samples go through log, sqrt, cos and sin: a few ulp apart at most. An odd count leaves the last
    // element without its pair inside the tensor.
    const Tolerance ulps = dt == kFloat64 ? Tolerance{1e-14, 1e-15} : Tolerance{3e-7, 1e-7};
    auto [n1, n2] = both(3, [dt](Device d) { return randn({999}, TensorOptions(dt).device(d)); });
    EXPECT_TRUE(matches_cpu(n1, n2, ulps));
    auto [m1, m2] = both(4, [dt](Device d) {
      Tensor t = empty({5, 9}, TensorOptions(dt).device(d));
      t.normal_(2.0, 0.5);
      return t;
    });
    EXPECT_TRUE(matches_cpu(m1, m2, Tolerance{ulps.rtol, 4 * ulps.atol}));
    auto [i1, i2] = both(5, [dt](Device d) { return randint(-3, 11, {333}, TensorOptions(dt).device(d)); });
    EXPECT_TRUE(matches_cpu(i1, i2, kExact));
  }
  auto [i1, i2] = both(6, [](Device d) { return randint(-1000000007, 1000000009, {4097}, TensorOptions(kInt64).device(d)); });
  EXPECT_TRUE(matches_cpu(i1, i2, kExact));
  auto [p1, p2] = both(7, [](Device d) { return bernoulli({64, 3}, 0.25, TensorOptions(kFloat32).device(d)); });
  EXPECT_TRUE(matches_cpu(p1, p2, kExact));
  // Several draws in a row consume the stream identically on both devices.
  auto [s1, s2] = both(8, [&](Device d) {
    (void)randn({3}, TensorOptions(kFloat64).device(d));
    return rand({5}, TensorOptions(kFloat64).device(d));
  });
  EXPECT_TRUE(matches_cpu(s1, s2, kExact));
  EXPECT_TRUE(rand({4}, on_gpu).is_cuda());
}

TEST(CudaVsCpu, CopiesBetweenDevices) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(20);
  // Through the pinned staging buffers in several chunks (12 MB).
  const Tensor big = rand({3000000});
  EXPECT_TRUE(matches_cpu(big, big.to(kCuda), kExact));
  EXPECT_EQ(big.to(kCuda).to(Device(kCPU)).to_vector<float>(), big.to_vector<float>());
  // Non-contiguous sources on either side.
  const Tensor x = normal({6, 4, 5}, kFloat64).permute({2, 0, 1});
  EXPECT_TRUE(matches_cpu(x, x.to(kCuda), kExact));
  const Tensor gx = normal({6, 4, 5}, kFloat64).to(kCuda).permute({1, 2, 0});
  const Tensor back = gx.cpu();
  EXPECT_TRUE(back.device().is_cpu());
  EXPECT_TRUE(matches_cpu(back, gx, kExact));
  EXPECT_TRUE(matches_cpu(x.contiguous(), x.cuda().contiguous(), kExact));
  EXPECT_TRUE(matches_cpu(x.clone(), x.cuda().clone(), kExact));
  // copy_ across devices, into a non-contiguous destination, with broadcasting.
  Tensor dst = zeros({5, 3}, TensorOptions(kFloat32).device(kCuda)).t();
  const Tensor row = tensor(std::vector<float>{1.5f, -2.f, 3.25f, 0.f, 7.f});
  dst.copy_(row);
  EXPECT_TRUE(matches_cpu(row.expand({3, 5}).contiguous(), dst, kExact));
  // In-place ops on CUDA tensors.
  Tensor y = normal({4, 4}, kFloat32);
  Tensor gy = y.to(kCuda);
  y.mul_(2).add_(1).clamp_(-1, 2);
  gy.mul_(2).add_(1).clamp_(-1, 2);
  EXPECT_TRUE(matches_cpu(y, gy, kExact));
  EXPECT_TRUE(matches_cpu(y.sum(), gy.sum(), Tolerance{1e-6, 1e-6}));
  // Gradients flow back across a move.
  Tensor leaf = normal({3, 2}, kFloat64);
  leaf.requires_grad_(true);
  (leaf.to(kCuda).exp() * 2).sum().backward();
  ASSERT_TRUE(leaf.grad().defined());
  EXPECT_TRUE(leaf.grad().device().is_cpu());
  EXPECT_TRUE(allclose(leaf.grad(), leaf.detach().exp() * 2, 1e-12, 1e-12));
}

TEST(CudaVsCpu, ModuleMovesToCuda) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(21);
  nn::Linear cpu_layer(5, 3);
  auto gpu_layer = std::dynamic_pointer_cast<nn::LinearImpl>(cpu_layer->clone());
  ASSERT_NE(gpu_layer, nullptr);
  gpu_layer->to(kCuda);
  for (const Tensor& p : gpu_layer->parameters()) {
    EXPECT_TRUE(p.is_cuda());
    EXPECT_TRUE(p.requires_grad());
  }
  const Tensor x = normal({4, 5}, kFloat32);
  const Tensor out_cpu = cpu_layer(x);
  const Tensor out_gpu = gpu_layer->forward(x.to(kCuda));
  EXPECT_TRUE(matches_cpu(out_cpu, out_gpu, Tolerance{1e-5, 1e-6}));
  out_cpu.sum().backward();
  out_gpu.sum().backward();
  const auto cpu_params = cpu_layer->parameters(), gpu_params = gpu_layer->parameters();
  ASSERT_EQ(cpu_params.size(), gpu_params.size());
  for (size_t i = 0; i < cpu_params.size(); ++i)
    EXPECT_TRUE(matches_cpu(cpu_params[i].grad(), gpu_params[i].grad(), Tolerance{1e-5, 1e-6}));
  // And back to the CPU.
  gpu_layer->to(Device(kCPU));
  for (const Tensor& p : gpu_layer->parameters()) EXPECT_TRUE(p.device().is_cpu());
}

}  // namespace
}  // namespace tandem

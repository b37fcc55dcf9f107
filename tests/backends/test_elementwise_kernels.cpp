// The CPU element-wise kernels (unary, binary, where, copy, fill) against a naive double-precision reference
// written here: every UnaryOp and BinaryOp on every dtype where it is defined, with random contiguous,
// transposed, strided-slice and broadcast (stride 0) operands, sizes on both sides of the threading grains,
// 1 and 2 threads, the tiled walk of transposed 2-D operands, in-place calls (dst == src), integer errors
// raised from threaded loops, and the accuracy of the vectorised float32 functions (exp, tanh, sigmoid, silu,
// erf, gelu) measured in ulps against double-precision libm over a sweep of float32 inputs.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"

namespace tandem::cpu {
namespace {

// ---- operands ---------------------------------------------------------------------------------------------

/// How an operand of a given logical shape is laid out in memory.
enum class Layout {
  Contiguous,
  Transposed,  ///< the last two dims swapped in memory
  Sliced,      ///< every second element of the innermost dim of a larger buffer
  Broadcast,   ///< the first dim has stride 0 (inputs only)
};

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Transposed: return "transposed";
    case Layout::Sliced: return "sliced";
    case Layout::Broadcast: return "broadcast";
  }
  return "?";
}

/// Host memory plus a strided view of it; values are read and written as double by logical index.
struct Operand {
  std::unique_ptr<unsigned char[]> memory;
  Strided s;

  Operand(ScalarType dtype, const Dims& sizes, Layout layout) {
    const size_t nd = sizes.size();
    Dims phys = sizes;  // physical shape, row-major
    std::vector<size_t> order(nd);
    for (size_t d = 0; d < nd; ++d) order[d] = d;
    if (layout == Layout::Transposed && nd >= 2) std::swap(order[nd - 1], order[nd - 2]);
    if (layout == Layout::Broadcast && nd >= 1) phys[0] = 1;
    Dims phys_sizes(nd);
    for (size_t d = 0; d < nd; ++d) phys_sizes[d] = phys[order[d]];
    const int64_t step = layout == Layout::Sliced ? 2 : 1;
    Dims phys_strides(nd);
    int64_t acc = step;
    for (size_t d = nd; d-- > 0;) {
      phys_strides[d] = acc;
      acc *= std::max<int64_t>(phys_sizes[d], 1);
    }
    s.dtype = dtype;
    s.sizes = sizes;
    s.strides = Dims(nd);
    for (size_t d = 0; d < nd; ++d) s.strides[order[d]] = phys_strides[d];
    if (layout == Layout::Broadcast && nd >= 1) s.strides[0] = 0;
    const size_t bytes = static_cast<size_t>(std::max<int64_t>(acc, 1)) * element_size(dtype);
    memory.reset(new unsigned char[bytes]());
    s.data = memory.get();
  }

  int64_t numel() const { return s.numel(); }
  /// Byte offset of the element with row-major logical index i.
  size_t offset(int64_t i) const {
    int64_t off = 0;
    for (size_t d = s.sizes.size(); d-- > 0;) {
      off += (i % s.sizes[d]) * s.strides[d];
      i /= s.sizes[d];
    }
    return static_cast<size_t>(off) * element_size(s.dtype);
  }
  double get(int64_t i) const {
    const unsigned char* p = memory.get() + offset(i);
    switch (s.dtype) {
      case ScalarType::Float32: { float v; std::memcpy(&v, p, 4); return v; }
      case ScalarType::Float64: { double v; std::memcpy(&v, p, 8); return v; }
      case ScalarType::Int64: { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
      case ScalarType::Bool: return *p ? 1.0 : 0.0;
    }
    return 0;
  }
  void set(int64_t i, double v) {
    unsigned char* p = memory.get() + offset(i);
    switch (s.dtype) {
      case ScalarType::Float32: { float f = static_cast<float>(v); std::memcpy(p, &f, 4); break; }
      case ScalarType::Float64: std::memcpy(p, &v, 8); break;
      case ScalarType::Int64: { int64_t k = static_cast<int64_t>(v); std::memcpy(p, &k, 8); break; }
      case ScalarType::Bool: *p = v != 0; break;
    }
  }
};

/// What values an input takes.
enum class Domain { Any, Positive, NonNegativeInt, NonZero, Small };

double draw(std::mt19937& gen, ScalarType dtype, Domain domain) {
  if (dtype == ScalarType::Bool) return std::uniform_int_distribution<int>(0, 1)(gen);
  if (dtype == ScalarType::Int64) {
    switch (domain) {
      case Domain::Positive: return std::uniform_int_distribution<int>(1, 9)(gen);
      case Domain::NonNegativeInt: return std::uniform_int_distribution<int>(0, 6)(gen);
      case Domain::NonZero: {
        const int v = std::uniform_int_distribution<int>(1, 7)(gen);
        return std::uniform_int_distribution<int>(0, 1)(gen) ? v : -v;
      }
      case Domain::Small: return std::uniform_int_distribution<int>(-3, 3)(gen);
      case Domain::Any: return std::uniform_int_distribution<int>(-9, 9)(gen);
    }
  }
  std::uniform_real_distribution<double> u(-4.0, 4.0);
  switch (domain) {
    case Domain::Positive: return std::uniform_real_distribution<double>(0.05, 5.0)(gen);
    case Domain::NonNegativeInt: return std::uniform_int_distribution<int>(0, 6)(gen);
    case Domain::NonZero: {
      const double v = std::uniform_real_distribution<double>(0.1, 4.0)(gen);
      return std::uniform_int_distribution<int>(0, 1)(gen) ? v : -v;
    }
    case Domain::Small: return std::uniform_real_distribution<double>(-2.0, 2.0)(gen);
    case Domain::Any: {
      // a few exact integers and ties to exercise rounding, comparisons and max/min ties
      if (std::uniform_int_distribution<int>(0, 9)(gen) == 0) return std::uniform_int_distribution<int>(-3, 3)(gen);
      return u(gen);
    }
  }
  return 0;
}

void fill_random(Operand& op, std::mt19937& gen, Domain domain) {
  for (int64_t i = 0; i < op.numel(); ++i) op.set(i, draw(gen, op.s.dtype, domain));
}

/// Restores the thread count at the end of a scope.
struct ThreadScope {
  int saved = get_num_threads();
  explicit ThreadScope(int n) { set_num_threads(n); }
  ~ThreadScope() { set_num_threads(saved); }
};

/// Shapes: tiny, above the vector-math grain (8192), above the cheap grain (32768).
const std::vector<Dims> kShapes = {Dims{3, 5}, Dims{3, 41, 91}, Dims{2, 150, 131}};

/// The shapes worth running with `threads` threads: on one thread the grains do not matter, so the largest
/// shape is left to the two-thread runs, which in turn skip the tiny one (it never splits).
std::vector<Dims> shapes_for(int threads) {
  if (threads == 1) return {kShapes[0], kShapes[1]};
  return {kShapes[1], kShapes[2]};
}
const std::vector<Layout> kInputLayouts = {Layout::Contiguous, Layout::Transposed, Layout::Sliced, Layout::Broadcast};

bool close(double got, double want, ScalarType dtype, double rel) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  if (dtype == ScalarType::Int64 || dtype == ScalarType::Bool) return got == want;
  return std::abs(got - want) <= rel * std::abs(want) + rel * 1e-3 || std::abs(got - want) <= 1e-37;
}

std::string dtype_str(ScalarType t) { return dtype_name(t); }

// ---- unary ------------------------------------------------------------------------------------------------

struct UnaryCase {
  UnaryOp op;
  const char* name;
  double p0, p1;
  Domain domain;
  bool floating_only;  ///< only checked for float32/float64 (integer results of floating functions truncate)
  std::function<double(double)> ref;
};

double sign_ref(double x) { return x > 0 ? 1 : (x < 0 ? -1 : x); }
double gelu_ref(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
double gelu_tanh_ref(double x) {
  const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
  return x / (1.0 + std::exp(-2.0 * u));
}
double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }

std::vector<UnaryCase> unary_cases() {
  const double inf = std::numeric_limits<double>::infinity();
  return {
      {UnaryOp::Neg, "neg", 0, 0, Domain::Any, false, [](double x) { return -x; }},
      {UnaryOp::Abs, "abs", 0, 0, Domain::Any, false, [](double x) { return std::abs(x); }},
      {UnaryOp::Sign, "sign", 0, 0, Domain::Any, false, sign_ref},
      {UnaryOp::Square, "square", 0, 0, Domain::Any, false, [](double x) { return x * x; }},
      {UnaryOp::Relu, "relu", 0, 0, Domain::Any, false, [](double x) { return x > 0 ? x : 0; }},
      {UnaryOp::Exp, "exp", 0, 0, Domain::Any, false, [](double x) { return std::exp(x); }},
      {UnaryOp::Log, "log", 0, 0, Domain::Positive, false, [](double x) { return std::log(x); }},
      {UnaryOp::Sqrt, "sqrt", 0, 0, Domain::Positive, false, [](double x) { return std::sqrt(x); }},
      {UnaryOp::Rsqrt, "rsqrt", 0, 0, Domain::Positive, false, [](double x) { return 1 / std::sqrt(x); }},
      {UnaryOp::Tanh, "tanh", 0, 0, Domain::Any, false, [](double x) { return std::tanh(x); }},
      {UnaryOp::Sigmoid, "sigmoid", 0, 0, Domain::Any, false, sigmoid_ref},
      {UnaryOp::Erf, "erf", 0, 0, Domain::Any, false, [](double x) { return std::erf(x); }},
      {UnaryOp::Sin, "sin", 0, 0, Domain::Any, false, [](double x) { return std::sin(x); }},
      {UnaryOp::Cos, "cos", 0, 0, Domain::Any, false, [](double x) { return std::cos(x); }},
      {UnaryOp::Log1p, "log1p", 0, 0, Domain::Positive, false, [](double x) { return std::log1p(x); }},
      {UnaryOp::Expm1, "expm1", 0, 0, Domain::Any, false, [](double x) { return std::expm1(x); }},
      {UnaryOp::Reciprocal, "reciprocal", 0, 0, Domain::NonZero, false, [](double x) { return 1 / x; }},
      {UnaryOp::Floor, "floor", 0, 0, Domain::Any, false, [](double x) { return std::floor(x); }},
      {UnaryOp::Ceil, "ceil", 0, 0, Domain::Any, false, [](double x) { return std::ceil(x); }},
      {UnaryOp::Round, "round", 0, 0, Domain::Any, false, [](double x) { return std::nearbyint(x); }},
      {UnaryOp::Gelu, "gelu", 0, 0, Domain::Any, false, gelu_ref},
      {UnaryOp::Gelu, "gelu_tanh", 1, 0, Domain::Any, true, gelu_tanh_ref},
      {UnaryOp::Silu, "silu", 0, 0, Domain::Any, false, [](double x) { return x * sigmoid_ref(x); }},
      {UnaryOp::AddScalar, "add_scalar", 3, 0, Domain::Any, false, [](double x) { return x + 3; }},
      {UnaryOp::AddScalar, "add_scalar_frac", 0.25, 0, Domain::Any, true, [](double x) { return x + 0.25; }},
      {UnaryOp::MulScalar, "mul_scalar", -2, 0, Domain::Any, false, [](double x) { return x * -2; }},
      {UnaryOp::RSubScalar, "rsub_scalar", 5, 0, Domain::Any, false, [](double x) { return 5 - x; }},
      {UnaryOp::DivScalar, "div_scalar", 4, 0, Domain::Any, true, [](double x) { return x / 4; }},
      {UnaryOp::RDivScalar, "rdiv_scalar", 3, 0, Domain::NonZero, true, [](double x) { return 3 / x; }},
      {UnaryOp::PowScalar, "pow_2", 2, 0, Domain::Any, false, [](double x) { return x * x; }},
      {UnaryOp::PowScalar, "pow_3", 3, 0, Domain::Any, false, [](double x) { return x * x * x; }},
      {UnaryOp::PowScalar, "pow_0", 0, 0, Domain::Any, false, [](double) { return 1.0; }},
      {UnaryOp::PowScalar, "pow_5", 5, 0, Domain::Small, false, [](double x) { return std::pow(x, 5); }},
      {UnaryOp::PowScalar, "pow_half", 0.5, 0, Domain::Positive, true, [](double x) { return std::sqrt(x); }},
      {UnaryOp::PowScalar, "pow_-half", -0.5, 0, Domain::Positive, true, [](double x) { return 1 / std::sqrt(x); }},
      {UnaryOp::PowScalar, "pow_-1", -1, 0, Domain::NonZero, true, [](double x) { return 1 / x; }},
      {UnaryOp::PowScalar, "pow_-2", -2, 0, Domain::NonZero, true, [](double x) { return 1 / (x * x); }},
      {UnaryOp::PowScalar, "pow_1.7", 1.7, 0, Domain::Positive, true, [](double x) { return std::pow(x, 1.7); }},
      {UnaryOp::RPowScalar, "rpow_2", 2, 0, Domain::NonNegativeInt, false, [](double x) { return std::pow(2, x); }},
      {UnaryOp::RPowScalar, "rpow_1.5", 1.5, 0, Domain::Any, true, [](double x) { return std::pow(1.5, x); }},
      {UnaryOp::Clamp, "clamp", -1, 2, Domain::Any, false, [](double x) { return std::min(std::max(x, -1.0), 2.0); }},
      {UnaryOp::Clamp, "clamp_min", 0.5, inf, Domain::Any, true, [](double x) { return std::max(x, 0.5); }},
      {UnaryOp::Clamp, "clamp_max", -inf, 0, Domain::Any, false, [](double x) { return std::min(x, 0.0); }},
      {UnaryOp::Clamp, "clamp_crossed", 2, -1, Domain::Any, false, [](double) { return -1.0; }},
      {UnaryOp::LeakyRelu, "leaky_relu", 0.1, 0, Domain::Any, true, [](double x) { return x > 0 ? x : 0.1 * x; }},
      {UnaryOp::Softplus, "softplus", 2, 3, Domain::Any, true,
       [](double x) { return 2 * x > 3 ? x : std::log1p(std::exp(2 * x)) / 2; }},
  };
}

/// Tolerance of a float32 result: the vectorised approximations are within a few ulps; pow's and expm1's float
/// results are computed in float.
double float_tolerance(const char* name) {
  const std::string n = name;
  if (n == "rpow_1.5" || n == "pow_1.7" || n == "pow_5" || n == "expm1" || n == "sin" || n == "cos") return 3e-6;
  return 2e-6;
}

void check_unary(const UnaryCase& c, ScalarType dtype, const Dims& shape, Layout in_layout, bool in_place,
                 std::mt19937& gen) {
  Operand src(dtype, shape, in_layout);
  fill_random(src, gen, c.domain);
  std::vector<double> inputs(static_cast<size_t>(src.numel()));
  for (int64_t i = 0; i < src.numel(); ++i) inputs[static_cast<size_t>(i)] = src.get(i);
  Operand dst_own(dtype, shape, Layout::Contiguous);
  Operand& dst = in_place ? src : dst_own;
  cpu_backend().unary(c.op, src.s, dst.s, c.p0, c.p1);
  const double rel = dtype == ScalarType::Float32 ? float_tolerance(c.name) : 1e-12;
  for (int64_t i = 0; i < dst.numel(); ++i) {
    double want = c.ref(inputs[static_cast<size_t>(i)]);
    if (dtype == ScalarType::Float32) want = static_cast<float>(want);
    if (dtype == ScalarType::Int64) want = std::trunc(want);
    const double got = dst.get(i);
    ASSERT_TRUE(close(got, want, dtype, rel))
        << c.name << " " << dtype_str(dtype) << " shape " << shape << " " << layout_name(in_layout)
        << (in_place ? " in place" : "") << " threads " << get_num_threads() << ": element " << i << " of input "
        << inputs[static_cast<size_t>(i)] << " gave " << got << ", expected " << want;
  }
}

TEST(ElementwiseKernels, EveryUnaryOpEveryDtypeLayoutSizeAndThreadCount) {
  std::mt19937 gen(1);
  for (int threads : {1, 2}) {
    ThreadScope scope(threads);
    for (const UnaryCase& c : unary_cases()) {
      for (ScalarType dtype : {ScalarType::Float32, ScalarType::Float64, ScalarType::Int64}) {
        if (dtype == ScalarType::Int64 && c.floating_only) continue;
        for (const Dims& shape : shapes_for(threads))
          for (Layout layout : kInputLayouts) check_unary(c, dtype, shape, layout, /*in_place=*/false, gen);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(ElementwiseKernels, UnaryInPlace) {
  std::mt19937 gen(2);
  for (int threads : {1, 2}) {
    ThreadScope scope(threads);
    for (const UnaryCase& c : unary_cases())
      for (ScalarType dtype : {ScalarType::Float32, ScalarType::Float64})
        for (Layout layout : {Layout::Contiguous, Layout::Transposed, Layout::Sliced})
          check_unary(c, dtype, shapes_for(threads).back(), layout, /*in_place=*/true, gen);
  }
}

TEST(ElementwiseKernels, ScalarComparisonsAndLogicalNot) {
  std::mt19937 gen(3);
  struct Cmp {
    UnaryOp op;
    std::function<bool(double, double)> ref;
  };
  const std::vector<Cmp> cmps = {
      {UnaryOp::EqScalar, [](double x, double v) { return x == v; }},
      {UnaryOp::NeScalar, [](double x, double v) { return x != v; }},
      {UnaryOp::LtScalar, [](double x, double v) { return x < v; }},
      {UnaryOp::LeScalar, [](double x, double v) { return x <= v; }},
      {UnaryOp::GtScalar, [](double x, double v) { return x > v; }},
      {UnaryOp::GeScalar, [](double x, double v) { return x >= v; }},
      {UnaryOp::LogicalNot, [](double x, double) { return x == 0; }},
  };
  for (int threads : {1, 2}) {
    ThreadScope scope(threads);
    for (const Cmp& c : cmps)
      for (ScalarType dtype : {ScalarType::Float32, ScalarType::Float64, ScalarType::Int64, ScalarType::Bool})
        for (const Dims& shape : shapes_for(threads))
          for (Layout layout : kInputLayouts) {
            Operand src(dtype, shape, layout);
            fill_random(src, gen, Domain::Any);
            Operand dst(ScalarType::Bool, shape, Layout::Contiguous);
            const double v = dtype == ScalarType::Bool ? 1.0 : 1.0;
            cpu_backend().unary(c.op, src.s, dst.s, v, 0);
            for (int64_t i = 0; i < src.numel(); ++i)
              ASSERT_EQ(dst.get(i) != 0, c.ref(src.get(i), v))
                  << "op " << static_cast<int>(c.op) << " " << dtype_str(dtype) << " " << layout_name(layout)
                  << " element " << i << " = " << src.get(i);
          }
  }
}

TEST(ElementwiseKernels, UnaryOnBoolAndMismatchedOperandsThrow) {
  Operand b(ScalarType::Bool, Dims{4}, Layout::Contiguous);
  EXPECT_THROW(cpu_backend().unary(UnaryOp::Exp, b.s, b.s, 0, 0), Error);
  Operand f(ScalarType::Float32, Dims{4}, Layout::Contiguous);
  Operand d(ScalarType::Float64, Dims{4}, Layout::Contiguous);
  EXPECT_THROW(cpu_backend().unary(UnaryOp::Exp, f.s, d.s, 0, 0), Error);
  EXPECT_THROW(cpu_backend().unary(UnaryOp::EqScalar, f.s, d.s, 0, 0), Error);
  Operand g(ScalarType::Float32, Dims{5}, Layout::Contiguous);
  EXPECT_THROW(cpu_backend().unary(UnaryOp::Neg, f.s, g.s, 0, 0), Error);
}

// ---- binary -----------------------------------------------------------------------------------------------

struct BinaryCase {
  BinaryOp op;
  const char* name;
  Domain a_domain, b_domain;
  std::function<double(double, double)> ref;
};

std::vector<BinaryCase> binary_cases() {
  auto nan_max = [](double a, double b) {
    return std::isnan(a) || std::isnan(b) ? std::numeric_limits<double>::quiet_NaN() : std::max(a, b);
  };
  auto nan_min = [](double a, double b) {
    return std::isnan(a) || std::isnan(b) ? std::numeric_limits<double>::quiet_NaN() : std::min(a, b);
  };
  return {
      {BinaryOp::Add, "add", Domain::Any, Domain::Any, [](double a, double b) { return a + b; }},
      {BinaryOp::Sub, "sub", Domain::Any, Domain::Any, [](double a, double b) { return a - b; }},
      {BinaryOp::Mul, "mul", Domain::Any, Domain::Any, [](double a, double b) { return a * b; }},
      {BinaryOp::Div, "div", Domain::Any, Domain::NonZero, [](double a, double b) { return a / b; }},
      {BinaryOp::Pow, "pow", Domain::Positive, Domain::Small, [](double a, double b) { return std::pow(a, b); }},
      {BinaryOp::Maximum, "maximum", Domain::Any, Domain::Any, nan_max},
      {BinaryOp::Minimum, "minimum", Domain::Any, Domain::Any, nan_min},
      {BinaryOp::Eq, "eq", Domain::Small, Domain::Small, [](double a, double b) { return double(a == b); }},
      {BinaryOp::Ne, "ne", Domain::Small, Domain::Small, [](double a, double b) { return double(a != b); }},
      {BinaryOp::Lt, "lt", Domain::Small, Domain::Small, [](double a, double b) { return double(a < b); }},
      {BinaryOp::Le, "le", Domain::Small, Domain::Small, [](double a, double b) { return double(a <= b); }},
      {BinaryOp::Gt, "gt", Domain::Small, Domain::Small, [](double a, double b) { return double(a > b); }},
      {BinaryOp::Ge, "ge", Domain::Small, Domain::Small, [](double a, double b) { return double(a >= b); }},
      {BinaryOp::LogicalAnd, "logical_and", Domain::Small, Domain::Small,
       [](double a, double b) { return double(a != 0 && b != 0); }},
      {BinaryOp::LogicalOr, "logical_or", Domain::Small, Domain::Small,
       [](double a, double b) { return double(a != 0 || b != 0); }},
  };
}

/// The reference of an arithmetic op on integers: truncating division, exact integer powers; bool arithmetic
/// saturates the 0/1 result back to bool.
double integer_ref(const BinaryCase& c, double a, double b, ScalarType dtype) {
  double r = c.ref(a, b);
  if (c.op == BinaryOp::Div) r = std::trunc(a / b);
  if (dtype == ScalarType::Bool && !binary_op_is_comparison(c.op)) r = r != 0;
  return r;
}

void check_binary(const BinaryCase& c, ScalarType dtype, const Dims& shape, Layout la, Layout lb, bool in_place,
                  std::mt19937& gen) {
  Operand a(dtype, shape, la), b(dtype, shape, lb);
  Domain a_domain = c.a_domain, b_domain = c.b_domain;
  if (dtype == ScalarType::Int64 && c.op == BinaryOp::Pow) b_domain = Domain::NonNegativeInt;
  fill_random(a, gen, a_domain);
  fill_random(b, gen, b_domain);
  if (dtype == ScalarType::Bool && c.op == BinaryOp::Div) return;  // bool / bool divides by false
  std::vector<double> av(static_cast<size_t>(a.numel())), bv(av.size());
  for (int64_t i = 0; i < a.numel(); ++i) {
    av[static_cast<size_t>(i)] = a.get(i);
    bv[static_cast<size_t>(i)] = b.get(i);
  }
  const ScalarType out_dtype = binary_op_is_comparison(c.op) ? ScalarType::Bool : dtype;
  Operand out_own(out_dtype, shape, Layout::Contiguous);
  Operand& out = in_place && out_dtype == dtype ? a : out_own;
  cpu_backend().binary(c.op, a.s, b.s, out.s);
  const double rel = dtype == ScalarType::Float32 ? (c.op == BinaryOp::Pow ? 3e-6 : 1e-6) : 1e-13;
  for (int64_t i = 0; i < out.numel(); ++i) {
    const double x = av[static_cast<size_t>(i)], y = bv[static_cast<size_t>(i)];
    double want = is_floating(dtype) ? c.ref(x, y) : integer_ref(c, x, y, dtype);
    if (out_dtype == ScalarType::Float32) want = static_cast<float>(want);
    ASSERT_TRUE(close(out.get(i), want, out_dtype, rel))
        << c.name << " " << dtype_str(dtype) << " shape " << shape << " layouts " << layout_name(la) << "/"
        << layout_name(lb) << (in_place ? " in place" : "") << " threads " << get_num_threads() << ": element " << i
        << " (" << x << ", " << y << ") gave " << out.get(i) << ", expected " << want;
  }
}

TEST(ElementwiseKernels, EveryBinaryOpEveryDtypeLayoutSizeAndThreadCount) {
  std::mt19937 gen(4);
  const std::vector<std::pair<Layout, Layout>> layouts = {
      {Layout::Contiguous, Layout::Contiguous}, {Layout::Contiguous, Layout::Broadcast},
      {Layout::Broadcast, Layout::Contiguous},  {Layout::Transposed, Layout::Contiguous},
      {Layout::Sliced, Layout::Transposed},     {Layout::Broadcast, Layout::Sliced}};
  for (int threads : {1, 2}) {
    ThreadScope scope(threads);
    for (const BinaryCase& c : binary_cases())
      for (ScalarType dtype : {ScalarType::Float32, ScalarType::Float64, ScalarType::Int64, ScalarType::Bool}) {
        if (dtype == ScalarType::Bool && (c.op == BinaryOp::Sub || c.op == BinaryOp::Pow)) continue;
        for (const Dims& shape : shapes_for(threads))
          for (auto [la, lb] : layouts) check_binary(c, dtype, shape, la, lb, /*in_place=*/false, gen);
        if (::testing::Test::HasFatalFailure()) return;
      }
  }
}

TEST(ElementwiseKernels, BinaryInPlace) {
  std::mt19937 gen(5);
  for (int threads : {1, 2}) {
    ThreadScope scope(threads);
    for (const BinaryCase& c : binary_cases())
      for (ScalarType dtype : {ScalarType::Float32, ScalarType::Float64, ScalarType::Int64})
        for (Layout lb : {Layout::Contiguous, Layout::Broadcast, Layout::Transposed})
          check_binary(c, dtype, shapes_for(threads).back(), Layout::Contiguous, lb, /*in_place=*/true, gen);
  }
}

TEST(ElementwiseKernels, TransposedTwoDimensionalOperandsUseTilesCorrectly) {
  // 2-D problems with an input transposed relative to the output take the tiled walk (>= 4096 elements), with
  // its in-register block transposes for 4- and 8-byte elements and scalar copies for bool; odd sizes leave
  // partial tiles and partial blocks at both edges.
  std::mt19937 gen(6);
  const BinaryCase add = binary_cases()[0];
  for (int threads : {1, 2}) {
    ThreadScope scope(threads);
    for (const Dims& shape : {Dims{70, 93}, Dims{33, 1000}, Dims{257, 255}, Dims{1000, 9}}) {
      check_binary(add, ScalarType::Float32, shape, Layout::Transposed, Layout::Contiguous, false, gen);
      check_binary(add, ScalarType::Float64, shape, Layout::Contiguous, Layout::Transposed, false, gen);
      check_binary(add, ScalarType::Int64, shape, Layout::Transposed, Layout::Broadcast, false, gen);
      check_binary(add, ScalarType::Float32, shape, Layout::Transposed, Layout::Transposed, true, gen);
      for (const UnaryCase& c : unary_cases())
        if (std::string(c.name) == "exp" || std::string(c.name) == "neg")
          check_unary(c, ScalarType::Float32, shape, Layout::Transposed, false, gen);
      for (ScalarType from : {ScalarType::Float32, ScalarType::Float64, ScalarType::Int64, ScalarType::Bool}) {
        Operand src(from, shape, Layout::Transposed), dst(from, shape, Layout::Contiguous);
        fill_random(src, gen, Domain::Any);
        cpu_backend().copy(src.s, dst.s);  // what contiguous() of a transposed tensor does
        for (int64_t i = 0; i < src.numel(); ++i) ASSERT_EQ(dst.get(i), src.get(i)) << dtype_str(from) << " " << i;
      }
      Operand cond(ScalarType::Bool, shape, Layout::Transposed), a(ScalarType::Float32, shape, Layout::Contiguous),
          b(ScalarType::Float32, shape, Layout::Transposed), out(ScalarType::Float32, shape, Layout::Contiguous);
      fill_random(cond, gen, Domain::Any);
      fill_random(a, gen, Domain::Any);
      fill_random(b, gen, Domain::Any);
      cpu_backend().where(cond.s, a.s, b.s, out.s);
      for (int64_t i = 0; i < out.numel(); ++i)
        ASSERT_EQ(out.get(i), cond.get(i) != 0 ? a.get(i) : b.get(i)) << "where, element " << i;
    }
  }
}

TEST(ElementwiseKernels, IntegerDivisionByZeroAndNegativePowersThrowFromThreadedLoops) {
  for (int threads : {1, 2}) {
    ThreadScope scope(threads);
    for (int64_t n : {int64_t{7}, int64_t{100000}}) {
      Operand a(ScalarType::Int64, Dims{n}, Layout::Contiguous), b(ScalarType::Int64, Dims{n}, Layout::Contiguous);
      Operand out(ScalarType::Int64, Dims{n}, Layout::Contiguous);
      for (int64_t i = 0; i < n; ++i) {
        a.set(i, 7);
        b.set(i, i == n - 1 ? 0 : 2);
      }
      try {
        cpu_backend().binary(BinaryOp::Div, a.s, b.s, out.s);
        ADD_FAILURE() << "integer division by zero did not throw";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("division by zero"), std::string::npos) << e.what();
      }
      b.set(n - 1, -1);
      EXPECT_THROW(cpu_backend().binary(BinaryOp::Pow, a.s, b.s, out.s), Error);
      EXPECT_THROW(cpu_backend().unary(UnaryOp::PowScalar, a.s, out.s, -2, 0), Error);
      EXPECT_THROW(cpu_backend().unary(UnaryOp::RPowScalar, b.s, out.s, 2, 0), Error);
    }
  }
}

TEST(ElementwiseKernels, IntegerArithmeticIsExactBeyondDoublePrecision) {
  Operand a(ScalarType::Int64, Dims{3}, Layout::Contiguous), out(ScalarType::Int64, Dims{3}, Layout::Contiguous);
  const int64_t big = (int64_t{1} << 60) + 1;
  int64_t* pa = static_cast<int64_t*>(a.s.data);
  pa[0] = big;
  pa[1] = -big;
  pa[2] = 3;
  cpu_backend().unary(UnaryOp::AddScalar, a.s, out.s, 2, 0);
  const int64_t* po = static_cast<const int64_t*>(out.s.data);
  EXPECT_EQ(po[0], big + 2);
  EXPECT_EQ(po[1], -big + 2);
  cpu_backend().unary(UnaryOp::Clamp, a.s, out.s, -std::numeric_limits<double>::infinity(),
                      std::numeric_limits<double>::infinity());
  EXPECT_EQ(po[0], big);
  cpu_backend().unary(UnaryOp::Floor, a.s, out.s, 0, 0);
  EXPECT_EQ(po[1], -big);
  cpu_backend().unary(UnaryOp::PowScalar, a.s, out.s, 1, 0);
  EXPECT_EQ(po[0], big);
  pa[2] = 3;
  cpu_backend().unary(UnaryOp::PowScalar, a.s, out.s, 39, 0);  // 3^39 needs 62 bits
  EXPECT_EQ(po[2], 4052555153018976267LL);
}

TEST(ElementwiseKernels, NanAndInfinityRules) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const std::vector<double> values = {nan, inf, -inf, 0.0, -0.0};
  for (ScalarType dtype : {ScalarType::Float32, ScalarType::Float64}) {
    const int64_t n = static_cast<int64_t>(values.size());
    Operand x(dtype, Dims{n}, Layout::Contiguous), y(dtype, Dims{n}, Layout::Contiguous);
    for (int64_t i = 0; i < n; ++i) x.set(i, values[static_cast<size_t>(i)]);
    auto run = [&](UnaryOp op, double p0 = 0, double p1 = 0) {
      cpu_backend().unary(op, x.s, y.s, p0, p1);
      std::vector<double> r;
      for (int64_t i = 0; i < n; ++i) r.push_back(y.get(i));
      return r;
    };
    std::vector<double> r = run(UnaryOp::Exp);
    EXPECT_TRUE(std::isnan(r[0]));
    EXPECT_EQ(r[1], inf);
    EXPECT_EQ(r[2], 0.0);
    EXPECT_EQ(r[3], 1.0);
    r = run(UnaryOp::Tanh);
    EXPECT_TRUE(std::isnan(r[0]));
    EXPECT_EQ(r[1], 1.0);
    EXPECT_EQ(r[2], -1.0);
    r = run(UnaryOp::Sigmoid);
    EXPECT_TRUE(std::isnan(r[0]));
    EXPECT_EQ(r[1], 1.0);
    EXPECT_EQ(r[2], 0.0);
    EXPECT_EQ(r[3], 0.5);
    r = run(UnaryOp::Erf);
    EXPECT_TRUE(std::isnan(r[0]));
    EXPECT_EQ(r[1], 1.0);
    EXPECT_EQ(r[2], -1.0);
    EXPECT_TRUE(std::signbit(r[4]));
    r = run(UnaryOp::Gelu);
    EXPECT_TRUE(std::isnan(r[0]));
    EXPECT_EQ(r[1], inf);
    r = run(UnaryOp::Relu);
    EXPECT_TRUE(std::isnan(r[0]));
    EXPECT_EQ(r[2], 0.0);
    r = run(UnaryOp::Clamp, -1, 1);
    EXPECT_TRUE(std::isnan(r[0]));
    EXPECT_EQ(r[1], 1.0);
    EXPECT_EQ(r[2], -1.0);
    r = run(UnaryOp::Sign);
    EXPECT_TRUE(std::isnan(r[0]));
    EXPECT_EQ(r[1], 1.0);
    r = run(UnaryOp::Floor);
    EXPECT_TRUE(std::isnan(r[0]));
    EXPECT_EQ(r[1], inf);
    EXPECT_TRUE(std::signbit(r[4]));
    cpu_backend().binary(BinaryOp::Maximum, x.s, x.s, y.s);
    EXPECT_TRUE(std::isnan(y.get(0)));
    EXPECT_EQ(y.get(1), inf);
  }
}

// ---- where, copy, fill ------------------------------------------------------------------------------------

TEST(ElementwiseKernels, WhereEveryDtypeAndLayout) {
  std::mt19937 gen(7);
  const std::vector<std::array<Layout, 3>> layouts = {
      {Layout::Contiguous, Layout::Contiguous, Layout::Contiguous},
      {Layout::Contiguous, Layout::Broadcast, Layout::Contiguous},
      {Layout::Contiguous, Layout::Contiguous, Layout::Broadcast},
      {Layout::Broadcast, Layout::Transposed, Layout::Sliced},
      {Layout::Transposed, Layout::Contiguous, Layout::Contiguous}};
  for (int threads : {1, 2}) {
    ThreadScope scope(threads);
    for (ScalarType dtype : {ScalarType::Float32, ScalarType::Float64, ScalarType::Int64, ScalarType::Bool})
      for (const Dims& shape : shapes_for(threads))
        for (const auto& l : layouts) {
          Operand cond(ScalarType::Bool, shape, l[0]), a(dtype, shape, l[1]), b(dtype, shape, l[2]);
          fill_random(cond, gen, Domain::Any);
          fill_random(a, gen, Domain::Any);
          fill_random(b, gen, Domain::Any);
          Operand out(dtype, shape, Layout::Contiguous);
          cpu_backend().where(cond.s, a.s, b.s, out.s);
          for (int64_t i = 0; i < out.numel(); ++i)
            ASSERT_EQ(out.get(i), cond.get(i) != 0 ? a.get(i) : b.get(i))
                << dtype_str(dtype) << " shape " << shape << " element " << i;
        }
  }
  Operand f(ScalarType::Float32, Dims{3}, Layout::Contiguous), d(ScalarType::Float64, Dims{3}, Layout::Contiguous);
  EXPECT_THROW(cpu_backend().where(f.s, f.s, f.s, f.s), Error);  // condition not bool
  Operand c(ScalarType::Bool, Dims{3}, Layout::Contiguous);
  EXPECT_THROW(cpu_backend().where(c.s, f.s, d.s, f.s), Error);  // mixed dtypes
}

TEST(ElementwiseKernels, CopyBetweenEveryPairOfDtypesAndLayouts) {
  std::mt19937 gen(8);
  const std::vector<ScalarType> dtypes = {ScalarType::Float32, ScalarType::Float64, ScalarType::Int64,
                                          ScalarType::Bool};
  for (int threads : {1, 2}) {
    ThreadScope scope(threads);
    for (ScalarType from : dtypes)
      for (ScalarType to : dtypes)
        for (const Dims& shape : shapes_for(threads))
          for (Layout lin : {Layout::Contiguous, Layout::Transposed, Layout::Broadcast})
            for (Layout lout : {Layout::Contiguous, Layout::Sliced}) {
              Operand src(from, shape, lin), dst(to, shape, lout);
              fill_random(src, gen, Domain::Any);
              cpu_backend().copy(src.s, dst.s);
              for (int64_t i = 0; i < src.numel(); ++i) {
                const double v = src.get(i);
                double want = to == ScalarType::Bool ? double(v != 0)
                              : to == ScalarType::Int64 ? std::trunc(v)
                              : to == ScalarType::Float32 ? double(static_cast<float>(v))
                                                          : v;
                ASSERT_EQ(dst.get(i), want) << dtype_str(from) << " -> " << dtype_str(to) << " shape " << shape
                                            << " element " << i;
              }
            }
  }
  Operand a(ScalarType::Float32, Dims{3}, Layout::Contiguous), b(ScalarType::Float32, Dims{4}, Layout::Contiguous);
  EXPECT_THROW(cpu_backend().copy(a.s, b.s), Error);
}

TEST(ElementwiseKernels, FillEveryDtypeAndLayout) {
  for (int threads : {1, 2}) {
    ThreadScope scope(threads);
    for (ScalarType dtype : {ScalarType::Float32, ScalarType::Float64, ScalarType::Int64, ScalarType::Bool})
      for (const Dims& shape : shapes_for(threads))
        for (Layout l : {Layout::Contiguous, Layout::Transposed, Layout::Sliced}) {
          Operand dst(dtype, shape, l);
          cpu_backend().fill(dst.s, 3.0);
          const double want = dtype == ScalarType::Bool ? 1.0 : 3.0;
          for (int64_t i = 0; i < dst.numel(); ++i) ASSERT_EQ(dst.get(i), want) << dtype_str(dtype) << " " << i;
        }
  }
}

// ---- accuracy of the vectorised float32 functions ---------------------------------------------------------

/// Distance in float32 ulps between a float result and the double reference (ulps of the reference's float
/// rounding; subnormal references use the smallest subnormal as their ulp).
double ulp_error(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : 1e30;
  const float wf = static_cast<float>(want);
  if (std::isinf(wf)) return got == wf ? 0 : 1e30;
  const float mag = std::max(std::abs(wf), std::numeric_limits<float>::min());
  const double ulp = static_cast<double>(std::nextafter(mag, std::numeric_limits<float>::infinity()) - mag);
  return std::abs(static_cast<double>(got) - want) / ulp;
}

struct Accuracy {
  double max_ulps = 0;
  float worst_input = 0;
};

/// Runs the kernel on every 509th float32 of [lo, hi] (both signs handled by the range) and measures the error
/// of results whose magnitude is at least `min_result`.
Accuracy measure(UnaryOp op, double p0, float lo, float hi, const std::function<double(double)>& ref,
                 double min_result = 0) {
  std::vector<float> xs;
  auto add_range = [&](float a, float b) {  // a <= b, same sign; walk the bit patterns of |x|
    const bool negative = b <= 0;
    float from = negative ? -b : a, to = negative ? -a : b;
    for (uint32_t m = std::bit_cast<uint32_t>(from); m <= std::bit_cast<uint32_t>(to); m += 509)
      xs.push_back(negative ? -std::bit_cast<float>(m) : std::bit_cast<float>(m));
  };
  if (lo < 0 && hi > 0) {
    add_range(lo, -0.0f);
    add_range(0.0f, hi);
  } else {
    add_range(lo, hi);
  }
  std::vector<float> ys(xs.size());
  Strided src{xs.data(), ScalarType::Float32, Dims{static_cast<int64_t>(xs.size())}, Dims{1}};
  Strided dst{ys.data(), ScalarType::Float32, Dims{static_cast<int64_t>(ys.size())}, Dims{1}};
  cpu_backend().unary(op, src, dst, p0, 0);
  Accuracy acc;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double want = ref(static_cast<double>(xs[i]));
    if (std::abs(want) < min_result) continue;
    const double e = ulp_error(ys[i], want);
    if (e > acc.max_ulps) acc = Accuracy{e, xs[i]};
  }
  return acc;
}

TEST(ElementwiseKernels, VectorisedFloat32FunctionsAreWithinAFewUlps) {
  // Measured maxima (documented in backends/cpu/elementwise.cpp): exp 0.98, tanh 1.3, sigmoid 2.3, silu 3.1,
  // erf 2.7, gelu 5.9, gelu tanh 4.0 ulps (silu and the gelus for results of magnitude >= 1e-30).
  struct Bound {
    const char* name;
    UnaryOp op;
    double p0;
    float lo, hi;
    std::function<double(double)> ref;
    double max_ulps;
    double min_result;
  };
  const std::vector<Bound> bounds = {
      {"exp", UnaryOp::Exp, 0, -104.0f, 89.0f, [](double x) { return std::exp(x); }, 1.0, 0},
      {"tanh", UnaryOp::Tanh, 0, -20.0f, 20.0f, [](double x) { return std::tanh(x); }, 1.5, 0},
      {"sigmoid", UnaryOp::Sigmoid, 0, -88.0f, 30.0f, sigmoid_ref, 2.5, 0},
      {"silu", UnaryOp::Silu, 0, -80.0f, 90.0f, [](double x) { return x * sigmoid_ref(x); }, 3.5, 1e-30},
      {"erf", UnaryOp::Erf, 0, -12.0f, 12.0f, [](double x) { return std::erf(x); }, 3.0, 0},
      {"gelu", UnaryOp::Gelu, 0, -14.0f, 90.0f, gelu_ref, 6.5, 1e-30},
      {"gelu_tanh", UnaryOp::Gelu, 1, -14.0f, 90.0f, gelu_tanh_ref, 4.5, 1e-30},
  };
  for (const Bound& b : bounds) {
    const Accuracy acc = measure(b.op, b.p0, b.lo, b.hi, b.ref, b.min_result);
    EXPECT_LE(acc.max_ulps, b.max_ulps) << b.name << ": " << acc.max_ulps << " ulps at x = " << acc.worst_input;
  }
}

TEST(ElementwiseKernels, Float32ExpCoversTheWholeRange) {
  // Overflow to +inf just above log(FLT_MAX), gradual underflow down to the smallest subnormal, exact e^0.
  const std::vector<float> xs = {88.72f, 88.73f, 100.0f, -87.0f, -100.0f, -103.9f, -104.0f, -200.0f, 0.0f, 1.0f};
  std::vector<float> ys(xs.size());
  Strided src{const_cast<float*>(xs.data()), ScalarType::Float32, Dims{static_cast<int64_t>(xs.size())}, Dims{1}};
  Strided dst{ys.data(), ScalarType::Float32, Dims{static_cast<int64_t>(ys.size())}, Dims{1}};
  cpu_backend().unary(UnaryOp::Exp, src, dst, 0, 0);
  for (size_t i = 0; i < xs.size(); ++i)
    EXPECT_LE(ulp_error(ys[i], std::exp(static_cast<double>(xs[i]))), 1.0) << "exp(" << xs[i] << ") = " << ys[i];
  EXPECT_EQ(ys[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(ys[7], 0.0f);
  EXPECT_EQ(ys[8], 1.0f);
}

}  // namespace
}  // namespace tandem::cpu

// What the CUDA tests share: the comparison of a CUDA result with the CPU backend's (the oracle), the harness
// that runs one op on both devices forward and backward, random shapes, and an error check that looks for parts
// of the message. Every test that uses a device starts with
//   if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tandem.h"

namespace tandem::cuda_test {

/// |actual - expected| <= atol + rtol * |expected|, element by element.
struct Tolerance {
  double rtol = 0;
  double atol = 0;
};

/// Tolerances by dtype: float32 results differ from the CPU's in the last bits of the float32 math library and
/// in summation order; float64 ones in the last bits of double math.
inline Tolerance forward_tolerance(ScalarType dtype) { return dtype == kFloat64 ? Tolerance{1e-11, 1e-13} : Tolerance{2e-5, 2e-6}; }
inline Tolerance backward_tolerance(ScalarType dtype) { return dtype == kFloat64 ? Tolerance{1e-10, 1e-12} : Tolerance{2e-4, 2e-5}; }
/// Exact equality (integer and bool results, and random numbers that must match bit for bit).
inline constexpr Tolerance kExact{0, 0};

/// Checks that `actual` (a CUDA tensor) has the shape, dtype and (within tol) the values of `expected` (a CPU
/// tensor). NaN must meet NaN; infinities must be equal.
inline ::testing::AssertionResult matches_cpu(const Tensor& expected, const Tensor& actual, Tolerance tol) {
  if (!expected.defined() || !actual.defined()) {
    if (expected.defined() == actual.defined()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << (expected.defined() ? "the CUDA result is undefined but the CPU's is not"
                                                                : "the CPU result is undefined but the CUDA one is not");
  }
  if (!actual.is_cuda()) return ::testing::AssertionFailure() << "the result is on " << actual.device() << ", not CUDA";
  if (expected.sizes() != actual.sizes())
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " on CUDA, " << expected.sizes() << " on the CPU";
  if (expected.dtype() != actual.dtype())
    return ::testing::AssertionFailure() << "dtype " << actual.dtype() << " on CUDA, " << expected.dtype() << " on the CPU";
  const Tensor host = actual.to(Device(kCPU));
  if (!is_floating(expected.dtype())) {
    const auto e = expected.to_vector<int64_t>(), a = host.to_vector<int64_t>();
    for (size_t i = 0; i < e.size(); ++i)
      if (e[i] != a[i])
        return ::testing::AssertionFailure() << "element " << i << ": CUDA " << a[i] << ", CPU " << e[i] << " (of "
                                             << e.size() << ", shape " << expected.sizes() << ")";
    return ::testing::AssertionSuccess();
  }
  const auto e = expected.to_vector<double>(), a = host.to_vector<double>();
  size_t bad = 0, first_bad = 0;
  double worst = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    bool ok;
    if (std::isnan(e[i]) || std::isnan(a[i])) ok = std::isnan(e[i]) && std::isnan(a[i]);
    else if (e[i] == a[i]) ok = true;
    else ok = std::abs(a[i] - e[i]) <= tol.atol + tol.rtol * std::abs(e[i]);
    if (!ok) {
      if (bad++ == 0) first_bad = i;
      if (std::isfinite(e[i]) && std::isfinite(a[i])) worst = std::max(worst, std::abs(a[i] - e[i]));
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os.precision(17);
  os << bad << " of " << e.size() << " elements differ (shape " << expected.sizes() << ", " << expected.dtype()
     << ", rtol " << tol.rtol << ", atol " << tol.atol << "); first: element " << first_bad << " CUDA "
     << a[first_bad] << " vs CPU " << e[first_bad] << "; largest finite difference " << worst;
  return ::testing::AssertionFailure() << os.str();
}

/// One input of an op under test: a CPU tensor, and the view taken of it on each device (so that the op sees a
/// non-contiguous operand on both). Gradients are compared on the base tensor.
struct Arg {
  Tensor base;
  std::function<Tensor(const Tensor&)> view;
  bool differentiable = true;
};
inline Arg plain(Tensor t) { return Arg{std::move(t), {}, true}; }
/// A constant input (indices, masks, targets): no gradient is asked for.
inline Arg constant(Tensor t) { return Arg{std::move(t), {}, false}; }
/// The transpose of base's last two dims (base holds the transposed shape).
inline Arg transposed(Tensor base) {
  return Arg{std::move(base), [](const Tensor& t) { return t.transpose(-1, -2); }, true};
}
/// Every other element of base along dim (base holds twice the size there).
inline Arg every_other(Tensor base, int64_t dim) {
  return Arg{std::move(base), [dim](const Tensor& t) { return t.slice(dim, 0, t.size(dim), 2); }, true};
}

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

/// Runs fn on the CPU and on CUDA with the same inputs and compares the outputs; then, when the output is
/// differentiable, back-propagates sum(out * w) for one random w on both devices and compares the gradients
/// of every differentiable input.
inline void check_op(const std::string& what, const std::vector<Arg>& args, const OpFn& fn, Tolerance forward,
                     Tolerance backward) {
  SCOPED_TRACE(what);
  std::vector<Tensor> cpu_leaves, cuda_leaves, cpu_in, cuda_in;
  for (const Arg& arg : args) {
    Tensor c = arg.base.detach().clone();
    Tensor g = arg.base.detach().to(Device(kCUDA));
    if (arg.differentiable && is_floating(c.dtype())) {
      c.requires_grad_(true);
      g.requires_grad_(true);
    }
    cpu_in.push_back(arg.view ? arg.view(c) : c);
    cuda_in.push_back(arg.view ? arg.view(g) : g);
    cpu_leaves.push_back(c);
    cuda_leaves.push_back(g);
  }
  const Tensor out_cpu = fn(cpu_in);
  const Tensor out_cuda = fn(cuda_in);
  ASSERT_TRUE(matches_cpu(out_cpu, out_cuda, forward)) << "forward";
  if (!out_cpu.requires_grad()) return;
  ASSERT_TRUE(out_cuda.requires_grad()) << "the CPU output requires grad but the CUDA one does not";
  const Tensor w = randn(out_cpu.sizes(), TensorOptions(out_cpu.dtype()));
  (out_cpu * w).sum().backward();
  (out_cuda * w.to(Device(kCUDA))).sum().backward();
  for (size_t i = 0; i < args.size(); ++i) {
    if (!cpu_leaves[i].requires_grad()) continue;
    EXPECT_TRUE(matches_cpu(cpu_leaves[i].grad(), cuda_leaves[i].grad(), backward)) << "gradient of input " << i;
  }
}

/// check_op with the default tolerances of the output's dtype.
inline void check_op(const std::string& what, const std::vector<Arg>& args, const OpFn& fn, ScalarType dtype) {
  check_op(what, args, fn, forward_tolerance(dtype), backward_tolerance(dtype));
}

/// Random sizes for the tests, reproducible from a seed.
class ShapeSource {
 public:
  explicit ShapeSource(uint32_t seed) : rng_(seed) {}
  int64_t size(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }

 private:
  std::mt19937 rng_;
};

/// Runs fn, expects a tandem::Error, and checks that its message contains every part.
inline void expect_error_mentioning(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected tandem::Error";
  } catch (const Error& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "\"" << e.what() << "\" lacks \"" << part << "\"";
  }
}

}  // namespace tandem::cuda_test

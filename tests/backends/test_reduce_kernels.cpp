// The CPU reduction and softmax kernels against naive loops written here, on raw buffers: random shapes, dims
// and layouts (permuted, strided, broadcast inputs), every dtype, inner and outer reductions, the threaded
// paths (many outputs, few outputs split between threads), NaN and tie rules, empty inputs, float32 accuracy
// on long sums, and the errors for bad operands.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"

namespace tandem::cpu {
namespace {

/// Host memory for n values of T (std::vector<bool> has no data()).
template <typename T>
struct Buffer {
  std::unique_ptr<T[]> values;
  size_t n = 0;
  void resize(size_t count) {
    values.reset(new T[count]());
    n = count;
  }
  T* data() { return values.get(); }
  T* begin() { return values.get(); }
  T* end() { return values.get() + n; }
  size_t size() const { return n; }
  T& operator[](size_t i) { return values[i]; }
};

/// A host buffer and a (possibly non-contiguous) view of it.
template <typename T>
struct View {
  Buffer<T> buffer;
  Strided s;
};

template <typename T>
T random_value(std::mt19937& gen, int kind) {
  if constexpr (std::is_same_v<T, bool>) {
    return std::uniform_int_distribution<int>(0, kind == 2 ? 9 : 1)(gen) != 0;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return std::uniform_int_distribution<int64_t>(-4, 4)(gen);  // small range: ties are common
  } else {
    if (kind == 1) return static_cast<T>(std::uniform_int_distribution<int>(-3, 3)(gen));         // ties
    if (kind == 3) return static_cast<T>(std::uniform_real_distribution<double>(0.5, 1.5)(gen));  // for products
    return static_cast<T>(std::normal_distribution<double>()(gen));
  }
}

/// A random tensor of logical shape `sizes` laid out as: dims permuted by `perm` in memory and, when step > 1,
/// every `step`-th element of the innermost physical dim (a strided slice).
template <typename T>
View<T> make_view(const Dims& sizes, std::vector<int> perm, int64_t step, std::mt19937& gen, int kind = 0) {
  const size_t r = sizes.size();
  if (perm.empty()) {
    perm.resize(r);
    std::iota(perm.begin(), perm.end(), 0);
  }
  Dims phys(r);
  for (size_t i = 0; i < r; ++i) phys[i] = sizes[static_cast<size_t>(perm[i])];
  if (r > 0) phys[r - 1] *= step;
  const Dims phys_strides = contiguous_strides(phys);
  View<T> v;
  v.buffer.resize(static_cast<size_t>(std::max<int64_t>(phys.product(), 1)));
  for (auto& x : v.buffer) x = random_value<T>(gen, kind);
  v.s.data = v.buffer.data();
  v.s.dtype = dtype_of<T>::value;
  v.s.sizes = sizes;
  v.s.strides = Dims(r);
  for (size_t i = 0; i < r; ++i) v.s.strides[static_cast<size_t>(perm[i])] = phys_strides[i] * (i + 1 == r ? step : 1);
  return v;
}

template <typename T>
T& element(const Strided& s, const Dims& index) {
  int64_t off = 0;
  for (size_t d = 0; d < index.size(); ++d) off += index[d] * s.strides[d];
  return s.ptr<T>()[off];
}

/// Calls fn(index) for every multi-index of `sizes` in row-major order.
template <typename Fn>
void for_each_index(const Dims& sizes, Fn&& fn) {
  if (sizes.product() == 0) return;
  Dims index(sizes.size(), 0);
  while (true) {
    fn(index);
    size_t d = sizes.size();
    while (d > 0) {
      --d;
      if (++index[d] < sizes[d]) break;
      index[d] = 0;
      if (d == 0) return;
    }
    if (sizes.empty()) return;
  }
}

Dims output_index(const Dims& index, const Dims& out_sizes) {
  Dims o = index;
  for (size_t d = 0; d < o.size(); ++d)
    if (out_sizes[d] == 1) o[d] = 0;
  return o;
}

/// The naive reduction, in double (or in the exact logic for bool/arg ops), into a vector in row-major order.
template <typename T>
std::vector<double> naive_reduce(ReduceOp op, const Strided& src, const Dims& out_sizes) {
  const int64_t n_out = out_sizes.product();
  const Dims out_strides = contiguous_strides(out_sizes);
  std::vector<double> acc(static_cast<size_t>(n_out));
  std::vector<double> best(static_cast<size_t>(n_out));
  std::vector<int64_t> count(static_cast<size_t>(n_out), 0);
  // The position along the reduced dim, for arg reductions.
  int64_t arg_dim = -1;
  for (size_t d = 0; d < src.sizes.size(); ++d)
    if (out_sizes[d] == 1 && src.sizes[d] != 1) arg_dim = static_cast<int64_t>(d);
  for_each_index(src.sizes, [&](const Dims& index) {
    const Dims oi = output_index(index, out_sizes);
    int64_t o = 0;
    for (size_t d = 0; d < oi.size(); ++d) o += oi[d] * out_strides[d];
    const double x = static_cast<double>(element<T>(src, index));
    const bool first = count[o]++ == 0;
    double& a = acc[o];
    switch (op) {
      case ReduceOp::Sum:
        a = first ? x : a + x;
        break;
      case ReduceOp::Prod:
        a = first ? x : a * x;
        break;
      case ReduceOp::Max:
        a = first ? x : (std::isnan(a) ? a : (std::isnan(x) || x > a ? x : a));
        break;
      case ReduceOp::Min:
        a = first ? x : (std::isnan(a) ? a : (std::isnan(x) || x < a ? x : a));
        break;
      case ReduceOp::Any:
        a = first ? (x != 0) : (a != 0 || x != 0);
        break;
      case ReduceOp::All:
        a = first ? (x != 0) : (a != 0 && x != 0);
        break;
      case ReduceOp::ArgMax:
      case ReduceOp::ArgMin: {
        const int64_t pos = arg_dim < 0 ? 0 : index[static_cast<size_t>(arg_dim)];
        const bool is_max = op == ReduceOp::ArgMax;
        double& b = best[o];
        bool better = first;
        if (!first && !std::isnan(b)) better = std::isnan(x) || (is_max ? x > b : x < b);
        if (better) {
          b = x;
          a = static_cast<double>(pos);
        }
        break;
      }
    }
  });
  if constexpr (std::is_same_v<T, bool>) {  // bool sums saturate (or); products of 0/1 already are "and"
    if (op == ReduceOp::Sum)
      for (auto& a : acc) a = std::min(a, 1.0);
  }
  return acc;
}

template <typename Out>
std::vector<double> run_kernel(ReduceOp op, const Strided& src, const Dims& out_sizes) {
  Buffer<Out> out;
  out.resize(static_cast<size_t>(std::max<int64_t>(out_sizes.product(), 1)));
  Strided dst;
  dst.data = out.data();
  dst.dtype = dtype_of<Out>::value;
  dst.sizes = out_sizes;
  dst.strides = contiguous_strides(out_sizes);
  cpu_backend().reduce(op, src, dst);
  std::vector<double> r(static_cast<size_t>(out_sizes.product()));
  for (size_t i = 0; i < r.size(); ++i) r[i] = static_cast<double>(out[i]);
  return r;
}

template <typename T>
std::vector<double> run_op(ReduceOp op, const Strided& src, const Dims& out_sizes) {
  if (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) return run_kernel<int64_t>(op, src, out_sizes);
  if (op == ReduceOp::Any || op == ReduceOp::All) return run_kernel<bool>(op, src, out_sizes);
  if constexpr (std::is_same_v<T, bool>) {
    // bool sum/prod/max/min keep the dtype: they act as or / and / or / and.
    return run_kernel<bool>(op, src, out_sizes);
  } else {
    return run_kernel<T>(op, src, out_sizes);
  }
}

/// |got - want| <= rtol * (1 + scale), with scale = |want| or, for sums, the sum of the magnitudes of the terms
/// (a float32 sum with cancellation is only as accurate as its largest partial sums allow).
void expect_close(const std::vector<double>& got, const std::vector<double>& want, double rtol, const std::string& what,
                  const std::vector<double>* scale = nullptr) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " at " << i << ": got " << got[i] << ", want nan";
      continue;
    }
    EXPECT_NEAR(got[i], want[i], rtol * (1 + (scale ? (*scale)[i] : std::abs(want[i])))) << what << " at " << i;
  }
}

/// The sum of |x| over each output's inputs.
template <typename T>
std::vector<double> magnitude_sums(const Strided& src, const Dims& out_sizes) {
  const Dims out_strides = contiguous_strides(out_sizes);
  std::vector<double> total(static_cast<size_t>(out_sizes.product()), 0.0);
  for_each_index(src.sizes, [&](const Dims& index) {
    const Dims oi = output_index(index, out_sizes);
    int64_t o = 0;
    for (size_t d = 0; d < oi.size(); ++d) o += oi[d] * out_strides[d];
    total[static_cast<size_t>(o)] += std::abs(static_cast<double>(element<T>(src, index)));
  });
  return total;
}

std::string describe(ReduceOp op, const Strided& s, const Dims& out) {
  return detail::concat("op ", static_cast<int>(op), " dtype ", s.dtype, " input ", s.sizes, " strides ", s.strides,
                        " output ", out);
}

template <typename T>
void check_random_reductions(uint32_t seed, int cases) {
  std::mt19937 gen(seed);
  const ReduceOp value_ops[] = {ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max,
                                ReduceOp::Min, ReduceOp::Any,  ReduceOp::All};
  for (int c = 0; c < cases; ++c) {
    const size_t rank = std::uniform_int_distribution<size_t>(1, 4)(gen);
    Dims sizes(rank);
    for (auto& s : sizes) s = std::uniform_int_distribution<int64_t>(1, 7)(gen);
    std::vector<int> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    if (c % 2) std::shuffle(perm.begin(), perm.end(), gen);
    const int64_t step = c % 3 == 0 ? 2 : 1;
    const ReduceOp op = value_ops[c % 6];
    View<T> v = make_view<T>(sizes, perm, step, gen, op == ReduceOp::Prod ? 3 : (c % 4 == 0 ? 2 : 0));
    Dims out = sizes;
    for (auto& s : out)
      if (std::uniform_int_distribution<int>(0, 1)(gen)) s = 1;
    const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
    expect_close(run_op<T>(op, v.s, out), naive_reduce<T>(op, v.s, out), tol, describe(op, v.s, out));

    // Arg reductions over one random dim.
    const size_t dim = std::uniform_int_distribution<size_t>(0, rank - 1)(gen);
    Dims arg_out = sizes;
    arg_out[dim] = 1;
    View<T> ties = make_view<T>(sizes, perm, step, gen, 1);
    for (ReduceOp aop : {ReduceOp::ArgMax, ReduceOp::ArgMin})
      expect_close(run_op<T>(aop, ties.s, arg_out), naive_reduce<T>(aop, ties.s, arg_out), 0,
                   describe(aop, ties.s, arg_out));
  }
}

TEST(ReduceKernels, RandomFloat32) { check_random_reductions<float>(1, 120); }
TEST(ReduceKernels, RandomFloat64) { check_random_reductions<double>(2, 120); }
TEST(ReduceKernels, RandomInt64) { check_random_reductions<int64_t>(3, 120); }
TEST(ReduceKernels, RandomBool) { check_random_reductions<bool>(4, 120); }

/// Shapes that take each code path: long inner rows (lanes), outer reductions with many or few column
/// blocks, one output split between threads, middle dims, and broadcast (stride 0) inputs.
TEST(ReduceKernels, LargeShapesAllPathsAndThreads) {
  std::mt19937 gen(5);
  struct Case {
    Dims sizes, out;
    std::vector<int> perm;
  };
  const std::vector<Case> cases = {
      {{300, 700}, {300, 1}, {}},       // inner, many outputs
      {{300, 700}, {1, 700}, {}},       // outer, several column blocks
      {{40000, 3}, {1, 3}, {}},         // outer, one block: rows split between threads
      {{3, 40000}, {3, 1}, {}},         // inner, fewer outputs than threads
      {{5000, 17}, {1, 17}, {}},        // outer, narrow: rows read as one flat array
      {{5000, 17}, {5000, 1}, {}},      // inner, short rows
      {{2, 5000, 32}, {2, 1, 32}, {}},  // outer, narrow, with an outer kept dim
      {{100000}, {1}, {}},              // everything into one output
      {{50, 60, 70}, {50, 1, 70}, {}},  // a middle dim
      {{50, 60, 70}, {1, 60, 1}, {}},   // inner and outer dims together
      {{700, 300}, {700, 1}, {1, 0}},   // transposed: the reduced dim is the strided one
      {{700, 300}, {1, 300}, {1, 0}},
      {{40, 64, 33}, {1, 1, 1}, {2, 0, 1}},
  };
  // Each reference is computed once and compared with the kernel on 1, 2 and 4 threads.
  auto compare_threads = [](auto run, const std::vector<double>& want, double tol, const std::string& what,
                            const std::vector<double>* scale = nullptr) {
    for (int threads : {1, 2, 4}) {
      set_num_threads(threads);
      expect_close(run(), want, tol, what + " threads " + std::to_string(threads), scale);
    }
  };
  for (const Case& c : cases) {
    View<double> v = make_view<double>(c.sizes, c.perm, 1, gen, 0);
    View<float> f = make_view<float>(c.sizes, c.perm, 1, gen, 0);
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Any, ReduceOp::All}) {
      compare_threads([&] { return run_op<double>(op, v.s, c.out); }, naive_reduce<double>(op, v.s, c.out), 1e-12,
                      describe(op, v.s, c.out));
      if (op == ReduceOp::Sum) {
        const std::vector<double> scale = magnitude_sums<float>(f.s, c.out);
        compare_threads([&] { return run_op<float>(op, f.s, c.out); }, naive_reduce<float>(op, f.s, c.out), 1e-6,
                        describe(op, f.s, c.out), &scale);
      }
      if (op == ReduceOp::Max)
        compare_threads([&] { return run_op<float>(op, f.s, c.out); }, naive_reduce<float>(op, f.s, c.out), 0,
                        describe(op, f.s, c.out));
    }
    int reduced = 0;
    for (size_t d = 0; d < c.sizes.size(); ++d) reduced += c.out[d] == 1 && c.sizes[d] != 1;
    if (reduced == 1) {
      View<float> t = make_view<float>(c.sizes, c.perm, 1, gen, 1);
      for (ReduceOp op : {ReduceOp::ArgMax, ReduceOp::ArgMin})
        compare_threads([&] { return run_op<float>(op, t.s, c.out); }, naive_reduce<float>(op, t.s, c.out), 0,
                        describe(op, t.s, c.out));
    }
  }
  set_num_threads(2);
}

TEST(ReduceKernels, BroadcastInput) {
  // A [5, 1000] input whose rows all alias one row (stride 0), as an expanded tensor.
  std::mt19937 gen(6);
  std::vector<double> row(1000);
  for (auto& x : row) x = random_value<double>(gen, 0);
  Strided s;
  s.data = row.data();
  s.dtype = kFloat64;
  s.sizes = {5, 1000};
  s.strides = {0, 1};
  for (const Dims& out : {Dims{5, 1}, Dims{1, 1000}, Dims{1, 1}})
    expect_close(run_op<double>(ReduceOp::Sum, s, out), naive_reduce<double>(ReduceOp::Sum, s, out), 1e-12,
                 describe(ReduceOp::Sum, s, out));
}

TEST(ReduceKernels, Float32LongSumAccuracy) {
  // 4M float32 values summed in float32 lanes with double carries: compare with a double-precision sum.
  const int64_t n = int64_t{1} << 22;
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> data(static_cast<size_t>(n));
  double want = 0;
  for (auto& x : data) {
    x = dist(gen);
    want += x;
  }
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Strided s;
    s.data = data.data();
    s.dtype = kFloat32;
    s.sizes = {n};
    s.strides = {1};
    const double got = run_op<float>(ReduceOp::Sum, s, {1})[0];
    EXPECT_NEAR(got, want, want * 1e-6) << "threads " << threads;  // float32 output: ~6e-8 relative rounding
    // As columns: [n / 64, 64] summed over dim 0 (outer path).
    s.sizes = {n / 64, 64};
    s.strides = {64, 1};
    const std::vector<double> cols = run_op<float>(ReduceOp::Sum, s, {1, 64});
    const std::vector<double> ref = naive_reduce<float>(ReduceOp::Sum, s, {1, 64});
    for (size_t j = 0; j < cols.size(); ++j) EXPECT_NEAR(cols[j], ref[j], std::abs(ref[j]) * 1e-6);
  }
  set_num_threads(2);
}

TEST(ReduceKernels, NanPropagationAndFirstNanWins) {
  std::vector<double> data = {1, 5, std::nan(""), 7, std::nan(""), -2};
  Strided s;
  s.data = data.data();
  s.dtype = kFloat64;
  s.sizes = {6};
  s.strides = {1};
  EXPECT_TRUE(std::isnan(run_op<double>(ReduceOp::Max, s, {1})[0]));
  EXPECT_TRUE(std::isnan(run_op<double>(ReduceOp::Min, s, {1})[0]));
  EXPECT_EQ(run_op<double>(ReduceOp::ArgMax, s, {1})[0], 2);
  EXPECT_EQ(run_op<double>(ReduceOp::ArgMin, s, {1})[0], 2);
  EXPECT_EQ(run_op<double>(ReduceOp::Any, s, {1})[0], 1);  // NaN is true
  // Long rows take the vectorised two-pass arg path.
  std::vector<float> row(1000, 1.0f);
  row[700] = std::nanf("");
  row[900] = std::nanf("");
  row[10] = 5.0f;
  row[20] = 5.0f;
  Strided r;
  r.data = row.data();
  r.dtype = kFloat32;
  r.sizes = {1000};
  r.strides = {1};
  EXPECT_EQ(run_op<float>(ReduceOp::ArgMax, r, {1})[0], 700);
  row[700] = row[900] = 1.0f;
  EXPECT_EQ(run_op<float>(ReduceOp::ArgMax, r, {1})[0], 10);
  EXPECT_EQ(run_op<float>(ReduceOp::ArgMin, r, {1})[0], 0);
}

TEST(ReduceKernels, EmptyInputs) {
  std::vector<float> none(1);
  Strided s;
  s.data = none.data();
  s.dtype = kFloat32;
  s.sizes = {3, 0};
  s.strides = {0, 1};
  EXPECT_EQ(run_op<float>(ReduceOp::Sum, s, {3, 1}), std::vector<double>(3, 0.0));
  EXPECT_EQ(run_op<float>(ReduceOp::Prod, s, {3, 1}), std::vector<double>(3, 1.0));
  EXPECT_EQ(run_op<float>(ReduceOp::Any, s, {3, 1}), std::vector<double>(3, 0.0));
  EXPECT_EQ(run_op<float>(ReduceOp::All, s, {3, 1}), std::vector<double>(3, 1.0));
  EXPECT_THROW(run_op<float>(ReduceOp::Max, s, {3, 1}), Error);
  EXPECT_THROW(run_op<float>(ReduceOp::ArgMin, s, {3, 1}), Error);
  EXPECT_TRUE(run_op<float>(ReduceOp::Max, s, {1, 0}).empty());  // no outputs: nothing to do
}

TEST(ReduceKernels, ScalarAndSizeOneDims) {
  std::vector<double> x = {3.5};
  Strided s;
  s.data = x.data();
  s.dtype = kFloat64;
  EXPECT_EQ(run_op<double>(ReduceOp::Sum, s, {})[0], 3.5);
  EXPECT_EQ(run_op<double>(ReduceOp::ArgMax, s, {})[0], 0);
  s.sizes = {1, 1};
  s.strides = {7, 3};
  EXPECT_EQ(run_op<double>(ReduceOp::Prod, s, {1, 1})[0], 3.5);
  EXPECT_EQ(run_op<double>(ReduceOp::ArgMin, s, {1, 1})[0], 0);
}

TEST(ReduceKernels, Errors) {
  std::vector<float> data(12, 1.0f);
  Strided s;
  s.data = data.data();
  s.dtype = kFloat32;
  s.sizes = {3, 4};
  s.strides = {4, 1};
  EXPECT_THROW(run_op<float>(ReduceOp::Sum, s, {3}), Error);            // rank differs
  EXPECT_THROW(run_op<float>(ReduceOp::Sum, s, {2, 1}), Error);         // not a reduction of the input shape
  EXPECT_THROW(run_op<float>(ReduceOp::ArgMax, s, {1, 1}), Error);      // arg over two dims
  EXPECT_THROW(run_kernel<double>(ReduceOp::Sum, s, {3, 1}), Error);    // output dtype differs
  EXPECT_THROW(run_kernel<float>(ReduceOp::ArgMax, s, {3, 1}), Error);  // arg output must be int64
  EXPECT_THROW(run_kernel<float>(ReduceOp::Any, s, {3, 1}), Error);     // any output must be bool
}

// ---------------------------------------------------------------------------------------------------------------
// softmax
// ---------------------------------------------------------------------------------------------------------------
template <typename T>
std::vector<double> naive_softmax(const Strided& src, int64_t dim, bool log) {
  const Dims& sizes = src.sizes;
  const Dims out_strides = contiguous_strides(sizes);
  std::vector<double> out(static_cast<size_t>(sizes.product()));
  Dims row_sizes = sizes;
  row_sizes[static_cast<size_t>(dim)] = 1;
  for_each_index(row_sizes, [&](const Dims& base) {
    Dims index = base;
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t k = 0; k < sizes[dim]; ++k) {
      index[dim] = k;
      m = std::max(m, static_cast<double>(element<T>(src, index)));
    }
    double total = 0;
    for (int64_t k = 0; k < sizes[dim]; ++k) {
      index[dim] = k;
      total += std::exp(static_cast<double>(element<T>(src, index)) - m);
    }
    for (int64_t k = 0; k < sizes[dim]; ++k) {
      index[dim] = k;
      const double x = static_cast<double>(element<T>(src, index));
      int64_t o = 0;
      for (size_t d = 0; d < index.size(); ++d) o += index[d] * out_strides[d];
      out[static_cast<size_t>(o)] = log ? x - m - std::log(total) : std::exp(x - m) / total;
    }
  });
  return out;
}

template <typename T>
std::vector<double> run_softmax(const Strided& src, int64_t dim, bool log) {
  std::vector<T> out(static_cast<size_t>(std::max<int64_t>(src.sizes.product(), 1)));
  Strided dst;
  dst.data = out.data();
  dst.dtype = src.dtype;
  dst.sizes = src.sizes;
  dst.strides = contiguous_strides(src.sizes);
  cpu_backend().softmax(src, dst, dim, log);
  return std::vector<double>(out.begin(), out.begin() + src.sizes.product());
}

template <typename T>
void check_random_softmax(uint32_t seed, double tol) {
  std::mt19937 gen(seed);
  const std::vector<Dims> shapes = {{7}, {100}, {5, 33}, {3, 4, 5}, {2, 300, 3}, {64, 257}, {2, 3, 4, 5}, {600, 70}};
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    int c = 0;
    for (const Dims& sizes : shapes) {
      for (int64_t dim = 0; dim < static_cast<int64_t>(sizes.size()); ++dim, ++c) {
        std::vector<int> perm(sizes.size());
        std::iota(perm.begin(), perm.end(), 0);
        if (c % 2) std::shuffle(perm.begin(), perm.end(), gen);
        View<T> v = make_view<T>(sizes, perm, c % 3 == 0 ? 2 : 1, gen);
        for (auto& x : v.buffer) x *= 4;
        for (bool log : {false, true})
          expect_close(run_softmax<T>(v.s, dim, log), naive_softmax<T>(v.s, dim, log), tol,
                       detail::concat(log ? "log_softmax" : "softmax", " dim ", dim, " input ", v.s.sizes, " strides ",
                                      v.s.strides));
      }
    }
  }
  set_num_threads(2);
}

TEST(SoftmaxKernel, RandomFloat32) { check_random_softmax<float>(11, 2e-6); }
TEST(SoftmaxKernel, RandomFloat64) { check_random_softmax<double>(12, 1e-12); }

TEST(SoftmaxKernel, StableForLargeInputsAndInfinities) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1000, 1001, 1002, -inf, 999};
  Strided s;
  s.data = x.data();
  s.dtype = kFloat32;
  s.sizes = {5};
  s.strides = {1};
  const std::vector<double> y = run_softmax<float>(s, 0, false);
  const std::vector<double> ly = run_softmax<float>(s, 0, true);
  const std::vector<double> want = naive_softmax<float>(s, 0, false);
  for (size_t i = 0; i < y.size(); ++i) {
    EXPECT_NEAR(y[i], want[i], 1e-6);
    EXPECT_FALSE(std::isnan(y[i]));
  }
  EXPECT_EQ(y[3], 0.0);
  EXPECT_EQ(ly[3], -std::numeric_limits<double>::infinity());
  EXPECT_NEAR(ly[2], std::log(want[2]), 1e-6);
  // Very negative differences underflow to exactly 0 rather than producing garbage.
  std::vector<float> far = {0, -200, -90, -87};
  s.data = far.data();
  s.sizes = {4};
  const std::vector<double> yf = run_softmax<float>(s, 0, false);
  EXPECT_NEAR(yf[0], 1.0, 1e-7);
  EXPECT_EQ(yf[1], 0.0);
  EXPECT_GE(yf[3], 0.0);
  EXPECT_LT(yf[3], 1e-37);
}

TEST(SoftmaxKernel, ExpAccuracyOverItsRange) {
  // Each softmax of a 2-element row {0, t} is 1 / (1 + exp(t)): checks the float32 exp for t in [-80, 80].
  std::vector<float> x;
  for (float t = -80.0f; t <= 80.0f; t += 0.037f) {
    x.push_back(0.0f);
    x.push_back(t);
  }
  Strided s;
  s.data = x.data();
  s.dtype = kFloat32;
  s.sizes = {static_cast<int64_t>(x.size() / 2), 2};
  s.strides = {2, 1};
  const std::vector<double> y = run_softmax<float>(s, 1, false);
  for (size_t r = 0; r < x.size() / 2; ++r) {
    const double t = x[2 * r + 1];
    const double want = 1.0 / (1.0 + std::exp(t));
    EXPECT_NEAR(y[2 * r], want, 4e-7 * want + 1e-38) << "t = " << t;
  }
}

TEST(SoftmaxKernel, NanRowsAndErrors) {
  std::vector<double> x = {1, std::nan(""), 2, 3, 4, 5};
  Strided s;
  s.data = x.data();
  s.dtype = kFloat64;
  s.sizes = {2, 3};
  s.strides = {3, 1};
  const std::vector<double> y = run_softmax<double>(s, 1, false);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(std::isnan(y[i]));
  for (int i = 3; i < 6; ++i) EXPECT_FALSE(std::isnan(y[i]));
  EXPECT_THROW(run_softmax<double>(s, 2, false), Error);
  std::vector<int64_t> ints = {1, 2, 3};
  Strided si;
  si.data = ints.data();
  si.dtype = kInt64;
  si.sizes = {3};
  si.strides = {1};
  EXPECT_THROW(run_softmax<int64_t>(si, 0, false), Error);
}

}  // namespace
}  // namespace tandem::cpu

// The CPU indexing kernels (index_select, index_add, gather, scatter_add) called directly on raw strided
// buffers and compared with naive loops written here: every dtype, permuted and gapped strides, repeated
// indices, strided index operands, results independent of the thread count, and the bounds and shape errors
// (thrown before anything is written).
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"

namespace tandem::cpu {
namespace {

/// A raw buffer and a strided view of it. The view's dims are laid out in memory in the order `layout`
/// (outermost first) with `gap` times the compact stride, so that most views are non-contiguous.
struct Buffer {
  std::vector<int64_t> words;  // int64 words keep every dtype aligned
  Strided view;

  template <typename T>
  T& at(const std::vector<int64_t>& idx) {
    char* p = static_cast<char*>(view.data);
    for (size_t d = 0; d < idx.size(); ++d) p += idx[d] * view.strides[d] * static_cast<int64_t>(sizeof(T));
    return *reinterpret_cast<T*>(p);
  }
};

Buffer make_buffer(ScalarType dtype, const Dims& sizes, std::vector<size_t> layout = {}, int64_t gap = 1) {
  if (layout.empty())
    for (size_t d = 0; d < sizes.size(); ++d) layout.push_back(d);
  Buffer b;
  Dims strides(sizes.size());
  int64_t stride = gap;
  for (size_t k = layout.size(); k-- > 0;) {
    strides[layout[k]] = stride;
    stride *= std::max<int64_t>(sizes[layout[k]], 1);
  }
  const int64_t bytes = stride * static_cast<int64_t>(element_size(dtype));
  b.words.assign(static_cast<size_t>(bytes / 8 + 2), 0);
  b.view.data = b.words.data();
  b.view.dtype = dtype;
  b.view.sizes = sizes;
  b.view.strides = strides;
  return b;
}

/// Calls fn(index) for every multi-index of `sizes` in row-major order.
void for_each_position(const Dims& sizes, const std::function<void(const std::vector<int64_t>&)>& fn) {
  if (sizes.product() == 0) return;
  std::vector<int64_t> idx(sizes.size(), 0);
  while (true) {
    fn(idx);
    size_t d = sizes.size();
    while (d-- > 0) {
      if (++idx[d] < sizes[d]) break;
      idx[d] = 0;
    }
    if (d == static_cast<size_t>(-1)) return;
  }
}

/// Fills every element of the view with random values (integers for int64, 0/1 for bool).
template <typename T>
void fill_random(Buffer& b, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> coin(0, 1);
  std::uniform_int_distribution<int64_t> ints(-50, 50);
  for_each_position(b.view.sizes, [&](const std::vector<int64_t>& idx) {
    if constexpr (std::is_same_v<T, bool>)
      b.at<bool>(idx) = coin(gen) == 1;
    else if constexpr (std::is_same_v<T, int64_t>)
      b.at<int64_t>(idx) = ints(gen);
    else
      b.at<T>(idx) = static_cast<T>(normal(gen));
  });
}

/// An int64 index buffer of the given shape (strided when gap > 1) with values uniform in [0, high).
Buffer random_index(const Dims& sizes, int64_t high, uint32_t seed, int64_t gap = 2) {
  Buffer b = make_buffer(kInt64, sizes, {}, gap);
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int64_t> dist(0, high - 1);
  for_each_position(sizes, [&](const std::vector<int64_t>& idx) { b.at<int64_t>(idx) = dist(gen); });
  return b;
}

template <typename T>
void accumulate(T& acc, T v) {
  if constexpr (std::is_same_v<T, bool>)
    acc = acc || v;
  else
    acc += v;
}

template <typename T>
void expect_same_values(Buffer& actual, Buffer& expected) {
  ASSERT_EQ(actual.view.sizes, expected.view.sizes);
  for_each_position(actual.view.sizes, [&](const std::vector<int64_t>& idx) {
    ASSERT_EQ(actual.at<T>(idx), expected.at<T>(idx)) << "at position " << Dims(idx);
  });
}

const ScalarType kAllDtypes[] = {kFloat32, kFloat64, kInt64, kBool};

// ---- index_select -------------------------------------------------------------------------------------------

template <typename T>
void check_index_select(int64_t dim) {
  const Dims src_sizes{4, 5, 3};
  Buffer src = make_buffer(dtype_of<T>::value, src_sizes, {2, 0, 1}, 2);
  fill_random<T>(src, 1);
  Buffer index = random_index({7}, src_sizes[static_cast<size_t>(dim)], 2, 3);  // repeats are likely
  Dims dst_sizes = src_sizes;
  dst_sizes[static_cast<size_t>(dim)] = 7;
  Buffer dst = make_buffer(dtype_of<T>::value, dst_sizes, {1, 2, 0}, 2);
  cpu_backend().index_select(src.view, dim, index.view, dst.view);
  Buffer expected = make_buffer(dtype_of<T>::value, dst_sizes);
  for_each_position(dst_sizes, [&](const std::vector<int64_t>& idx) {
    std::vector<int64_t> from = idx;
    from[static_cast<size_t>(dim)] = index.at<int64_t>({idx[static_cast<size_t>(dim)]});
    expected.at<T>(idx) = src.at<T>(from);
  });
  expect_same_values<T>(dst, expected);
}

TEST(IndexKernels, IndexSelectMatchesNaiveLoopsForEveryDtypeAndDim) {
  for (ScalarType dtype : kAllDtypes)
    for (int64_t dim = 0; dim < 3; ++dim) {
      SCOPED_TRACE(detail::concat(dtype, " dim ", dim));
      visit_dtype(dtype, [&](auto tag) { check_index_select<decltype(tag)>(dim); });
    }
}

TEST(IndexKernels, IndexSelectTakesAZeroDimIndex) {
  std::vector<double> src{1, 2, 3, 4, 5, 6};  // [2, 3]
  std::vector<double> dst(2, 0);
  int64_t index = 2;
  Strided s{src.data(), kFloat64, {2, 3}, {3, 1}};
  Strided i{&index, kInt64, {}, {}};
  Strided d{dst.data(), kFloat64, {2, 1}, {1, 1}};
  cpu_backend().index_select(s, 1, i, d);
  EXPECT_EQ(dst, (std::vector<double>{3, 6}));
}

// ---- index_add ----------------------------------------------------------------------------------------------

template <typename T>
void check_index_add(int64_t dim) {
  const Dims dst_sizes{4, 3, 5};
  Buffer dst = make_buffer(dtype_of<T>::value, dst_sizes, {1, 2, 0}, 2);
  fill_random<T>(dst, 3);
  Buffer expected = make_buffer(dtype_of<T>::value, dst_sizes);
  for_each_position(dst_sizes, [&](const std::vector<int64_t>& idx) { expected.at<T>(idx) = dst.at<T>(idx); });
  Dims src_sizes = dst_sizes;
  src_sizes[static_cast<size_t>(dim)] = 9;
  Buffer src = make_buffer(dtype_of<T>::value, src_sizes, {2, 1, 0}, 3);
  fill_random<T>(src, 4);
  Buffer index = random_index({9}, dst_sizes[static_cast<size_t>(dim)], 5);  // 9 > size: repeats for sure
  cpu_backend().index_add(dst.view, dim, index.view, src.view);
  for_each_position(src_sizes, [&](const std::vector<int64_t>& idx) {
    std::vector<int64_t> to = idx;
    to[static_cast<size_t>(dim)] = index.at<int64_t>({idx[static_cast<size_t>(dim)]});
    accumulate(expected.at<T>(to), src.at<T>(idx));
  });
  expect_same_values<T>(dst, expected);
}

TEST(IndexKernels, IndexAddAccumulatesRepeatedIndicesForEveryDtypeAndDim) {
  for (ScalarType dtype : kAllDtypes)
    for (int64_t dim = 0; dim < 3; ++dim) {
      SCOPED_TRACE(detail::concat(dtype, " dim ", dim));
      visit_dtype(dtype, [&](auto tag) { check_index_add<decltype(tag)>(dim); });
    }
}

TEST(IndexKernels, IndexAddHandExample) {
  std::vector<double> dst{0, 0, 0, 0, 0, 0};  // [3, 2]
  std::vector<double> src{1, 2, 3, 4, 5, 6};  // [3, 2]
  std::vector<int64_t> index{2, 0, 2};
  Strided d{dst.data(), kFloat64, {3, 2}, {2, 1}};
  Strided s{src.data(), kFloat64, {3, 2}, {2, 1}};
  Strided i{index.data(), kInt64, {3}, {1}};
  cpu_backend().index_add(d, 0, i, s);
  EXPECT_EQ(dst, (std::vector<double>{3, 4, 0, 0, 6, 8}));
}

// ---- gather ---------------------------------------------------------------------------------------------------

template <typename T>
void check_gather(int64_t dim) {
  const Dims src_sizes{4, 5, 3};
  Buffer src = make_buffer(dtype_of<T>::value, src_sizes, {1, 0, 2}, 2);
  fill_random<T>(src, 6);
  // smaller than src outside dim, larger along it
  Dims index_sizes{3, 4, 2};
  index_sizes[static_cast<size_t>(dim)] = 6;
  Buffer index = random_index(index_sizes, src_sizes[static_cast<size_t>(dim)], 7);
  Buffer dst = make_buffer(dtype_of<T>::value, index_sizes, {2, 1, 0}, 2);
  cpu_backend().gather(src.view, dim, index.view, dst.view);
  Buffer expected = make_buffer(dtype_of<T>::value, index_sizes);
  for_each_position(index_sizes, [&](const std::vector<int64_t>& idx) {
    std::vector<int64_t> from = idx;
    from[static_cast<size_t>(dim)] = index.at<int64_t>(idx);
    expected.at<T>(idx) = src.at<T>(from);
  });
  expect_same_values<T>(dst, expected);
}

TEST(IndexKernels, GatherMatchesNaiveLoopsForEveryDtypeAndDim) {
  for (ScalarType dtype : kAllDtypes)
    for (int64_t dim = 0; dim < 3; ++dim) {
      SCOPED_TRACE(detail::concat(dtype, " dim ", dim));
      visit_dtype(dtype, [&](auto tag) { check_gather<decltype(tag)>(dim); });
    }
}

// ---- scatter_add ----------------------------------------------------------------------------------------------

template <typename T>
void check_scatter_add(int64_t dim) {
  const Dims dst_sizes{4, 5, 3};
  Buffer dst = make_buffer(dtype_of<T>::value, dst_sizes, {2, 1, 0}, 2);
  fill_random<T>(dst, 8);
  Buffer expected = make_buffer(dtype_of<T>::value, dst_sizes);
  for_each_position(dst_sizes, [&](const std::vector<int64_t>& idx) { expected.at<T>(idx) = dst.at<T>(idx); });
  Dims index_sizes{3, 4, 2};
  index_sizes[static_cast<size_t>(dim)] = 7;
  Buffer index = random_index(index_sizes, dst_sizes[static_cast<size_t>(dim)], 9);
  // src is larger than the index in every dim: only the part the index covers is read
  Dims src_sizes = index_sizes;
  for (auto& s : src_sizes) s += 1;
  Buffer src = make_buffer(dtype_of<T>::value, src_sizes, {0, 2, 1}, 2);
  fill_random<T>(src, 10);
  cpu_backend().scatter_add(dst.view, dim, index.view, src.view);
  for_each_position(index_sizes, [&](const std::vector<int64_t>& idx) {
    std::vector<int64_t> to = idx;
    to[static_cast<size_t>(dim)] = index.at<int64_t>(idx);
    accumulate(expected.at<T>(to), src.at<T>(idx));
  });
  expect_same_values<T>(dst, expected);
}

TEST(IndexKernels, ScatterAddAccumulatesRepeatedIndicesForEveryDtypeAndDim) {
  for (ScalarType dtype : kAllDtypes)
    for (int64_t dim = 0; dim < 3; ++dim) {
      SCOPED_TRACE(detail::concat(dtype, " dim ", dim));
      visit_dtype(dtype, [&](auto tag) { check_scatter_add<decltype(tag)>(dim); });
    }
}

TEST(IndexKernels, ScatterAddHandExample) {
  std::vector<double> dst(6, 0.0);            // [2, 3]
  std::vector<double> src{1, 2, 3, 4, 5, 6};  // [2, 3]
  std::vector<int64_t> index{0, 2, 2, 1, 1, 0};
  Strided d{dst.data(), kFloat64, {2, 3}, {3, 1}};
  Strided s{src.data(), kFloat64, {2, 3}, {3, 1}};
  Strided i{index.data(), kInt64, {2, 3}, {3, 1}};
  cpu_backend().scatter_add(d, 1, i, s);
  EXPECT_EQ(dst, (std::vector<double>{1, 0, 5, 6, 9, 0}));
}

// ---- threading ------------------------------------------------------------------------------------------------

/// Runs fn with the given number of CPU threads, restoring the previous setting.
template <typename Fn>
void with_threads(int n, Fn fn) {
  const int previous = get_num_threads();
  set_num_threads(n);
  fn();
  set_num_threads(previous);
}

TEST(IndexKernels, AccumulatingKernelsAreDeterministicAcrossThreadCounts) {
  // Large enough to be split between threads; many repeated indices so that every output position sums
  // several contributions, whose order must not depend on the threads.
  const Dims dst_sizes{16, 1024};
  Buffer src = make_buffer(kFloat32, {600, 1024});
  fill_random<float>(src, 11);
  Buffer index = random_index({600}, 16, 12, 1);
  Buffer index2d = random_index({600, 1024}, 16, 13, 1);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2}) {
    with_threads(threads, [&] {
      Buffer a = make_buffer(kFloat32, dst_sizes);
      Buffer b = make_buffer(kFloat32, dst_sizes);
      cpu_backend().index_add(a.view, 0, index.view, src.view);
      cpu_backend().scatter_add(b.view, 0, index2d.view, src.view);
      const float* pa = static_cast<const float*>(a.view.data);
      const float* pb = static_cast<const float*>(b.view.data);
      results.emplace_back(pa, pa + dst_sizes.product());
      results.emplace_back(pb, pb + dst_sizes.product());
    });
  }
  EXPECT_EQ(results[0], results[2]);  // index_add, 1 vs 2 threads (bitwise)
  EXPECT_EQ(results[1], results[3]);  // scatter_add
  // and equal to the naive sum in index order
  Buffer expected = make_buffer(kFloat32, dst_sizes);
  for_each_position({600, 1024}, [&](const std::vector<int64_t>& idx) {
    expected.at<float>({index.at<int64_t>({idx[0]}), idx[1]}) += src.at<float>(idx);
  });
  const float* pe = static_cast<const float*>(expected.view.data);
  EXPECT_EQ(results[0], std::vector<float>(pe, pe + dst_sizes.product()));
}

TEST(IndexKernels, SelectingKernelsGiveTheSameResultOnOneAndTwoThreads) {
  Buffer src = make_buffer(kFloat64, {300, 500}, {1, 0});
  fill_random<double>(src, 14);
  Buffer index = random_index({400}, 500, 15);
  Buffer index2d = random_index({300, 500}, 300, 16);
  std::vector<std::vector<double>> results;
  for (int threads : {1, 2}) {
    with_threads(threads, [&] {
      Buffer a = make_buffer(kFloat64, {300, 400});
      Buffer b = make_buffer(kFloat64, {300, 500});
      cpu_backend().index_select(src.view, 1, index.view, a.view);
      cpu_backend().gather(src.view, 0, index2d.view, b.view);
      const double* pa = static_cast<const double*>(a.view.data);
      const double* pb = static_cast<const double*>(b.view.data);
      results.emplace_back(pa, pa + 300 * 400);
      results.emplace_back(pb, pb + 300 * 500);
    });
  }
  EXPECT_EQ(results[0], results[2]);
  EXPECT_EQ(results[1], results[3]);
  EXPECT_EQ(results[0][5 * 400 + 7], src.at<double>({5, index.at<int64_t>({7})}));
}

// ---- errors ---------------------------------------------------------------------------------------------------

/// Runs fn, expecting a tandem::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected tandem::Error";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& part : parts) EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' not in: " << what;
  }
}

TEST(IndexKernels, BadIndexValuesThrowBeforeWritingAnything) {
  std::vector<double> src{1, 2, 3, 4, 5, 6};  // [2, 3]
  Strided s{src.data(), kFloat64, {2, 3}, {3, 1}};
  for (int64_t bad : {int64_t{-1}, int64_t{3}, int64_t{100}}) {
    std::vector<int64_t> index{0, bad};
    Strided i{index.data(), kInt64, {2}, {1}};
    std::vector<double> dst(4, 7.0);
    Strided d{dst.data(), kFloat64, {2, 2}, {2, 1}};
    expect_error([&] { cpu_backend().index_select(s, 1, i, d); },
                 {"index_select", std::to_string(bad), "dim 1", "[0, 2]"});
    EXPECT_EQ(dst, std::vector<double>(4, 7.0));

    std::vector<double> acc(6, 7.0);
    Strided a{acc.data(), kFloat64, {2, 3}, {3, 1}};
    std::vector<double> source(4, 1.0);
    Strided so{source.data(), kFloat64, {2, 2}, {2, 1}};
    expect_error([&] { cpu_backend().index_add(a, 1, i, so); }, {"index_add", std::to_string(bad), "[0, 2]"});
    EXPECT_EQ(acc, std::vector<double>(6, 7.0));

    std::vector<int64_t> index2d{0, 1, 2, 0, 1, bad};  // the bad value comes last
    Strided i2{index2d.data(), kInt64, {2, 3}, {3, 1}};
    std::vector<double> out(6, 7.0);
    Strided o{out.data(), kFloat64, {2, 3}, {3, 1}};
    expect_error([&] { cpu_backend().gather(s, 1, i2, o); }, {"gather", std::to_string(bad), "[0, 2]"});
    EXPECT_EQ(out, std::vector<double>(6, 7.0));
    expect_error([&] { cpu_backend().scatter_add(o, 1, i2, s); }, {"scatter_add", std::to_string(bad), "[0, 2]"});
    EXPECT_EQ(out, std::vector<double>(6, 7.0));
  }
}

TEST(IndexKernels, IndexIntoAnEmptyDimThrows) {
  std::vector<double> src(1);
  Strided s{src.data(), kFloat64, {2, 0}, {0, 1}};
  int64_t index = 0;
  Strided i{&index, kInt64, {1}, {1}};
  std::vector<double> dst(2);
  Strided d{dst.data(), kFloat64, {2, 1}, {1, 1}};
  expect_error([&] { cpu_backend().index_select(s, 1, i, d); }, {"index_select", "size 0"});
}

TEST(IndexKernels, WrongIndexDtypeAndShapesThrow) {
  std::vector<double> src{1, 2, 3, 4, 5, 6};
  Strided s{src.data(), kFloat64, {2, 3}, {3, 1}};
  std::vector<double> float_index{0, 1};
  Strided fi{float_index.data(), kFloat64, {2}, {1}};
  std::vector<double> dst(4);
  Strided d{dst.data(), kFloat64, {2, 2}, {2, 1}};
  expect_error([&] { cpu_backend().index_select(s, 1, fi, d); }, {"index_select", "int64", "float64"});

  std::vector<int64_t> index{0, 1};
  Strided i{index.data(), kInt64, {2}, {1}};
  Strided wrong_out{dst.data(), kFloat64, {2, 1}, {1, 1}};  // index has 2 elements, output 1 column
  expect_error([&] { cpu_backend().index_select(s, 1, i, wrong_out); }, {"index_select"});
  expect_error([&] { cpu_backend().index_select(s, 2, i, d); }, {"index_select", "dim 2"});

  Strided rank1_index{index.data(), kInt64, {2}, {1}};
  expect_error([&] { cpu_backend().gather(s, 0, rank1_index, d); }, {"gather", "rank"});

  std::vector<int64_t> big(12, 0);
  Strided too_big{big.data(), kInt64, {4, 3}, {3, 1}};
  std::vector<double> out(12);
  Strided o{out.data(), kFloat64, {4, 3}, {3, 1}};
  expect_error([&] { cpu_backend().scatter_add(s, 1, too_big, o); }, {"scatter_add", "larger"});

  std::vector<float> other(6);
  Strided f{other.data(), kFloat32, {2, 3}, {3, 1}};
  expect_error([&] { cpu_backend().index_add(f, 0, i, s); }, {"index_add", "dtype"});
}

TEST(IndexKernels, EmptyOperandsAreNoOps) {
  std::vector<double> src{1, 2, 3, 4, 5, 6};
  Strided s{src.data(), kFloat64, {2, 3}, {3, 1}};
  std::vector<int64_t> none(1);
  Strided empty_index{none.data(), kInt64, {0}, {1}};
  Strided empty_out{src.data(), kFloat64, {2, 0}, {3, 1}};
  EXPECT_NO_THROW(cpu_backend().index_select(s, 1, empty_index, empty_out));
  Strided empty_src{none.data(), kFloat64, {2, 0}, {3, 1}};
  EXPECT_NO_THROW(cpu_backend().index_add(s, 1, empty_index, empty_src));
  EXPECT_EQ(src, (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

}  // namespace
}  // namespace tandem::cpu

// CPU indexing kernels: index_select, index_add, gather and scatter_add, for every dtype and any strides.
//
// Every kernel first checks the shapes it is given and every index value against the size of the indexed
// dimension, and throws tandem::Error (naming the kernel, the bad value and the valid range) before it writes
// anything. The loops then run through for_each_row (backends/cpu/loops.h) over the dimensions that are *not*
// indexed, with the indexed dimension walked inside each row. For the accumulating kernels (index_add,
// scatter_add) this is what makes threading race-free and the result deterministic: two threads never touch
// the same position of the non-indexed dims, and each position sums its contributions in index order.
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"
#include "backends/index_checks.h"

namespace tandem::cpu {
namespace {

using namespace ::tandem::index_checks;

/// The operand with dimension `dim` removed.
Strided without_dim(const Strided& s, int64_t dim) {
  Strided out = s;
  out.sizes.erase(static_cast<size_t>(dim));
  out.strides.erase(static_cast<size_t>(dim));
  return out;
}

/// A 0-d operand read as the 1-D operand of its single element (so that dim 0 can be indexed).
Strided at_least_1d(const Strided& s) {
  if (s.ndim() > 0) return s;
  Strided out = s;
  out.sizes = Dims{1};
  out.strides = Dims{1};
  return out;
}

/// The operand's element sizes as a Strided of another operand's shape (for reading a larger operand through
/// a smaller index shape).
Strided with_sizes(const Strided& s, const Dims& sizes) {
  Strided out = s;
  out.sizes = sizes;
  return out;
}

/// Checks every value of the int64 operand `index` (any shape and strides) against [0, size), on the
/// calling thread, and throws for the first one outside.
void check_index_values(const char* op, const Strided& index, int64_t dim, int64_t size) {
  const int64_t single_thread = std::numeric_limits<int64_t>::max();
  for_each_row<1>(
      {&index},
      [&](std::array<char*, 1> p, int64_t n, const int64_t* s) {
        for (int64_t i = 0; i < n; ++i) {
          const int64_t v = *reinterpret_cast<const int64_t*>(p[0] + i * s[0]);
          if (v < 0 || v >= size) throw_bad_index(op, v, dim, size);
        }
      },
      single_thread);
}

/// The values of a 0-D or 1-D int64 index, bounds-checked against [0, size).
std::vector<int64_t> read_vector_index(const char* op, const Strided& index, int64_t dim, int64_t size) {
  check_index_dtype(op, index);
  TD_CHECK(index.ndim() <= 1, op, ": index must be 0-D or 1-D, got shape ", index.sizes);
  const int64_t n = index.numel();
  const int64_t stride = index.ndim() == 1 ? index.strides[0] : 1;
  const int64_t* p = index.ptr<int64_t>();
  std::vector<int64_t> values(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    const int64_t v = p[k * stride];
    if (v < 0 || v >= size) throw_bad_index(op, v, dim, size);
    values[static_cast<size_t>(k)] = v;
  }
  return values;
}

/// Adds v into acc; for bool, accumulation is logical or.
template <typename T>
inline void accumulate(T& acc, T v) {
  if constexpr (std::is_same_v<T, bool>)
    acc = acc || v;
  else
    acc += v;
}

/// Grain (in elements of the row loop) for kernels that do `work_per_element` steps per element.
int64_t grain_for(int64_t work_per_element) {
  return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, work_per_element));
}

/// Shared by index_select (Add = false: out[k] = in[index[k]]) and index_add (Add = true:
/// out[index[k]] += in[k]). `indexed` is the operand that is addressed through the index, `walked` the one
/// whose dimension `dim` runs over the index positions; both have the same sizes outside `dim`.
template <bool Add>
void index_rows(const Strided& indexed, const Strided& walked, int64_t dim, const std::vector<int64_t>& index) {
  const Strided indexed_rest = without_dim(indexed, dim);
  const Strided walked_rest = without_dim(walked, dim);
  const int64_t indexed_stride = indexed.strides[static_cast<size_t>(dim)];
  const int64_t walked_stride = walked.strides[static_cast<size_t>(dim)];
  const int64_t n = static_cast<int64_t>(index.size());
  if (n == 0) return;
  visit_dtype(indexed.dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int64_t bytes = sizeof(T);
    for_each_row<2>(
        {&indexed_rest, &walked_rest},
        [&](std::array<char*, 2> p, int64_t m, const int64_t* s) {
          T* a = reinterpret_cast<T*>(p[0]);  // indexed
          T* b = reinterpret_cast<T*>(p[1]);  // walked
          const int64_t sa = s[0] / bytes, sb = s[1] / bytes;
          for (int64_t k = 0; k < n; ++k) {
            T* ak = a + index[static_cast<size_t>(k)] * indexed_stride;
            T* bk = b + k * walked_stride;
            if constexpr (Add) {
              for (int64_t i = 0; i < m; ++i) accumulate(ak[i * sa], bk[i * sb]);
            } else {
              for (int64_t i = 0; i < m; ++i) bk[i * sb] = ak[i * sa];
            }
          }
        },
        grain_for(n));
  });
}

}  // namespace

void CpuBackend::index_select(const Strided& src_in, int64_t dim, const Strided& index, const Strided& dst_in) {
  const char* op = "index_select";
  const Strided src = at_least_1d(src_in), dst = at_least_1d(dst_in);
  check_dim(op, dim, src);
  TD_CHECK(src.dtype == dst.dtype, op, ": output dtype ", dst.dtype, " differs from input dtype ", src.dtype);
  check_same_outside(op, src, "input", dst, "output", dim);
  TD_CHECK(dst.sizes[static_cast<size_t>(dim)] == index.numel(), op, ": output has size ",
           dst.sizes[static_cast<size_t>(dim)], " in dim ", dim, " but index has ", index.numel(), " elements");
  const std::vector<int64_t> values = read_vector_index(op, index, dim, src.sizes[static_cast<size_t>(dim)]);
  if (dst.numel() == 0) return;
  index_rows<false>(src, dst, dim, values);
}

void CpuBackend::index_add(const Strided& dst_in, int64_t dim, const Strided& index, const Strided& src_in) {
  const char* op = "index_add";
  const Strided dst = at_least_1d(dst_in), src = at_least_1d(src_in);
  check_dim(op, dim, dst);
  TD_CHECK(src.dtype == dst.dtype, op, ": source dtype ", src.dtype, " differs from destination dtype ", dst.dtype);
  check_same_outside(op, dst, "destination", src, "source", dim);
  TD_CHECK(src.sizes[static_cast<size_t>(dim)] == index.numel(), op, ": source has size ",
           src.sizes[static_cast<size_t>(dim)], " in dim ", dim, " but index has ", index.numel(), " elements");
  const std::vector<int64_t> values = read_vector_index(op, index, dim, dst.sizes[static_cast<size_t>(dim)]);
  if (src.numel() == 0) return;
  index_rows<true>(dst, src, dim, values);
}

void CpuBackend::gather(const Strided& src_in, int64_t dim, const Strided& index_in, const Strided& dst_in) {
  const char* op = "gather";
  const Strided src = at_least_1d(src_in), index = at_least_1d(index_in), dst = at_least_1d(dst_in);
  check_dim(op, dim, src);
  check_index_dtype(op, index);
  TD_CHECK(src.dtype == dst.dtype, op, ": output dtype ", dst.dtype, " differs from input dtype ", src.dtype);
  check_index_fits(op, index, src, "input", dim);
  TD_CHECK(dst.sizes == index.sizes, op, ": output of shape ", dst.sizes, " must have the index's shape ", index.sizes);
  const int64_t size = src.sizes[static_cast<size_t>(dim)];
  check_index_values(op, index, dim, size);
  if (dst.numel() == 0) return;

  // src read through the index's shape with a zero stride along dim: the row pointer is then the element at
  // coordinate 0 of dim, and the index value supplies the offset along it.
  Strided src_base = with_sizes(src, index.sizes);
  const int64_t src_dim_stride = src.strides[static_cast<size_t>(dim)];
  src_base.strides[static_cast<size_t>(dim)] = 0;
  visit_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int64_t bytes = sizeof(T);
    for_each_row<3>({&dst, &index, &src_base}, [&](std::array<char*, 3> p, int64_t m, const int64_t* s) {
      T* out = reinterpret_cast<T*>(p[0]);
      const int64_t* idx = reinterpret_cast<const int64_t*>(p[1]);
      const T* in = reinterpret_cast<const T*>(p[2]);
      const int64_t so = s[0] / bytes, si = s[1] / static_cast<int64_t>(sizeof(int64_t)), sx = s[2] / bytes;
      for (int64_t i = 0; i < m; ++i) out[i * so] = in[i * sx + idx[i * si] * src_dim_stride];
    });
  });
}

void CpuBackend::scatter_add(const Strided& dst_in, int64_t dim, const Strided& index_in, const Strided& src_in) {
  const char* op = "scatter_add";
  const Strided dst = at_least_1d(dst_in), index = at_least_1d(index_in), src = at_least_1d(src_in);
  check_dim(op, dim, dst);
  check_index_dtype(op, index);
  TD_CHECK(src.dtype == dst.dtype, op, ": source dtype ", src.dtype, " differs from destination dtype ", dst.dtype);
  check_index_fits(op, index, src, "source", -1);
  check_index_fits(op, index, dst, "destination", dim);
  check_index_values(op, index, dim, dst.sizes[static_cast<size_t>(dim)]);
  if (index.numel() == 0) return;

  // Rows over the dims other than `dim` (in the index's shape); each row walks dim k = 0..n-1 in order.
  const Strided index_rest = without_dim(index, dim);
  const Strided src_rest = without_dim(with_sizes(src, index.sizes), dim);
  const Strided dst_rest = without_dim(with_sizes(dst, index.sizes), dim);
  const size_t ud = static_cast<size_t>(dim);
  const int64_t n = index.sizes[ud];
  const int64_t index_dim_stride = index.strides[ud], src_dim_stride = src.strides[ud];
  const int64_t dst_dim_stride = dst.strides[ud];
  visit_dtype(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int64_t bytes = sizeof(T);
    for_each_row<3>(
        {&dst_rest, &index_rest, &src_rest},
        [&](std::array<char*, 3> p, int64_t m, const int64_t* s) {
          T* out = reinterpret_cast<T*>(p[0]);
          const int64_t* idx = reinterpret_cast<const int64_t*>(p[1]);
          const T* in = reinterpret_cast<const T*>(p[2]);
          const int64_t so = s[0] / bytes, si = s[1] / static_cast<int64_t>(sizeof(int64_t)), sx = s[2] / bytes;
          for (int64_t k = 0; k < n; ++k) {
            const int64_t* idx_k = idx + k * index_dim_stride;
            const T* in_k = in + k * src_dim_stride;
            for (int64_t i = 0; i < m; ++i) accumulate(out[i * so + idx_k[i * si] * dst_dim_stride], in_k[i * sx]);
          }
        },
        grain_for(n));
  });
}

}  // namespace tandem::cpu

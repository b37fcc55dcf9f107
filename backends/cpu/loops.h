// The one strided iteration every CPU element-wise kernel uses. Operands share a shape and each has its own
// strides; dims of size 1 are dropped and adjacent dims that are contiguous for every operand are merged, so
// that most loops become a single long inner row. `for_each_row` then calls inner(ptrs, n, byte_strides) for
// each row, threading over rows (or over a flat contiguous range) above a size threshold.
#pragma once

#include <array>
#include <cstdint>

#include "backends/backend.h"
#include "backends/cpu/parallel.h"

namespace tandem::cpu {

/// Elements below which element-wise kernels stay on one thread.
inline constexpr int64_t kElementwiseGrain = 32768;

template <size_t N>
struct RowGeometry {
  int nd = 0;                              // number of (coalesced) dims, innermost first
  int64_t size[16] = {};
  int64_t stride[N][16] = {};              // byte strides
};

/// Coalesces the shape and byte strides of N operands (innermost dim first in the result).
template <size_t N>
bool coalesce(const Dims& sizes, const std::array<const Dims*, N>& strides, const std::array<int64_t, N>& elem,
              RowGeometry<N>& g) {
  g.nd = 0;
  for (size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] == 1) continue;
    if (g.nd > 0) {
      bool mergeable = true;
      for (size_t k = 0; k < N; ++k)
        mergeable = mergeable && g.stride[k][g.nd - 1] * g.size[g.nd - 1] == (*strides[k])[d] * elem[k];
      if (mergeable) {
        g.size[g.nd - 1] *= sizes[d];
        continue;
      }
    }
    if (g.nd == 16) return false;
    g.size[g.nd] = sizes[d];
    for (size_t k = 0; k < N; ++k) g.stride[k][g.nd] = (*strides[k])[d] * elem[k];
    ++g.nd;
  }
  if (g.nd == 0) {  // a single element
    g.nd = 1;
    g.size[0] = 1;
    for (size_t k = 0; k < N; ++k) g.stride[k][0] = elem[k];
  }
  return true;
}

/// Calls inner(std::array<char*, N> ptrs, int64_t n, const int64_t* byte_strides) over all rows of the
/// operands `ops` (which must have the same sizes).
template <size_t N, typename Inner>
void for_each_row(const std::array<const Strided*, N>& ops, Inner&& inner, int64_t grain = kElementwiseGrain) {
  const Dims& sizes = ops[0]->sizes;
  const int64_t numel = sizes.product();
  if (numel == 0) return;
  std::array<const Dims*, N> strides;
  std::array<int64_t, N> elem;
  std::array<char*, N> base;
  for (size_t k = 0; k < N; ++k) {
    strides[k] = &ops[k]->strides;
    elem[k] = static_cast<int64_t>(element_size(ops[k]->dtype));
    base[k] = static_cast<char*>(ops[k]->data);
  }
  RowGeometry<N> g;
  TD_CHECK(coalesce(sizes, strides, elem, g), "cpu kernel: too many non-mergeable dims (", sizes.size(), ")");
  const int64_t inner_n = g.size[0];
  int64_t inner_strides[N];
  for (size_t k = 0; k < N; ++k) inner_strides[k] = g.stride[k][0];

  if (g.nd == 1) {  // one flat row: split it between threads
    parallel_for(inner_n, grain, [&](int64_t begin, int64_t end) {
      std::array<char*, N> p;
      for (size_t k = 0; k < N; ++k) p[k] = base[k] + begin * inner_strides[k];
      inner(p, end - begin, inner_strides);
    });
    return;
  }
  const int64_t rows = numel / inner_n;
  parallel_for(rows, std::max<int64_t>(1, grain / inner_n), [&](int64_t begin, int64_t end) {
    int64_t idx[16] = {};
    std::array<char*, N> p = base;
    int64_t r = begin;
    for (int d = 1; d < g.nd; ++d) {  // position of row `begin`
      idx[d] = r % g.size[d];
      r /= g.size[d];
      for (size_t k = 0; k < N; ++k) p[k] += idx[d] * g.stride[k][d];
    }
    for (int64_t row = begin; row < end; ++row) {
      inner(p, inner_n, inner_strides);
      for (int d = 1; d < g.nd; ++d) {  // advance to the next row
        for (size_t k = 0; k < N; ++k) p[k] += g.stride[k][d];
        if (++idx[d] < g.size[d]) break;
        for (size_t k = 0; k < N; ++k) p[k] -= g.stride[k][d] * g.size[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace tandem::cpu

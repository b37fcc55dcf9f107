// Thread parallelism for CPU kernels: one OpenMP-backed `parallel_for` with a grain size, so that small
// tensors stay on the calling thread (threads only pay off above a few tens of thousands of elements).
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace tandem::cpu {

/// Number of threads CPU kernels may use (defaults to the number of cores; set with set_num_threads).
int get_num_threads();
void set_num_threads(int n);

/// Calls fn(begin, end) over [0, n) split into at most get_num_threads() contiguous chunks, and runs on the
/// calling thread alone when n < grain or when already inside a parallel region.
template <typename Fn>
void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
#ifdef _OPENMP
  int threads = get_num_threads();
  if (n < grain || threads <= 1 || omp_in_parallel()) {
    fn(int64_t{0}, n);
    return;
  }
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
    fn(begin, end);
  }
#else
  (void)grain;
  fn(int64_t{0}, n);
#endif
}

}  // namespace tandem::cpu

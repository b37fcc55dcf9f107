// The thread-count setting that every threaded CPU kernel (parallel_for in parallel.h, gemm) respects.
#include "backends/cpu/parallel.h"

#include <atomic>

#include "backends/types.h"

namespace tandem::cpu {
namespace {

int default_num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

std::atomic<int>& num_threads_setting() {
  static std::atomic<int> setting{default_num_threads()};
  return setting;
}

}  // namespace

int get_num_threads() { return num_threads_setting().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  TD_CHECK(n >= 1, "set_num_threads: the number of threads must be at least 1, got ", n);
  num_threads_setting().store(n, std::memory_order_relaxed);
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

}  // namespace tandem::cpu

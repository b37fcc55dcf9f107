// Tutorial 09: the SGEMM ladder. Eight CUDA kernels for C = A @ B, each adding one idea to the one before
// (backends/cuda/sgemm_ladder_kernels.cuh). The program prints the walk-through with the memory traffic each
// rung needs per multiply-add (computed from its tile shapes and checked against the claims of README.md);
// with a GPU it then runs every rung once on 1024 x 1024, checks it against cuBLAS and times it. Without a GPU
// (or in a build without CUDA) it stops after the walk-through and exits 0.
//
//   tutorial_09_sgemm_ladder            walk-through, then the 1024 x 1024 run when a GPU is present
//   bench_sgemm_cuda                    the full measurement (sizes 128 .. 8192, cuBLAS FP32 and TF32 rows)
#include <tandem.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#ifdef TANDEM_HAS_CUDA
#include "backends/cuda/sgemm_ladder.h"
#endif

namespace td = tandem;

namespace {

int failures = 0;

void check(bool ok, const std::string& claim) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", claim.c_str());
  if (!ok) ++failures;
}

/// One rung as the walk-through describes it: the tile one thread block computes (block_m x block_n, stepping
/// block_k along K), the tile one thread computes (thread_m x thread_n), the threads of a block, and the width
/// of its shared-memory loads (1 float or a float4).
struct Rung {
  int number;
  const char* name;
  const char* idea;
  int64_t threads, block_m, block_n, block_k, thread_m, thread_n, shared_load_width;
  bool uses_shared;

  /// Floats read from global memory (L2) per multiply-add: a block reads block_m + block_n floats per step of
  /// K for block_m * block_n multiply-adds. The untiled rungs read both operands for every multiply-add.
  double global_loads_per_fma() const {
    if (!uses_shared) return 2.0;
    return static_cast<double>(block_m + block_n) / static_cast<double>(block_m * block_n);
  }
  /// Shared-memory load instructions per multiply-add in the inner loop: a thread loads thread_m values of A and
  /// thread_n of B (in loads of shared_load_width floats) for thread_m * thread_n multiply-adds.
  double shared_loads_per_fma() const {
    if (!uses_shared) return 0.0;
    return static_cast<double>(thread_m + thread_n) / static_cast<double>(shared_load_width) /
           static_cast<double>(thread_m * thread_n);
  }
};

// Rungs 7 and 8: per thread 4 x 2 sub-tiles of 4 x 4 (see WarpTiling in the kernel header).
const std::vector<Rung> kRungs = {
    {1, "naive", "one thread per entry of C; a warp walks down a column of C", 1024, 32, 32, 1, 1, 1, 1, false},
    {2, "coalesced", "one thread per entry; a warp walks along a row: loads of B and stores of C coalesce", 1024,
     32, 32, 1, 1, 1, 1, false},
    {3, "shared_tiled", "32x32 tiles of A and B staged in shared memory, each value used 32 times", 1024, 32, 32,
     32, 1, 1, 1, true},
    {4, "register_tiled_1d", "each thread computes 8 entries of a column: one B value feeds 8 multiply-adds", 512,
     64, 64, 8, 8, 1, 1, true},
    {5, "register_tiled_2d", "each thread computes an 8x8 block as outer products of register vectors", 256, 128,
     128, 8, 8, 8, 1, true},
    {6, "vectorized", "float4 loads from global and shared memory; A tile stored transposed", 256, 128, 128, 8, 8,
     8, 4, true},
    {7, "warp_tiled", "warp tiles of 4x4 thread tiles: conflict-free broadcast loads, 128 sums per thread", 128,
     128, 128, 16, 16, 8, 4, true},
    {8, "double_buffered", "two shared buffers: the next tile is fetched while this one is multiplied", 128, 128,
     128, 16, 16, 8, 4, true},
};

const Rung& rung(int number) { return kRungs[static_cast<size_t>(number - 1)]; }

// ---- 1. the walk-through ------------------------------------------------------------------------------------

void walk_through() {
  std::printf("\n1. The ladder: what each rung changes, and the traffic it needs per multiply-add\n");
  std::printf("  %-2s %-18s %8s %9s %9s %12s %12s\n", "#", "kernel", "threads", "block", "thread", "global/FMA",
              "shared/FMA");
  for (const Rung& r : kRungs) {
    std::printf("  %-2d %-18s %8lld %4lldx%-4lld %4lldx%-4lld %12.4f %12.4f\n", r.number, r.name,
                static_cast<long long>(r.threads), static_cast<long long>(r.block_m),
                static_cast<long long>(r.block_n), static_cast<long long>(r.thread_m),
                static_cast<long long>(r.thread_n), r.global_loads_per_fma(), r.shared_loads_per_fma());
    std::printf("       %s\n", r.idea);
  }
  check(rung(3).global_loads_per_fma() * 32 == rung(2).global_loads_per_fma(),
        "shared-memory tiles of 32 cut the floats read from global memory per multiply-add 32-fold (2 -> 1/16)");
  check(rung(5).global_loads_per_fma() * 4 == rung(3).global_loads_per_fma(),
        "128x128 block tiles cut them 4-fold again (1/16 -> 1/64)");
  check(rung(3).shared_loads_per_fma() == 2.0 && rung(4).shared_loads_per_fma() == 9.0 / 8.0,
        "1-D register tiling cuts shared loads per multiply-add from 2 to 9/8");
  check(rung(5).shared_loads_per_fma() * 8 == rung(3).shared_loads_per_fma(),
        "2-D register tiling (8x8 per thread) cuts them 8-fold from rung 3 (2 -> 1/4)");
  check(rung(6).shared_loads_per_fma() * 4 == rung(5).shared_loads_per_fma(),
        "float4 loads cut the load instructions 4-fold again (1/4 -> 1/16)");
  check(rung(7).shared_loads_per_fma() < rung(6).shared_loads_per_fma(),
        "warp tiling with 128 sums per thread needs fewer still (6 float4 loads per 128 multiply-adds = 3/64)");
  for (const Rung& r : kRungs)
    if (r.uses_shared && r.number >= 4)
      if (r.block_m * r.block_n != r.threads * r.thread_m * r.thread_n)
        check(false, "rung " + std::to_string(r.number) + ": threads x thread tile covers the block tile");
  check(true, "from rung 4 on, threads x thread tile = block tile (every entry of C has one owner)");
}

// ---- 2. running the ladder ----------------------------------------------------------------------------------

#ifdef TANDEM_HAS_CUDA
namespace ladder = tandem::cuda::ladder;

/// Best of `repeats` wall-clock times of `fn` (each followed by cuda::synchronize()), in seconds.
template <typename Fn>
double best_seconds(Fn&& fn, int repeats) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    td::cuda::synchronize();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

void run_ladder() {
  std::printf("\n2. Every rung on 1024 x 1024, checked against cuBLAS\n");
  for (const ladder::SgemmKernelInfo& info : ladder::sgemm_kernels()) {
    const Rung& r = rung(info.number);
    check(info.threads_per_block == r.threads && info.block_tile_m == r.block_m && info.block_tile_n == r.block_n,
          std::string("the table above describes kernel ") + std::to_string(info.number) + " (" + info.name +
              ") as compiled");
  }
  const int64_t n = 1024;
  const td::TensorOptions on_gpu = td::TensorOptions(td::kFloat32).device(td::kCUDA);
  td::manual_seed(9);
  const td::Tensor a = td::randn({n, n}, on_gpu), b = td::randn({n, n}, on_gpu);
  const td::Tensor reference = a.matmul(b);  // cuBLAS in FP32 (TF32 is off by default)
  const td::Tensor scale = a.abs().matmul(b.abs());
  const double flops = 2.0 * static_cast<double>(n * n * n);
  std::vector<double> gflops(kRungs.size() + 1, 0.0);
  bool all_right = true;
  for (const ladder::SgemmKernelInfo& info : ladder::sgemm_kernels()) {
    td::Tensor c = td::full({n, n}, std::nan(""), on_gpu);  // an entry the kernel misses stays NaN
    auto multiply = [&] { ladder::sgemm(info.kernel, n, n, n, a.data_ptr<float>(), b.data_ptr<float>(), c.data_ptr<float>()); };
    multiply();
    const td::Tensor error = ((c - reference).abs() / scale).max();
    const double worst = error.item<double>();
    const bool finite = c.eq(c).all().item<bool>();  // false where an entry is NaN
    const bool right = finite && worst <= 1e-5;
    all_right = all_right && right;
    const double seconds = best_seconds(multiply, 5);
    gflops[static_cast<size_t>(info.number)] = flops / seconds * 1e-9;
    std::printf("  %d %-18s %9.1f GFLOP/s   max |C - cuBLAS| / (|A||B|) = %.1e %s\n", info.number, info.name,
                gflops[static_cast<size_t>(info.number)], worst, right ? "" : "WRONG");
  }
  const double cublas = flops / best_seconds([&] { (void)a.matmul(b); }, 5) * 1e-9;
  std::printf("    %-18s %9.1f GFLOP/s\n", "cuBLAS (FP32)", cublas);
  check(all_right, "every rung computes the same product as cuBLAS (within 1e-5 of |A||B|, no entry missed)");
  check(gflops[2] > gflops[1], "coalescing alone makes rung 2 faster than rung 1");
  const double best = *std::max_element(gflops.begin() + 4, gflops.end());
  check(best > 5 * gflops[1], "the register-tiled rungs are more than 5x faster than the naive kernel");
}
#endif

}  // namespace

int main() {
  std::printf("tandem tutorial 09: the SGEMM ladder\n");
  try {
    walk_through();
#ifdef TANDEM_HAS_CUDA
    if (td::cuda::is_available()) run_ladder();
    else std::printf("\n2. No CUDA device is present: the kernels are not run (bench_sgemm_cuda measures them on a GPU)\n");
#else
    std::printf("\n2. This build has no CUDA backend: the kernels are not built (configure with TANDEM_WITH_CUDA=ON)\n");
#endif
  } catch (const std::exception& e) {
    std::printf("unexpected error: %s\n", e.what());
    ++failures;
  }
  std::printf("\n%s (%d failed checks)\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED", failures);
  return failures == 0 ? 0 : 1;
}

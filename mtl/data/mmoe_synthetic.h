// The synthetic regression benchmark of the MMoE paper (Ma et al. 2018), whose two tasks have a correlation p
// that the user chooses:
//   u1, u2 ∈ R^d orthonormal (Gram-Schmidt on two seeded Gaussian vectors);
//   w1 = c·u1,  w2 = c·(p·u1 + √(1−p²)·u2)            (so cos(w1, w2) = p);
//   x ~ N(0, I_d);  y_k = w_kᵀx + Σ_{i=1..m} sin(α_i w_kᵀx + β_i) + ε,  α_i, β_i ~ N(0, 1) shared by both tasks,
//   ε ~ N(0, 0.01) drawn for every sample and task.
//
//   mtl::MultiTaskDataset data = mtl::make_mmoe_synthetic(12000, /*correlation=*/0.5, /*seed=*/0);
//   mtl::MultiTaskDataset train = data.slice(0, 10000), test = data.slice(10000, 12000);
//
// The seed fixes the problem (u1, u2, α, β) and the samples together: build the train and test sets from one
// call and slice it — another seed is another pair of tasks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mtl/data/dataset.h"
#include "tensor/tensor.h"

namespace tandem::mtl {

/// The task names of the MMoE synthetic benchmark, in the order of the dataset's targets.
inline const std::vector<std::string> kMmoeSyntheticTaskNames = {"task1", "task2"};

struct MmoeSyntheticOptions {
  /// d, the input dimension.
  int64_t input_dim = 100;
  /// c, the norm of w1 and w2.
  double scale = 3.0;
  /// m, the number of sine terms.
  int64_t num_sines = 4;
  /// Standard deviation of the label noise ε (0.1: variance 0.01).
  double noise_std = 0.1;
};

/// The fixed part of one MMoE synthetic problem (float64, CPU).
struct MmoeSyntheticProblem {
  Tensor w1, w2;       ///< [d]
  Tensor alpha, beta;  ///< [m]
};

/// The weights and sine parameters that make_mmoe_synthetic(…, correlation, seed, options) uses.
MmoeSyntheticProblem mmoe_synthetic_problem(double correlation, uint64_t seed,
                                            const MmoeSyntheticOptions& options = {});

/// `count` samples of the problem: inputs float32 [count, d]; targets {y1, y2}, float32 [count, 1] each. The
/// labels are computed from the float32-rounded inputs, so with noise_std = 0 and num_sines = 0 they are exactly
/// y_k = w_kᵀx (up to the final rounding to float32). `correlation` must lie in [−1, 1].
MultiTaskDataset make_mmoe_synthetic(int64_t count, double correlation, uint64_t seed,
                                     const MmoeSyntheticOptions& options = {});

/// A float64 CPU tensor of independent N(0, 1) draws from std::mt19937_64(seed), by the Box-Muller transform
/// written out here (not <random>'s normal_distribution, whose algorithm each standard library chooses), so the
/// same seed gives the same values with any compiler. Used by the synthetic benchmarks.
Tensor seeded_standard_normal(const Dims& sizes, uint64_t seed);

}  // namespace tandem::mtl

// The synthetic regression benchmark of the GradNorm paper (Chen et al. 2018): T tasks that share one
// structure but whose outputs have very different scales,
//   f_i(x) = σ_i · tanh((B + ε_i) x),   x ∈ R^250 ~ N(0, I),  outputs in R^100,
// with B ~ N(0, 10²) common to every task and ε_i ~ N(0, 3.5²) the task's own perturbation (element-wise, both
// [100, 250] and fixed by the seed). Trained with equal weights the task of largest σ dominates the shared
// trunk; GradNorm should rebalance it.
//
//   mtl::MultiTaskDataset data = mtl::make_gradnorm_synthetic(10000, /*seed=*/0);           // T = 2, σ = (1, 100)
//   mtl::GradNormSyntheticOptions ten;  ten.sigmas = {1, 3, 10, 30, 100, ...};                 // T = sigmas.size()
//
// The seed fixes the problem (B, ε_i) and the samples together: build the train and test sets from one call and
// slice it — another seed is another problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mtl/data/dataset.h"
#include "tensor/tensor.h"

namespace tandem::mtl {

struct GradNormSyntheticOptions {
  /// σ_i, one per task (T = sigmas.size()).
  std::vector<double> sigmas = {1.0, 100.0};
  int64_t input_dim = 250;
  int64_t output_dim = 100;
  /// Standard deviation of the elements of B.
  double base_std = 10.0;
  /// Standard deviation of the elements of each ε_i.
  double task_std = 3.5;
};

/// "task1" ... "task<T>", in the order of the dataset's targets.
std::vector<std::string> gradnorm_synthetic_task_names(size_t num_tasks);

/// `count` samples: inputs float32 [count, input_dim]; one target per task, float32 [count, output_dim]. The
/// targets are computed (in float64) from the float32-rounded inputs.
MultiTaskDataset make_gradnorm_synthetic(int64_t count, uint64_t seed, const GradNormSyntheticOptions& options = {});

}  // namespace tandem::mtl

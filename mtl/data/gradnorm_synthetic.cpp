// The GradNorm paper's synthetic tasks of widely different output scales (see gradnorm_synthetic.h).
#include "mtl/data/gradnorm_synthetic.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "mtl/data/mmoe_synthetic.h"
#include "nn/data/random.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace {

/// Stream identifiers mixed into the seed: B, each task's ε_i and the inputs get unrelated streams.
constexpr uint64_t kBaseStream = 1;
constexpr uint64_t kTaskStream = 2;
constexpr uint64_t kInputStream = 3;

}  // namespace

std::vector<std::string> gradnorm_synthetic_task_names(size_t num_tasks) {
  std::vector<std::string> names;
  for (size_t t = 0; t < num_tasks; ++t) names.push_back("task" + std::to_string(t + 1));
  return names;
}

MultiTaskDataset make_gradnorm_synthetic(int64_t count, uint64_t seed, const GradNormSyntheticOptions& options) {
  TD_CHECK(count >= 1, "make_gradnorm_synthetic: count must be positive, got ", count);
  TD_CHECK(!options.sigmas.empty(), "make_gradnorm_synthetic: sigmas must name at least one task");
  for (double sigma : options.sigmas)
    TD_CHECK(std::isfinite(sigma), "make_gradnorm_synthetic: every sigma must be finite, got ", sigma);
  TD_CHECK(options.input_dim >= 1 && options.output_dim >= 1,
           "make_gradnorm_synthetic: input_dim and output_dim must be positive, got ", options.input_dim, " and ",
           options.output_dim);
  TD_CHECK(std::isfinite(options.base_std) && options.base_std >= 0 && std::isfinite(options.task_std) &&
               options.task_std >= 0,
           "make_gradnorm_synthetic: base_std and task_std must be non-negative, got ", options.base_std, " and ",
           options.task_std);

  NoGradGuard no_grad;
  const Dims matrix_shape{options.output_dim, options.input_dim};
  const Tensor base =
      seeded_standard_normal(matrix_shape, nn::data::derive_seed(seed, {kBaseStream})) * options.base_std;
  const Tensor inputs =
      seeded_standard_normal({count, options.input_dim}, nn::data::derive_seed(seed, {kInputStream})).to(kFloat32);
  const Tensor x = inputs.to(kFloat64);

  std::vector<Tensor> targets;
  for (size_t t = 0; t < options.sigmas.size(); ++t) {
    const Tensor perturbation =
        seeded_standard_normal(matrix_shape, nn::data::derive_seed(seed, {kTaskStream, static_cast<uint64_t>(t)})) *
        options.task_std;
    // Row n of the targets is σ_t tanh((B + ε_t) x_n), i.e. σ_t tanh(X (B + ε_t)ᵀ) for the whole batch.
    const Tensor y = x.matmul((base + perturbation).t()).tanh() * options.sigmas[t];
    targets.push_back(y.to(kFloat32));
  }
  return MultiTaskDataset(inputs, std::move(targets));
}

}  // namespace tandem::mtl

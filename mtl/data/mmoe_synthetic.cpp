// The MMoE paper's synthetic two-task regression with a chosen task correlation (see mmoe_synthetic.h).
#include "mtl/data/mmoe_synthetic.h"

#include <cmath>
#include <numbers>
#include <random>

#include "autograd/grad_mode.h"
#include "nn/data/random.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace {

/// Stream identifiers mixed into the seed: each part of the problem gets its own, unrelated stream.
constexpr uint64_t kDirectionStream = 1;
constexpr uint64_t kSineStream = 2;
constexpr uint64_t kInputStream = 3;
constexpr uint64_t kNoiseStream = 4;

void check_options(double correlation, const MmoeSyntheticOptions& options) {
  TD_CHECK(correlation >= -1.0 && correlation <= 1.0, "make_mmoe_synthetic: correlation must lie in [-1, 1], got ",
           correlation);
  TD_CHECK(options.input_dim >= 2,
           "make_mmoe_synthetic: input_dim must be at least 2 (two orthonormal directions), got ", options.input_dim);
  TD_CHECK(options.num_sines >= 0, "make_mmoe_synthetic: num_sines must be non-negative, got ", options.num_sines);
  TD_CHECK(std::isfinite(options.scale) && options.scale > 0, "make_mmoe_synthetic: scale must be positive, got ",
           options.scale);
  TD_CHECK(std::isfinite(options.noise_std) && options.noise_std >= 0,
           "make_mmoe_synthetic: noise_std must be non-negative, got ", options.noise_std);
}

}  // namespace

Tensor seeded_standard_normal(const Dims& sizes, uint64_t seed) {
  Tensor out = empty(sizes, kFloat64);
  double* values = out.data_ptr<double>();
  const int64_t n = out.numel();
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < n; i += 2) {
    // Box-Muller: two uniforms give two independent standard normals; 1 - u lies in (0, 1], so the log is finite.
    const double radius = std::sqrt(-2.0 * std::log(1.0 - nn::data::uniform_real(rng)));
    const double angle = 2.0 * std::numbers::pi * nn::data::uniform_real(rng);
    values[i] = radius * std::cos(angle);
    if (i + 1 < n) values[i + 1] = radius * std::sin(angle);
  }
  return out;
}

MmoeSyntheticProblem mmoe_synthetic_problem(double correlation, uint64_t seed, const MmoeSyntheticOptions& options) {
  check_options(correlation, options);
  NoGradGuard no_grad;
  const int64_t d = options.input_dim;
  const Tensor directions = seeded_standard_normal({2, d}, nn::data::derive_seed(seed, {kDirectionStream}));
  // Gram-Schmidt: u1 along the first draw, u2 the normalised part of the second draw orthogonal to u1.
  const Tensor a = directions.select(0, 0), b = directions.select(0, 1);
  const Tensor u1 = a / a.norm();
  const Tensor residual = b - u1 * b.dot(u1);
  const Tensor u2 = residual / residual.norm();

  MmoeSyntheticProblem problem;
  problem.w1 = u1 * options.scale;
  problem.w2 = (u1 * correlation + u2 * std::sqrt(1.0 - correlation * correlation)) * options.scale;
  const Tensor sines = seeded_standard_normal({2, options.num_sines}, nn::data::derive_seed(seed, {kSineStream}));
  problem.alpha = sines.select(0, 0).contiguous();
  problem.beta = sines.select(0, 1).contiguous();
  return problem;
}

MultiTaskDataset make_mmoe_synthetic(int64_t count, double correlation, uint64_t seed,
                                     const MmoeSyntheticOptions& options) {
  TD_CHECK(count >= 1, "make_mmoe_synthetic: count must be positive, got ", count);
  const MmoeSyntheticProblem problem = mmoe_synthetic_problem(correlation, seed, options);
  NoGradGuard no_grad;
  const Tensor inputs =
      seeded_standard_normal({count, options.input_dim}, nn::data::derive_seed(seed, {kInputStream})).to(kFloat32);
  const Tensor x = inputs.to(kFloat64);  // the values the model will see
  const Tensor noise = seeded_standard_normal({2, count}, nn::data::derive_seed(seed, {kNoiseStream}));

  std::vector<Tensor> targets;
  for (int64_t k = 0; k < 2; ++k) {
    const Tensor& w = k == 0 ? problem.w1 : problem.w2;
    const Tensor projection = x.matmul(w);  // [count]
    Tensor y = projection;
    if (options.num_sines > 0) y = y + (projection.unsqueeze(1) * problem.alpha + problem.beta).sin().sum(1);
    if (options.noise_std > 0) y = y + noise.select(0, k) * options.noise_std;
    targets.push_back(y.unsqueeze(1).to(kFloat32));
  }
  return MultiTaskDataset(inputs, std::move(targets));
}

}  // namespace tandem::mtl

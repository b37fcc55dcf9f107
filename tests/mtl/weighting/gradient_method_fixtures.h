// Shared fixtures of the gradient-level method tests: models whose per-task gradients are known in closed form
// (so that every method can be checked against a hand-derived result), a two-layer model for scope=last and
// scope=rep, and the helpers that run one GradientWeighting::backward and compute what it should produce.
#pragma once

#include <gtest/gtest.h>
#include <tandem.h>

#include <string>
#include <vector>

#include "mtl/weighting/small_linalg.h"

namespace tandem::mtl::testing {

/// prefix + index (appended rather than concatenated: g++ 12 warns falsely about "x" + std::to_string(i)).
inline std::string numbered(const char* prefix, size_t index) {
  std::string name = prefix;
  name += std::to_string(index);
  return name;
}

/// Shared θ ∈ R^D (float64, the parameter "theta") and no task parameters; L_t = offset_t + g_tᵀθ, so that
/// ∂L_t/∂θ = g_t whatever θ is. The offsets keep the losses positive for methods that need it.
class LinearProbeImpl : public MultiTaskModel {
 public:
  LinearProbeImpl(std::vector<std::vector<double>> gradients, std::vector<double> offsets = {})
      : MultiTaskModel(names(gradients.size())), gradients_(std::move(gradients)), offsets_(std::move(offsets)) {
    const auto D = static_cast<int64_t>(gradients_.at(0).size());
    theta = register_parameter("theta", zeros({D}, kFloat64));
    if (offsets_.empty()) offsets_.assign(gradients_.size(), 0.0);
  }
  std::vector<Tensor> forward(const Tensor&) override {
    std::vector<Tensor> losses;
    for (size_t t = 0; t < gradients_.size(); ++t)
      losses.push_back(theta.mul(tensor(gradients_[t], TensorOptions(kFloat64))).sum() + offsets_[t]);
    return losses;
  }
  std::vector<Tensor> task_parameters(size_t) const override { return {}; }
  Tensor theta;

 private:
  static std::vector<std::string> names(size_t n) {
    std::vector<std::string> out;
    for (size_t t = 0; t < n; ++t) out.push_back(numbered("task", t));
    return out;
  }
  std::vector<std::vector<double>> gradients_;
  std::vector<double> offsets_;
};
TANDEM_MODULE(LinearProbe);

/// Two shared layers (Linear(3, 5) → tanh → Linear(5, 4) → tanh = z) and a Linear(4, 1) head per task, float64;
/// the last shared layer is the second Linear, and encode/decode expose z.
class TwoLayerModelImpl : public MultiTaskModel {
 public:
  explicit TwoLayerModelImpl(size_t tasks = 2) : MultiTaskModel(task_names_for(tasks)) {
    first = register_module("first", nn::Linear(3, 5));
    second = register_module("second", nn::Linear(5, 4));
    for (size_t t = 0; t < tasks; ++t) heads.push_back(register_module(numbered("head", t), nn::Linear(4, 1)));
    to(kFloat64);
  }
  bool has_representation() const override { return true; }
  Tensor encode(const Tensor& x) override { return second(first(x).tanh()).tanh(); }
  std::vector<Tensor> decode(const Tensor& z, const Tensor&) override {
    std::vector<Tensor> out;
    for (auto& head : heads) out.push_back(head(z));
    return out;
  }
  std::vector<Tensor> task_parameters(size_t t) const override { return heads.at(t)->parameters(); }
  nn::Linear first{nullptr}, second{nullptr};
  std::vector<nn::Linear> heads;

 private:
  static std::vector<std::string> task_names_for(size_t n) {
    std::vector<std::string> out;
    for (size_t t = 0; t < n; ++t) out.push_back(numbered("t", t));
    return out;
  }
};
TANDEM_MODULE(TwoLayerModel);

/// A batch for TwoLayerModel and one regression target per task.
struct TwoLayerBatch {
  Tensor x;
  std::vector<Tensor> targets;
};
inline TwoLayerBatch make_two_layer_batch(size_t tasks, uint64_t seed = 3) {
  manual_seed(seed);
  TwoLayerBatch batch{randn({6, 3}, TensorOptions(kFloat64)), {}};
  for (size_t t = 0; t < tasks; ++t) batch.targets.push_back(randn({6, 1}, TensorOptions(kFloat64)));
  return batch;
}

/// The task losses (mean squared errors) of the model's outputs.
inline std::vector<Tensor> squared_errors(const std::vector<Tensor>& outputs, const std::vector<Tensor>& targets) {
  std::vector<Tensor> losses;
  for (size_t t = 0; t < outputs.size(); ++t) losses.push_back((outputs[t] - targets[t]).square().mean());
  return losses;
}

/// One step of `weighting` on `model`: zero the gradients, forward (through the representation when the method
/// works on it), losses, backward. Returns the report.
template <typename LossFn>
WeightingReport run_step(Weighting& weighting, MultiTaskModel& model, const Tensor& input, LossFn&& losses_of) {
  model.zero_grad();
  weighting.zero_grad();
  ForwardResult forward = forward_for(weighting, model, input);
  StepContext context(model, losses_of(forward.outputs), forward.representation, forward.representation_leaf);
  return weighting.backward(context);
}

/// The probe's step: its outputs are the losses.
inline WeightingReport run_probe_step(Weighting& weighting, LinearProbeImpl& probe) {
  return run_step(weighting, probe, Tensor(), [](const std::vector<Tensor>& out) { return out; });
}

/// The gradients of each loss with respect to `inputs`, each flattened and concatenated: the rows of G.
inline std::vector<Tensor> gradient_rows(const std::vector<Tensor>& losses, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> rows;
  for (const Tensor& loss : losses) {
    auto grads = autograd::grad({loss}, inputs, {}, /*retain_graph=*/true, false, /*allow_unused=*/true);
    std::vector<Tensor> flat;
    for (size_t i = 0; i < inputs.size(); ++i)
      flat.push_back(grads[i].defined() ? grads[i].reshape({-1}) : zeros({inputs[i].numel()}, kFloat64));
    rows.push_back(cat(flat, 0).detach());
  }
  return rows;
}

/// K = G Gᵀ of the rows.
inline linalg::Matrix gramian_of(const std::vector<Tensor>& rows) {
  linalg::Matrix k(rows.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows.size(); ++j) k(i, j) = rows[i].dot(rows[j]).item<double>();
  return k;
}

/// Σ_t α_t rows[t].
inline Tensor combination(const std::vector<Tensor>& rows, const std::vector<double>& alpha) {
  Tensor d = zeros_like(rows.at(0));
  for (size_t t = 0; t < rows.size(); ++t) d = d + rows[t] * alpha[t];
  return d;
}

/// The concatenated, flattened .grad of `params`.
inline Tensor flat_grad(const std::vector<Tensor>& params) {
  std::vector<Tensor> flat;
  for (const Tensor& p : params) {
    EXPECT_TRUE(p.grad().defined()) << "a parameter of shape " << p.sizes() << " got no gradient";
    flat.push_back(p.grad().defined() ? p.grad().reshape({-1}) : zeros({p.numel()}, p.dtype()));
  }
  return cat(flat, 0);
}

inline void expect_vector_near(const std::vector<double>& actual, const std::vector<double>& expected, double tol,
                               const std::string& what = "") {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], tol) << what << " entry " << i;
}

inline void expect_tensor_near(const Tensor& actual, const Tensor& expected, double tol, const std::string& what = "") {
  expect_vector_near(actual.to(kFloat64).reshape({-1}).to_vector<double>(),
                     expected.to(kFloat64).reshape({-1}).to_vector<double>(), tol, what);
}

/// The shared gradient a method produces on a probe with the given per-task gradients.
inline std::vector<double> probe_update(Weighting& weighting, const std::vector<std::vector<double>>& gradients,
                                        std::vector<double> offsets = {}) {
  LinearProbe probe(gradients, offsets);
  run_probe_step(weighting, *probe);
  return probe->theta.grad().to_vector<double>();
}

/// The three hand-checkable pairs of two 2-D gradients.
inline const std::vector<std::vector<double>> kOrthogonal = {{1.0, 0.0}, {0.0, 2.0}};
inline const std::vector<std::vector<double>> kOpposite = {{1.0, 0.0}, {-1.0, 0.0}};
inline const std::vector<std::vector<double>> kIdentical = {{1.0, 2.0}, {1.0, 2.0}};
/// A 2-task conflict: g1·g2 = −1.
inline const std::vector<std::vector<double>> kConflict = {{1.0, 0.0}, {-1.0, 1.0}};

/// Checks a weights-returning method end to end on TwoLayerModel for a scope: the shared parameters' .grad is
/// Σ α_t g_t with α = expected_weights(K of the scope), each head gets its plain task gradient, and with
/// scope=rep the encoder receives the combined gradient of z back-propagated.
template <typename WeightsFn>
void check_end_to_end(const std::string& spec, WeightsFn&& expected_weights, size_t tasks = 2, double tol = 1e-9) {
  SCOPED_TRACE(spec);
  manual_seed(11);
  TwoLayerModel model(tasks);
  const TwoLayerBatch batch = make_two_layer_batch(tasks);
  auto weighting = make_weighting(spec, tasks);
  auto* gradient_method = dynamic_cast<GradientWeighting*>(weighting.get());
  ASSERT_NE(gradient_method, nullptr);
  const SharedScope scope = gradient_method->scope();

  // What the method should produce, computed here step by step.
  const std::vector<Tensor> shared = model->shared_parameters();
  std::vector<double> alpha;
  Tensor expected_shared;
  std::vector<Tensor> head_rows;
  if (scope == SharedScope::kRepresentation) {
    const Tensor z = model->encode(batch.x);
    const Tensor leaf = z.detach().requires_grad_(true);
    const auto losses = squared_errors(model->decode(leaf, batch.x), batch.targets);
    const auto rows = gradient_rows(losses, {leaf});
    alpha = expected_weights(gramian_of(rows));
    const Tensor dz = combination(rows, alpha).view(z.sizes());
    expected_shared = cat(
        [&] {
          std::vector<Tensor> flat;
          for (const Tensor& g : autograd::grad({z}, shared, {dz}, true)) flat.push_back(g.reshape({-1}));
          return flat;
        }(),
        0);
    for (size_t t = 0; t < tasks; ++t) head_rows.push_back(gradient_rows({losses[t]}, model->task_parameters(t))[0]);
  } else {
    const auto losses = squared_errors(model->forward(batch.x), batch.targets);
    const auto rows = gradient_rows(losses, shared);
    const std::vector<Tensor> scope_params = scope == SharedScope::kLastSharedLayer ? model->second->parameters() : shared;
    alpha = expected_weights(gramian_of(gradient_rows(losses, scope_params)));
    expected_shared = combination(rows, alpha);
    for (size_t t = 0; t < tasks; ++t) head_rows.push_back(gradient_rows({losses[t]}, model->task_parameters(t))[0]);
  }

  const WeightingReport report =
      run_step(*weighting, *model, batch.x, [&](const std::vector<Tensor>& out) { return squared_errors(out, batch.targets); });
  expect_vector_near(report.weights, alpha, tol * 100, "weights");
  expect_tensor_near(flat_grad(shared), expected_shared, tol, "shared gradient");
  for (size_t t = 0; t < tasks; ++t) expect_tensor_near(flat_grad(model->task_parameters(t)), head_rows[t], tol, "head");
}

}  // namespace tandem::mtl::testing

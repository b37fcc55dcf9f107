// Per-task gradients: one forward, then T backward passes with the graph retained. Row t of the T x D matrix G
// is ∂L_t/∂(shared), flattened: either the shared parameters (one segment per parameter, in order) or the shared
// representation z. The buffer is allocated once and reused across steps while D and the dtype stay the same.
// On the way, each backward also yields the gradients of task t's own parameters (its head), which only L_t
// reaches, so a gradient method costs T backward passes and no more.
//
//   mtl::TaskGradients grads;
//   grads.compute(losses, model.shared_parameters(), [&](size_t t) { return model.task_parameters(t); });
//   Tensor K = grads.gramian();            // [T, T] float64, G Gᵀ
//   Tensor d = grads.combine({0.5, 0.5});  // Σ α_t g_t, [D]
//   grads.write_to(model.shared_parameters(), d);  // accumulates into .grad
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace tandem::mtl {

class TaskGradients {
 public:
  /// The extra inputs of task t whose gradients are accumulated into their .grad (task-specific parameters).
  using ExtraInputs = std::function<std::vector<Tensor>(size_t task)>;

  /// Fills G with ∂L_t/∂shared for every task (the graph is retained). Gradients of `extra(t)` (if given) are
  /// accumulated into their .grad. A shared input that a loss does not reach gives a zero block.
  void compute(const std::vector<Tensor>& losses, const std::vector<Tensor>& shared, const ExtraInputs& extra = {});

  /// G, [T, D], in the dtype and on the device of the shared inputs.
  const Tensor& matrix() const { return matrix_; }
  size_t num_tasks() const;
  int64_t dim() const;
  /// The shared inputs of the last compute(), in the order of G's blocks.
  const std::vector<Tensor>& inputs() const { return inputs_; }
  /// Start offset of each shared input's block in a row of G, plus D at the end (size = inputs + 1).
  const std::vector<int64_t>& offsets() const { return offsets_; }

  /// G Gᵀ in float64 on the CPU.
  Tensor gramian() const;
  /// The Gramian of the columns [begin, end) only (a layer's block).
  Tensor gramian(int64_t begin, int64_t end) const;
  /// Σ_t weights[t] · G[t], a [D] tensor.
  Tensor combine(const std::vector<double>& weights) const;
  /// Adds the blocks of `direction` ([D]) to the .grad of each shared input (set when undefined).
  void write_to(const std::vector<Tensor>& shared, const Tensor& direction) const;

 private:
  Tensor matrix_;
  std::vector<Tensor> inputs_;
  std::vector<int64_t> offsets_;
};

/// Adds `g` to t.grad() (or sets it when t has no gradient yet), outside autograd.
void accumulate_grad(Tensor& t, const Tensor& g);

}  // namespace tandem::mtl

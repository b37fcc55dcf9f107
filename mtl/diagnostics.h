// Diagnostics of multi-task training: how the tasks' gradients relate (norms, cosine similarities, conflicts —
// a pair conflicts when cos(g_i, g_j) < 0), for the whole shared gradient and per shared layer; how often they
// conflict over an epoch; and how related the tasks' labels are.
//
//   mtl::ConflictTracker tracker(model.task_names());
//   ... each step, after grads.compute(losses, model.shared_parameters()):
//   tracker.update(mtl::gradient_stats(grads, model.shared_parameter_names()));
//   ... at the end of the epoch:
//   for (const auto& [key, value] : tracker.summary()) log[key] = value;   // "cos.left.right", "conflict_rate", …
//   tracker.reset();
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mtl/task_gradients.h"
#include "tensor/tensor.h"

namespace tandem::mtl {

/// The relations between the task gradients of one step.
struct GradientStats {
  /// ‖g_t‖ for each task.
  std::vector<double> norms;
  /// cos(g_i, g_j), [T, T] float64 on the CPU. A zero gradient has cosine 0 with every gradient, itself included;
  /// otherwise the diagonal is 1.
  Tensor cosine;
  /// cos(g_i, g_j) < 0, [T, T] bool (the diagonal is false).
  Tensor conflicts;
  /// The name of each block (one per shared input: a layer's weight, its bias...).
  std::vector<std::string> block_names;
  /// The cosine matrix of each block's part of the gradients, [T, T] float64 each.
  std::vector<Tensor> block_cosine;

  size_t num_tasks() const { return norms.size(); }
  size_t num_blocks() const { return block_names.size(); }
};

/// The statistics of `gradients` (after compute()). `block_names` names the shared inputs in order (e.g.
/// MultiTaskModel::shared_parameter_names()); when empty they are called "block0", "block1", …
GradientStats gradient_stats(const TaskGradients& gradients, const std::vector<std::string>& block_names = {});

/// The cosine matrix of the vectors whose Gramian is `gramian` ([T, T]); zero vectors get cosine 0.
Tensor cosine_from_gramian(const Tensor& gramian);

/// Accumulates GradientStats over the steps of an epoch (call reset() between epochs).
class ConflictTracker {
 public:
  explicit ConflictTracker(std::vector<std::string> task_names);

  /// Adds one step. The stats must have one task per name and, from the second step on, the same blocks.
  void update(const GradientStats& stats);
  /// Forgets every step (the block names too).
  void reset();

  int64_t steps() const { return steps_; }
  const std::vector<std::string>& task_names() const { return task_names_; }
  const std::vector<std::string>& block_names() const { return block_names_; }

  // The accessors below throw a tandem::Error when no step was recorded since the last reset.
  /// Mean over steps of the cosine matrix, [T, T] float64.
  Tensor mean_cosine() const;
  /// Fraction of steps in which each pair conflicted, [T, T] float64 (the diagonal is 0).
  Tensor conflict_rates() const;
  /// Fraction of (step, pair i < j) with a conflict; 0 for a single task.
  double conflict_rate() const;
  /// The same fraction for each block's gradients, in the order of block_names().
  std::vector<double> block_conflict_rates() const;
  /// Mean over steps of each task's gradient norm.
  std::vector<double> mean_norms() const;

  /// Everything as one flat map, for a log line: "cos.<ti>.<tj>" and "conflict.<ti>.<tj>" for each pair i < j,
  /// "conflict_rate", "conflict_rate.<block name>" per block, and "grad_norm.<task>". Empty when no step was
  /// recorded.
  std::map<std::string, double> summary() const;

 private:
  void check_steps(const char* what) const;

  std::vector<std::string> task_names_;
  std::vector<std::string> block_names_;
  int64_t steps_ = 0;
  std::vector<double> cosine_sum_;       ///< T * T
  std::vector<int64_t> conflict_count_;  ///< T * T
  std::vector<int64_t> block_conflict_count_;
  std::vector<double> norm_sum_;
};

/// Label agreement between tasks that share a label space: R_ij = (1/N) Σ_n 1(y_in = y_jn), from one int64 [N]
/// tensor of labels per task. Returns [T, T] float64 on the CPU (the diagonal is 1).
Tensor relatedness(const std::vector<Tensor>& labels);

}  // namespace tandem::mtl

// Tasks of a multi-task problem: a name, a per-sample loss, the metrics that judge it (each higher- or
// lower-is-better) and an optional fixed weight.
//
//   mtl::Task left{"left", mtl::losses::cross_entropy(), {mtl::metrics::accuracy()}};
//   mtl::Task price{"price", mtl::losses::mse(), {mtl::metrics::mse(), mtl::metrics::mae()}, /*weight=*/0.5};
//
// Losses are per sample (shape [N]) so that partial labels work: mtl::masked_mean averages a task's losses over
// the samples whose label is present (mask 1) and gives 0 — with no gradient — when none is.
// Metrics accumulate over batches: each batch contributes a numerator and a denominator, and the value is
// finalize(Σ numerator / Σ denominator) (e.g. accuracy = correct / count; RMSE = sqrt(Σ squared error / count)).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace tandem::mtl {

/// A metric of one task, accumulated over batches.
struct Metric {
  std::string name;
  bool higher_is_better = true;
  /// (numerator, denominator) of one batch; `output` and `target` hold only the samples labelled for the task.
  std::function<std::pair<double, double>(const Tensor& output, const Tensor& target)> batch;
  /// Maps Σ numerator / Σ denominator to the metric's value; the identity when empty.
  std::function<double(double)> finalize;
};

/// A task's loss: per-sample losses of shape [N] (or [N, ...], averaged over the trailing dims).
using TaskLoss = std::function<Tensor(const Tensor& output, const Tensor& target)>;

struct Task {
  std::string name;
  TaskLoss loss;
  std::vector<Metric> metrics;
  /// A fixed weight (used by the `fixed` weighting); unset means 1.
  std::optional<double> weight;
};

namespace losses {
/// Cross-entropy of logits [N, C] against class indices [N] (int64).
TaskLoss cross_entropy(double label_smoothing = 0.0);
/// Squared error, averaged over the trailing dims of each sample.
TaskLoss mse();
/// Absolute error, averaged over the trailing dims of each sample.
TaskLoss l1();
/// Binary cross-entropy with logits; targets in [0, 1] of the output's shape.
TaskLoss bce_with_logits();
}  // namespace losses

namespace metrics {
/// Fraction of samples whose arg-max class (or, for [N] / [N, 1] outputs, whose logit > 0) equals the target.
Metric accuracy();
/// Mean squared error (lower is better).
Metric mse();
/// Mean absolute error (lower is better).
Metric mae();
/// Root mean squared error (lower is better).
Metric rmse();
}  // namespace metrics

/// Mean of per-sample `losses` ([N] or [N, ...]) over the samples with mask 1; `mask` undefined means all. When
/// no sample is labelled the result is a zero that still belongs to the graph (so backward passes through it).
Tensor masked_mean(const Tensor& losses, const Tensor& mask = {});

/// The task's loss on a batch: masked_mean(task.loss(output, target), mask).
Tensor task_loss(const Task& task, const Tensor& output, const Tensor& target, const Tensor& mask = {});

/// The rows of `t` (along dim 0) whose mask is non-zero; `t` itself when mask is undefined.
Tensor select_labelled(const Tensor& t, const Tensor& mask);

/// Accumulates a task's metrics over batches.
class MetricAccumulator {
 public:
  explicit MetricAccumulator(std::vector<Metric> metrics);
  void update(const Tensor& output, const Tensor& target, const Tensor& mask = {});
  /// One value per metric (NaN for a metric that saw no sample).
  std::vector<double> compute() const;
  const std::vector<Metric>& metrics() const { return metrics_; }
  void reset();

 private:
  std::vector<Metric> metrics_;
  std::vector<double> numerators_, denominators_;
};

}  // namespace tandem::mtl

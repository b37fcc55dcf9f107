// Tasks: the per-sample losses, masked means for partial labels, and the batch-accumulated metrics.
#include "mtl/task.h"

#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace {
/// Averages per-sample losses over their trailing dims, giving [N].
Tensor per_sample(const Tensor& losses) {
  if (losses.dim() <= 1) return losses;
  return losses.flatten(1).mean(1);
}
}  // namespace

namespace losses {
TaskLoss cross_entropy(double label_smoothing) {
  return [label_smoothing](const Tensor& output, const Tensor& target) {
    return tandem::cross_entropy(output, target, {}, -100, label_smoothing, Reduction::None);
  };
}
TaskLoss mse() {
  return [](const Tensor& output, const Tensor& target) {
    return per_sample(tandem::mse_loss(output, target, Reduction::None));
  };
}
TaskLoss l1() {
  return [](const Tensor& output, const Tensor& target) {
    return per_sample(tandem::l1_loss(output, target, Reduction::None));
  };
}
TaskLoss bce_with_logits() {
  return [](const Tensor& output, const Tensor& target) {
    return per_sample(tandem::binary_cross_entropy_with_logits(output, target, {}, {}, Reduction::None));
  };
}
}  // namespace losses

namespace metrics {
Metric accuracy() {
  return {"accuracy", true, [](const Tensor& output, const Tensor& target) {
            Tensor predicted = (output.dim() == 1 || (output.dim() == 2 && output.size(1) == 1))
                                   ? output.reshape({-1}).gt(0.0).to(kInt64)
                                   : output.argmax(1);
            Tensor correct = predicted.eq(target.reshape({-1}).to(kInt64));
            return std::pair<double, double>{correct.to(kFloat64).sum().item<double>(),
                                             static_cast<double>(target.numel())};
          },
          {}};
}
namespace {
std::pair<double, double> squared_error(const Tensor& output, const Tensor& target) {
  Tensor diff = output.to(kFloat64).reshape(target.sizes()) - target.to(kFloat64);
  return {(diff * diff).sum().item<double>(), static_cast<double>(diff.numel())};
}
}  // namespace
Metric mse() { return {"mse", false, squared_error, {}}; }
Metric mae() {
  return {"mae", false, [](const Tensor& output, const Tensor& target) {
            Tensor diff = output.to(kFloat64).reshape(target.sizes()) - target.to(kFloat64);
            return std::pair<double, double>{diff.abs().sum().item<double>(), static_cast<double>(diff.numel())};
          },
          {}};
}
Metric rmse() { return {"rmse", false, squared_error, [](double mean) { return std::sqrt(mean); }}; }
}  // namespace metrics

Tensor masked_mean(const Tensor& losses, const Tensor& mask) {
  Tensor per = per_sample(losses);
  if (!mask.defined()) return per.mean();
  TD_CHECK(mask.dim() == 1 && mask.size(0) == per.size(0), "mtl::masked_mean: mask of shape ", mask.sizes(),
           " does not match per-sample losses of shape ", per.sizes());
  Tensor m = mask.to(per.dtype());
  Tensor count = m.sum().clamp_min(1.0);
  // where() rather than a product, so that a NaN/inf loss of an unlabelled sample cannot leak into the mean.
  return tandem::where(mask.to(kBool), per, 0.0).sum() / count;
}

Tensor task_loss(const Task& task, const Tensor& output, const Tensor& target, const Tensor& mask) {
  TD_CHECK(static_cast<bool>(task.loss), "mtl::task_loss: task '", task.name, "' has no loss function");
  Tensor losses = task.loss(output, target);
  TD_CHECK(losses.dim() >= 1 && losses.size(0) == output.size(0), "mtl::task_loss: the loss of task '", task.name,
           "' must be per sample (shape [N, ...] with N = ", output.size(0), "), got ", losses.sizes());
  return masked_mean(losses, mask);
}

Tensor select_labelled(const Tensor& t, const Tensor& mask) {
  if (!mask.defined()) return t;
  TD_CHECK(mask.dim() == 1 && mask.size(0) == t.size(0), "mtl::select_labelled: mask of shape ", mask.sizes(),
           " does not match a batch of shape ", t.sizes());
  std::vector<int64_t> rows;
  const auto flags = mask.to(kFloat64).to_vector<double>();
  for (size_t i = 0; i < flags.size(); ++i)
    if (flags[i] != 0) rows.push_back(static_cast<int64_t>(i));
  return t.index_select(0, tensor(rows, TensorOptions(kInt64).device(t.device())));
}

MetricAccumulator::MetricAccumulator(std::vector<Metric> metrics)
    : metrics_(std::move(metrics)), numerators_(metrics_.size(), 0.0), denominators_(metrics_.size(), 0.0) {}

void MetricAccumulator::update(const Tensor& output, const Tensor& target, const Tensor& mask) {
  NoGradGuard no_grad;
  Tensor out = select_labelled(output, mask), tgt = select_labelled(target, mask);
  if (tgt.numel() == 0) return;
  for (size_t i = 0; i < metrics_.size(); ++i) {
    auto [num, den] = metrics_[i].batch(out, tgt);
    numerators_[i] += num;
    denominators_[i] += den;
  }
}

std::vector<double> MetricAccumulator::compute() const {
  std::vector<double> values(metrics_.size(), std::numeric_limits<double>::quiet_NaN());
  for (size_t i = 0; i < metrics_.size(); ++i) {
    if (denominators_[i] == 0) continue;
    const double ratio = numerators_[i] / denominators_[i];
    values[i] = metrics_[i].finalize ? metrics_[i].finalize(ratio) : ratio;
  }
  return values;
}

void MetricAccumulator::reset() {
  std::fill(numerators_.begin(), numerators_.end(), 0.0);
  std::fill(denominators_.begin(), denominators_.end(), 0.0);
}

}  // namespace tandem::mtl

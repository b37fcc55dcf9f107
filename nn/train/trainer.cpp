// The non-template parts of train_epoch / evaluate: batch-size and loss checks, and the log summary.
#include "nn/train/trainer.h"

#include <cmath>

namespace tandem::nn {

std::vector<std::pair<std::string, double>> EpochResult::summary() const {
  std::vector<std::pair<std::string, double>> out = {{"loss", loss}};
  if (classification)
    for (auto& entry : classification->summary()) out.push_back(std::move(entry));
  return out;
}

namespace detail {

int64_t batch_samples(const Tensor& data, const Tensor& target, const std::string& label) {
  const Tensor& reference = target.defined() ? target : data;
  TD_CHECK(reference.defined(), label, ": a batch has neither data nor target");
  TD_CHECK(reference.dim() >= 1, label, ": a batch's ", target.defined() ? "target" : "data",
           " is 0-d; batches need a leading batch dimension");
  return reference.size(0);
}

double checked_loss(const Tensor& loss, const std::string& label, int64_t batch) {
  TD_CHECK(loss.defined(), label, ": the loss function returned an undefined tensor at batch ", batch);
  TD_CHECK(loss.numel() == 1, label, ": the loss at batch ", batch, " has shape ", loss.sizes(),
           "; reduce it to one value (mean)");
  const double value = loss.item<double>();
  TD_CHECK(std::isfinite(value), label, ": the loss is ", value, " at batch ", batch);
  return value;
}

}  // namespace detail

}  // namespace tandem::nn

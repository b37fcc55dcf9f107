// train_epoch and evaluate: one pass over a loader, with a progress bar, returning the mean loss and (for
// classifiers) the epoch's metrics. They are deliberately small and generic, the loop every training program
// writes, so that examples and tutorials can focus on the model:
//
//   tandem::nn::MetricsLogger logger("run.csv", "run.jsonl");
//   auto loss_fn = [](const tandem::Tensor& logits, const tandem::Tensor& y) { return tandem::cross_entropy(logits, y); };
//   for (int epoch = 1; epoch <= 10; ++epoch) {
//     auto train = tandem::nn::train_epoch(net, train_loader, optimizer, loss_fn,
//                                          tandem::nn::EpochOptions("epoch " + std::to_string(epoch)));
//     auto val = tandem::nn::evaluate(net, val_loader, loss_fn, tandem::nn::EpochOptions("validation").num_classes(10));
//     tandem::nn::LogRow row{{"epoch", epoch}};
//     tandem::nn::append(row, "train_", train.summary());
//     tandem::nn::append(row, "val_", val.summary());
//     logger.log(row);
//   }
//
// `model` is anything that maps the batch's data to an output: a module handle (Net, nn::Sequential, ...), a
// shared_ptr to a module, a module, or a lambda. When it is a module (or a handle to one), train_epoch puts it
// in training mode and evaluate in evaluation mode, and each restores the previous mode at the end.
// `loader` is anything iterable whose elements have `.data` and `.target` tensors (nn::data::DataLoader
// yields nn::data::Example); its size(), when it has one, gives the progress bar's total.
// `loss_fn(output, target)` returns a one-element tensor, the mean loss of the batch. The epoch's loss is the
// mean over samples: each batch's loss weighted by its size (dim 0 of the target, or of the data when the
// target is undefined). A loss that is NaN or infinite stops the epoch with a tandem::Error naming the batch.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "autograd/grad_mode.h"
#include "nn/metrics.h"
#include "nn/optim/optimizer.h"
#include "nn/options.h"
#include "nn/train/progress_bar.h"
#include "tensor/tensor.h"

namespace tandem::nn {

struct EpochOptions {
  explicit EpochOptions(std::string label = "train") : label_(std::move(label)) {}
  /// Shown on the progress bar and in error messages.
  TANDEM_ARG(std::string, label);
  /// Draw a progress bar.
  TANDEM_ARG(bool, progress) = true;
  TANDEM_ARG(ProgressBarOptions, progress_bar);
  /// > 0: the outputs are class scores [N, C, ...] and the result carries classification metrics.
  TANDEM_ARG(int64_t, num_classes) = 0;
  /// > 0 (with num_classes): also top-k accuracy.
  TANDEM_ARG(int64_t, top_k) = 0;
  /// Moves each batch's data and target to this device first (e.g. kCUDA); unset: leaves them where they are.
  TANDEM_ARG(std::optional<Device>, device);
};

/// What one pass over a loader measured.
struct EpochResult {
  /// Mean loss per sample.
  double loss = 0;
  int64_t samples = 0;
  int64_t batches = 0;
  /// Wall-clock time of the pass.
  double seconds = 0;
  /// The epoch's classification metrics (when EpochOptions::num_classes > 0).
  std::optional<metrics::ClassificationReport> classification;
  /// (name, value) pairs for a log row: "loss", then the classification summary ("accuracy", "f1_macro", ...).
  std::vector<std::pair<std::string, double>> summary() const;
};

namespace detail {

/// Samples in a batch: dim 0 of the target, or of the data when there is no target.
int64_t batch_samples(const Tensor& data, const Tensor& target, const std::string& label);
/// The loss's value, after checking that it is a finite one-element tensor.
double checked_loss(const Tensor& loss, const std::string& label, int64_t batch);

template <typename Model>
std::optional<bool> training_mode(Model& model) {
  if constexpr (requires { model->is_training(); }) return model->is_training();
  else if constexpr (requires { model.is_training(); }) return model.is_training();
  else return std::nullopt;
}

template <typename Model>
void set_training_mode(Model& model, bool on) {
  if constexpr (requires { model->train(on); }) model->train(on);
  else if constexpr (requires { model.train(on); }) model.train(on);
}

template <typename Model>
Tensor call_model(Model& model, const Tensor& input) {
  if constexpr (std::is_invocable_v<Model&, const Tensor&>) return model(input);
  else if constexpr (requires { model->forward(input); }) return model->forward(input);
  else return model.forward(input);
}

template <typename Loader>
int64_t loader_size(Loader& loader) {
  if constexpr (requires { loader.size(); }) return static_cast<int64_t>(loader.size());
  else return -1;
}

/// Restores a module's training mode when the pass ends, also by exception.
template <typename Model>
class TrainingModeScope {
 public:
  TrainingModeScope(Model& model, bool on) : model_(model), previous_(training_mode(model)) {
    set_training_mode(model_, on);
  }
  ~TrainingModeScope() {
    if (previous_) set_training_mode(model_, *previous_);
  }
  TrainingModeScope(const TrainingModeScope&) = delete;
  TrainingModeScope& operator=(const TrainingModeScope&) = delete;

 private:
  Model& model_;
  std::optional<bool> previous_;
};

/// One pass: with an optimizer, a training step per batch; without, forward passes under NoGradGuard.
template <typename Model, typename Loader, typename LossFn>
EpochResult run_epoch(Model& model, Loader& loader, optim::Optimizer* optimizer, LossFn& loss_fn,
                      const EpochOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const bool training = optimizer != nullptr;
  TrainingModeScope<Model> mode(model, training);
  std::optional<ProgressBar> bar;
  if (options.progress()) bar.emplace(loader_size(loader), options.label(), options.progress_bar());
  std::optional<metrics::ClassificationMetrics> classification;
  if (options.num_classes() > 0) classification.emplace(options.num_classes(), options.top_k());

  EpochResult result;
  double loss_sum = 0;
  for (auto&& batch : loader) {
    Tensor data = batch.data, target = batch.target;
    if (options.device()) {
      data = data.to(*options.device());
      if (target.defined()) target = target.to(*options.device());
    }
    const int64_t n = batch_samples(data, target, options.label());
    Tensor output, loss;
    if (training) {
      optimizer->zero_grad();
      output = call_model(model, data);
      loss = loss_fn(output, target);
      const double value = checked_loss(loss, options.label(), result.batches);
      loss.backward();
      optimizer->step();
      loss_sum += value * static_cast<double>(n);
      if (bar) bar->update(1, value);
    } else {
      NoGradGuard no_grad;
      output = call_model(model, data);
      loss = loss_fn(output, target);
      const double value = checked_loss(loss, options.label(), result.batches);
      loss_sum += value * static_cast<double>(n);
      if (bar) bar->update(1, value);
    }
    if (classification) classification->update(output.detach(), target);
    result.samples += n;
    ++result.batches;
  }
  if (bar) bar->finish();
  TD_CHECK(result.samples > 0, options.label(), ": the loader yielded no samples");
  result.loss = loss_sum / static_cast<double>(result.samples);
  if (classification) result.classification = classification->compute();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace detail

/// One training epoch: for each batch, zero_grad, forward, loss, backward and optimizer step.
template <typename Model, typename Loader, typename LossFn>
EpochResult train_epoch(Model&& model, Loader& loader, optim::Optimizer& optimizer, LossFn&& loss_fn,
                        const EpochOptions& options = EpochOptions("train")) {
  return detail::run_epoch(model, loader, &optimizer, loss_fn, options);
}

/// One pass without gradients (NoGradGuard, evaluation mode) that measures the loss and, with num_classes,
/// the classification metrics.
template <typename Model, typename Loader, typename LossFn>
EpochResult evaluate(Model&& model, Loader& loader, LossFn&& loss_fn,
                     const EpochOptions& options = EpochOptions("evaluate")) {
  return detail::run_epoch(model, loader, nullptr, loss_fn, options);
}

}  // namespace tandem::nn

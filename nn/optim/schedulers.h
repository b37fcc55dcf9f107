// Learning-rate schedulers with PyTorch's epoch-based semantics: build the scheduler after the optimizer (it
// records every group's current lr as that group's base lr and sets epoch 0's lr), then call step() once per
// epoch (or per iteration, for the warm-up schedule) after optimizer.step(); get_last_lr() returns the lrs just
// set. Each schedule is a closed form of the epoch, applied to every parameter group relative to its own base
// lr, so groups with different learning rates (discriminative fine-tuning) keep their ratios.
//
//   tandem::optim::SGD opt(params, tandem::optim::SGDOptions(0.1));
//   tandem::optim::StepLR sched(opt, /*step_size=*/30, /*gamma=*/0.1);
//   for (int epoch = 0; epoch < 90; ++epoch) { train_one_epoch(opt); sched.step(); }
//
// ReduceLROnPlateau instead watches a metric (step(metric)) and lowers the lrs when it stops improving.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/optim/optimizer.h"

namespace tandem::optim {

/// Base of the epoch-based schedules: lr(group, epoch) = schedule(base_lr of the group, epoch).
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// The scheduler's name as used in messages, e.g. "StepLR".
  virtual std::string name() const = 0;
  /// Advances one epoch and sets the lr of every parameter group.
  void step();
  /// The lrs set by the last step (or by construction), one per parameter group.
  const std::vector<double>& get_last_lr() const { return last_lrs_; }
  /// Epochs stepped so far (0 right after construction).
  int64_t last_epoch() const { return last_epoch_; }
  /// Each group's lr when the scheduler was built.
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  /// The schedule's lr for a group with base lr `base_lr` at `epoch`.
  virtual double lr_at(double base_lr, int64_t epoch) const = 0;

  /// "last_epoch" (0-d int64) and "base_lrs" (1-D float64), for resuming.
  nn::OrderedDict<Tensor> state_dict() const;
  /// Restores state_dict()'s values (the lrs themselves are restored by the optimizer's state dict).
  void load_state_dict(const nn::OrderedDict<Tensor>& dict);

 protected:
  /// Sets every group's lr for last_epoch; concrete constructors call it once their schedule is known.
  void apply_lrs();

 private:
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lrs_;
  int64_t last_epoch_ = 0;
};

/// lr = base_lr * gamma^floor(epoch / step_size).
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  std::string name() const override { return "StepLR"; }
  double lr_at(double base_lr, int64_t epoch) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

/// lr = base_lr * gamma^(number of milestones <= epoch).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);
  std::string name() const override { return "MultiStepLR"; }
  double lr_at(double base_lr, int64_t epoch) const override;

 private:
  std::vector<int64_t> milestones_;  // sorted
  double gamma_;
};

/// lr = base_lr * gamma^epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);
  std::string name() const override { return "ExponentialLR"; }
  double lr_at(double base_lr, int64_t epoch) const override;

 private:
  double gamma_;
};

/// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2 (PyTorch's closed form: after T_max
/// the cosine climbs back up).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0);
  std::string name() const override { return "CosineAnnealingLR"; }
  double lr_at(double base_lr, int64_t epoch) const override;

 private:
  int64_t T_max_;
  double eta_min_;
};

/// Linear warm-up then cosine decay, stepped per iteration:
///   epoch < warmup_steps:            base_lr * (f + (1 - f) * epoch / warmup_steps)   (f = warmup_start_factor)
///   warmup_steps <= epoch <= total:  eta_min + (base_lr - eta_min) * (1 + cos(pi * progress)) / 2,
///                                    progress = (epoch - warmup_steps) / (total_steps - warmup_steps)
///   epoch > total_steps:             eta_min
class LinearWarmupCosineLR : public LRScheduler {
 public:
  LinearWarmupCosineLR(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps,
                       double warmup_start_factor = 0.0, double eta_min = 0.0);
  std::string name() const override { return "LinearWarmupCosineLR"; }
  double lr_at(double base_lr, int64_t epoch) const override;

 private:
  int64_t warmup_steps_;
  int64_t total_steps_;
  double warmup_start_factor_;
  double eta_min_;
};

/// Options of ReduceLROnPlateau: `ReduceLROnPlateauOptions().mode(ReduceLROnPlateauOptions::Mode::max).patience(5)`.
struct ReduceLROnPlateauOptions {
  /// min: lower is better (a loss); max: higher is better (an accuracy).
  enum class Mode { min, max };
  /// rel: improvement means beating best by a fraction `threshold` of it; abs: by `threshold` itself.
  enum class ThresholdMode { rel, abs };
  TANDEM_ARG(Mode, mode) = Mode::min;
  /// Multiplies the lrs on a plateau (must be < 1).
  TANDEM_ARG(double, factor) = 0.1;
  /// Epochs without improvement tolerated before lowering the lrs.
  TANDEM_ARG(int64_t, patience) = 10;
  TANDEM_ARG(double, threshold) = 1e-4;
  TANDEM_ARG(ThresholdMode, threshold_mode) = ThresholdMode::rel;
  /// Epochs to wait after a reduction before counting bad epochs again.
  TANDEM_ARG(int64_t, cooldown) = 0;
  /// The lrs never go below this.
  TANDEM_ARG(double, min_lr) = 0;
  /// Reductions smaller than this are skipped.
  TANDEM_ARG(double, eps) = 1e-8;
};

/// Lowers every group's lr by `factor` when the metric passed to step() has not improved for more than
/// `patience` epochs, then waits `cooldown` epochs; as PyTorch's ReduceLROnPlateau.
class ReduceLROnPlateau {
 public:
  using Options = ReduceLROnPlateauOptions;
  using Mode = Options::Mode;
  using ThresholdMode = Options::ThresholdMode;
  explicit ReduceLROnPlateau(Optimizer& optimizer, const Options& options = Options());
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  /// Records one epoch's metric and lowers the lrs if the plateau has lasted too long.
  void step(double metric);
  /// The lr of every group after the last step.
  const std::vector<double>& get_last_lr() const { return last_lrs_; }
  const Options& options() const { return options_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  int64_t cooldown_counter() const { return cooldown_counter_; }
  int64_t last_epoch() const { return last_epoch_; }

  /// "best" (0-d float64), "num_bad_epochs", "cooldown_counter", "last_epoch" (0-d int64).
  nn::OrderedDict<Tensor> state_dict() const;
  void load_state_dict(const nn::OrderedDict<Tensor>& dict);

 private:
  bool is_better(double metric) const;
  void read_lrs();

  Optimizer& optimizer_;
  Options options_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lrs_;
};

}  // namespace tandem::optim

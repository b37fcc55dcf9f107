// The multi-task Trainer: epochs of training with any weighting method, per-epoch evaluation of every task's
// loss and metrics, best-checkpoint selection, full checkpoints (model + optimizer + weighting state + epoch +
// random stream) with exact resume, early stopping, a progress bar, CSV/JSONL logs and gradient diagnostics.
//
//   auto model = std::make_shared<mtl::HPSImpl>(...);
//   std::vector<mtl::Task> tasks{{"left", mtl::losses::cross_entropy(), {mtl::metrics::accuracy()}},
//                                {"right", mtl::losses::cross_entropy(), {mtl::metrics::accuracy()}}};
//   auto weighting = mtl::make_weighting("pcgrad", tasks.size());
//   auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(1e-3));
//   mtl::Trainer trainer(model, tasks, weighting, optimizer,
//                        mtl::TrainerOptions().epochs(10).checkpoint_dir("runs/pcgrad").log_path("runs/pcgrad/log"));
//   trainer.fit(train_loader, test_loader);
//
// One step: forward (through encode/decode when the method works on the representation), the masked task
// losses, weighting->backward() (one backward for loss-level methods, T for gradient methods), optional
// gradient clipping, optimizer step, weighting->after_step(). The weighting's own parameters (UW, GradNorm, IMTL)
// are added to the optimizer as an extra parameter group by the constructor.
//
// Multi-input problems (one dataset per task) pass one loader per task: step k takes batch k of every loader
// (the epoch ends with the shortest) and task t's loss comes from model->forward_task(batch_t.input, t).
//
// Diagnostics: for gradient methods the per-task gradients of every step are already there and are summarised
// for free; for loss-level methods `diagnostics_every(n)` computes them every n steps (T extra backward passes).
// The epoch's mean cosine matrix, conflict rates (overall and per shared parameter) and gradient norms are
// logged as "cos.<a>.<b>", "conflict_rate", "conflict_rate.<parameter>", "grad_norm.<task>".
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mtl/data/dataset.h"
#include "mtl/model.h"
#include "mtl/task.h"
#include "mtl/weighting/weighting.h"
#include "nn/optim/optimizer.h"
#include "nn/options.h"

namespace tandem::nn {
class MetricsLogger;
}

namespace tandem::mtl {

class ConflictTracker;

struct TrainerOptions {
  /// Epochs fit() runs in total (a resumed trainer continues up to this number).
  TANDEM_ARG(int64_t, epochs) = 10;
  /// What selects the best epoch: "loss" (sum of the validation task losses, lower is better),
  /// "<task>.<metric>" (e.g. "left.accuracy", with that metric's direction) or "delta_m" (Δm% against
  /// `baselines`, lower is better).
  TANDEM_ARG(std::string, monitor) = "loss";
  /// Single-task baselines for "delta_m": one value per (task, metric), in task order then metric order.
  TANDEM_ARG(std::vector<double>, baselines);
  /// Stop when the monitored value has not improved for this many epochs (0: never stop early).
  TANDEM_ARG(int64_t, patience) = 0;
  /// When set, "last.safetensors" is written after every epoch and "best.safetensors" at every improvement.
  TANDEM_ARG(std::string, checkpoint_dir);
  /// When set, per-epoch rows go to <log_path>.csv and <log_path>.jsonl.
  TANDEM_ARG(std::string, log_path);
  /// A progress bar per epoch (plain lines when stderr is not a terminal).
  TANDEM_ARG(bool, progress) = true;
  /// One summary line per epoch on stdout.
  TANDEM_ARG(bool, verbose) = true;
  /// For loss-level methods: gradient diagnostics every n steps (0: none). Gradient methods always report.
  TANDEM_ARG(int64_t, diagnostics_every) = 0;
  /// Clip the global gradient norm of the model's parameters (0: off).
  TANDEM_ARG(double, clip_grad_norm) = 0;
  /// Learning rate of the weighting's own parameters (UW's log-variances, GradNorm's weights...), which the
  /// constructor adds to the optimizer as a last parameter group; negative: the optimizer's default.
  TANDEM_ARG(double, weighting_lr) = -1.0;
  /// Stop each epoch after this many steps (0: the whole loader) — for quick runs.
  TANDEM_ARG(int64_t, max_steps_per_epoch) = 0;
};

/// A task's evaluation: its mean loss over the labelled samples and its metrics (in Task::metrics order).
struct TaskEvaluation {
  double loss = 0;
  std::vector<double> metrics;
};

struct Evaluation {
  std::vector<TaskEvaluation> tasks;
  /// Σ of the task losses.
  double total_loss() const;
  /// Every metric of every task, in task order then metric order (what Δm% takes).
  std::vector<double> flat_metrics() const;
};

struct EpochSummary {
  int64_t epoch = 0;
  /// Mean training loss of each task over the epoch (per labelled sample).
  std::vector<double> train_losses;
  /// Mean task weights over the epoch's steps.
  std::vector<double> weights;
  /// Validation results (empty tasks when fit() got no validation data).
  Evaluation validation;
  /// The monitored value and whether it improved on the best so far.
  double monitor = 0;
  bool improved = false;
  /// Diagnostics of the epoch (empty when none were computed): "cos.<a>.<b>", "conflict_rate", ...
  std::map<std::string, double> diagnostics;
  double seconds = 0;
};

class Trainer {
 public:
  Trainer(std::shared_ptr<MultiTaskModel> model, std::vector<Task> tasks, std::shared_ptr<Weighting> weighting,
          std::shared_ptr<optim::Optimizer> optimizer, TrainerOptions options = TrainerOptions());
  ~Trainer();

  /// Trains until options.epochs (from the current epoch: a loaded checkpoint resumes), evaluating on `validation`
  /// after each epoch when it has samples. Returns the summaries of the epochs it ran.
  std::vector<EpochSummary> fit(const MultiTaskLoader& train, const MultiTaskLoader* validation = nullptr);
  std::vector<EpochSummary> fit(const std::vector<MultiTaskLoader>& train_per_task,
                                const std::vector<MultiTaskLoader>* validation_per_task = nullptr);

  /// One epoch of training (the next epoch number); no evaluation, no checkpoint.
  EpochSummary train_epoch(const MultiTaskLoader& train);
  EpochSummary train_epoch(const std::vector<MultiTaskLoader>& train_per_task);

  Evaluation evaluate(const MultiTaskLoader& data);
  Evaluation evaluate(const std::vector<MultiTaskLoader>& data_per_task);

  /// The monitored value of an evaluation (see TrainerOptions::monitor) and whether higher is better.
  double monitor_value(const Evaluation& evaluation) const;
  bool monitor_higher_is_better() const;

  /// Model, optimizer, weighting state, epoch, best monitored value and the random stream, in one safetensors
  /// file (atomic write).
  void save_checkpoint(const std::filesystem::path& path) const;
  /// Restores everything save_checkpoint wrote; fit() then continues with the next epoch exactly as an
  /// uninterrupted run would.
  void load_checkpoint(const std::filesystem::path& path);

  /// Called at the end of every epoch of fit(), after evaluation and checkpoints (e.g. an LR scheduler, gradual
  /// unfreezing).
  void on_epoch_end(std::function<void(Trainer&, const EpochSummary&)> callback);

  /// Epochs completed so far.
  int64_t epoch() const { return epoch_; }
  std::optional<double> best_monitor() const { return best_; }
  /// "<task>.<metric>" for every metric, in flat_metrics() order.
  std::vector<std::string> metric_names() const;
  std::vector<bool> metric_higher_is_better() const;
  const std::vector<Task>& tasks() const { return tasks_; }
  MultiTaskModel& model() { return *model_; }
  Weighting& weighting() { return *weighting_; }
  optim::Optimizer& optimizer() { return *optimizer_; }
  TrainerOptions& options() { return options_; }

 private:
  struct StepResult;
  StepResult step(const std::vector<Tensor>& inputs, const std::vector<MultiTaskBatch>& batches, bool multi_input);
  EpochSummary run_epoch(size_t num_batches, const std::function<std::vector<MultiTaskBatch>(size_t)>& batch_at,
                         bool multi_input);
  std::vector<EpochSummary> fit_loop(const std::function<EpochSummary()>& train_one,
                                     const std::function<std::optional<Evaluation>()>& validate);
  void log_epoch(const EpochSummary& summary);
  /// Parameter names of the blocks of per-task gradients ("representation" for a representation leaf).
  std::vector<std::string> block_names(const TaskGradients& gradients) const;

  std::shared_ptr<MultiTaskModel> model_;
  std::vector<Task> tasks_;
  std::shared_ptr<Weighting> weighting_;
  std::shared_ptr<optim::Optimizer> optimizer_;
  TrainerOptions options_;
  int64_t epoch_ = 0;
  int64_t global_step_ = 0;
  int64_t bad_epochs_ = 0;
  std::optional<double> best_;
  std::vector<std::function<void(Trainer&, const EpochSummary&)>> callbacks_;
  std::unique_ptr<nn::MetricsLogger> logger_;
  std::unique_ptr<ConflictTracker> tracker_;
};

/// make_weighting, except that "fixed" without w<t> options takes the tasks' weights (Task::weight, 1 if unset).
std::shared_ptr<Weighting> make_weighting_for(const std::string& spec, const std::vector<Task>& tasks);

}  // namespace tandem::mtl

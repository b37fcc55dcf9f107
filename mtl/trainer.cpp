// The multi-task Trainer (see trainer.h): the training step, epochs, evaluation, checkpoints and logs.
#include "mtl/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <sstream>

#include "autograd/grad_mode.h"
#include "mtl/diagnostics.h"
#include "mtl/results.h"
#include "nn/serialize/checkpoint.h"
#include "nn/serialize/safetensors.h"
#include "nn/train/metrics_logger.h"
#include "nn/train/progress_bar.h"
#include "nn/utils/clip_grad.h"
#include "tensor/functions.h"
#include "tensor/random.h"

namespace tandem::mtl {

// ---- results ------------------------------------------------------------------------------------------------

double Evaluation::total_loss() const {
  double total = 0;
  for (const auto& t : tasks) total += t.loss;
  return total;
}

std::vector<double> Evaluation::flat_metrics() const {
  std::vector<double> out;
  for (const auto& t : tasks) out.insert(out.end(), t.metrics.begin(), t.metrics.end());
  return out;
}

std::shared_ptr<Weighting> make_weighting_for(const std::string& spec, const std::vector<Task>& tasks) {
  const std::string name = spec.substr(0, spec.find(':'));
  if (name == "fixed" && spec.find("w0") == std::string::npos) {
    WeightingOptions options;
    for (size_t t = 0; t < tasks.size(); ++t) {
      std::string key = "w";
      key += std::to_string(t);
      options.set(key, tasks[t].weight.value_or(1.0));
    }
    return make_weighting("fixed", tasks.size(), options);
  }
  return make_weighting(spec, tasks.size());
}

// ---- construction -------------------------------------------------------------------------------------------

Trainer::Trainer(std::shared_ptr<MultiTaskModel> model, std::vector<Task> tasks, std::shared_ptr<Weighting> weighting,
                 std::shared_ptr<optim::Optimizer> optimizer, TrainerOptions options)
    : model_(std::move(model)),
      tasks_(std::move(tasks)),
      weighting_(std::move(weighting)),
      optimizer_(std::move(optimizer)),
      options_(std::move(options)) {
  TD_CHECK(model_ && weighting_ && optimizer_, "mtl::Trainer: model, weighting and optimizer must be set");
  TD_CHECK(tasks_.size() == model_->num_tasks(), "mtl::Trainer: ", tasks_.size(), " tasks for a model with ",
           model_->num_tasks(), " outputs");
  TD_CHECK(weighting_->num_tasks() == tasks_.size(), "mtl::Trainer: the weighting '", weighting_->method(), "' is for ",
           weighting_->num_tasks(), " tasks, not ", tasks_.size());
  for (size_t t = 0; t < tasks_.size(); ++t)
    TD_CHECK(tasks_[t].name == model_->task_names()[t], "mtl::Trainer: task ", t, " is '", tasks_[t].name,
             "' but the model calls it '", model_->task_names()[t], "'");
  std::vector<Tensor> own;
  for (const Tensor& p : weighting_->parameters())
    if (p.requires_grad()) own.push_back(p);
  if (!own.empty()) {
    if (options_.weighting_lr() >= 0)
      optimizer_->add_param_group(optim::OptimizerParamGroup(own, optim::OptionOverrides{{"lr", options_.weighting_lr()}}));
    else
      optimizer_->add_param_group(optim::OptimizerParamGroup(own));
  }
  if (options_.monitor() != "loss" && options_.monitor() != "delta_m") {
    const auto names = metric_names();
    TD_CHECK(std::find(names.begin(), names.end(), options_.monitor()) != names.end(), "mtl::Trainer: monitor '",
             options_.monitor(), "' is not loss, delta_m or one of the metrics");
  }
  if (options_.monitor() == "delta_m")
    TD_CHECK(options_.baselines().size() == metric_names().size(), "mtl::Trainer: monitor delta_m needs ",
             metric_names().size(), " baselines (one per task metric), got ", options_.baselines().size());
  if (!options_.log_path().empty())
    logger_ = std::make_unique<nn::MetricsLogger>(options_.log_path() + ".csv", options_.log_path() + ".jsonl");
  tracker_ = std::make_unique<ConflictTracker>(model_->task_names());
}

Trainer::~Trainer() = default;

void Trainer::on_epoch_end(std::function<void(Trainer&, const EpochSummary&)> callback) {
  callbacks_.push_back(std::move(callback));
}

std::vector<std::string> Trainer::metric_names() const {
  std::vector<std::string> names;
  for (const Task& t : tasks_)
    for (const Metric& m : t.metrics) names.push_back(t.name + "." + m.name);
  return names;
}

std::vector<bool> Trainer::metric_higher_is_better() const {
  std::vector<bool> out;
  for (const Task& t : tasks_)
    for (const Metric& m : t.metrics) out.push_back(m.higher_is_better);
  return out;
}

// ---- one step -----------------------------------------------------------------------------------------------

struct Trainer::StepResult {
  std::vector<double> losses;   // per task, batch mean over labelled samples
  std::vector<double> counts;   // labelled samples per task
  std::vector<double> weights;
};

namespace {
double labelled_count(const MultiTaskBatch& batch, size_t t) {
  if (t >= batch.masks.size() || !batch.masks[t].defined()) return static_cast<double>(batch.size());
  return batch.masks[t].to(kFloat64).sum().item<double>();
}
}  // namespace

std::vector<std::string> Trainer::block_names(const TaskGradients& gradients) const {
  const auto named = model_->named_parameters();
  std::vector<std::string> names;
  for (const Tensor& input : gradients.inputs()) {
    std::string found = "representation";
    for (const auto& [key, p] : named)
      if (p.is_same(input)) found = key;
    names.push_back(found);
  }
  return names;
}

Trainer::StepResult Trainer::step(const std::vector<Tensor>& inputs, const std::vector<MultiTaskBatch>& batches,
                                  bool multi_input) {
  const size_t T = tasks_.size();
  optimizer_->zero_grad();
  std::vector<Tensor> outputs(T);
  ForwardResult forward;
  if (multi_input) {
    TD_CHECK(!weighting_->uses_representation(), "mtl::Trainer: ", weighting_->method(),
             " on the representation needs one shared batch; multi-input problems use scope=params or scope=last");
    for (size_t t = 0; t < T; ++t) outputs[t] = model_->forward_task(inputs[t], t);
  } else {
    forward = forward_for(*weighting_, *model_, inputs[0]);
    outputs = forward.outputs;
  }
  StepResult result;
  std::vector<Tensor> losses(T);
  for (size_t t = 0; t < T; ++t) {
    const MultiTaskBatch& b = batches[multi_input ? t : 0];
    const Tensor mask = t < b.masks.size() ? b.masks[t] : Tensor();
    losses[t] = task_loss(tasks_[t], outputs[t], b.targets[t], mask);
    const double value = losses[t].detach().to(kFloat64).item<double>();
    TD_CHECK(std::isfinite(value), "mtl::Trainer: the loss of task '", tasks_[t].name, "' is ", value, " at epoch ",
             epoch_ + 1, ", step ", global_step_ + 1);
    result.losses.push_back(value);
    result.counts.push_back(labelled_count(b, t));
  }

  // Loss-level methods free the graph in their backward: take the diagnostic gradients first.
  const bool gradient_method = dynamic_cast<GradientWeighting*>(weighting_.get()) != nullptr;
  if (!gradient_method && options_.diagnostics_every() > 0 && global_step_ % options_.diagnostics_every() == 0) {
    TaskGradients probe;
    probe.compute(losses, model_->shared_parameters());
    tracker_->update(gradient_stats(probe, block_names(probe)));
  }

  StepContext context(*model_, losses, forward.representation, forward.representation_leaf);
  context.extra_loss = model_->regularization();
  context.epoch = epoch_;
  context.step = global_step_;
  WeightingReport report = weighting_->backward(context);
  result.weights = report.weights;
  if (report.gradients != nullptr) tracker_->update(gradient_stats(*report.gradients, block_names(*report.gradients)));

  if (options_.clip_grad_norm() > 0) nn::utils::clip_grad_norm_(model_->parameters(), options_.clip_grad_norm());
  optimizer_->step();
  weighting_->after_step();
  if (weighting_->needs_losses_after_step()) {
    NoGradGuard no_grad;
    std::vector<double> after(T);
    for (size_t t = 0; t < T; ++t) {
      const MultiTaskBatch& b = batches[multi_input ? t : 0];
      Tensor out = multi_input ? model_->forward_task(inputs[t], t) : model_->forward(inputs[0])[t];
      after[t] = task_loss(tasks_[t], out, b.targets[t], t < b.masks.size() ? b.masks[t] : Tensor())
                     .to(kFloat64)
                     .item<double>();
    }
    weighting_->after_step_losses(after);
  }
  ++global_step_;
  return result;
}

// ---- epochs -------------------------------------------------------------------------------------------------

EpochSummary Trainer::run_epoch(size_t num_batches, const std::function<std::vector<MultiTaskBatch>(size_t)>& batch_at,
                                bool multi_input) {
  const size_t T = tasks_.size();
  const auto start = std::chrono::steady_clock::now();
  if (options_.max_steps_per_epoch() > 0)
    num_batches = std::min(num_batches, static_cast<size_t>(options_.max_steps_per_epoch()));
  model_->train();
  weighting_->train();
  tracker_->reset();
  EpochSummary summary;
  summary.epoch = epoch_ + 1;
  std::vector<double> loss_sum(T, 0.0), count(T, 0.0), weight_sum(T, 0.0);
  std::unique_ptr<nn::ProgressBar> bar;
  if (options_.progress())
    bar = std::make_unique<nn::ProgressBar>(static_cast<int64_t>(num_batches), "epoch " + std::to_string(epoch_ + 1));
  size_t steps = 0;
  for (size_t b = 0; b < num_batches; ++b) {
    std::vector<MultiTaskBatch> batches = batch_at(b);
    std::vector<Tensor> inputs;
    for (const auto& batch : batches) inputs.push_back(batch.input);
    StepResult r = step(inputs, batches, multi_input);
    double total = 0;
    for (size_t t = 0; t < T; ++t) {
      loss_sum[t] += r.losses[t] * r.counts[t];
      count[t] += r.counts[t];
      if (t < r.weights.size()) weight_sum[t] += r.weights[t];
      total += r.losses[t];
    }
    ++steps;
    if (bar) bar->update(1, total);
  }
  if (bar) bar->finish();
  for (size_t t = 0; t < T; ++t) {
    summary.train_losses.push_back(count[t] > 0 ? loss_sum[t] / count[t] : std::numeric_limits<double>::quiet_NaN());
    summary.weights.push_back(steps > 0 ? weight_sum[t] / static_cast<double>(steps) : 0.0);
  }
  weighting_->end_epoch(summary.train_losses);
  summary.diagnostics = tracker_->summary();
  ++epoch_;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

EpochSummary Trainer::train_epoch(const MultiTaskLoader& train) {
  auto epoch = train.epoch(static_cast<uint64_t>(epoch_));
  return run_epoch(epoch.size(), [&](size_t b) { return std::vector<MultiTaskBatch>{epoch[b]}; }, false);
}

EpochSummary Trainer::train_epoch(const std::vector<MultiTaskLoader>& train_per_task) {
  TD_CHECK(train_per_task.size() == tasks_.size(), "mtl::Trainer: ", train_per_task.size(), " loaders for ",
           tasks_.size(), " tasks");
  std::vector<MultiTaskLoader::Epoch> epochs;
  size_t n = std::numeric_limits<size_t>::max();
  for (const auto& loader : train_per_task) {
    epochs.push_back(loader.epoch(static_cast<uint64_t>(epoch_)));
    n = std::min(n, epochs.back().size());
  }
  return run_epoch(n, [&](size_t b) {
    std::vector<MultiTaskBatch> batches;
    for (const auto& e : epochs) batches.push_back(e[b]);
    return batches;
  }, true);
}

namespace {
struct EvalAccumulator {
  std::vector<double> loss_sum, count;
  std::vector<MetricAccumulator> metrics;
  explicit EvalAccumulator(const std::vector<Task>& tasks) : loss_sum(tasks.size()), count(tasks.size()) {
    for (const Task& t : tasks) metrics.emplace_back(t.metrics);
  }
  void add(const Task& task, size_t t, const Tensor& output, const MultiTaskBatch& batch) {
    const Tensor mask = t < batch.masks.size() ? batch.masks[t] : Tensor();
    const double n = labelled_count(batch, t);
    if (n > 0) {
      loss_sum[t] += task_loss(task, output, batch.targets[t], mask).to(kFloat64).item<double>() * n;
      count[t] += n;
    }
    metrics[t].update(output, batch.targets[t], mask);
  }
  Evaluation result() const {
    Evaluation e;
    for (size_t t = 0; t < loss_sum.size(); ++t)
      e.tasks.push_back({count[t] > 0 ? loss_sum[t] / count[t] : std::numeric_limits<double>::quiet_NaN(),
                         metrics[t].compute()});
    return e;
  }
};

/// Puts the module in evaluation mode for a scope and restores the previous mode.
struct EvalModeScope {
  nn::Module& module;
  bool was_training;
  explicit EvalModeScope(nn::Module& m) : module(m), was_training(m.is_training()) { m.eval(); }
  ~EvalModeScope() { module.train(was_training); }
};
}  // namespace

Evaluation Trainer::evaluate(const MultiTaskLoader& data) {
  NoGradGuard no_grad;
  EvalModeScope mode(*model_);
  EvalAccumulator acc(tasks_);
  for (MultiTaskBatch batch : data.epoch(0)) {
    auto outputs = model_->forward(batch.input);
    for (size_t t = 0; t < tasks_.size(); ++t) acc.add(tasks_[t], t, outputs[t], batch);
  }
  return acc.result();
}

Evaluation Trainer::evaluate(const std::vector<MultiTaskLoader>& data_per_task) {
  TD_CHECK(data_per_task.size() == tasks_.size(), "mtl::Trainer::evaluate: ", data_per_task.size(), " loaders for ",
           tasks_.size(), " tasks");
  NoGradGuard no_grad;
  EvalModeScope mode(*model_);
  EvalAccumulator acc(tasks_);
  for (size_t t = 0; t < tasks_.size(); ++t)
    for (MultiTaskBatch batch : data_per_task[t].epoch(0)) acc.add(tasks_[t], t, model_->forward_task(batch.input, t), batch);
  return acc.result();
}

bool Trainer::monitor_higher_is_better() const {
  const std::string& m = options_.monitor();
  if (m == "loss" || m == "delta_m") return false;
  const auto names = metric_names();
  const auto hib = metric_higher_is_better();
  return hib[static_cast<size_t>(std::find(names.begin(), names.end(), m) - names.begin())];
}

double Trainer::monitor_value(const Evaluation& evaluation) const {
  const std::string& m = options_.monitor();
  if (m == "loss") return evaluation.total_loss();
  if (m == "delta_m") return delta_m(evaluation.flat_metrics(), options_.baselines(), metric_higher_is_better());
  const auto names = metric_names();
  return evaluation.flat_metrics()[static_cast<size_t>(std::find(names.begin(), names.end(), m) - names.begin())];
}

// ---- fit ----------------------------------------------------------------------------------------------------

std::vector<EpochSummary> Trainer::fit_loop(const std::function<EpochSummary()>& train_one,
                                            const std::function<std::optional<Evaluation>()>& validate) {
  std::vector<EpochSummary> history;
  while (epoch_ < options_.epochs()) {
    EpochSummary summary = train_one();
    if (auto val = validate()) {
      summary.validation = *val;
      summary.monitor = monitor_value(*val);
    } else {
      summary.monitor = 0;
      for (double l : summary.train_losses) summary.monitor += l;  // no validation data: the training loss
    }
    const bool higher = monitor_higher_is_better() && summary.validation.tasks.size() > 0;
    summary.improved = !best_ || (higher ? summary.monitor > *best_ : summary.monitor < *best_);
    if (summary.improved) {
      best_ = summary.monitor;
      bad_epochs_ = 0;
    } else {
      ++bad_epochs_;
    }
    if (!options_.checkpoint_dir().empty()) {
      const std::filesystem::path dir = options_.checkpoint_dir();
      std::filesystem::create_directories(dir);
      save_checkpoint(dir / "last.safetensors");
      if (summary.improved) save_checkpoint(dir / "best.safetensors");
    }
    log_epoch(summary);
    history.push_back(summary);
    for (auto& callback : callbacks_) callback(*this, summary);
    if (options_.patience() > 0 && bad_epochs_ >= options_.patience()) {
      if (options_.verbose())
        std::cout << "early stopping: no improvement of " << options_.monitor() << " for " << bad_epochs_
                  << " epochs\n";
      break;
    }
  }
  return history;
}

std::vector<EpochSummary> Trainer::fit(const MultiTaskLoader& train, const MultiTaskLoader* validation) {
  return fit_loop([&] { return train_epoch(train); },
                  [&]() -> std::optional<Evaluation> {
                    if (validation == nullptr || validation->dataset().size() == 0) return std::nullopt;
                    return evaluate(*validation);
                  });
}

std::vector<EpochSummary> Trainer::fit(const std::vector<MultiTaskLoader>& train_per_task,
                                       const std::vector<MultiTaskLoader>* validation_per_task) {
  return fit_loop([&] { return train_epoch(train_per_task); },
                  [&]() -> std::optional<Evaluation> {
                    if (validation_per_task == nullptr) return std::nullopt;
                    return evaluate(*validation_per_task);
                  });
}

void Trainer::log_epoch(const EpochSummary& s) {
  const size_t T = tasks_.size();
  if (options_.verbose()) {
    std::ostringstream line;
    line.precision(4);
    line << "epoch " << s.epoch << "/" << options_.epochs() << " [" << weighting_->method() << "] train loss";
    for (size_t t = 0; t < T; ++t) line << " " << tasks_[t].name << "=" << s.train_losses[t];
    if (!s.validation.tasks.empty())
      for (size_t t = 0; t < T; ++t)
        for (size_t m = 0; m < tasks_[t].metrics.size(); ++m)
          line << " | " << tasks_[t].name << "." << tasks_[t].metrics[m].name << "=" << s.validation.tasks[t].metrics[m];
    if (s.diagnostics.count("conflict_rate")) line << " | conflict " << s.diagnostics.at("conflict_rate");
    line << (s.improved ? " *" : "") << " (" << s.seconds << " s)";
    std::cout << line.str() << std::endl;
  }
  if (!logger_) return;
  nn::LogRow row{{"epoch", s.epoch}, {"method", weighting_->method()}};
  for (size_t t = 0; t < T; ++t) row.emplace_back("train_loss." + tasks_[t].name, s.train_losses[t]);
  for (size_t t = 0; t < T; ++t) row.emplace_back("weight." + tasks_[t].name, s.weights[t]);
  if (!s.validation.tasks.empty())
    for (size_t t = 0; t < T; ++t) {
      row.emplace_back("val." + tasks_[t].name + ".loss", s.validation.tasks[t].loss);
      for (size_t m = 0; m < tasks_[t].metrics.size(); ++m)
        row.emplace_back("val." + tasks_[t].name + "." + tasks_[t].metrics[m].name, s.validation.tasks[t].metrics[m]);
    }
  row.emplace_back("monitor", s.monitor);
  for (const auto& [key, value] : s.diagnostics) row.emplace_back(key, value);
  row.emplace_back("seconds", s.seconds);
  logger_->log(row);
}

// ---- checkpoints --------------------------------------------------------------------------------------------

void Trainer::save_checkpoint(const std::filesystem::path& path) const {
  nn::OrderedDict<Tensor> all;
  for (const auto& [key, value] : module_state_dict(*model_)) all.insert("model." + key, value);
  for (const auto& [key, value] : optimizer_->state_dict()) all.insert("optimizer." + key, value);
  for (const auto& [key, value] : module_state_dict(*weighting_)) all.insert("weighting." + key, value);
  const PhiloxState rng = get_rng_state();
  SafetensorsMetadata meta{{"format", "tandem"},
                           {"content", "mtl_trainer"},
                           {"weighting", weighting_->method()},
                           {"epoch", std::to_string(epoch_)},
                           {"global_step", std::to_string(global_step_)},
                           {"bad_epochs", std::to_string(bad_epochs_)},
                           {"rng_seed", std::to_string(rng.seed)},
                           {"rng_offset", std::to_string(rng.offset)}};
  if (best_) {
    std::ostringstream os;
    os.precision(17);
    os << *best_;
    meta["best_monitor"] = os.str();
  }
  save_safetensors(all, path, meta);
}

namespace {
int64_t meta_int(const SafetensorsMetadata& meta, const std::string& key, const std::filesystem::path& path) {
  auto it = meta.find(key);
  TD_CHECK(it != meta.end(), "mtl::Trainer::load_checkpoint: ", path.string(), " has no '", key, "' entry");
  return std::stoll(it->second);
}
uint64_t meta_uint(const SafetensorsMetadata& meta, const std::string& key, const std::filesystem::path& path) {
  auto it = meta.find(key);
  TD_CHECK(it != meta.end(), "mtl::Trainer::load_checkpoint: ", path.string(), " has no '", key, "' entry");
  return std::stoull(it->second);
}
}  // namespace

void Trainer::load_checkpoint(const std::filesystem::path& path) {
  SafetensorsContent content = load_safetensors(path);
  const auto& meta = content.metadata;
  auto content_it = meta.find("content");
  TD_CHECK(content_it != meta.end() && content_it->second == "mtl_trainer", "mtl::Trainer::load_checkpoint: ",
           path.string(), " is not a trainer checkpoint (content: ",
           content_it == meta.end() ? std::string("none") : content_it->second, ")");
  auto method_it = meta.find("weighting");
  TD_CHECK(method_it != meta.end() && method_it->second == weighting_->method(), "mtl::Trainer::load_checkpoint: ",
           path.string(), " was written with weighting '", method_it == meta.end() ? std::string("?") : method_it->second,
           "' but this trainer uses '", weighting_->method(), "'");
  nn::OrderedDict<Tensor> model_state, optimizer_state, weighting_state;
  for (const auto& [key, value] : content.tensors) {
    if (key.rfind("model.", 0) == 0) model_state.insert(key.substr(6), value);
    else if (key.rfind("optimizer.", 0) == 0) optimizer_state.insert(key.substr(10), value);
    else if (key.rfind("weighting.", 0) == 0) weighting_state.insert(key.substr(10), value);
    else TD_CHECK(false, "mtl::Trainer::load_checkpoint: ", path.string(), " has an unexpected entry '", key, "'");
  }
  load_state_dict(*model_, model_state);
  optimizer_->load_state_dict(optimizer_state);
  // Weighting state may be sized at the first step (e.g. per-parameter targets): adopt the saved shapes.
  {
    NoGradGuard no_grad;
    auto own = module_state_dict(*weighting_);
    TD_CHECK(own.size() == weighting_state.size(), "mtl::Trainer::load_checkpoint: ", path.string(), " holds ",
             weighting_state.size(), " weighting tensors but ", weighting_->method(), " has ", own.size());
    for (auto& [key, target] : own) {
      const Tensor* saved = weighting_state.find(key);
      TD_CHECK(saved != nullptr, "mtl::Trainer::load_checkpoint: ", path.string(), " lacks weighting state '", key, "'");
      Tensor handle = target;
      nn::set_data(handle, saved->to(target.device(), target.dtype()).clone());
    }
  }
  epoch_ = meta_int(meta, "epoch", path);
  global_step_ = meta_int(meta, "global_step", path);
  bad_epochs_ = meta_int(meta, "bad_epochs", path);
  auto best_it = meta.find("best_monitor");
  best_ = best_it == meta.end() ? std::nullopt : std::optional<double>(std::stod(best_it->second));
  set_rng_state({meta_uint(meta, "rng_seed", path), meta_uint(meta, "rng_offset", path)});
}

}  // namespace tandem::mtl

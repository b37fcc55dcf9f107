// The learning-rate schedules (closed forms of the epoch, see schedulers.h) and ReduceLROnPlateau's
// plateau detection, both acting on every parameter group of an optimizer.
#include "nn/optim/schedulers.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "tensor/functions.h"

namespace tandem::optim {

namespace {

std::vector<double> group_lrs(const Optimizer& optimizer) {
  std::vector<double> lrs;
  for (const auto& group : optimizer.param_groups()) lrs.push_back(group.options().lr());
  return lrs;
}

double scalar_entry(const nn::OrderedDict<Tensor>& dict, const std::string& key, const std::string& who) {
  const Tensor* t = dict.find(key);
  TD_CHECK(t != nullptr, who, "::load_state_dict: missing key '", key, "'");
  TD_CHECK(t->defined() && t->numel() == 1, who, "::load_state_dict: '", key, "' must hold one value but has shape ",
           t->defined() ? t->sizes() : Dims{});
  return t->to(Device(kCPU)).item<double>();
}

int64_t whole_entry(const nn::OrderedDict<Tensor>& dict, const std::string& key, const std::string& who) {
  const double value = scalar_entry(dict, key, who);
  TD_CHECK(value >= 0 && std::floor(value) == value, who, "::load_state_dict: '", key,
           "' must be a non-negative whole number but is ", value);
  return static_cast<int64_t>(value);
}

}  // namespace

// =============================================================================================================
// LRScheduler
// =============================================================================================================
LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer), base_lrs_(group_lrs(optimizer)) {
  last_lrs_ = base_lrs_;
}

void LRScheduler::step() {
  ++last_epoch_;
  apply_lrs();
}

void LRScheduler::apply_lrs() {
  auto& groups = optimizer_.param_groups();
  TD_CHECK(groups.size() == base_lrs_.size(), name(), ": the optimizer has ", groups.size(),
           " parameter groups but the scheduler was built when it had ", base_lrs_.size());
  last_lrs_.resize(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    last_lrs_[g] = lr_at(base_lrs_[g], last_epoch_);
    groups[g].options().lr(last_lrs_[g]);
  }
}

nn::OrderedDict<Tensor> LRScheduler::state_dict() const {
  nn::OrderedDict<Tensor> dict;
  dict.insert("last_epoch", scalar_tensor(static_cast<double>(last_epoch_), kInt64));
  dict.insert("base_lrs", tensor(base_lrs_, kFloat64));
  return dict;
}

void LRScheduler::load_state_dict(const nn::OrderedDict<Tensor>& dict) {
  const std::string who = name();
  for (const auto& [key, value] : dict) {
    (void)value;
    TD_CHECK(key == "last_epoch" || key == "base_lrs", who, "::load_state_dict: unexpected key '", key, "'");
  }
  const int64_t epoch = whole_entry(dict, "last_epoch", who);
  const Tensor* base = dict.find("base_lrs");
  TD_CHECK(base != nullptr, who, "::load_state_dict: missing key 'base_lrs'");
  TD_CHECK(base->defined() && base->dim() == 1 && base->size(0) == static_cast<int64_t>(base_lrs_.size()), who,
           "::load_state_dict: 'base_lrs' has shape ", base->defined() ? base->sizes() : Dims{},
           " but the optimizer has ", base_lrs_.size(), " parameter groups");
  base_lrs_ = base->to(Device(kCPU)).to_vector<double>();
  last_epoch_ = epoch;
  last_lrs_ = group_lrs(optimizer_);
}

// =============================================================================================================
// The schedules
// =============================================================================================================
StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  TD_CHECK(step_size >= 1, "StepLR: step_size must be >= 1, got ", step_size);
  apply_lrs();
}

double StepLR::lr_at(double base_lr, int64_t epoch) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  apply_lrs();
}

double MultiStepLR::lr_at(double base_lr, int64_t epoch) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
  return base_lr * std::pow(gamma_, static_cast<double>(passed));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {
  apply_lrs();
}

double ExponentialLR::lr_at(double base_lr, int64_t epoch) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  TD_CHECK(T_max >= 1, "CosineAnnealingLR: T_max must be >= 1, got ", T_max);
  apply_lrs();
}

double CosineAnnealingLR::lr_at(double base_lr, int64_t epoch) const {
  const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(T_max_);
  return eta_min_ + (base_lr - eta_min_) * (1 + std::cos(phase)) / 2;
}

LinearWarmupCosineLR::LinearWarmupCosineLR(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps,
                                           double warmup_start_factor, double eta_min)
    : LRScheduler(optimizer),
      warmup_steps_(warmup_steps),
      total_steps_(total_steps),
      warmup_start_factor_(warmup_start_factor),
      eta_min_(eta_min) {
  TD_CHECK(warmup_steps >= 0, "LinearWarmupCosineLR: warmup_steps must be >= 0, got ", warmup_steps);
  TD_CHECK(total_steps > warmup_steps, "LinearWarmupCosineLR: total_steps (", total_steps,
           ") must be greater than warmup_steps (", warmup_steps, ")");
  TD_CHECK(warmup_start_factor >= 0 && warmup_start_factor <= 1,
           "LinearWarmupCosineLR: warmup_start_factor must be in [0, 1], got ", warmup_start_factor);
  apply_lrs();
}

double LinearWarmupCosineLR::lr_at(double base_lr, int64_t epoch) const {
  if (epoch < warmup_steps_) {
    const double fraction = static_cast<double>(epoch) / static_cast<double>(warmup_steps_);
    return base_lr * (warmup_start_factor_ + (1 - warmup_start_factor_) * fraction);
  }
  if (epoch > total_steps_) return eta_min_;
  const double progress =
      static_cast<double>(epoch - warmup_steps_) / static_cast<double>(total_steps_ - warmup_steps_);
  return eta_min_ + (base_lr - eta_min_) * (1 + std::cos(std::numbers::pi * progress)) / 2;
}

// =============================================================================================================
// ReduceLROnPlateau
// =============================================================================================================
ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const Options& options)
    : optimizer_(optimizer), options_(options) {
  const char* who = "ReduceLROnPlateau";
  TD_CHECK(options.factor() >= 0 && options.factor() < 1, who, ": factor must be in [0, 1), got ", options.factor());
  TD_CHECK(options.patience() >= 0, who, ": patience must be >= 0, got ", options.patience());
  TD_CHECK(options.cooldown() >= 0, who, ": cooldown must be >= 0, got ", options.cooldown());
  TD_CHECK(options.threshold() >= 0, who, ": threshold must be >= 0, got ", options.threshold());
  TD_CHECK(options.min_lr() >= 0, who, ": min_lr must be >= 0, got ", options.min_lr());
  best_ =
      options.mode() == Mode::min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  read_lrs();
}

bool ReduceLROnPlateau::is_better(double metric) const {
  const double t = options_.threshold();
  const bool relative = options_.threshold_mode() == ThresholdMode::rel;
  if (options_.mode() == Mode::min) return metric < (relative ? best_ * (1 - t) : best_ - t);
  return metric > (relative ? best_ * (1 + t) : best_ + t);
}

void ReduceLROnPlateau::read_lrs() { last_lrs_ = group_lrs(optimizer_); }

void ReduceLROnPlateau::step(double metric) {
  TD_CHECK(!std::isnan(metric), "ReduceLROnPlateau: the metric is NaN");
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs during cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience()) {
    for (auto& group : optimizer_.param_groups()) {
      const double old_lr = group.options().lr();
      const double new_lr = std::max(old_lr * options_.factor(), options_.min_lr());
      if (old_lr - new_lr > options_.eps()) group.options().lr(new_lr);
    }
    cooldown_counter_ = options_.cooldown();
    num_bad_epochs_ = 0;
  }
  read_lrs();
}

nn::OrderedDict<Tensor> ReduceLROnPlateau::state_dict() const {
  nn::OrderedDict<Tensor> dict;
  dict.insert("best", scalar_tensor(best_, kFloat64));
  dict.insert("num_bad_epochs", scalar_tensor(static_cast<double>(num_bad_epochs_), kInt64));
  dict.insert("cooldown_counter", scalar_tensor(static_cast<double>(cooldown_counter_), kInt64));
  dict.insert("last_epoch", scalar_tensor(static_cast<double>(last_epoch_), kInt64));
  return dict;
}

void ReduceLROnPlateau::load_state_dict(const nn::OrderedDict<Tensor>& dict) {
  const std::string who = "ReduceLROnPlateau";
  for (const auto& [key, value] : dict) {
    (void)value;
    TD_CHECK(key == "best" || key == "num_bad_epochs" || key == "cooldown_counter" || key == "last_epoch", who,
             "::load_state_dict: unexpected key '", key, "'");
  }
  const double best = scalar_entry(dict, "best", who);
  const int64_t bad = whole_entry(dict, "num_bad_epochs", who);
  const int64_t cooldown = whole_entry(dict, "cooldown_counter", who);
  const int64_t epoch = whole_entry(dict, "last_epoch", who);
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown;
  last_epoch_ = epoch;
  read_lrs();
}

}  // namespace tandem::optim

// The optimizer base class, in libtorch's shape. An optimizer owns parameter groups — each a list of
// parameters with its own hyper-parameters (options) — and per-parameter state (moment estimates, momentum
// buffers, the step count). step() walks every group under NoGradGuard and hands each parameter that has a
// gradient to the update rule of the concrete optimizer (sgd.h, adam.h, rmsprop.h, adagrad.h), which updates
// it in place with ordinary tensor ops.
//
//   // discriminative fine-tuning: the backbone at a tenth of the head's learning rate
//   std::vector<tandem::optim::OptimizerParamGroup> groups;
//   groups.emplace_back(backbone->parameters(), tandem::optim::OptionOverrides{{"lr", 1e-4}});
//   groups.emplace_back(head->parameters());  // no options: inherits the defaults
//   tandem::optim::AdamW opt(groups, tandem::optim::AdamWOptions(1e-3).weight_decay(0.05));
//
// state_dict() flattens hyper-parameters and state into named tensors ("param_groups.<g>.<option>",
// "param_groups.<g>.params", "state.<index>.<name>") for checkpoints; load_state_dict() restores them so that
// training continues bit for bit as if it had never stopped.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nn/module.h"
#include "nn/options.h"
#include "tensor/tensor.h"

namespace tandem::optim {

/// Hyper-parameters of one optimizer (and of one parameter group). Concrete optimizers derive their options
/// (SGDOptions, AdamOptions, ...) from this; the base gives schedulers access to the learning rate and
/// state_dict access to every hyper-parameter by name.
class OptimizerOptions {
 public:
  /// Receives each hyper-parameter by name with a reference to its value; flags travel as 0 or 1.
  using FieldVisitor = std::function<void(const char* name, double& value)>;

  virtual ~OptimizerOptions() = default;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;

  /// The learning rate, reachable through the base class: `group.options().lr(0.01)`.
  double lr() const { return get_lr(); }
  OptimizerOptions& lr(double value) {
    set_lr(value);
    return *this;
  }
  virtual double get_lr() const = 0;
  virtual void set_lr(double lr) = 0;

  /// Calls fn on every hyper-parameter, in a fixed order (the order of the state_dict keys).
  virtual void for_each_field(const FieldVisitor& fn) = 0;
  /// Every hyper-parameter as (name, value), flags as 0/1.
  std::vector<std::pair<std::string, double>> values() const;
  /// Sets one hyper-parameter by name; throws naming `owner` and the name when there is no such option.
  void set_value(const std::string& name, double value, const std::string& owner = "optimizer");

 protected:
  /// Visits a boolean hyper-parameter as a 0/1 value.
  static void visit_flag(const FieldVisitor& fn, const char* name, bool& flag);
};

/// Base for concrete options: clone() and the lr accessors for the base interface. `Derived` must declare
/// `TANDEM_ARG(double, lr)`.
template <typename Derived>
class OptimizerCloneableOptions : public OptimizerOptions {
 public:
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
  double get_lr() const override { return static_cast<const Derived&>(*this).lr_; }
  void set_lr(double lr) override { static_cast<Derived&>(*this).lr_ = lr; }
};

/// Per-group values that replace the optimizer's defaults by name (e.g. {{"lr", 1e-4}}); the group inherits
/// every other option from the defaults, as a Python param-group dict does.
using OptionOverrides = std::map<std::string, double>;

/// A list of parameters optimized with the same hyper-parameters. A group built without options takes the
/// optimizer's defaults, optionally with some of them overridden; a group built with full options uses them.
class OptimizerParamGroup {
 public:
  /// Parameters that use the optimizer's defaults.
  OptimizerParamGroup(std::vector<Tensor> params);  // NOLINT: implicit, as libtorch's
  /// Parameters that use the defaults except for the values in `overrides`.
  OptimizerParamGroup(std::vector<Tensor> params, OptionOverrides overrides);
  /// Parameters with options of their own.
  OptimizerParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options);
  /// Parameters with options of their own, e.g. `{params, tandem::optim::SGDOptions(0.1).momentum(0.9)}`.
  template <typename Options, typename = std::enable_if_t<std::is_base_of_v<OptimizerOptions, Options>>>
  OptimizerParamGroup(std::vector<Tensor> params, const Options& options)
      : OptimizerParamGroup(std::move(params), options.clone()) {}

  OptimizerParamGroup(const OptimizerParamGroup& other);
  OptimizerParamGroup& operator=(const OptimizerParamGroup& other);
  OptimizerParamGroup(OptimizerParamGroup&&) noexcept = default;
  OptimizerParamGroup& operator=(OptimizerParamGroup&&) noexcept = default;

  bool has_options() const { return options_ != nullptr; }
  /// The group's hyper-parameters; throws when the group has none yet (before it joins an optimizer).
  OptimizerOptions& options();
  const OptimizerOptions& options() const;
  void set_options(std::unique_ptr<OptimizerOptions> options) { options_ = std::move(options); }
  const OptionOverrides& overrides() const { return overrides_; }
  std::vector<Tensor>& params() { return params_; }
  const std::vector<Tensor>& params() const { return params_; }

 private:
  std::vector<Tensor> params_;
  std::unique_ptr<OptimizerOptions> options_;
  OptionOverrides overrides_;
};

/// The state an optimizer keeps for one parameter: how many updates it has received and named buffers of the
/// parameter's shape (exp_avg, exp_avg_sq, momentum_buffer, ...).
class OptimizerParamState {
 public:
  /// Number of updates applied to this parameter so far (the step in Adam's bias correction).
  int64_t step() const { return step_; }
  void set_step(int64_t step) { step_ = step; }
  bool contains(const std::string& name) const { return buffers_.contains(name); }
  /// The buffer called `name`; throws when there is none.
  Tensor& operator[](const std::string& name) { return buffers_[name]; }
  const Tensor& operator[](const std::string& name) const { return buffers_[name]; }
  /// Adds or replaces a buffer.
  void set(const std::string& name, Tensor value);
  /// Moves every floating buffer to the device and dtype of `param`, so that the state follows a model moved
  /// with Module::to(device) or to(dtype) between steps. step() calls it before each update.
  void follow(const Tensor& param);
  /// The buffer called `name`, created by `make()` when absent.
  Tensor& get_or_create(const std::string& name, const std::function<Tensor()>& make);
  const nn::OrderedDict<Tensor>& buffers() const { return buffers_; }

 private:
  int64_t step_ = 0;
  nn::OrderedDict<Tensor> buffers_;
};

/// Evaluates the model and returns the loss; step(closure) calls it (with grad enabled) before updating.
using LossClosure = std::function<Tensor()>;

class Optimizer {
 public:
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  virtual ~Optimizer() = default;

  /// The optimizer's name as used in messages, e.g. "Adam".
  virtual std::string name() const = 0;

  /// Updates every parameter that has a gradient (parameters without one are skipped) and returns the loss
  /// computed by `closure`, if one is given (undefined otherwise).
  Tensor step(const LossClosure& closure = nullptr);
  /// Clears (set_to_none) or zeroes the gradient of every parameter of every group.
  void zero_grad(bool set_to_none = true);

  /// Appends a group; options not given come from the defaults. Its parameters get the next state indices.
  void add_param_group(const OptimizerParamGroup& group);
  std::vector<OptimizerParamGroup>& param_groups() { return param_groups_; }
  const std::vector<OptimizerParamGroup>& param_groups() const { return param_groups_; }
  /// Every parameter of every group, in state-index order.
  std::vector<Tensor> parameters() const;
  /// The options that groups without their own inherit.
  const OptimizerOptions& defaults() const { return *defaults_; }
  OptimizerOptions& defaults() { return *defaults_; }

  /// Per-parameter state keyed by the parameter's position across groups (group 0's parameters first).
  std::map<int64_t, OptimizerParamState>& state() { return state_; }
  const std::map<int64_t, OptimizerParamState>& state() const { return state_; }

  /// Hyper-parameters and state as named tensors (copies): "param_groups.<g>.<option>" (0-d float64),
  /// "param_groups.<g>.params" (1-D int64 state indices), "state.<index>.step" (0-d int64) and
  /// "state.<index>.<buffer>".
  nn::OrderedDict<Tensor> state_dict() const;
  /// Restores what state_dict() produced. Checks group counts, group sizes, option names and buffer shapes,
  /// throwing an error that names the offending key; on error the optimizer is left unchanged.
  void load_state_dict(const nn::OrderedDict<Tensor>& dict);

 protected:
  explicit Optimizer(std::unique_ptr<OptimizerOptions> defaults) : defaults_(std::move(defaults)) {}
  /// Checks the defaults and adds the groups; concrete constructors call it (it needs their overrides).
  void init(const std::vector<OptimizerParamGroup>& param_groups);

  /// Applies one update to `param` given its gradient, the options of its group and its state (whose step()
  /// already counts this update). Runs under NoGradGuard.
  virtual void update(Tensor& param, const Tensor& grad, const OptimizerOptions& options,
                      OptimizerParamState& state) = 0;
  /// Throws tandem::Error naming the optimizer and the value when an option is out of range.
  virtual void check_options(const OptimizerOptions& options) const = 0;
  /// The buffer names this optimizer keeps in its state (load_state_dict rejects others).
  virtual std::vector<std::string> state_names() const = 0;

 private:
  std::vector<OptimizerParamGroup> param_groups_;
  std::unique_ptr<OptimizerOptions> defaults_;
  std::map<int64_t, OptimizerParamState> state_;
};

namespace detail {
/// Throws "<optimizer>: invalid <what> <value> (<requirement>)" unless ok.
void check_option(bool ok, const std::string& optimizer, const char* what, double value, const char* requirement);
/// The options of the concrete type an optimizer works with; throws when a group holds another kind.
template <typename Options>
const Options& options_as(const OptimizerOptions& options, const std::string& optimizer) {
  const auto* typed = dynamic_cast<const Options*>(&options);
  TD_CHECK(typed != nullptr, optimizer, ": a parameter group holds options of another optimizer");
  return *typed;
}
}  // namespace detail

}  // namespace tandem::optim

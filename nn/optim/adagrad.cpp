// Adagrad's update rule and option checks (see adagrad.h for the formulas).
#include "nn/optim/adagrad.h"

#include "tensor/functions.h"

namespace tandem::optim {

void AdagradOptions::for_each_field(const FieldVisitor& fn) {
  fn("lr", lr_);
  fn("lr_decay", lr_decay_);
  fn("weight_decay", weight_decay_);
  fn("initial_accumulator_value", initial_accumulator_value_);
  fn("eps", eps_);
}

Adagrad::Adagrad(const std::vector<OptimizerParamGroup>& param_groups, const AdagradOptions& defaults)
    : Optimizer(std::make_unique<AdagradOptions>(defaults)) {
  init(param_groups);
}

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults)
    : Adagrad(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, defaults) {}

void Adagrad::check_options(const OptimizerOptions& options) const {
  const auto& o = detail::options_as<AdagradOptions>(options, name());
  detail::check_option(o.lr() >= 0, name(), "learning rate", o.lr(), "must be >= 0");
  detail::check_option(o.lr_decay() >= 0, name(), "lr_decay", o.lr_decay(), "must be >= 0");
  detail::check_option(o.weight_decay() >= 0, name(), "weight_decay", o.weight_decay(), "must be >= 0");
  detail::check_option(o.initial_accumulator_value() >= 0, name(), "initial_accumulator_value",
                       o.initial_accumulator_value(), "must be >= 0");
  detail::check_option(o.eps() >= 0, name(), "epsilon", o.eps(), "must be >= 0");
}

void Adagrad::update(Tensor& param, const Tensor& grad, const OptimizerOptions& options, OptimizerParamState& state) {
  const auto& o = detail::options_as<AdagradOptions>(options, name());
  const Tensor g = o.weight_decay() != 0 ? grad.add(param, o.weight_decay()) : grad;
  const double clr = o.lr() / (1 + static_cast<double>(state.step() - 1) * o.lr_decay());
  Tensor sum = state.get_or_create("sum", [&] { return full_like(param, o.initial_accumulator_value()); });
  sum.add_(g.mul(g));
  Tensor denom = sum.sqrt();
  denom.add_(o.eps());
  Tensor change = g.div(denom);
  change.mul_(-clr);
  param.add_(change);
}

}  // namespace tandem::optim

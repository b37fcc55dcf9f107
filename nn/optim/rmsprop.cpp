// RMSprop's update rule and option checks (see rmsprop.h for the formulas).
#include "nn/optim/rmsprop.h"

#include "tensor/functions.h"

namespace tandem::optim {

void RMSpropOptions::for_each_field(const FieldVisitor& fn) {
  fn("lr", lr_);
  fn("alpha", alpha_);
  fn("eps", eps_);
  fn("weight_decay", weight_decay_);
  fn("momentum", momentum_);
  visit_flag(fn, "centered", centered_);
}

RMSprop::RMSprop(const std::vector<OptimizerParamGroup>& param_groups, const RMSpropOptions& defaults)
    : Optimizer(std::make_unique<RMSpropOptions>(defaults)) {
  init(param_groups);
}

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults)
    : RMSprop(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, defaults) {}

void RMSprop::check_options(const OptimizerOptions& options) const {
  const auto& o = detail::options_as<RMSpropOptions>(options, name());
  detail::check_option(o.lr() >= 0, name(), "learning rate", o.lr(), "must be >= 0");
  detail::check_option(o.alpha() >= 0, name(), "alpha", o.alpha(), "must be >= 0");
  detail::check_option(o.eps() >= 0, name(), "epsilon", o.eps(), "must be >= 0");
  detail::check_option(o.weight_decay() >= 0, name(), "weight_decay", o.weight_decay(), "must be >= 0");
  detail::check_option(o.momentum() >= 0, name(), "momentum", o.momentum(), "must be >= 0");
}

void RMSprop::update(Tensor& param, const Tensor& grad, const OptimizerOptions& options, OptimizerParamState& state) {
  const auto& o = detail::options_as<RMSpropOptions>(options, name());
  const Tensor g = o.weight_decay() != 0 ? grad.add(param, o.weight_decay()) : grad;
  auto zeros = [&] { return zeros_like(param); };

  Tensor square_avg = state.get_or_create("square_avg", zeros);
  square_avg.mul_(o.alpha()).add_(g.mul(g), 1 - o.alpha());
  Tensor denom;
  if (o.centered()) {
    Tensor grad_avg = state.get_or_create("grad_avg", zeros);
    grad_avg.mul_(o.alpha()).add_(g, 1 - o.alpha());
    denom = square_avg.sub(grad_avg.mul(grad_avg)).sqrt();
  } else {
    denom = square_avg.sqrt();
  }
  denom.add_(o.eps());

  if (o.momentum() > 0) {
    Tensor buffer = state.get_or_create("momentum_buffer", zeros);
    buffer.mul_(o.momentum()).add_(g.div(denom));
    param.add_(buffer, -o.lr());
  } else {
    Tensor change = g.div(denom);
    change.mul_(-o.lr());
    param.add_(change);
  }
}

}  // namespace tandem::optim

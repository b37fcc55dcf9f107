// SGD's update rule and option checks (see sgd.h for the formulas).
#include "nn/optim/sgd.h"

namespace tandem::optim {

void SGDOptions::for_each_field(const FieldVisitor& fn) {
  fn("lr", lr_);
  fn("momentum", momentum_);
  fn("dampening", dampening_);
  fn("weight_decay", weight_decay_);
  visit_flag(fn, "nesterov", nesterov_);
}

SGD::SGD(const std::vector<OptimizerParamGroup>& param_groups, const SGDOptions& defaults)
    : Optimizer(std::make_unique<SGDOptions>(defaults)) {
  init(param_groups);
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& defaults)
    : SGD(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, defaults) {}

void SGD::check_options(const OptimizerOptions& options) const {
  const auto& o = detail::options_as<SGDOptions>(options, name());
  detail::check_option(o.lr() >= 0, name(), "learning rate", o.lr(), "must be >= 0");
  detail::check_option(o.momentum() >= 0, name(), "momentum", o.momentum(), "must be >= 0");
  detail::check_option(o.weight_decay() >= 0, name(), "weight_decay", o.weight_decay(), "must be >= 0");
  TD_CHECK(!o.nesterov() || (o.momentum() > 0 && o.dampening() == 0), name(),
           ": nesterov momentum requires momentum > 0 and dampening 0, got momentum ", o.momentum(), " and dampening ",
           o.dampening());
}

void SGD::update(Tensor& param, const Tensor& grad, const OptimizerOptions& options, OptimizerParamState& state) {
  const auto& o = detail::options_as<SGDOptions>(options, name());
  Tensor direction = grad;
  if (o.weight_decay() != 0) direction = direction.add(param, o.weight_decay());
  if (o.momentum() != 0) {
    Tensor buffer;
    if (!state.contains("momentum_buffer")) {
      buffer = direction.clone();
      state.set("momentum_buffer", buffer);
    } else {
      buffer = state["momentum_buffer"];
      buffer.mul_(o.momentum()).add_(direction, 1 - o.dampening());
    }
    direction = o.nesterov() ? direction.add(buffer, o.momentum()) : buffer;
  }
  param.add_(direction, -o.lr());
}

}  // namespace tandem::optim

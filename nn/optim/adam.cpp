// Adam's and AdamW's update rules (see adam.h for the formulas). They share the moment update and the
// bias-corrected step; only the handling of weight decay differs.
#include "nn/optim/adam.h"

#include <cmath>

#include "tensor/functions.h"

namespace tandem::optim {

namespace {

template <typename Options>
void visit_adam_fields(Options& o, const OptimizerOptions::FieldVisitor& fn,
                       void (*visit_flag)(const OptimizerOptions::FieldVisitor&, const char*, bool&)) {
  fn("lr", o.lr_);
  fn("beta1", std::get<0>(o.betas_));
  fn("beta2", std::get<1>(o.betas_));
  fn("eps", o.eps_);
  fn("weight_decay", o.weight_decay_);
  visit_flag(fn, "amsgrad", o.amsgrad_);
}

template <typename Options>
void check_adam_options(const Options& o, const std::string& name) {
  const auto [beta1, beta2] = o.betas();
  detail::check_option(o.lr() >= 0, name, "learning rate", o.lr(), "must be >= 0");
  detail::check_option(o.eps() >= 0, name, "epsilon", o.eps(), "must be >= 0");
  detail::check_option(beta1 >= 0 && beta1 < 1, name, "beta1", beta1, "must be in [0, 1)");
  detail::check_option(beta2 >= 0 && beta2 < 1, name, "beta2", beta2, "must be in [0, 1)");
  detail::check_option(o.weight_decay() >= 0, name, "weight_decay", o.weight_decay(), "must be >= 0");
}

/// The moment updates and the bias-corrected step shared by Adam and AdamW; `grad` already includes any L2 term.
void adam_step(Tensor& param, const Tensor& grad, double lr, const AdamBetas& betas, double eps, bool amsgrad,
               OptimizerParamState& state) {
  const auto [beta1, beta2] = betas;
  auto zeros = [&] { return zeros_like(param); };
  Tensor exp_avg = state.get_or_create("exp_avg", zeros);
  Tensor exp_avg_sq = state.get_or_create("exp_avg_sq", zeros);
  exp_avg.mul_(beta1).add_(grad, 1 - beta1);
  exp_avg_sq.mul_(beta2).add_(grad.mul(grad), 1 - beta2);

  const auto step = static_cast<double>(state.step());
  const double bias_correction1 = 1 - std::pow(beta1, step);
  const double bias_correction2_sqrt = std::sqrt(1 - std::pow(beta2, step));
  const double step_size = lr / bias_correction1;

  Tensor denom;
  if (amsgrad) {
    Tensor max_exp_avg_sq = state.get_or_create("max_exp_avg_sq", zeros);
    max_exp_avg_sq.copy_(maximum(max_exp_avg_sq, exp_avg_sq));
    denom = max_exp_avg_sq.sqrt();
  } else {
    denom = exp_avg_sq.sqrt();
  }
  denom.div_(bias_correction2_sqrt).add_(eps);
  Tensor change = exp_avg.div(denom);
  change.mul_(-step_size);
  param.add_(change);
}

}  // namespace

// ---- Adam ---------------------------------------------------------------------------------------------------
void AdamOptions::for_each_field(const FieldVisitor& fn) { visit_adam_fields(*this, fn, &visit_flag); }

Adam::Adam(const std::vector<OptimizerParamGroup>& param_groups, const AdamOptions& defaults)
    : Optimizer(std::make_unique<AdamOptions>(defaults)) {
  init(param_groups);
}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& defaults)
    : Adam(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, defaults) {}

void Adam::check_options(const OptimizerOptions& options) const {
  check_adam_options(detail::options_as<AdamOptions>(options, name()), name());
}

void Adam::update(Tensor& param, const Tensor& grad, const OptimizerOptions& options, OptimizerParamState& state) {
  const auto& o = detail::options_as<AdamOptions>(options, name());
  const Tensor g = o.weight_decay() != 0 ? grad.add(param, o.weight_decay()) : grad;
  adam_step(param, g, o.lr(), o.betas(), o.eps(), o.amsgrad(), state);
}

// ---- AdamW --------------------------------------------------------------------------------------------------
void AdamWOptions::for_each_field(const FieldVisitor& fn) { visit_adam_fields(*this, fn, &visit_flag); }

AdamW::AdamW(const std::vector<OptimizerParamGroup>& param_groups, const AdamWOptions& defaults)
    : Optimizer(std::make_unique<AdamWOptions>(defaults)) {
  init(param_groups);
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& defaults)
    : AdamW(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, defaults) {}

void AdamW::check_options(const OptimizerOptions& options) const {
  check_adam_options(detail::options_as<AdamWOptions>(options, name()), name());
}

void AdamW::update(Tensor& param, const Tensor& grad, const OptimizerOptions& options, OptimizerParamState& state) {
  const auto& o = detail::options_as<AdamWOptions>(options, name());
  if (o.weight_decay() != 0) param.mul_(1 - o.lr() * o.weight_decay());
  adam_step(param, grad, o.lr(), o.betas(), o.eps(), o.amsgrad(), state);
}

}  // namespace tandem::optim

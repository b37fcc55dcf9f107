// Adam and AdamW. Both keep first and second moment estimates (exp_avg, exp_avg_sq) of the gradient and take
// a bias-corrected step, as libtorch does:
//
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2             (amsgrad: v_max = max(v_max, v), used in place of v below)
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//
// They differ in weight decay: Adam adds it to the gradient (L2, g = grad + weight_decay * p, which the
// adaptive denominator then rescales), AdamW decouples it and shrinks the parameter before the step
// (p = p * (1 - lr * weight_decay)).
#pragma once

#include <tuple>

#include "nn/optim/optimizer.h"

namespace tandem::optim {

/// (beta1, beta2): the decay rates of the first and second moment estimates.
using AdamBetas = std::tuple<double, double>;

/// Hyper-parameters of Adam: `AdamOptions(1e-3).betas({0.9, 0.999}).weight_decay(0)`.
struct AdamOptions : public OptimizerCloneableOptions<AdamOptions> {
  explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
  TANDEM_ARG(double, lr);
  TANDEM_ARG(AdamBetas, betas) = {0.9, 0.999};
  TANDEM_ARG(double, eps) = 1e-8;
  TANDEM_ARG(double, weight_decay) = 0;
  TANDEM_ARG(bool, amsgrad) = false;
  void for_each_field(const FieldVisitor& fn) override;
};

/// Hyper-parameters of AdamW: as Adam's, with decoupled weight decay defaulting to 1e-2.
struct AdamWOptions : public OptimizerCloneableOptions<AdamWOptions> {
  explicit AdamWOptions(double lr = 1e-3) : lr_(lr) {}
  TANDEM_ARG(double, lr);
  TANDEM_ARG(AdamBetas, betas) = {0.9, 0.999};
  TANDEM_ARG(double, eps) = 1e-8;
  TANDEM_ARG(double, weight_decay) = 1e-2;
  TANDEM_ARG(bool, amsgrad) = false;
  void for_each_field(const FieldVisitor& fn) override;
};

class Adam : public Optimizer {
 public:
  Adam(const std::vector<OptimizerParamGroup>& param_groups, const AdamOptions& defaults = AdamOptions());
  Adam(std::vector<Tensor> params, const AdamOptions& defaults = AdamOptions());
  std::string name() const override { return "Adam"; }

 protected:
  void update(Tensor& param, const Tensor& grad, const OptimizerOptions& options, OptimizerParamState& state) override;
  void check_options(const OptimizerOptions& options) const override;
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }
};

class AdamW : public Optimizer {
 public:
  AdamW(const std::vector<OptimizerParamGroup>& param_groups, const AdamWOptions& defaults = AdamWOptions());
  AdamW(std::vector<Tensor> params, const AdamWOptions& defaults = AdamWOptions());
  std::string name() const override { return "AdamW"; }

 protected:
  void update(Tensor& param, const Tensor& grad, const OptimizerOptions& options, OptimizerParamState& state) override;
  void check_options(const OptimizerOptions& options) const override;
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }
};

}  // namespace tandem::optim

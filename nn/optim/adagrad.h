// Adagrad: scales each coordinate by the inverse root of its accumulated squared gradients, as libtorch does:
//
//   g = grad + weight_decay * p
//   clr = lr / (1 + (t - 1) * lr_decay)         (t: the step count, from 1)
//   sum = sum + g^2                             (sum starts at initial_accumulator_value)
//   p = p - clr * g / (sqrt(sum) + eps)
#pragma once

#include "nn/optim/optimizer.h"

namespace tandem::optim {

/// Hyper-parameters of Adagrad: `AdagradOptions(1e-2).lr_decay(0).initial_accumulator_value(0.1)`.
struct AdagradOptions : public OptimizerCloneableOptions<AdagradOptions> {
  explicit AdagradOptions(double lr = 1e-2) : lr_(lr) {}
  TANDEM_ARG(double, lr);
  TANDEM_ARG(double, lr_decay) = 0;
  TANDEM_ARG(double, weight_decay) = 0;
  TANDEM_ARG(double, initial_accumulator_value) = 0;
  TANDEM_ARG(double, eps) = 1e-10;
  void for_each_field(const FieldVisitor& fn) override;
};

class Adagrad : public Optimizer {
 public:
  Adagrad(const std::vector<OptimizerParamGroup>& param_groups, const AdagradOptions& defaults = AdagradOptions());
  Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults = AdagradOptions());
  std::string name() const override { return "Adagrad"; }

 protected:
  void update(Tensor& param, const Tensor& grad, const OptimizerOptions& options, OptimizerParamState& state) override;
  void check_options(const OptimizerOptions& options) const override;
  std::vector<std::string> state_names() const override { return {"sum"}; }
};

}  // namespace tandem::optim

// RMSprop: divides the gradient by a running root-mean-square of recent gradients, as libtorch does:
//
//   g = grad + weight_decay * p
//   s = alpha * s + (1 - alpha) * g^2                           (square_avg)
//   centered: a = alpha * a + (1 - alpha) * g  (grad_avg), denom = sqrt(s - a^2) + eps
//   otherwise:                                              denom = sqrt(s) + eps
//   momentum > 0: b = momentum * b + g / denom, p = p - lr * b  (momentum_buffer)
//   otherwise:    p = p - lr * g / denom
#pragma once

#include "nn/optim/optimizer.h"

namespace tandem::optim {

/// Hyper-parameters of RMSprop: `RMSpropOptions(1e-2).alpha(0.99).momentum(0.9).centered(true)`.
struct RMSpropOptions : public OptimizerCloneableOptions<RMSpropOptions> {
  explicit RMSpropOptions(double lr = 1e-2) : lr_(lr) {}
  TANDEM_ARG(double, lr);
  TANDEM_ARG(double, alpha) = 0.99;
  TANDEM_ARG(double, eps) = 1e-8;
  TANDEM_ARG(double, weight_decay) = 0;
  TANDEM_ARG(double, momentum) = 0;
  TANDEM_ARG(bool, centered) = false;
  void for_each_field(const FieldVisitor& fn) override;
};

class RMSprop : public Optimizer {
 public:
  RMSprop(const std::vector<OptimizerParamGroup>& param_groups, const RMSpropOptions& defaults = RMSpropOptions());
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults = RMSpropOptions());
  std::string name() const override { return "RMSprop"; }

 protected:
  void update(Tensor& param, const Tensor& grad, const OptimizerOptions& options, OptimizerParamState& state) override;
  void check_options(const OptimizerOptions& options) const override;
  std::vector<std::string> state_names() const override { return {"square_avg", "grad_avg", "momentum_buffer"}; }
};

}  // namespace tandem::optim

// Stochastic gradient descent with optional momentum (heavy-ball or Nesterov), dampening and L2 weight decay,
// following libtorch's rule:
//
//   g = grad + weight_decay * p
//   buf = g                                       (first step)
//   buf = momentum * buf + (1 - dampening) * g    (later steps)
//   g = nesterov ? g + momentum * buf : buf       (when momentum != 0)
//   p = p - lr * g
#pragma once

#include "nn/optim/optimizer.h"

namespace tandem::optim {

/// Hyper-parameters of SGD: `SGDOptions(0.1).momentum(0.9).nesterov(true)`.
struct SGDOptions : public OptimizerCloneableOptions<SGDOptions> {
  explicit SGDOptions(double lr) : lr_(lr) {}
  TANDEM_ARG(double, lr);
  TANDEM_ARG(double, momentum) = 0;
  TANDEM_ARG(double, dampening) = 0;
  TANDEM_ARG(double, weight_decay) = 0;
  TANDEM_ARG(bool, nesterov) = false;
  void for_each_field(const FieldVisitor& fn) override;
};

class SGD : public Optimizer {
 public:
  SGD(const std::vector<OptimizerParamGroup>& param_groups, const SGDOptions& defaults);
  SGD(std::vector<Tensor> params, const SGDOptions& defaults);
  std::string name() const override { return "SGD"; }

 protected:
  void update(Tensor& param, const Tensor& grad, const OptimizerOptions& options, OptimizerParamState& state) override;
  void check_options(const OptimizerOptions& options) const override;
  std::vector<std::string> state_names() const override { return {"momentum_buffer"}; }
};

}  // namespace tandem::optim

// Linear, Identity and Flatten.
#include "nn/modules/linear.h"

#include <cmath>

#include "nn/functional.h"
#include "nn/init.h"

namespace tandem::nn {

LinearImpl::LinearImpl(const LinearOptions& options) : options(options) { reset(); }

void LinearImpl::reset() {
  TD_CHECK(options.in_features() >= 0 && options.out_features() >= 0,
           "Linear: in_features and out_features must be non-negative, got ", options.in_features(), " and ",
           options.out_features());
  weight = register_parameter("weight", empty({options.out_features(), options.in_features()}));
  if (options.bias())
    bias = register_parameter("bias", empty({options.out_features()}));
  else
    bias = Tensor();
  reset_parameters();
}

void LinearImpl::reset_parameters() {
  if (options.in_features() == 0) {  // no fan to scale by: the layer computes the bias alone
    init::zeros_(weight);
    if (bias.defined()) init::zeros_(bias);
    return;
  }
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options.in_features()));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor LinearImpl::forward(const Tensor& input) {
  TD_CHECK(input.defined(), "Linear: the input is undefined");
  TD_CHECK(input.dim() >= 1 && input.size(-1) == options.in_features(), "Linear: expected input of shape [..., ",
           options.in_features(), "] (in_features = ", options.in_features(), "), got shape ", input.sizes());
  return functional::linear(input, weight, bias);
}

void LinearImpl::pretty_print(std::ostream& os) const {
  os << "Linear(in_features=" << options.in_features() << ", out_features=" << options.out_features()
     << ", bias=" << (options.bias() ? "true" : "false") << ")";
}

Tensor FlattenImpl::forward(const Tensor& input) {
  TD_CHECK(input.defined(), "Flatten: the input is undefined");
  return input.flatten(options.start_dim(), options.end_dim());
}

void FlattenImpl::pretty_print(std::ostream& os) const {
  os << "Flatten(start_dim=" << options.start_dim() << ", end_dim=" << options.end_dim() << ")";
}

}  // namespace tandem::nn

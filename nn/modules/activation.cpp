// Activation layers: thin forwards to the element-wise and softmax ops.
#include "nn/modules/activation.h"

namespace tandem::nn {

namespace {
void check_defined(const Tensor& input, const char* name) {
  TD_CHECK(input.defined(), name, ": the input is undefined");
}
}  // namespace

Tensor ReLUImpl::forward(const Tensor& input) {
  check_defined(input, "ReLU");
  return tandem::relu(input);
}

Tensor LeakyReLUImpl::forward(const Tensor& input) {
  check_defined(input, "LeakyReLU");
  return tandem::leaky_relu(input, options.negative_slope());
}

void LeakyReLUImpl::pretty_print(std::ostream& os) const {
  os << "LeakyReLU(negative_slope=" << options.negative_slope() << ")";
}

GELUImpl::GELUImpl(const GELUOptions& options) : options(options) { reset(); }

void GELUImpl::reset() {
  TD_CHECK(options.approximate() == "none" || options.approximate() == "tanh",
           "GELU: approximate must be \"none\" or \"tanh\", got \"", options.approximate(), "\"");
}

Tensor GELUImpl::forward(const Tensor& input) {
  check_defined(input, "GELU");
  return tandem::gelu(input, options.approximate());
}

void GELUImpl::pretty_print(std::ostream& os) const { os << "GELU(approximate=" << options.approximate() << ")"; }

Tensor SiLUImpl::forward(const Tensor& input) {
  check_defined(input, "SiLU");
  return tandem::silu(input);
}

Tensor TanhImpl::forward(const Tensor& input) {
  check_defined(input, "Tanh");
  return tandem::tanh(input);
}

Tensor SigmoidImpl::forward(const Tensor& input) {
  check_defined(input, "Sigmoid");
  return tandem::sigmoid(input);
}

Tensor SoftmaxImpl::forward(const Tensor& input) {
  check_defined(input, "Softmax");
  return tandem::softmax(input, options.dim());
}

void SoftmaxImpl::pretty_print(std::ostream& os) const { os << "Softmax(dim=" << options.dim() << ")"; }

Tensor LogSoftmaxImpl::forward(const Tensor& input) {
  check_defined(input, "LogSoftmax");
  return tandem::log_softmax(input, options.dim());
}

void LogSoftmaxImpl::pretty_print(std::ostream& os) const { os << "LogSoftmax(dim=" << options.dim() << ")"; }

}  // namespace tandem::nn

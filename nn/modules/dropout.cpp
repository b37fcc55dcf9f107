// Dropout over tandem::dropout, switched by the module's training flag.
#include "nn/modules/dropout.h"

namespace tandem::nn {

DropoutImpl::DropoutImpl(const DropoutOptions& options) : options(options) { reset(); }

void DropoutImpl::reset() {
  TD_CHECK(options.p() >= 0 && options.p() <= 1, "Dropout: probability has to be between 0 and 1, but got ",
           options.p());
}

Tensor DropoutImpl::forward(const Tensor& input) {
  TD_CHECK(input.defined(), "Dropout: the input is undefined");
  return tandem::dropout(input, options.p(), is_training());
}

void DropoutImpl::pretty_print(std::ostream& os) const { os << "Dropout(p=" << options.p() << ")"; }

}  // namespace tandem::nn

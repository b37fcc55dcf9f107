// Dropout: zeroes each element with probability p while training (scaling the survivors by 1/(1-p)), and
// passes the input through unchanged in evaluation mode. DropoutOptions lives in nn/functional.h.
#pragma once

#include <ostream>

#include "nn/functional.h"
#include "nn/module.h"

namespace tandem::nn {

class DropoutImpl : public Cloneable<DropoutImpl> {
 public:
  explicit DropoutImpl(double p) : DropoutImpl(DropoutOptions(p)) {}
  explicit DropoutImpl(const DropoutOptions& options = {});
  void reset() override;
  /// Drops elements when is_training(), identity otherwise.
  Tensor forward(const Tensor& input);
  /// "Dropout(p=0.5)".
  void pretty_print(std::ostream& os) const override;

  DropoutOptions options;
};
TANDEM_MODULE(Dropout);

}  // namespace tandem::nn

// Pooling layers over [N, C, H, W] (or unbatched [C, H, W]) inputs: MaxPool2d, AvgPool2d and
// AdaptiveAvgPool2d. Their options (MaxPool2dOptions, ...) are shared with the functional forms and live in
// nn/functional.h.
#pragma once

#include <ostream>

#include "nn/functional.h"
#include "nn/module.h"

namespace tandem::nn {

/// The maximum over each kernel_size window.
class MaxPool2dImpl : public Cloneable<MaxPool2dImpl> {
 public:
  explicit MaxPool2dImpl(ExpandingArray2 kernel_size) : MaxPool2dImpl(MaxPool2dOptions(kernel_size)) {}
  explicit MaxPool2dImpl(const MaxPool2dOptions& options) : options(options) {}
  void reset() override {}
  Tensor forward(const Tensor& input);
  /// "MaxPool2d(kernel_size=[2, 2], stride=[2, 2], padding=[0, 0], dilation=[1, 1])".
  void pretty_print(std::ostream& os) const override;

  MaxPool2dOptions options;
};
TANDEM_MODULE(MaxPool2d);

/// The mean over each kernel_size window (padding counts as zeros).
class AvgPool2dImpl : public Cloneable<AvgPool2dImpl> {
 public:
  explicit AvgPool2dImpl(ExpandingArray2 kernel_size) : AvgPool2dImpl(AvgPool2dOptions(kernel_size)) {}
  explicit AvgPool2dImpl(const AvgPool2dOptions& options) : options(options) {}
  void reset() override {}
  Tensor forward(const Tensor& input);
  /// "AvgPool2d(kernel_size=[2, 2], stride=[2, 2], padding=[0, 0])".
  void pretty_print(std::ostream& os) const override;

  AvgPool2dOptions options;
};
TANDEM_MODULE(AvgPool2d);

/// Average pooling to a fixed output size, whatever the input size: output cell (i, j) averages input rows
/// [floor(i H / oh), ceil((i + 1) H / oh)) and columns [floor(j W / ow), ceil((j + 1) W / ow)).
class AdaptiveAvgPool2dImpl : public Cloneable<AdaptiveAvgPool2dImpl> {
 public:
  explicit AdaptiveAvgPool2dImpl(ExpandingArray2 output_size)
      : AdaptiveAvgPool2dImpl(AdaptiveAvgPool2dOptions(output_size)) {}
  explicit AdaptiveAvgPool2dImpl(const AdaptiveAvgPool2dOptions& options) : options(options) {}
  void reset() override {}
  Tensor forward(const Tensor& input);
  /// "AdaptiveAvgPool2d(output_size=[7, 7])".
  void pretty_print(std::ostream& os) const override;

  AdaptiveAvgPool2dOptions options;
};
TANDEM_MODULE(AdaptiveAvgPool2d);

}  // namespace tandem::nn

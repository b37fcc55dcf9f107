// Linear, Identity and Flatten: the fully connected layer and the two shape-only layers that usually sit
// around it.
#pragma once

#include <cstdint>
#include <ostream>

#include "nn/module.h"
#include "nn/options.h"

namespace tandem::nn {

/// Options of Linear: y = x W^T + b with W [out_features, in_features] and b [out_features].
struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  TANDEM_ARG(int64_t, in_features);
  TANDEM_ARG(int64_t, out_features);
  TANDEM_ARG(bool, bias) = true;
};

/// y = x W^T + b over the last dimension of x (any number of leading dimensions). Weight and bias start as
/// U(-1/sqrt(in_features), 1/sqrt(in_features)), libtorch's default.
class LinearImpl : public Cloneable<LinearImpl> {
 public:
  LinearImpl(int64_t in_features, int64_t out_features) : LinearImpl(LinearOptions(in_features, out_features)) {}
  explicit LinearImpl(const LinearOptions& options);

  void reset() override;
  /// Redraws the weight and bias with the default initialisation.
  void reset_parameters();
  /// x [..., in_features] -> [..., out_features].
  Tensor forward(const Tensor& input);
  /// "Linear(in_features=784, out_features=10, bias=true)".
  void pretty_print(std::ostream& os) const override;

  LinearOptions options;
  Tensor weight;  ///< [out_features, in_features]
  Tensor bias;    ///< [out_features], undefined when options.bias() is false
};
TANDEM_MODULE(Linear);

/// Returns its input unchanged; stands in where a layer is optional.
class IdentityImpl : public Cloneable<IdentityImpl> {
 public:
  IdentityImpl() = default;
  void reset() override {}
  Tensor forward(const Tensor& input) { return input; }
  void pretty_print(std::ostream& os) const override { os << "Identity()"; }
};
TANDEM_MODULE(Identity);

/// Options of Flatten: the (inclusive) range of dimensions merged into one.
struct FlattenOptions {
  FlattenOptions(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}  // NOLINT
  TANDEM_ARG(int64_t, start_dim);
  TANDEM_ARG(int64_t, end_dim);
};

/// Merges dimensions start_dim..end_dim (by default all but the batch dimension) into one.
class FlattenImpl : public Cloneable<FlattenImpl> {
 public:
  explicit FlattenImpl(const FlattenOptions& options = {}) : options(options) {}
  void reset() override {}
  Tensor forward(const Tensor& input);
  /// "Flatten(start_dim=1, end_dim=-1)".
  void pretty_print(std::ostream& os) const override;

  FlattenOptions options;
};
TANDEM_MODULE(Flatten);

}  // namespace tandem::nn

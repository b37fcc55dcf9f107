// Normalisation layers: BatchNorm1d and BatchNorm2d (per-channel batch statistics in training, running
// statistics in evaluation) and LayerNorm (per-sample statistics over the trailing dimensions).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <vector>

#include "nn/module.h"
#include "nn/options.h"

namespace tandem::nn {

/// Options of BatchNorm1d/BatchNorm2d. momentum: weight of the new batch in the running statistics
/// (running = (1 - momentum) running + momentum batch); std::nullopt gives the cumulative average
/// (momentum = 1 / num_batches_tracked). affine: learn a per-channel weight (init 1) and bias (init 0).
/// track_running_stats: keep running_mean/running_var/num_batches_tracked buffers; without them the batch
/// statistics are used in evaluation too.
struct BatchNormOptions {
  BatchNormOptions(int64_t num_features) : num_features_(num_features) {}  // NOLINT
  TANDEM_ARG(int64_t, num_features);
  TANDEM_ARG(double, eps) = 1e-5;
  TANDEM_ARG(std::optional<double>, momentum) = 0.1;
  TANDEM_ARG(bool, affine) = true;
  TANDEM_ARG(bool, track_running_stats) = true;
};

/// What BatchNorm1d and BatchNorm2d share: options, parameters, buffers and the normalisation itself; the
/// derived classes check the input's rank (BatchNorm1d: [N, C] or [N, C, L]; BatchNorm2d: [N, C, H, W]).
template <typename Derived>
class BatchNormImplBase : public Cloneable<Derived> {
 public:
  explicit BatchNormImplBase(const BatchNormOptions& options) : options(options) {}

  void reset() override;
  /// Running statistics back to mean 0, variance 1, and no batches seen.
  void reset_running_stats();
  /// Running statistics reset, weight 1, bias 0.
  void reset_parameters();
  /// "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)".
  void pretty_print(std::ostream& os) const override;

  BatchNormOptions options;
  Tensor weight;               ///< [num_features], undefined unless affine
  Tensor bias;                 ///< [num_features], undefined unless affine
  Tensor running_mean;         ///< [num_features] buffer, undefined unless track_running_stats
  Tensor running_var;          ///< [num_features] buffer, undefined unless track_running_stats
  Tensor num_batches_tracked;  ///< int64 scalar buffer, undefined unless track_running_stats

 protected:
  /// Normalises an input whose shape the derived class has checked.
  Tensor normalize(const Tensor& input);
};

/// Batch normalisation of [N, C] or [N, C, L] inputs over N (and L).
class BatchNorm1dImpl : public BatchNormImplBase<BatchNorm1dImpl> {
 public:
  explicit BatchNorm1dImpl(const BatchNormOptions& options) : BatchNormImplBase(options) { reset(); }
  Tensor forward(const Tensor& input);
};
TANDEM_MODULE(BatchNorm1d);

/// Batch normalisation of [N, C, H, W] inputs over N, H and W.
class BatchNorm2dImpl : public BatchNormImplBase<BatchNorm2dImpl> {
 public:
  explicit BatchNorm2dImpl(const BatchNormOptions& options) : BatchNormImplBase(options) { reset(); }
  Tensor forward(const Tensor& input);
};
TANDEM_MODULE(BatchNorm2d);

using BatchNorm1dOptions = BatchNormOptions;
using BatchNorm2dOptions = BatchNormOptions;

extern template class BatchNormImplBase<BatchNorm1dImpl>;
extern template class BatchNormImplBase<BatchNorm2dImpl>;

/// Options of LayerNorm: the trailing shape normalised over; elementwise_affine learns a weight (init 1) and
/// bias (init 0) of that shape.
struct LayerNormOptions {
  LayerNormOptions(std::vector<int64_t> normalized_shape) : normalized_shape_(std::move(normalized_shape)) {}  // NOLINT
  TANDEM_ARG(std::vector<int64_t>, normalized_shape);
  TANDEM_ARG(double, eps) = 1e-5;
  TANDEM_ARG(bool, elementwise_affine) = true;
};

/// Normalises each sample over its trailing normalized_shape dimensions (mean 0, variance 1), then applies
/// the optional elementwise affine map.
class LayerNormImpl : public Cloneable<LayerNormImpl> {
 public:
  explicit LayerNormImpl(const LayerNormOptions& options);
  void reset() override;
  void reset_parameters();
  Tensor forward(const Tensor& input);
  /// "LayerNorm([64], eps=1e-05, elementwise_affine=true)".
  void pretty_print(std::ostream& os) const override;

  LayerNormOptions options;
  Tensor weight;  ///< normalized_shape, undefined unless elementwise_affine
  Tensor bias;    ///< normalized_shape, undefined unless elementwise_affine
};
TANDEM_MODULE(LayerNorm);

}  // namespace tandem::nn

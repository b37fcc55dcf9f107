// Samplers decide which dataset indices an epoch visits, and in which order (libtorch: torch::data::samplers).
// A sampler is a pure function of the epoch number: indices(e) always returns the same list for the same
// settings, and RandomSampler and WeightedRandomSampler draw a fresh list for every epoch from (seed, epoch).
// The DataLoader cuts the list into batches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace tandem::nn::data {

class Sampler {
 public:
  virtual ~Sampler() = default;
  /// The dataset indices of epoch `epoch`, in visiting order (size() of them).
  virtual std::vector<size_t> indices(uint64_t epoch) const = 0;
  /// How many indices each epoch has.
  virtual size_t size() const = 0;
  /// The sampler and its settings, for messages.
  virtual std::string name() const = 0;
};

using SamplerPtr = std::shared_ptr<const Sampler>;

/// 0, 1, ..., size - 1 in every epoch.
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(size_t size);
  std::vector<size_t> indices(uint64_t epoch) const override;
  size_t size() const override { return size_; }
  std::string name() const override;

 private:
  size_t size_;
};

/// A uniformly random permutation of 0 .. size - 1, a new one each epoch, drawn from (seed, epoch).
class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(size_t size, uint64_t seed = 0);
  std::vector<size_t> indices(uint64_t epoch) const override;
  size_t size() const override { return size_; }
  std::string name() const override;
  uint64_t seed() const { return seed_; }

 private:
  size_t size_;
  uint64_t seed_;
};

/// num_samples indices drawn with probability proportional to `weights` (one non-negative, finite weight per
/// dataset index; they need not sum to 1), e.g. to rebalance classes. With replacement an index may come back
/// any number of times; without, each index comes at most once (weighted sampling without replacement: each
/// next draw is proportional to the weights of the indices not yet drawn), so num_samples may not exceed the
/// number of positive weights.
class WeightedRandomSampler : public Sampler {
 public:
  WeightedRandomSampler(std::vector<double> weights, size_t num_samples, bool replacement = true, uint64_t seed = 0);
  /// weights as a 1-D tensor of any dtype.
  WeightedRandomSampler(const Tensor& weights, size_t num_samples, bool replacement = true, uint64_t seed = 0);
  std::vector<size_t> indices(uint64_t epoch) const override;
  size_t size() const override { return num_samples_; }
  std::string name() const override;
  const std::vector<double>& weights() const { return weights_; }
  bool replacement() const { return replacement_; }
  uint64_t seed() const { return seed_; }

 private:
  std::vector<double> weights_;
  std::vector<double> cumulative_;  ///< running sums of weights_, for inverse-CDF draws with replacement
  size_t num_samples_;
  bool replacement_;
  uint64_t seed_;
};

}  // namespace tandem::nn::data

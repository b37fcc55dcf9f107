// Per-sample transforms for image data (torchvision.transforms in spirit): Normalize, RandomCrop,
// RandomHorizontalFlip, Compose to chain them and Lambda to wrap a function. They take CPU tensors [C, H, W]
// or [H, W] (one channel) and return new tensors; the input is never modified.
//
// Randomness is reproducible and independent of threading: a random transform draws from a generator seeded
// by (its own seed, key.epoch, key.index, key.stream), where the key comes from TransformDataset (epoch set by
// the DataLoader, index of the sample). The same seed therefore gives the same augmentation of sample i in
// epoch e however many workers load the data, and a different one in the next epoch.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nn/data/dataset.h"
#include "nn/options.h"
#include "tensor/tensor.h"

namespace tandem::nn::data {

/// A per-sample tensor transform. apply must be const and thread-safe: it may run on several samples at once.
class Transform {
 public:
  virtual ~Transform() = default;
  /// The transformed copy of x; `key` identifies the sample (and epoch) for random transforms.
  virtual Tensor apply(const Tensor& x, const SampleKey& key) const = 0;
  /// Same as apply.
  Tensor operator()(const Tensor& x, const SampleKey& key = {}) const { return apply(x, key); }
  /// The transform and its settings, e.g. "RandomCrop(size=[28, 28], padding=2)".
  virtual std::string name() const = 0;
};

using TransformPtr = std::shared_ptr<const Transform>;

/// (x - mean[c]) / std[c] for each channel c. x is [C, H, W] (channels at dim -3; leading batch dims allowed)
/// or [H, W] (one channel) and floating; mean and std have one value (for all channels) or C values, and
/// every std must be nonzero.
class Normalize : public Transform {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor apply(const Tensor& x, const SampleKey& key) const override;
  std::string name() const override;
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& std() const { return std_; }

 private:
  std::vector<double> mean_;
  std::vector<double> std_;
};

/// Pads the last two dims of x ([C, H, W] or [H, W]) with `padding` zeros on every side, then cuts out a
/// window of `size` ([h, w], or one number for a square) at a uniformly random position. Throws when the padded
/// image is smaller than the window.
class RandomCrop : public Transform {
 public:
  explicit RandomCrop(ExpandingArray2 size, int64_t padding = 0, uint64_t seed = 0);
  /// RandomCrop({h, w}, ...): a braced size (without this overload, {h, w} would also read as a RandomCrop).
  explicit RandomCrop(std::initializer_list<int64_t> size, int64_t padding = 0, uint64_t seed = 0)
      : RandomCrop(ExpandingArray2(size), padding, seed) {}
  Tensor apply(const Tensor& x, const SampleKey& key) const override;
  std::string name() const override;
  const ExpandingArray2& size() const { return size_; }
  int64_t padding() const { return padding_; }
  uint64_t seed() const { return seed_; }

 private:
  ExpandingArray2 size_;
  int64_t padding_;
  uint64_t seed_;
};

/// Reverses the last dim (width) of x with probability p, else returns a copy of x.
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5, uint64_t seed = 0);
  Tensor apply(const Tensor& x, const SampleKey& key) const override;
  std::string name() const override;
  double p() const { return p_; }
  uint64_t seed() const { return seed_; }

 private:
  double p_;
  uint64_t seed_;
};

/// Applies transforms one after the other. Step i sees the key with its own stream (derived from the key's
/// stream and i), so two random steps with the same seed still draw independently.
class Compose : public Transform {
 public:
  explicit Compose(std::vector<TransformPtr> transforms);
  /// Takes the transforms by value: Compose(RandomCrop(28, 2), RandomHorizontalFlip(), Normalize({0.5}, {0.5})).
  template <typename... Ts>
  requires(sizeof...(Ts) > 0 &&
           (std::is_base_of_v<Transform, std::decay_t<Ts>> && ...)) explicit Compose(Ts&&... transforms)
      : Compose(std::vector<TransformPtr>{std::make_shared<const std::decay_t<Ts>>(std::forward<Ts>(transforms))...}) {}
  Tensor apply(const Tensor& x, const SampleKey& key) const override;
  std::string name() const override;
  const std::vector<TransformPtr>& transforms() const { return transforms_; }

 private:
  std::vector<TransformPtr> transforms_;
};

/// Wraps a function as a transform. fn must be thread-safe; for randomness, seed a generator from the key
/// (see derive_seed in nn/data/random.h).
class Lambda : public Transform {
 public:
  using Function = std::function<Tensor(const Tensor&, const SampleKey&)>;
  explicit Lambda(Function fn, std::string name = "Lambda");
  Tensor apply(const Tensor& x, const SampleKey& key) const override;
  std::string name() const override { return name_; }

 private:
  Function fn_;
  std::string name_;
};

}  // namespace tandem::nn::data

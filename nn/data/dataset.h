// Datasets: the indexable sources a DataLoader draws from (libtorch: torch::data::datasets). A Dataset maps an
// index in [0, size()) to an Example (data, target). The building blocks here are
//   TensorDataset     samples are the rows (first dim) of a data tensor and of a targets tensor;
//   MapDataset        applies a function to every Example (per-sample preprocessing or augmentation);
//   TransformDataset  applies a Transform (nn/data/transforms.h) to the data and optionally to the target;
//   Subset            a view of another dataset through a list of indices (train/validation splits).
// A batch is an Example too, with the samples' data and targets stacked along a new first dim (collate).
//
// Wrappers keep the epoch number (set by the DataLoader at the start of each epoch) so that random transforms
// can draw different augmentations every epoch while staying reproducible. get() may be called from several
// DataLoader worker threads at once and must not change the dataset.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace tandem::nn::data {

/// One sample (or, stacked, one batch): its input data and its target. target is undefined for unlabelled data.
struct Example {
  Tensor data;
  Tensor target;
};

/// Stacks the examples' data (and targets) along a new first dim: n samples of shape S become one batch of
/// shape [n, S...]. Throws tandem::Error naming the first sample whose shape differs, or when only some
/// examples have a target.
Example collate(const std::vector<Example>& examples);

/// An indexable collection of examples. Implementations must allow concurrent calls of get() (the DataLoader's
/// workers call it from several threads) and must throw tandem::Error for an index >= size().
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// The example at `index`, in [0, size()).
  virtual Example get(size_t index) = 0;
  /// The number of examples.
  virtual size_t size() const = 0;
  /// The batch of the examples at `indices` (collate of get(i) for each i). Datasets that can gather a whole
  /// batch at once (TensorDataset: one index_select per tensor) override it.
  virtual Example get_batch(const std::vector<size_t>& indices);
  /// Tells the dataset which epoch is being read, so that random per-sample transforms can vary between epochs;
  /// wrappers pass it on to the dataset they wrap. Called by the DataLoader when an epoch starts, while no
  /// worker is reading.
  virtual void set_epoch(uint64_t epoch) { (void)epoch; }
  /// A short description for messages, e.g. "TensorDataset(size=100)".
  virtual std::string name() const;
};

using DatasetPtr = std::shared_ptr<Dataset>;

/// Samples are the slices along dim 0 of `data` [N, ...] and `targets` [N] (one label per sample) or [N, T]
/// (T labels per sample, e.g. one per task). targets may be undefined (then every example's target is too).
/// get(i) returns views of the two tensors; get_batch gathers the rows with index_select.
class TensorDataset : public Dataset {
 public:
  explicit TensorDataset(Tensor data, Tensor targets = {});
  Example get(size_t index) override;
  Example get_batch(const std::vector<size_t>& indices) override;
  size_t size() const override;
  std::string name() const override;
  /// The whole data tensor [N, ...].
  const Tensor& data() const { return data_; }
  /// The whole targets tensor [N] or [N, T] (undefined if the dataset has none).
  const Tensor& targets() const { return targets_; }

 protected:
  /// For derived datasets that load their tensors in their own constructor before calling set_tensors.
  TensorDataset() = default;
  /// Validates (data and targets agree on N) and stores the tensors.
  void set_tensors(Tensor data, Tensor targets);

 private:
  void check_index(size_t index) const;
  Tensor data_;
  Tensor targets_;
};

/// The context a per-sample function receives: which epoch is being read and which sample this is (its index
/// in the wrapped dataset). Random transforms derive their draws from it (see nn/data/random.h); `stream`
/// separates the draws of several random steps applied to the same sample (Compose gives each step its own).
struct SampleKey {
  uint64_t epoch = 0;
  uint64_t index = 0;
  uint64_t stream = 0;
};

/// Applies `fn(example, key)` to every example of the wrapped dataset. fn must be safe to call from several
/// threads at once (it is const and draws randomness only from the key).
class MapDataset : public Dataset {
 public:
  using Function = std::function<Example(Example, const SampleKey&)>;
  MapDataset(DatasetPtr dataset, Function fn);
  Example get(size_t index) override;
  size_t size() const override;
  void set_epoch(uint64_t epoch) override;
  std::string name() const override;
  /// The epoch last set (0 before any).
  uint64_t epoch() const { return epoch_.load(); }

 private:
  DatasetPtr dataset_;
  Function fn_;
  std::atomic<uint64_t> epoch_{0};
};

class Transform;

/// Applies `data_transform` to each example's data and, when given, `target_transform` to its target (the
/// torchvision convention). Either may be null (identity).
class TransformDataset : public Dataset {
 public:
  TransformDataset(DatasetPtr dataset, std::shared_ptr<const Transform> data_transform,
                   std::shared_ptr<const Transform> target_transform = nullptr);
  /// Takes a transform by value, e.g. TransformDataset(ds, Normalize({0.5}, {0.5})).
  template <typename T>
  requires std::is_base_of_v<Transform, std::decay_t<T>> TransformDataset(DatasetPtr dataset, T&& data_transform)
      : TransformDataset(std::move(dataset), std::make_shared<const std::decay_t<T>>(std::forward<T>(data_transform))) {
  }
  Example get(size_t index) override;
  size_t size() const override;
  void set_epoch(uint64_t epoch) override;
  std::string name() const override;
  /// The epoch last set (0 before any).
  uint64_t epoch() const { return epoch_.load(); }

 private:
  DatasetPtr dataset_;
  std::shared_ptr<const Transform> data_transform_;
  std::shared_ptr<const Transform> target_transform_;
  std::atomic<uint64_t> epoch_{0};
};

/// The examples of `dataset` at `indices`, in that order (indices may repeat). Throws tandem::Error when an
/// index is out of range.
class Subset : public Dataset {
 public:
  Subset(DatasetPtr dataset, std::vector<size_t> indices);
  Example get(size_t index) override;
  Example get_batch(const std::vector<size_t>& indices) override;
  size_t size() const override;
  void set_epoch(uint64_t epoch) override;
  std::string name() const override;
  const std::vector<size_t>& indices() const { return indices_; }

 private:
  size_t map_index(size_t index) const;
  DatasetPtr dataset_;
  std::vector<size_t> indices_;
};

/// Splits `dataset` into disjoint random subsets of the given lengths (which must add up to its size), e.g.
/// random_split(ds, {50000, 10000}, /*seed=*/0) for a train/validation split. The same seed gives the same split.
std::vector<std::shared_ptr<Subset>> random_split(const DatasetPtr& dataset, const std::vector<size_t>& lengths,
                                                  uint64_t seed = 0);

}  // namespace tandem::nn::data

// DataLoader: iterates over a dataset in batches, epoch after epoch (libtorch: torch::data::make_data_loader).
//
//   auto train = std::make_shared<nn::data::FashionMNIST>();
//   nn::data::DataLoader loader(train, nn::data::DataLoaderOptions(64).shuffle(true).workers(2));
//   for (int epoch = 0; epoch < 10; ++epoch)
//     for (nn::data::Example& batch : loader) { /* batch.data [64, 1, 28, 28], batch.target [64] */ }
//
// Every begin() starts a new epoch: it asks the sampler for the epoch's index list (a new permutation when
// shuffling), tells the dataset the epoch number (for per-epoch random transforms) and cuts the list into
// batches. With workers > 0, that many background threads load batches ahead of the consumer into a bounded
// window of workers * prefetch batches; the consumer still receives them in index-list order, so the batches
// are the same whatever the number of workers. An exception thrown while loading a batch is rethrown in the
// consumer when it reaches that batch, and ends the epoch. Leaving the loop early (break, exception) stops and
// joins the workers when the last iterator of the epoch is destroyed; starting a new epoch or destroying the
// loader stops a running one too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "nn/data/dataset.h"
#include "nn/data/samplers.h"
#include "nn/options.h"

namespace tandem::nn::data {

/// Builds a batch from the examples of one batch, in order. The default (an empty function) is collate(),
/// through Dataset::get_batch.
using CollateFunction = std::function<Example(const std::vector<Example>&)>;

struct DataLoaderOptions {
  explicit DataLoaderOptions(int64_t batch_size = 1) : batch_size_(batch_size) {}
  /// Examples per batch (>= 1).
  TANDEM_ARG(int64_t, batch_size) = 1;
  /// Visit the examples in a new random order every epoch (a RandomSampler seeded with seed()). Not allowed
  /// together with an explicit sampler.
  TANDEM_ARG(bool, shuffle) = false;
  /// Drop the last batch when it would be smaller than batch_size.
  TANDEM_ARG(bool, drop_last) = false;
  /// Background loading threads; 0 loads each batch on the consumer's thread when it is asked for.
  TANDEM_ARG(int64_t, workers) = 0;
  /// Batches each worker may load ahead of the consumer (>= 1).
  TANDEM_ARG(int64_t, prefetch) = 2;
  /// Seed of the shuffling permutations.
  TANDEM_ARG(uint64_t, seed) = 0;
  /// How examples become a batch; empty: stack data and targets (collate).
  TANDEM_ARG(CollateFunction, collate);
};

class DataLoader {
  struct Epoch;

 public:
  /// Loads `dataset` with `options`; `sampler`, when given, decides the indices of each epoch instead of the
  /// sequential (or, with shuffle, random) order. Throws tandem::Error for invalid options.
  DataLoader(DatasetPtr dataset, DataLoaderOptions options = DataLoaderOptions(), SamplerPtr sampler = nullptr);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// An input iterator over the batches of one epoch. Copies share the epoch: advancing one advances all.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Example;
    using difference_type = std::ptrdiff_t;
    using pointer = Example*;
    using reference = Example&;

    Iterator() = default;
    /// The current batch.
    Example& operator*() const;
    Example* operator->() const { return &**this; }
    /// Moves to the next batch (waits for it; rethrows an exception raised while loading it).
    Iterator& operator++();
    /// Equal when both are past the end, or both are the same epoch.
    friend bool operator==(const Iterator& a, const Iterator& b) {
      return a.at_end() == b.at_end() && (a.at_end() || a.epoch_ == b.epoch_);
    }
    friend bool operator!=(const Iterator& a, const Iterator& b) { return !(a == b); }

   private:
    friend class DataLoader;
    explicit Iterator(std::shared_ptr<Epoch> epoch) : epoch_(std::move(epoch)) {}
    bool at_end() const;
    std::shared_ptr<Epoch> epoch_;
  };

  /// Starts the next epoch (stopping a running one, whose iterators then read as finished) and returns an
  /// iterator at its first batch.
  Iterator begin();
  /// The past-the-end iterator.
  Iterator end() { return Iterator(); }
  /// Batches per epoch.
  size_t size() const;
  /// The number the next begin() gives its epoch (0 at first; each begin() adds one).
  uint64_t epoch() const { return next_epoch_; }
  /// Sets the number of the next epoch, e.g. to resume a run with the same shuffling as an uninterrupted one.
  void set_epoch(uint64_t epoch) { next_epoch_ = epoch; }
  const DataLoaderOptions& options() const { return options_; }
  const DatasetPtr& dataset() const { return dataset_; }
  const SamplerPtr& sampler() const { return sampler_; }

 private:
  DatasetPtr dataset_;
  DataLoaderOptions options_;
  SamplerPtr sampler_;
  uint64_t next_epoch_ = 0;
  std::weak_ptr<Epoch> running_;
};

}  // namespace tandem::nn::data

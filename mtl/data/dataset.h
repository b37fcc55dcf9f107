// Multi-task data held in memory: one input tensor, one target tensor per task and, for partial labels, one
// 0/1 mask per task ([N]; undefined = every sample labelled). A MultiTaskLoader cuts it into batches in a
// seeded order (the same order for the same seed and epoch, whatever the machine).
//
//   mtl::MultiTaskDataset train{images, {left_labels, right_labels}};
//   mtl::MultiTaskLoader loader(train, /*batch_size=*/256, /*shuffle=*/true, /*seed=*/0);
//   for (mtl::MultiTaskBatch batch : loader.epoch(e)) { ... batch.input, batch.targets[t], batch.masks[t] }
//
// Multi-input problems (a separate dataset per task) use one loader per task; see mtl/trainer.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace tandem::mtl {

struct MultiTaskBatch {
  Tensor input;
  std::vector<Tensor> targets;
  /// One per task; an undefined mask means every sample of the batch is labelled for that task.
  std::vector<Tensor> masks;
  int64_t size() const { return input.size(0); }
};

struct MultiTaskDataset {
  Tensor inputs;
  std::vector<Tensor> targets;
  std::vector<Tensor> masks;

  MultiTaskDataset() = default;
  MultiTaskDataset(Tensor inputs, std::vector<Tensor> targets, std::vector<Tensor> masks = {});
  int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
  size_t num_tasks() const { return targets.size(); }
  /// The samples at `indices` (int64 [n]) as a batch.
  MultiTaskBatch gather(const Tensor& indices) const;
  /// Samples [begin, end) as a new dataset sharing nothing with this one.
  MultiTaskDataset slice(int64_t begin, int64_t end) const;
  /// Throws a tandem::Error naming the task and shapes when targets/masks do not match the inputs.
  void check() const;
};

class MultiTaskLoader {
 public:
  MultiTaskLoader(const MultiTaskDataset& dataset, int64_t batch_size, bool shuffle = true, uint64_t seed = 0,
                  bool drop_last = false);
  /// The batches of one epoch, gathered lazily as they are iterated (the permutation depends only on the seed
  /// and the epoch number).
  class Epoch {
   public:
    class Iterator {
     public:
      Iterator(const Epoch* epoch, size_t index) : epoch_(epoch), index_(index) {}
      MultiTaskBatch operator*() const { return (*epoch_)[index_]; }
      Iterator& operator++() {
        ++index_;
        return *this;
      }
      bool operator!=(const Iterator& other) const { return index_ != other.index_; }

     private:
      const Epoch* epoch_;
      size_t index_;
    };
    Epoch(const MultiTaskLoader* loader, std::vector<int64_t> order) : loader_(loader), order_(std::move(order)) {}
    size_t size() const { return loader_->size(); }
    MultiTaskBatch operator[](size_t batch) const;
    Iterator begin() const { return {this, 0}; }
    Iterator end() const { return {this, size()}; }

   private:
    const MultiTaskLoader* loader_;
    std::vector<int64_t> order_;
  };
  Epoch epoch(uint64_t epoch) const;
  /// Number of batches per epoch.
  size_t size() const;
  const MultiTaskDataset& dataset() const { return dataset_; }
  int64_t batch_size() const { return batch_size_; }

 private:
  MultiTaskDataset dataset_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  bool drop_last_;
};

}  // namespace tandem::mtl

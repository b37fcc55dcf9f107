// In-memory multi-task datasets and their seeded batch loader.
#include "mtl/data/dataset.h"

#include <numeric>
#include <random>

#include "autograd/grad_mode.h"
#include "nn/data/random.h"
#include "tensor/functions.h"

namespace tandem::mtl {

MultiTaskDataset::MultiTaskDataset(Tensor inputs_, std::vector<Tensor> targets_, std::vector<Tensor> masks_)
    : inputs(std::move(inputs_)), targets(std::move(targets_)), masks(std::move(masks_)) {
  check();
}

void MultiTaskDataset::check() const {
  TD_CHECK(inputs.defined() && inputs.dim() >= 1, "MultiTaskDataset: inputs must have a sample dimension");
  TD_CHECK(!targets.empty(), "MultiTaskDataset: no task targets");
  TD_CHECK(masks.empty() || masks.size() == targets.size(), "MultiTaskDataset: ", masks.size(), " masks for ",
           targets.size(), " tasks");
  const int64_t n = inputs.size(0);
  for (size_t t = 0; t < targets.size(); ++t) {
    TD_CHECK(targets[t].defined() && targets[t].dim() >= 1 && targets[t].size(0) == n, "MultiTaskDataset: targets of task ",
             t, " have shape ", targets[t].defined() ? targets[t].sizes() : Dims{}, " but inputs have ", n, " samples");
    if (!masks.empty() && masks[t].defined())
      TD_CHECK(masks[t].dim() == 1 && masks[t].size(0) == n, "MultiTaskDataset: mask of task ", t, " has shape ",
               masks[t].sizes(), ", expected [", n, "]");
  }
}

MultiTaskBatch MultiTaskDataset::gather(const Tensor& indices) const {
  NoGradGuard no_grad;
  MultiTaskBatch batch;
  batch.input = inputs.index_select(0, indices);
  for (size_t t = 0; t < targets.size(); ++t) {
    batch.targets.push_back(targets[t].index_select(0, indices));
    batch.masks.push_back(!masks.empty() && masks[t].defined() ? masks[t].index_select(0, indices) : Tensor());
  }
  return batch;
}

MultiTaskDataset MultiTaskDataset::slice(int64_t begin, int64_t end) const {
  TD_CHECK(0 <= begin && begin <= end && end <= size(), "MultiTaskDataset::slice: [", begin, ", ", end,
           ") out of range for ", size(), " samples");
  NoGradGuard no_grad;
  MultiTaskDataset out;
  out.inputs = inputs.narrow(0, begin, end - begin).clone();
  for (size_t t = 0; t < targets.size(); ++t) {
    out.targets.push_back(targets[t].narrow(0, begin, end - begin).clone());
    if (!masks.empty()) out.masks.push_back(masks[t].defined() ? masks[t].narrow(0, begin, end - begin).clone() : Tensor());
  }
  return out;
}

MultiTaskLoader::MultiTaskLoader(const MultiTaskDataset& dataset, int64_t batch_size, bool shuffle, uint64_t seed,
                                 bool drop_last)
    : dataset_(dataset), batch_size_(batch_size), shuffle_(shuffle), seed_(seed), drop_last_(drop_last) {
  dataset_.check();
  TD_CHECK(batch_size > 0, "MultiTaskLoader: batch_size must be positive, got ", batch_size);
}

size_t MultiTaskLoader::size() const {
  const int64_t n = dataset_.size();
  return static_cast<size_t>(drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_);
}

MultiTaskLoader::Epoch MultiTaskLoader::epoch(uint64_t epoch) const {
  const int64_t n = dataset_.size();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (shuffle_) {
    std::mt19937_64 rng(nn::data::derive_seed(seed_, {epoch}));
    for (int64_t i = n - 1; i > 0; --i)  // Fisher-Yates with the portable draw
      std::swap(order[static_cast<size_t>(i)], order[nn::data::uniform_index(rng, static_cast<uint64_t>(i + 1))]);
  }
  return Epoch(this, std::move(order));
}

MultiTaskBatch MultiTaskLoader::Epoch::operator[](size_t batch) const {
  TD_CHECK(batch < size(), "MultiTaskLoader: batch ", batch, " out of range for ", size(), " batches");
  const int64_t n = static_cast<int64_t>(order_.size()), bs = loader_->batch_size();
  const int64_t begin = static_cast<int64_t>(batch) * bs, end = std::min(n, begin + bs);
  std::vector<int64_t> rows(order_.begin() + begin, order_.begin() + end);
  const MultiTaskDataset& data = loader_->dataset();
  return data.gather(tensor(rows, TensorOptions(kInt64).device(data.inputs.device())));
}

}  // namespace tandem::mtl

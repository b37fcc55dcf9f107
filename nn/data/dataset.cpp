// Datasets and batching: collate, the Dataset defaults, TensorDataset, MapDataset, TransformDataset, Subset
// and random_split.
#include "nn/data/dataset.h"

#include <numeric>
#include <random>

#include "nn/data/random.h"
#include "nn/data/transforms.h"
#include "tensor/functions.h"

namespace tandem::nn::data {

// ---- batching ---------------------------------------------------------------------------------------------------

Example collate(const std::vector<Example>& examples) {
  TD_CHECK(!examples.empty(), "collate: expected at least one example");
  const bool with_target = examples[0].target.defined();
  std::vector<Tensor> data, targets;
  data.reserve(examples.size());
  if (with_target) targets.reserve(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    const Example& e = examples[i];
    TD_CHECK(e.data.defined(), "collate: example ", i, " has no data");
    TD_CHECK(e.data.sizes() == examples[0].data.sizes(), "collate: example ", i, " has data of shape ", e.data.sizes(),
             " but example 0 has shape ", examples[0].data.sizes(),
             " (all examples of a batch must have the same shape)");
    TD_CHECK(e.target.defined() == with_target, "collate: example ", i, (with_target ? " has no" : " has a"),
             " target but example 0 ", (with_target ? "has one" : "has none"));
    data.push_back(e.data);
    if (with_target) {
      TD_CHECK(e.target.sizes() == examples[0].target.sizes(), "collate: example ", i, " has a target of shape ",
               e.target.sizes(), " but example 0 has shape ", examples[0].target.sizes());
      targets.push_back(e.target);
    }
  }
  Example batch;
  batch.data = stack(data, 0);
  if (with_target) batch.target = stack(targets, 0);
  return batch;
}

// ---- Dataset ----------------------------------------------------------------------------------------------------

Example Dataset::get_batch(const std::vector<size_t>& indices) {
  std::vector<Example> examples;
  examples.reserve(indices.size());
  for (size_t i : indices) examples.push_back(get(i));
  return collate(examples);
}

std::string Dataset::name() const { return detail::concat("Dataset(size=", size(), ")"); }

// ---- TensorDataset ----------------------------------------------------------------------------------------------

TensorDataset::TensorDataset(Tensor data, Tensor targets) { set_tensors(std::move(data), std::move(targets)); }

void TensorDataset::set_tensors(Tensor data, Tensor targets) {
  TD_CHECK(data.defined(), "TensorDataset: data is undefined");
  TD_CHECK(data.dim() >= 1, "TensorDataset: data must have a first dim that indexes the samples, got a ",
           "0-dimensional tensor");
  if (targets.defined()) {
    TD_CHECK(targets.dim() == 1 || targets.dim() == 2, "TensorDataset: targets must be [N] or [N, T], got shape ",
             targets.sizes());
    TD_CHECK(targets.size(0) == data.size(0), "TensorDataset: data of shape ", data.sizes(), " has ", data.size(0),
             " samples but targets of shape ", targets.sizes(), " have ", targets.size(0));
  }
  data_ = std::move(data);
  targets_ = std::move(targets);
}

size_t TensorDataset::size() const { return data_.defined() ? static_cast<size_t>(data_.size(0)) : 0; }

std::string TensorDataset::name() const {
  return detail::concat("TensorDataset(data=", data_.sizes(),
                        ", targets=", targets_.defined() ? targets_.sizes().str() : std::string("none"), ")");
}

void TensorDataset::check_index(size_t index) const {
  TD_CHECK(index < size(), name(), ": index ", index, " is out of range for a dataset of size ", size());
}

Example TensorDataset::get(size_t index) {
  check_index(index);
  const auto i = static_cast<int64_t>(index);
  return Example{data_.select(0, i), targets_.defined() ? targets_.select(0, i) : Tensor()};
}

Example TensorDataset::get_batch(const std::vector<size_t>& indices) {
  TD_CHECK(!indices.empty(), name(), ": get_batch needs at least one index");
  std::vector<int64_t> rows(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    check_index(indices[k]);
    rows[k] = static_cast<int64_t>(indices[k]);
  }
  const Tensor index = tensor(rows, TensorOptions(kInt64).device(data_.device()));
  Example batch{data_.index_select(0, index), Tensor()};
  if (targets_.defined())
    batch.target = targets_.index_select(0, targets_.device() == data_.device() ? index : index.to(targets_.device()));
  return batch;
}

// ---- MapDataset -------------------------------------------------------------------------------------------------

MapDataset::MapDataset(DatasetPtr dataset, Function fn) : dataset_(std::move(dataset)), fn_(std::move(fn)) {
  TD_CHECK(dataset_ != nullptr, "MapDataset: the wrapped dataset is null");
  TD_CHECK(static_cast<bool>(fn_), "MapDataset: the function is empty");
}

Example MapDataset::get(size_t index) {
  return fn_(dataset_->get(index), SampleKey{epoch_.load(), static_cast<uint64_t>(index), 0});
}

size_t MapDataset::size() const { return dataset_->size(); }

void MapDataset::set_epoch(uint64_t epoch) {
  epoch_ = epoch;
  dataset_->set_epoch(epoch);
}

std::string MapDataset::name() const { return "MapDataset(" + dataset_->name() + ")"; }

// ---- TransformDataset -------------------------------------------------------------------------------------------

TransformDataset::TransformDataset(DatasetPtr dataset, std::shared_ptr<const Transform> data_transform,
                                   std::shared_ptr<const Transform> target_transform)
    : dataset_(std::move(dataset)),
      data_transform_(std::move(data_transform)),
      target_transform_(std::move(target_transform)) {
  TD_CHECK(dataset_ != nullptr, "TransformDataset: the wrapped dataset is null");
}

Example TransformDataset::get(size_t index) {
  Example e = dataset_->get(index);
  const SampleKey key{epoch_.load(), static_cast<uint64_t>(index), 0};
  if (data_transform_) e.data = data_transform_->apply(e.data, key);
  if (target_transform_ && e.target.defined())
    e.target = target_transform_->apply(e.target, SampleKey{key.epoch, key.index, 1});
  return e;
}

size_t TransformDataset::size() const { return dataset_->size(); }

void TransformDataset::set_epoch(uint64_t epoch) {
  epoch_ = epoch;
  dataset_->set_epoch(epoch);
}

std::string TransformDataset::name() const {
  std::string s = "TransformDataset(" + dataset_->name();
  if (data_transform_) s += ", data=" + data_transform_->name();
  if (target_transform_) s += ", target=" + target_transform_->name();
  return s + ")";
}

// ---- Subset -----------------------------------------------------------------------------------------------------

Subset::Subset(DatasetPtr dataset, std::vector<size_t> indices)
    : dataset_(std::move(dataset)), indices_(std::move(indices)) {
  TD_CHECK(dataset_ != nullptr, "Subset: the wrapped dataset is null");
  const size_t n = dataset_->size();
  for (size_t k = 0; k < indices_.size(); ++k)
    TD_CHECK(indices_[k] < n, "Subset: index ", indices_[k], " (position ", k, ") is out of range for ",
             dataset_->name(), " of size ", n);
}

size_t Subset::map_index(size_t index) const {
  TD_CHECK(index < indices_.size(), "Subset: index ", index, " is out of range for a subset of size ", indices_.size());
  return indices_[index];
}

Example Subset::get(size_t index) { return dataset_->get(map_index(index)); }

Example Subset::get_batch(const std::vector<size_t>& indices) {
  std::vector<size_t> mapped(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) mapped[k] = map_index(indices[k]);
  return dataset_->get_batch(mapped);
}

size_t Subset::size() const { return indices_.size(); }

void Subset::set_epoch(uint64_t epoch) { dataset_->set_epoch(epoch); }

std::string Subset::name() const {
  return detail::concat("Subset(size=", indices_.size(), " of ", dataset_->name(), ")");
}

std::vector<std::shared_ptr<Subset>> random_split(const DatasetPtr& dataset, const std::vector<size_t>& lengths,
                                                  uint64_t seed) {
  TD_CHECK(dataset != nullptr, "random_split: the dataset is null");
  const size_t total = std::accumulate(lengths.begin(), lengths.end(), size_t{0});
  TD_CHECK(total == dataset->size(), "random_split: the lengths add up to ", total, " but ", dataset->name(), " has ",
           dataset->size(), " examples");
  std::vector<size_t> perm(total);
  std::iota(perm.begin(), perm.end(), size_t{0});
  std::mt19937_64 rng(derive_seed(seed, {0x73706C6974ull}));  // a stream of its own, apart from the samplers'
  for (size_t i = total; i > 1; --i) std::swap(perm[i - 1], perm[uniform_index(rng, i)]);
  std::vector<std::shared_ptr<Subset>> parts;
  size_t start = 0;
  for (size_t len : lengths) {
    parts.push_back(std::make_shared<Subset>(
        dataset, std::vector<size_t>(perm.begin() + static_cast<std::ptrdiff_t>(start),
                                     perm.begin() + static_cast<std::ptrdiff_t>(start + len))));
    start += len;
  }
  return parts;
}

}  // namespace tandem::nn::data

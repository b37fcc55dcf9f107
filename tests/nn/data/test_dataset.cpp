// Tests of the datasets: TensorDataset (single and multi-label targets, views, gathered batches), collate,
// MapDataset and TransformDataset (per-sample functions, the sample key and the epoch), Subset and random_split.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include "nn/data/dataset.h"
#include "nn/data/transforms.h"
#include "tensor/functions.h"
#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem::nn::data;
using tandem_test::expect_error;

/// [n, 2, 3] data whose sample i holds 6i .. 6i + 5, and int64 targets 100 + i.
std::shared_ptr<TensorDataset> counting_dataset(int64_t n) {
  return std::make_shared<TensorDataset>(arange(0, 6 * n, 1, kFloat32).reshape({n, 2, 3}),
                                         arange(100, 100 + n, 1, kInt64));
}

std::vector<float> sample_values(int64_t i) {
  std::vector<float> v(6);
  for (int k = 0; k < 6; ++k) v[static_cast<size_t>(k)] = static_cast<float>(6 * i + k);
  return v;
}

TEST(NnDataDataset, TensorDatasetGetReturnsTheRows) {
  auto ds = counting_dataset(5);
  EXPECT_EQ(ds->size(), 5u);
  Example e = ds->get(3);
  EXPECT_EQ(e.data.sizes(), Dims({2, 3}));
  EXPECT_EQ(e.data.to_vector<float>(), sample_values(3));
  EXPECT_EQ(e.target.dim(), 0);
  EXPECT_EQ(e.target.item<int64_t>(), 103);
  EXPECT_EQ(ds->name(), "TensorDataset(data=[5, 2, 3], targets=[5])");
}

TEST(NnDataDataset, TensorDatasetWithSeveralLabelsPerSample) {
  Tensor targets = tensor<int64_t>({1, 2, 3, 4, 5, 6}).reshape({3, 2});
  TensorDataset ds(randn({3, 4}), targets);
  EXPECT_EQ(ds.get(1).target.to_vector<int64_t>(), (std::vector<int64_t>{3, 4}));
  Example batch = ds.get_batch({2, 0});
  EXPECT_EQ(batch.target.sizes(), Dims({2, 2}));
  EXPECT_EQ(batch.target.to_vector<int64_t>(), (std::vector<int64_t>{5, 6, 1, 2}));
}

TEST(NnDataDataset, TensorDatasetWithoutTargets) {
  TensorDataset ds(randn({4, 2}));
  EXPECT_FALSE(ds.get(0).target.defined());
  Example batch = ds.get_batch({0, 1});
  EXPECT_EQ(batch.data.sizes(), Dims({2, 2}));
  EXPECT_FALSE(batch.target.defined());
}

TEST(NnDataDataset, GetBatchEqualsCollateOfGets) {
  auto ds = counting_dataset(6);
  const std::vector<size_t> indices{4, 1, 1, 5};
  Example fast = ds->get_batch(indices);
  std::vector<Example> examples;
  for (size_t i : indices) examples.push_back(ds->get(i));
  Example slow = collate(examples);
  EXPECT_EQ(fast.data.sizes(), Dims({4, 2, 3}));
  EXPECT_EQ(fast.data.to_vector<float>(), slow.data.to_vector<float>());
  EXPECT_EQ(fast.target.to_vector<int64_t>(), (std::vector<int64_t>{104, 101, 101, 105}));
  EXPECT_EQ(slow.target.to_vector<int64_t>(), fast.target.to_vector<int64_t>());
  // the default Dataset::get_batch (collate of get) gives the same through a wrapper
  Subset all(ds, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(all.Dataset::get_batch(indices).data.to_vector<float>(), fast.data.to_vector<float>());
}

TEST(NnDataDataset, TensorDatasetRejectsMisuse) {
  expect_error([] { TensorDataset(randn({3, 2}), tensor<int64_t>({1, 2})); }, {"TensorDataset", "[3, 2]", "[2]"});
  expect_error([] { TensorDataset(randn({3, 2}), zeros({3, 1, 1})); }, {"TensorDataset", "[3, 1, 1]"});
  expect_error([] { TensorDataset(Tensor{}); }, {"TensorDataset", "undefined"});
  expect_error([] { TensorDataset(scalar_tensor(1.0)); }, {"TensorDataset", "0-dimensional"});
  auto ds = counting_dataset(3);
  expect_error([&] { ds->get(3); }, {"index 3", "size 3"});
  expect_error([&] { ds->get_batch({0, 7}); }, {"index 7", "size 3"});
  expect_error([&] { ds->get_batch({}); }, {"at least one index"});
}

TEST(NnDataDataset, CollateStacksAndChecksShapes) {
  Example batch = collate({{ones({2}), scalar_tensor(1, kInt64)}, {zeros({2}), scalar_tensor(0, kInt64)}});
  EXPECT_EQ(batch.data.sizes(), Dims({2, 2}));
  EXPECT_EQ(batch.data.to_vector<float>(), (std::vector<float>{1, 1, 0, 0}));
  EXPECT_EQ(batch.target.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  expect_error([] { collate({}); }, {"collate", "at least one"});
  expect_error([] { collate({{ones({2}), Tensor()}, {ones({3}), Tensor()}}); }, {"example 1", "[3]", "[2]"});
  expect_error([] { collate({{ones({2}), scalar_tensor(1)}, {ones({2}), Tensor()}}); }, {"example 1", "target"});
  expect_error([] { collate({{ones({2}), ones({1})}, {ones({2}), ones({2})}}); }, {"example 1", "target of shape [2]"});
  expect_error([] { collate({{Tensor(), Tensor()}}); }, {"example 0", "no data"});
}

TEST(NnDataDataset, MapDatasetPassesIndexAndEpoch) {
  auto ds = counting_dataset(4);
  auto mapped = std::make_shared<MapDataset>(ds, [](Example e, const SampleKey& key) {
    e.data = e.data + static_cast<double>(1000 * key.epoch);
    e.target = e.target + scalar_tensor(static_cast<double>(key.index), kInt64);
    return e;
  });
  EXPECT_EQ(mapped->size(), 4u);
  Example e = mapped->get(2);
  EXPECT_EQ(e.data.to_vector<float>(), sample_values(2));
  EXPECT_EQ(e.target.item<int64_t>(), 104);  // 102 + index 2
  mapped->set_epoch(3);
  EXPECT_EQ(mapped->epoch(), 3u);
  EXPECT_FLOAT_EQ(mapped->get(0).data.to_vector<float>()[0], 3000.0f);
  expect_error([&] { MapDataset(nullptr, [](Example e, const SampleKey&) { return e; }); }, {"MapDataset", "null"});
  expect_error([&] { MapDataset(ds, nullptr); }, {"MapDataset", "empty"});
  expect_error([&] { mapped->get(4); }, {"index 4"});
}

TEST(NnDataDataset, TransformDatasetTransformsDataAndTarget) {
  auto ds = counting_dataset(3);
  auto plus_one = std::make_shared<Lambda>([](const Tensor& x, const SampleKey&) { return x + 1.0; }, "PlusOne");
  auto times_ten = std::make_shared<Lambda>([](const Tensor& t, const SampleKey&) { return t * 10.0; }, "TimesTen");
  TransformDataset transformed(ds, plus_one, times_ten);
  Example e = transformed.get(1);
  std::vector<float> expected = sample_values(1);
  for (float& v : expected) v += 1;
  EXPECT_EQ(e.data.to_vector<float>(), expected);
  EXPECT_EQ(e.target.item<int64_t>(), 1010);
  EXPECT_EQ(transformed.name(),
            "TransformDataset(TensorDataset(data=[3, 2, 3], targets=[3]), data=PlusOne, target=TimesTen)");
  // the original dataset is untouched
  EXPECT_EQ(ds->get(1).data.to_vector<float>(), sample_values(1));
  // by value, data only
  TransformDataset normalized(ds, Normalize({1.0}, {2.0}));
  EXPECT_FLOAT_EQ(normalized.get(0).data.to_vector<float>()[3], 1.0f);  // (3 - 1) / 2
  EXPECT_EQ(normalized.get(0).target.item<int64_t>(), 100);
  expect_error([&] { TransformDataset(nullptr, plus_one); }, {"TransformDataset", "null"});
}

TEST(NnDataDataset, EpochReachesNestedWrappers) {
  auto ds = counting_dataset(4);
  auto inner = std::make_shared<TransformDataset>(
      ds, std::make_shared<Lambda>([](const Tensor& x, const SampleKey&) { return x; }));
  auto subset = std::make_shared<Subset>(inner, std::vector<size_t>{3, 2});
  auto outer = std::make_shared<MapDataset>(subset, [](Example e, const SampleKey&) { return e; });
  outer->set_epoch(7);
  EXPECT_EQ(outer->epoch(), 7u);
  EXPECT_EQ(inner->epoch(), 7u);
}

TEST(NnDataDataset, TransformKeyIsTheWrappedIndexAndTheEpoch) {
  auto ds = counting_dataset(3);
  auto key_as_data = std::make_shared<Lambda>([](const Tensor&, const SampleKey& key) {
    return tensor<int64_t>(
        {static_cast<int64_t>(key.epoch), static_cast<int64_t>(key.index), static_cast<int64_t>(key.stream)});
  });
  TransformDataset ts(ds, key_as_data, key_as_data);
  ts.set_epoch(5);
  Example e = ts.get(2);
  EXPECT_EQ(e.data.to_vector<int64_t>(), (std::vector<int64_t>{5, 2, 0}));
  EXPECT_EQ(e.target.to_vector<int64_t>(), (std::vector<int64_t>{5, 2, 1}));  // the target's transform: stream 1
}

TEST(NnDataDataset, SubsetMapsIndices) {
  auto ds = counting_dataset(6);
  Subset sub(ds, {5, 0, 5});
  EXPECT_EQ(sub.size(), 3u);
  EXPECT_EQ(sub.get(0).target.item<int64_t>(), 105);
  EXPECT_EQ(sub.get(1).target.item<int64_t>(), 100);
  EXPECT_EQ(sub.get_batch({2, 1}).target.to_vector<int64_t>(), (std::vector<int64_t>{105, 100}));
  expect_error([&] { sub.get(3); }, {"Subset", "index 3", "size 3"});
  expect_error([&] { Subset(ds, {1, 6}); }, {"Subset", "index 6", "position 1", "size 6"});
  expect_error([&] { Subset(nullptr, {}); }, {"Subset", "null"});
}

TEST(NnDataDataset, RandomSplitIsADisjointReproduciblePartition) {
  auto ds = counting_dataset(10);
  auto parts = random_split(ds, {7, 3}, 42);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0]->size(), 7u);
  EXPECT_EQ(parts[1]->size(), 3u);
  std::vector<size_t> all = parts[0]->indices();
  all.insert(all.end(), parts[1]->indices().begin(), parts[1]->indices().end());
  std::vector<size_t> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  std::vector<size_t> expected(10);
  std::iota(expected.begin(), expected.end(), size_t{0});
  EXPECT_EQ(sorted, expected);
  EXPECT_NE(all, expected);  // shuffled (a fixed seed: this permutation is not the identity)
  EXPECT_EQ(random_split(ds, {7, 3}, 42)[0]->indices(), parts[0]->indices());
  EXPECT_NE(random_split(ds, {7, 3}, 43)[0]->indices(), parts[0]->indices());
  expect_error([&] { random_split(ds, {5, 3}, 0); }, {"random_split", "8", "10"});
}

}  // namespace

// Tests of the DataLoader: batch contents and counts (drop_last), shuffling (a permutation per epoch,
// reproducible, resumable with set_epoch), identical batches whatever the number of workers (with random
// transforms), samplers and custom collate, errors raised in workers reaching the consumer, the bounded
// prefetch window, and clean shutdown when a loop stops early or the loader goes away.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

#include "nn/data/dataloader.h"
#include "nn/data/transforms.h"
#include "tensor/functions.h"
#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem::nn::data;
using tandem_test::expect_error;

/// n samples: data [2] = {i, -i} (float32), target i (int64).
std::shared_ptr<TensorDataset> numbered(int64_t n) {
  Tensor i = arange(0, n, 1, kFloat32);
  return std::make_shared<TensorDataset>(stack({i, -i}, 1), arange(0, n, 1, kInt64));
}

/// Wraps a dataset, counting get() calls, optionally sleeping in each and throwing for one index.
class InstrumentedDataset : public Dataset {
 public:
  InstrumentedDataset(DatasetPtr inner, std::chrono::microseconds delay = {}, size_t fail_at = SIZE_MAX)
      : inner_(std::move(inner)), delay_(delay), fail_at_(fail_at) {}
  Example get(size_t index) override {
    gets.fetch_add(1);
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    TD_CHECK(index != fail_at_, "InstrumentedDataset: sample ", index, " is broken");
    return inner_->get(index);
  }
  size_t size() const override { return inner_->size(); }
  std::atomic<int> gets{0};

 private:
  DatasetPtr inner_;
  std::chrono::microseconds delay_;
  size_t fail_at_;
};

std::vector<int64_t> targets_of(const Example& batch) { return batch.target.to_vector<int64_t>(); }

/// All batches of one epoch, as (data, target) value lists.
std::vector<std::pair<std::vector<float>, std::vector<int64_t>>> read_epoch(DataLoader& loader) {
  std::vector<std::pair<std::vector<float>, std::vector<int64_t>>> out;
  for (Example& batch : loader) out.emplace_back(batch.data.to_vector<float>(), targets_of(batch));
  return out;
}

TEST(NnDataLoader, SequentialBatchesInOrder) {
  DataLoader loader(numbered(10), DataLoaderOptions(4));
  EXPECT_EQ(loader.size(), 3u);
  std::vector<std::vector<int64_t>> targets;
  std::vector<Dims> shapes;
  for (Example& batch : loader) {
    targets.push_back(targets_of(batch));
    shapes.push_back(batch.data.sizes());
  }
  EXPECT_EQ(targets, (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}));
  EXPECT_EQ(shapes, (std::vector<Dims>{{4, 2}, {4, 2}, {2, 2}}));
  auto first = loader.begin();
  EXPECT_EQ(first->data.to_vector<float>(), (std::vector<float>{0, -0.0f, 1, -1, 2, -2, 3, -3}));
}

TEST(NnDataLoader, DropLast) {
  DataLoader loader(numbered(10), DataLoaderOptions(4).drop_last(true));
  EXPECT_EQ(loader.size(), 2u);
  EXPECT_EQ(read_epoch(loader).size(), 2u);
  DataLoader too_small(numbered(3), DataLoaderOptions(4).drop_last(true));
  EXPECT_EQ(too_small.size(), 0u);
  EXPECT_TRUE(too_small.begin() == too_small.end());
}

TEST(NnDataLoader, EmptyDatasetHasNoBatches) {
  auto empty_ds = std::make_shared<TensorDataset>(zeros({0, 3}));
  DataLoader loader(empty_ds, DataLoaderOptions(2).workers(2));
  EXPECT_EQ(loader.size(), 0u);
  int batches = 0;
  for (Example& batch : loader) batches += batch.data.defined();
  EXPECT_EQ(batches, 0);
}

TEST(NnDataLoader, ShuffleGivesAReproduciblePermutationPerEpoch) {
  auto ds = numbered(23);
  DataLoader a(ds, DataLoaderOptions(5).shuffle(true).seed(4));
  DataLoader b(ds, DataLoaderOptions(5).shuffle(true).seed(4));
  std::vector<std::vector<int64_t>> orders;
  for (int epoch = 0; epoch < 3; ++epoch) {
    EXPECT_EQ(a.epoch(), static_cast<uint64_t>(epoch));
    std::vector<int64_t> order;
    for (Example& batch : a) {
      auto t = targets_of(batch);
      order.insert(order.end(), t.begin(), t.end());
    }
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(23);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(sorted, all);
    std::vector<int64_t> b_order;  // a second loader with the same seed gives the same order
    for (const auto& [data, targets] : read_epoch(b)) b_order.insert(b_order.end(), targets.begin(), targets.end());
    EXPECT_EQ(b_order, order);
    orders.push_back(order);
  }
  EXPECT_NE(orders[0], orders[1]);
  EXPECT_NE(orders[1], orders[2]);
}

TEST(NnDataLoader, SetEpochResumesTheSameOrder) {
  auto ds = numbered(17);
  DataLoader uninterrupted(ds, DataLoaderOptions(4).shuffle(true).seed(1));
  read_epoch(uninterrupted);
  read_epoch(uninterrupted);
  auto third = read_epoch(uninterrupted);
  DataLoader resumed(ds, DataLoaderOptions(4).shuffle(true).seed(1));
  resumed.set_epoch(2);
  EXPECT_EQ(read_epoch(resumed), third);
  EXPECT_EQ(resumed.epoch(), 3u);
}

TEST(NnDataLoader, SameBatchesWhateverTheNumberOfWorkers) {
  // Random augmentation plus shuffling: the batches of each epoch must not depend on the workers.
  auto images = std::make_shared<TensorDataset>(randn({37, 1, 6, 6}), arange(0, 37, 1, kInt64));
  auto augmented = std::make_shared<TransformDataset>(
      images, Compose(RandomCrop(4, 1, 5), RandomHorizontalFlip(0.5, 6), Normalize({0.1}, {2.0})));
  std::vector<std::vector<std::pair<std::vector<float>, std::vector<int64_t>>>> runs;
  for (int64_t workers : {0, 1, 3}) {
    DataLoader loader(augmented, DataLoaderOptions(8).shuffle(true).seed(2).workers(workers).prefetch(1));
    auto e0 = read_epoch(loader);
    auto e1 = read_epoch(loader);
    EXPECT_EQ(e0.size(), 5u);
    EXPECT_NE(e0, e1);
    runs.push_back(e0);
    runs.back().insert(runs.back().end(), e1.begin(), e1.end());
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(runs[0], runs[2]);
}

TEST(NnDataLoader, UsesTheGivenSampler) {
  auto ds = numbered(6);
  auto sampler = std::make_shared<WeightedRandomSampler>(std::vector<double>{0, 0, 1, 0, 0, 1}, 7, true, 0);
  DataLoader loader(ds, DataLoaderOptions(3).workers(2), sampler);
  EXPECT_EQ(loader.size(), 3u);
  std::vector<int64_t> seen;
  for (Example& batch : loader) {
    auto t = targets_of(batch);
    seen.insert(seen.end(), t.begin(), t.end());
  }
  std::vector<int64_t> expected;
  for (size_t i : sampler->indices(0)) expected.push_back(static_cast<int64_t>(i));
  EXPECT_EQ(seen, expected);
  for (int64_t t : seen) EXPECT_TRUE(t == 2 || t == 5);
}

TEST(NnDataLoader, CustomCollate) {
  std::atomic<int> calls{0};
  auto opts = DataLoaderOptions(3).workers(2).collate([&calls](const std::vector<Example>& examples) {
    calls.fetch_add(1);
    Example batch = collate(examples);
    batch.target = scalar_tensor(static_cast<double>(examples.size()), kInt64);
    return batch;
  });
  DataLoader loader(numbered(7), opts);
  std::vector<int64_t> sizes;
  for (Example& batch : loader) sizes.push_back(batch.target.item<int64_t>());
  EXPECT_EQ(sizes, (std::vector<int64_t>{3, 3, 1}));
  EXPECT_EQ(calls.load(), 3);
}

TEST(NnDataLoader, WorkerErrorsReachTheConsumerInOrder) {
  for (int64_t workers : {0, 2}) {
    auto broken = std::make_shared<InstrumentedDataset>(numbered(20), std::chrono::microseconds(0), 9);
    DataLoader loader(broken, DataLoaderOptions(4).workers(workers).collate(
                                  [](const std::vector<Example>& e) { return collate(e); }));
    std::vector<std::vector<int64_t>> delivered;
    expect_error(
        [&] {
          for (Example& batch : loader) delivered.push_back(targets_of(batch));
        },
        {"InstrumentedDataset", "sample 9 is broken"});
    // batches 0 and 1 arrive; batch 2 (samples 8..11) fails
    EXPECT_EQ(delivered, (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}})) << "workers " << workers;
    // the loader still works: the next epoch fails at the same place, without hanging
    expect_error([&] { read_epoch(loader); }, {"sample 9 is broken"});
  }
}

TEST(NnDataLoader, PrefetchWindowIsBounded) {
  auto slow = std::make_shared<InstrumentedDataset>(numbered(400));
  const int64_t workers = 2, prefetch = 3, batch = 4;
  DataLoader loader(slow, DataLoaderOptions(batch).workers(workers).prefetch(prefetch).collate(
                              [](const std::vector<Example>& e) { return collate(e); }));
  {
    auto it = loader.begin();  // consumes batch 0
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // at most the consumed batch plus workers * prefetch batches ahead of it have been loaded
    EXPECT_LE(slow->gets.load(), (1 + workers * prefetch) * batch);
    EXPECT_GE(slow->gets.load(), batch);
  }
}

TEST(NnDataLoader, BreakingOutOfTheLoopStopsTheWorkers) {
  auto slow = std::make_shared<InstrumentedDataset>(numbered(2000), std::chrono::microseconds(200));
  DatasetPtr as_dataset = slow;
  {
    DataLoader loader(slow, DataLoaderOptions(10).workers(4).prefetch(2).collate(
                                [](const std::vector<Example>& e) { return collate(e); }));
    const long owners_idle = slow.use_count();
    int seen = 0;
    const auto start = std::chrono::steady_clock::now();
    for (Example& batch : loader) {
      EXPECT_EQ(batch.data.size(0), 10);
      EXPECT_GT(slow.use_count(), owners_idle);  // the running epoch holds the dataset
      if (++seen == 3) break;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // no waiting for 200 batches
    // the epoch is gone: no thread holds the dataset any more, and no more samples are loaded
    EXPECT_EQ(slow.use_count(), owners_idle);
    const int gets_after_break = slow->gets.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(slow->gets.load(), gets_after_break);
    EXPECT_LE(gets_after_break, (3 + 4 * 2 + 4) * 10);
    // and a new epoch starts from the beginning
    EXPECT_EQ(targets_of(*loader.begin())[0], 0);
  }
}

TEST(NnDataLoader, NewEpochOrDestroyedLoaderEndsARunningEpoch) {
  auto ds = numbered(100);
  auto loader = std::make_unique<DataLoader>(ds, DataLoaderOptions(5).workers(2));
  auto old_epoch = loader->begin();
  ASSERT_TRUE(old_epoch != loader->end());
  auto new_epoch = loader->begin();  // stops the first epoch
  EXPECT_TRUE(old_epoch == loader->end());
  EXPECT_EQ(targets_of(*new_epoch)[0], 0);
  ++new_epoch;
  EXPECT_EQ(targets_of(*new_epoch)[0], 5);
  loader.reset();  // the loader goes away while an iterator lives: the epoch stops, the iterator ends
  EXPECT_TRUE(new_epoch == DataLoader::Iterator());
  EXPECT_EQ(ds.use_count(), 1);
  expect_error([&] { *new_epoch; }, {"past the last batch"});
  expect_error([&] { ++new_epoch; }, {"past the last batch"});
}

TEST(NnDataLoader, RejectsInvalidOptions) {
  auto ds = numbered(4);
  expect_error([] { DataLoader(nullptr); }, {"DataLoader", "null"});
  expect_error([&] { DataLoader(ds, DataLoaderOptions(0)); }, {"batch_size", "0"});
  expect_error([&] { DataLoader(ds, DataLoaderOptions(2).workers(-1)); }, {"workers", "-1"});
  expect_error([&] { DataLoader(ds, DataLoaderOptions(2).prefetch(0)); }, {"prefetch", "0"});
  expect_error([&] { DataLoader(ds, DataLoaderOptions(2).shuffle(true), std::make_shared<SequentialSampler>(4)); },
               {"shuffle", "SequentialSampler"});
  DataLoader wrong_sampler(ds, DataLoaderOptions(2), std::make_shared<SequentialSampler>(6));
  expect_error([&] { wrong_sampler.begin(); }, {"SequentialSampler(size=6)", "index 4", "4 examples"});
  struct ShortSampler : Sampler {
    std::vector<size_t> indices(uint64_t) const override { return {0, 1}; }
    size_t size() const override { return 3; }
    std::string name() const override { return "ShortSampler"; }
  };
  DataLoader short_sampler(ds, DataLoaderOptions(2), std::make_shared<ShortSampler>());
  expect_error([&] { short_sampler.begin(); }, {"ShortSampler", "gave 2 indices", "size() is 3"});
}

TEST(NnDataLoader, BatchesDoNotRecordGradients) {
  auto ds = std::make_shared<TensorDataset>(randn({6, 2}, TensorOptions().requires_grad(true)));
  DataLoader loader(ds, DataLoaderOptions(3).workers(1));
  for (Example& batch : loader) EXPECT_FALSE(batch.data.requires_grad());
}

}  // namespace

// The data pipeline: reading Fashion-MNIST from its IDX .gz files, and full DataLoader epochs over a dataset of
// Fashion-MNIST's shape (generated from a seed, so that the benchmark runs without the data set) with 0, 1, 2
// and 4 background workers — once gathering whole batches from the tensors (TensorDataset::get_batch), once
// with a per-sample augmentation pipeline (RandomCrop + RandomHorizontalFlip + Normalize), where the workers
// matter. Timings are wall-clock (UseRealTime), since the work happens on the workers' threads.
//
//   bench_dataloader --benchmark_filter=Augmented
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>

#include "nn/data/data.h"
#include "tensor/functions.h"

namespace td = tandem;
namespace data = tandem::nn::data;

namespace {

std::shared_ptr<data::TensorDataset> synthetic_images(int64_t n) {
  td::manual_seed(0);
  return std::make_shared<data::TensorDataset>(td::rand({n, 1, 28, 28}), td::randint(0, 10, {n}));
}

void BM_ReadFashionMNIST(benchmark::State& state) {
  const std::string root = data::FashionMNIST::kDefaultRoot;
  if (!std::filesystem::exists(root + "/train-images-idx3-ubyte.gz")) {
    state.SkipWithError("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    return;
  }
  for (auto _ : state) {
    data::FashionMNIST train(root, true);
    benchmark::DoNotOptimize(train.images().data_ptr());
  }
  state.counters["images/s"] = benchmark::Counter(60000, benchmark::Counter::kIsIterationInvariantRate);
}

/// One epoch of 60000 samples in shuffled batches of 64, gathered with index_select.
void BM_EpochTensorDataset(benchmark::State& state) {
  auto dataset = synthetic_images(60000);
  data::DataLoader loader(dataset, data::DataLoaderOptions(64).shuffle(true).workers(state.range(0)));
  for (auto _ : state) {
    int64_t seen = 0;
    for (data::Example& batch : loader) seen += batch.data.size(0);
    benchmark::DoNotOptimize(seen);
  }
  state.counters["images/s"] = benchmark::Counter(60000, benchmark::Counter::kIsIterationInvariantRate);
}

/// One epoch of 10000 samples, each cropped (padding 2), maybe flipped and normalised on its own.
void BM_EpochAugmented(benchmark::State& state) {
  auto augmented = std::make_shared<data::TransformDataset>(
      synthetic_images(10000),
      data::Compose(data::RandomCrop(28, 2, 1), data::RandomHorizontalFlip(0.5, 2), data::Normalize({0.286}, {0.353})));
  data::DataLoader loader(augmented, data::DataLoaderOptions(64).shuffle(true).workers(state.range(0)));
  for (auto _ : state) {
    int64_t seen = 0;
    for (data::Example& batch : loader) seen += batch.data.size(0);
    benchmark::DoNotOptimize(seen);
  }
  state.counters["images/s"] = benchmark::Counter(10000, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_ReadFashionMNIST)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EpochTensorDataset)
    ->ArgName("workers")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_EpochAugmented)
    ->ArgName("workers")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();

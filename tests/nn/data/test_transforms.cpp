// Tests of the per-sample transforms: Normalize against hand-computed values, RandomCrop (the output is a window
// of the zero-padded input, every position is reachable, draws are reproducible per (seed, epoch, index)),
// RandomHorizontalFlip (exact reversal, the flip rate), Compose (order, independent streams) and Lambda.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "nn/data/transforms.h"
#include "tensor/functions.h"
#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem::nn::data;
using tandem_test::expect_error;

TEST(NnDataTransforms, NormalizePerChannel) {
  // x [2, 1, 2]: channel 0 = {1, 3}, channel 1 = {10, 20}
  Tensor x = tensor<float>({1, 3, 10, 20}).reshape({2, 1, 2});
  Normalize norm({1.0, 10.0}, {2.0, 5.0});
  Tensor y = norm(x);
  EXPECT_EQ(y.sizes(), Dims({2, 1, 2}));
  EXPECT_EQ(y.dtype(), kFloat32);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 1, 0, 2}));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{1, 3, 10, 20}));  // input untouched
  EXPECT_EQ(norm.name(), "Normalize(mean=[1, 10], std=[2, 5])");
}

TEST(NnDataTransforms, NormalizeOneValueForAllChannelsAndGreyImages) {
  Tensor x = tensor<double>({0.5, 1.0, 0.0, 0.25}).reshape({2, 2});
  Tensor y = Normalize({0.5}, {0.25})(x);
  EXPECT_EQ(y.dtype(), kFloat64);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0, 2, -2, -1}));
  Tensor rgb = full({3, 2, 2}, 4.0);
  EXPECT_EQ(Normalize({1.0}, {3.0})(rgb).to_vector<float>(), std::vector<float>(12, 1.0f));
  // a batch [N, C, H, W] normalises along dim -3
  Tensor batch = ones({2, 2, 1, 1});
  EXPECT_EQ(Normalize({0.0, 1.0}, {1.0, 1.0})(batch).to_vector<float>(), (std::vector<float>{1, 0, 1, 0}));
}

TEST(NnDataTransforms, NormalizeRejectsMisuse) {
  expect_error([] { Normalize({}, {1.0}); }, {"Normalize", "at least one"});
  expect_error([] { Normalize({0.0, 0.0}, {1.0, 1.0, 1.0}); }, {"Normalize", "different numbers of channels"});
  expect_error([] { Normalize({0.0}, {0.0}); }, {"Normalize", "nonzero"});
  expect_error([] { Normalize({NAN}, {1.0}); }, {"Normalize", "non-finite"});
  Normalize three({0.1, 0.2, 0.3}, {1.0, 1.0, 1.0});
  expect_error([&] { three(ones({2, 4, 4})); }, {"Normalize", "3 values", "[2, 4, 4]", "2 channel"});
  expect_error([&] { three(ones({4})); }, {"Normalize", "[4]"});
  expect_error([] { Normalize({0.0}, {1.0})(ones({2, 2}, kInt64)); }, {"Normalize", "floating", "int64"});
  expect_error([] { Normalize({0.0}, {1.0})(Tensor()); }, {"Normalize", "undefined"});
}

/// The top-left corners (in padded coordinates) at which `out` equals the window of x zero-padded by `pad`.
std::vector<std::pair<int64_t, int64_t>> matching_offsets(const Tensor& x, const Tensor& out, int64_t pad) {
  const int64_t c = x.size(0), h = x.size(1), w = x.size(2), oh = out.size(1), ow = out.size(2);
  const std::vector<float> xv = x.to_vector<float>(), ov = out.to_vector<float>();
  auto padded = [&](int64_t ch, int64_t r, int64_t col) {
    r -= pad, col -= pad;
    return r < 0 || r >= h || col < 0 || col >= w ? 0.0f : xv[static_cast<size_t>((ch * h + r) * w + col)];
  };
  std::vector<std::pair<int64_t, int64_t>> found;
  for (int64_t top = 0; top + oh <= h + 2 * pad; ++top)
    for (int64_t left = 0; left + ow <= w + 2 * pad; ++left) {
      bool same = true;
      for (int64_t ch = 0; ch < c && same; ++ch)
        for (int64_t r = 0; r < oh && same; ++r)
          for (int64_t col = 0; col < ow && same; ++col)
            same = ov[static_cast<size_t>((ch * oh + r) * ow + col)] == padded(ch, top + r, col + left);
      if (same) found.emplace_back(top, left);
    }
  return found;
}

TEST(NnDataTransforms, RandomCropCutsAWindowOfThePaddedInput) {
  Tensor x = arange(1, 1 + 2 * 4 * 5, 1, kFloat32).reshape({2, 4, 5});  // distinct, nonzero values
  RandomCrop crop({3, 4}, /*padding=*/1, /*seed=*/9);
  std::set<std::pair<int64_t, int64_t>> seen;
  for (uint64_t index = 0; index < 300; ++index) {
    Tensor out = crop(x, SampleKey{0, index, 0});
    ASSERT_EQ(out.sizes(), Dims({2, 3, 4}));
    auto offsets = matching_offsets(x, out, 1);
    ASSERT_EQ(offsets.size(), 1u) << "crop of sample " << index << " is not exactly one window";
    seen.insert(offsets[0]);
  }
  EXPECT_EQ(seen.size(), 4u * 4u);  // (4 + 2 - 3 + 1) x (5 + 2 - 4 + 1) positions, all reached
  EXPECT_EQ(x.to_vector<float>()[0], 1.0f);
}

TEST(NnDataTransforms, RandomCropOfTheWholeImageIsACopy) {
  Tensor x = randn({7, 6}).t();  // [6, 7], non-contiguous
  Tensor out = RandomCrop({6, 7})(x, SampleKey{3, 4, 0});
  EXPECT_EQ(out.to_vector<float>(), x.to_vector<float>());
  out.fill_(0);
  EXPECT_NE(x.to_vector<float>(), out.to_vector<float>());  // not a view of the input
}

TEST(NnDataTransforms, RandomCropIsReproduciblePerSeedEpochAndIndex) {
  Tensor x = randn({1, 8, 8});
  RandomCrop crop(5, 2, 1);
  auto same = [](const Tensor& a, const Tensor& b) { return a.to_vector<float>() == b.to_vector<float>(); };
  EXPECT_TRUE(same(crop(x, {2, 7, 0}), RandomCrop(5, 2, 1)(x, {2, 7, 0})));
  int differ_by_epoch = 0, differ_by_seed = 0;
  for (uint64_t i = 0; i < 20; ++i) {
    differ_by_epoch += !same(crop(x, {0, i, 0}), crop(x, {1, i, 0}));
    differ_by_seed += !same(crop(x, {0, i, 0}), RandomCrop(5, 2, 2)(x, {0, i, 0}));
  }
  EXPECT_GE(differ_by_epoch, 15);  // 81 positions: a repeat is rare
  EXPECT_GE(differ_by_seed, 15);
  EXPECT_EQ(crop.name(), "RandomCrop(size=[5, 5], padding=2, seed=1)");
}

TEST(NnDataTransforms, RandomCropRejectsMisuse) {
  expect_error([] { RandomCrop(0); }, {"RandomCrop", "positive"});
  expect_error([] { RandomCrop(3, -1); }, {"RandomCrop", "padding", "-1"});
  expect_error([] { RandomCrop(10, 1)(ones({1, 7, 7})); }, {"RandomCrop", "[10, 10]", "[1, 7, 7]", "9 x 9"});
  expect_error([] { RandomCrop(2)(ones({5})); }, {"RandomCrop", "[5]"});
}

TEST(NnDataTransforms, RandomHorizontalFlipReversesTheWidth) {
  Tensor x = arange(0, 12, 1, kFloat32).reshape({2, 2, 3});
  EXPECT_EQ(RandomHorizontalFlip(1.0)(x).to_vector<float>(),
            (std::vector<float>{2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9}));
  Tensor kept = RandomHorizontalFlip(0.0)(x);
  EXPECT_EQ(kept.to_vector<float>(), x.to_vector<float>());
  kept.fill_(-1);
  EXPECT_EQ(x.to_vector<float>()[0], 0.0f);  // a copy, not the input
  // grey images [H, W], and a transposed (non-contiguous) input
  Tensor grey = arange(0, 6, 1, kFloat32).reshape({3, 2}).t();  // [[0, 2, 4], [1, 3, 5]]
  EXPECT_EQ(RandomHorizontalFlip(1.0)(grey).to_vector<float>(), (std::vector<float>{4, 2, 0, 5, 3, 1}));
}

TEST(NnDataTransforms, RandomHorizontalFlipRateAndReproducibility) {
  Tensor x = tensor<float>({1, 2}).reshape({1, 2});
  RandomHorizontalFlip flip(0.3, 5);
  int flipped = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const bool f = flip(x, SampleKey{0, static_cast<uint64_t>(i), 0}).to_vector<float>()[0] == 2.0f;
    flipped += f;
    EXPECT_EQ(f, flip(x, SampleKey{0, static_cast<uint64_t>(i), 0}).to_vector<float>()[0] == 2.0f);
  }
  EXPECT_NEAR(static_cast<double>(flipped) / n, 0.3, 0.04);  // ~4 standard deviations
  expect_error([] { RandomHorizontalFlip(1.5); }, {"RandomHorizontalFlip", "1.5"});
  EXPECT_EQ(flip.name(), "RandomHorizontalFlip(p=0.3, seed=5)");
}

TEST(NnDataTransforms, ComposeAppliesInOrder) {
  Tensor x = tensor<float>({2, 4, 6}).reshape({1, 3});
  Compose pipeline(Normalize({2.0}, {2.0}), RandomHorizontalFlip(1.0));
  EXPECT_EQ(pipeline(x).to_vector<float>(), (std::vector<float>{2, 1, 0}));
  EXPECT_EQ(pipeline.transforms().size(), 2u);
  EXPECT_EQ(pipeline.name(), "Compose(Normalize(mean=[2], std=[2]), RandomHorizontalFlip(p=1, seed=0))");
  Compose from_pointers({std::make_shared<Lambda>([](const Tensor& t, const SampleKey&) { return t * 3.0; })});
  EXPECT_EQ(from_pointers(x).to_vector<float>(), (std::vector<float>{6, 12, 18}));
  expect_error([] { Compose(std::vector<TransformPtr>{nullptr}); }, {"Compose", "transform 0", "null"});
}

TEST(NnDataTransforms, ComposeGivesEachStepItsOwnStream) {
  // Two flips with the same seed: with a shared stream they would always both happen (or not), undoing each
  // other; with separate streams, about half of the samples end up flipped once.
  Tensor x = tensor<float>({1, 2}).reshape({1, 2});
  Compose twice(RandomHorizontalFlip(0.5, 3), RandomHorizontalFlip(0.5, 3));
  int flipped = 0;
  for (uint64_t i = 0; i < 400; ++i) flipped += twice(x, SampleKey{0, i, 0}).to_vector<float>()[0] == 2.0f;
  EXPECT_GT(flipped, 150);
  EXPECT_LT(flipped, 250);
}

TEST(NnDataTransforms, LambdaWrapsAFunction) {
  Lambda add_epoch([](const Tensor& t, const SampleKey& key) { return t + static_cast<double>(key.epoch); },
                   "AddEpoch");
  EXPECT_EQ(add_epoch(zeros({2}), SampleKey{4, 0, 0}).to_vector<float>(), (std::vector<float>{4, 4}));
  EXPECT_EQ(add_epoch.name(), "AddEpoch");
  expect_error([] { Lambda(nullptr); }, {"Lambda", "empty"});
}

}  // namespace

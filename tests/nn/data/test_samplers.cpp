// Tests of the samplers: sequential order; RandomSampler permutations (valid, reproducible, new each epoch,
// uniform at a glance); WeightedRandomSampler frequencies with and without replacement against the
// probabilities computed by hand; and every misuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "nn/data/samplers.h"
#include "tensor/functions.h"
#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem::nn::data;
using tandem_test::expect_error;

std::vector<size_t> iota(size_t n) {
  std::vector<size_t> v(n);
  std::iota(v.begin(), v.end(), size_t{0});
  return v;
}

TEST(NnDataSamplers, SequentialSamplerVisitsInOrder) {
  SequentialSampler s(5);
  EXPECT_EQ(s.size(), 5u);
  EXPECT_EQ(s.indices(0), iota(5));
  EXPECT_EQ(s.indices(9), iota(5));
  EXPECT_TRUE(SequentialSampler(0).indices(0).empty());
  EXPECT_EQ(s.name(), "SequentialSampler(size=5)");
}

TEST(NnDataSamplers, RandomSamplerGivesAFreshReproduciblePermutationEachEpoch) {
  RandomSampler s(50, 7);
  EXPECT_EQ(s.size(), 50u);
  std::set<std::vector<size_t>> epochs;
  for (uint64_t e = 0; e < 5; ++e) {
    std::vector<size_t> order = s.indices(e);
    EXPECT_EQ(order, RandomSampler(50, 7).indices(e));  // reproducible
    std::vector<size_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, iota(50));  // a permutation
    EXPECT_NE(order, iota(50));
    epochs.insert(order);
  }
  EXPECT_EQ(epochs.size(), 5u);                              // new every epoch
  EXPECT_NE(RandomSampler(50, 8).indices(0), s.indices(0));  // the seed matters
  EXPECT_TRUE(RandomSampler(0).indices(3).empty());
  EXPECT_EQ(RandomSampler(1).indices(3), std::vector<size_t>{0});
  EXPECT_EQ(s.name(), "RandomSampler(size=50, seed=7)");
}

TEST(NnDataSamplers, RandomSamplerIsUniformOverPositions) {
  // Where element 0 lands, over 4000 epochs of a 4-element permutation: 1/4 each.
  RandomSampler s(4, 1);
  std::vector<int> position(4, 0);
  const int epochs = 4000;
  for (int e = 0; e < epochs; ++e) {
    auto order = s.indices(static_cast<uint64_t>(e));
    position[static_cast<size_t>(std::find(order.begin(), order.end(), size_t{0}) - order.begin())]++;
  }
  for (int count : position) EXPECT_NEAR(count / static_cast<double>(epochs), 0.25, 0.03);
}

TEST(NnDataSamplers, WeightedWithReplacementFollowsTheWeights) {
  WeightedRandomSampler s(std::vector<double>{0.0, 1.0, 3.0, 0.0}, 40000, true, 3);
  EXPECT_EQ(s.size(), 40000u);
  std::vector<size_t> draws = s.indices(0);
  ASSERT_EQ(draws.size(), 40000u);
  std::vector<int> counts(4, 0);
  for (size_t i : draws) counts[i]++;
  EXPECT_EQ(counts[0], 0);
  EXPECT_EQ(counts[3], 0);
  EXPECT_NEAR(counts[1] / 40000.0, 0.25, 0.01);
  EXPECT_NEAR(counts[2] / 40000.0, 0.75, 0.01);
  EXPECT_EQ(draws, WeightedRandomSampler(std::vector<double>{0.0, 1.0, 3.0, 0.0}, 40000, true, 3).indices(0));
  EXPECT_NE(draws, s.indices(1));
  // the same from a tensor of weights
  WeightedRandomSampler from_tensor(tensor<float>({0, 1, 3, 0}), 40000, true, 3);
  EXPECT_EQ(from_tensor.indices(0), draws);
  EXPECT_EQ(s.name(), "WeightedRandomSampler(weights=4, num_samples=40000, replacement=true, seed=3)");
}

TEST(NnDataSamplers, WeightedWithoutReplacementDrawsDistinctIndices) {
  const std::vector<double> w{1.0, 2.0, 3.0, 0.0};
  WeightedRandomSampler s(w, 2, false, 11);
  std::map<std::pair<size_t, size_t>, int> pairs;
  const int epochs = 6000;
  for (int e = 0; e < epochs; ++e) {
    auto d = s.indices(static_cast<uint64_t>(e));
    ASSERT_EQ(d.size(), 2u);
    ASSERT_NE(d[0], d[1]);
    ASSERT_NE(d[0], 3u);
    ASSERT_NE(d[1], 3u);
    pairs[{d[0], d[1]}]++;
  }
  // Sequential draws proportional to the remaining weights: P(2 then 1) = 3/6 * 2/3, P(0 then 2) = 1/6 * 3/5.
  EXPECT_NEAR((pairs[{2, 1}]) / static_cast<double>(epochs), 1.0 / 3.0, 0.025);
  EXPECT_NEAR((pairs[{0, 2}]) / static_cast<double>(epochs), 0.1, 0.02);
  EXPECT_NEAR((pairs[{1, 0}]) / static_cast<double>(epochs), 2.0 / 6.0 * 1.0 / 4.0, 0.02);
  // all positive-weight indices, each once
  auto all = WeightedRandomSampler(w, 3, false, 0).indices(0);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<size_t>{0, 1, 2}));
}

TEST(NnDataSamplers, WeightedRandomSamplerRejectsMisuse) {
  using V = std::vector<double>;
  expect_error([] { WeightedRandomSampler(V{}, 1); }, {"WeightedRandomSampler", "empty"});
  expect_error([] { WeightedRandomSampler(V{1.0, -1.0}, 1); }, {"weight 1", "-1", "non-negative"});
  expect_error([] { WeightedRandomSampler(V{1.0, NAN}, 1); }, {"weight 1", "finite"});
  expect_error([] { WeightedRandomSampler(V{0.0, 0.0}, 1); }, {"all 2 weights are zero"});
  expect_error([] { WeightedRandomSampler(V{1.0, 0.0, 2.0}, 3, false); }, {"without replacement", "3", "2 of the 3"});
  expect_error([] { WeightedRandomSampler(ones({2, 2}), 1); }, {"1-D", "[2, 2]"});
  expect_error([] { WeightedRandomSampler(Tensor(), 1); }, {"undefined"});
}

}  // namespace

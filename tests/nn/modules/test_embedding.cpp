// Tests of Embedding: lookups, padding_idx (zero row, no gradient, negative index), default N(0, 1) weights,
// printing and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nn/modules/embedding.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
using nn::testing::expect_error_mentions;
using nn::testing::printed;

TEST(NnEmbedding, LooksUpRows) {
  nn::Embedding emb(10, 4);
  Tensor idx = tensor<int64_t>({3, 0, 9, 3, 1, 2}).reshape({2, 3});
  Tensor y = emb(idx);
  ASSERT_EQ(y.sizes(), Dims({2, 3, 4}));
  EXPECT_EQ(y[0][0].to_vector<float>(), emb->weight[3].to_vector<float>());
  EXPECT_EQ(y[0][2].to_vector<float>(), emb->weight[9].to_vector<float>());
  EXPECT_EQ(y[1][0].to_vector<float>(), emb->weight[3].to_vector<float>());
}

TEST(NnEmbedding, GradientAccumulatesPerRow) {
  nn::Embedding emb(5, 2);
  emb(tensor<int64_t>({1, 1, 4})).sum().backward();
  EXPECT_EQ(emb->weight.grad().to_vector<float>(), (std::vector<float>{0, 0, 2, 2, 0, 0, 0, 0, 1, 1}));
}

TEST(NnEmbedding, PaddingRowIsZeroAndGetsNoGradient) {
  nn::Embedding emb(nn::EmbeddingOptions(6, 3).padding_idx(2));
  for (float v : emb->weight[2].to_vector<float>()) EXPECT_EQ(v, 0.0f);
  emb(tensor<int64_t>({2, 0, 2, 5})).sum().backward();
  auto g = emb->weight.grad();
  EXPECT_EQ(g[2].to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(g[0].to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(printed(*emb), "Embedding(num_embeddings=6, embedding_dim=3, padding_idx=2)");

  nn::Embedding last(nn::EmbeddingOptions(6, 3).padding_idx(-1));
  EXPECT_EQ(*last->options.padding_idx(), 5);
  for (float v : last->weight[5].to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(NnEmbedding, DefaultWeightsAreStandardNormal) {
  manual_seed(41);
  nn::Embedding emb(400, 50);
  auto v = emb->weight.to_vector<float>();
  double s = 0, q = 0;
  for (float x : v) s += x;
  const double mean = s / static_cast<double>(v.size());
  for (float x : v) q += (x - mean) * (x - mean);
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(q / static_cast<double>(v.size())), 1.0, 0.02);
  EXPECT_EQ(printed(*emb), "Embedding(num_embeddings=400, embedding_dim=50)");
}

TEST(NnEmbedding, Errors) {
  nn::Embedding emb(5, 2);
  expect_error_mentions([&] { emb(tensor({1.f, 2.f})); }, {"Embedding", "int64"});
  expect_error_mentions([&] { emb(tensor<int64_t>({2, 5})); }, {"embedding", "index 5", "size 5"});  // out of range
  expect_error_mentions([&] { emb(tensor<int64_t>({-1})); }, {"embedding", "index -1"});
  EXPECT_THROW(nn::Embedding(nn::EmbeddingOptions(5, 2).padding_idx(5)), Error);
  EXPECT_THROW(nn::Embedding(0, 2), Error);
}

}  // namespace

// Tests of Dropout: the train-mode mask (zeros or scaled survivors, at rate p), identity in eval mode, the
// edge probabilities, train()/eval() reaching it through a container, printing and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/modules/container.h"
#include "nn/modules/dropout.h"
#include "nn/modules/linear.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
using nn::testing::printed;

TEST(NnDropout, TrainingZeroesAtRatePAndScalesTheRest) {
  manual_seed(31);
  nn::Dropout dropout(0.3);
  Tensor x = rand({100, 100}) + 1.0;  // values in [1, 2): never zero by themselves
  Tensor y = dropout(x);
  auto xv = x.to_vector<float>(), yv = y.to_vector<float>();
  int64_t zeros_seen = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0f)
      ++zeros_seen;
    else
      EXPECT_NEAR(yv[i], xv[i] / 0.7f, 1e-5);
  }
  EXPECT_NEAR(static_cast<double>(zeros_seen) / 10000.0, 0.3, 0.02);
}

TEST(NnDropout, EvalIsTheIdentity) {
  nn::Dropout dropout(0.5);
  dropout->eval();
  Tensor x = randn({10, 10});
  EXPECT_EQ(dropout(x).to_vector<float>(), x.to_vector<float>());
  dropout->train();
  EXPECT_NE(dropout(x).to_vector<float>(), x.to_vector<float>());
}

TEST(NnDropout, EdgeProbabilities) {
  Tensor x = randn({5, 5});
  EXPECT_EQ(nn::Dropout(0.0)(x).to_vector<float>(), x.to_vector<float>());
  for (float v : nn::Dropout(1.0)(x).to_vector<float>()) EXPECT_EQ(v, 0.0f);
  EXPECT_THROW(nn::Dropout(1.5), Error);
  EXPECT_THROW(nn::Dropout(-0.1), Error);
}

TEST(NnDropout, FollowsTheContainerMode) {
  nn::Sequential net(nn::Linear(4, 4), nn::Dropout(0.9));
  net->eval();
  EXPECT_FALSE(net->ptr<nn::DropoutImpl>(1)->is_training());
  Tensor x = randn({3, 4});
  EXPECT_TRUE(allclose(net(x), net->at<nn::LinearImpl>(0).forward(x)));
  net->train();
  EXPECT_TRUE(net->ptr(1)->is_training());
}

TEST(NnDropout, GradientIsTheMask) {
  nn::Dropout dropout(0.5);
  Tensor x = rand({20}, requires_grad());
  Tensor y = dropout(x);
  y.sum().backward();
  auto g = x.grad().to_vector<float>(), yv = y.to_vector<float>();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_FLOAT_EQ(g[i], yv[i] == 0.0f ? 0.0f : 2.0f);
}

TEST(NnDropout, PrettyPrint) {
  EXPECT_EQ(printed(*nn::Dropout()), "Dropout(p=0.5)");
  EXPECT_EQ(printed(*nn::Dropout(0.25)), "Dropout(p=0.25)");
}

}  // namespace

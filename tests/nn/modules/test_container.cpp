// Tests of Sequential, ModuleList, ModuleDict and Functional, and of the Module tree features they exercise in
// a nested model: dotted parameter names, freezing a subtree, clone of a tree, to(kFloat64) keeping the member
// handles, train/eval propagation and the tree printout.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "nn/modules/activation.h"
#include "nn/modules/container.h"
#include "nn/modules/dropout.h"
#include "nn/modules/linear.h"
#include "nn/modules/normalization.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
using nn::testing::expect_error_mentions;
using nn::testing::printed;

TEST(NnSequential, ChainsItsModulesInOrder) {
  nn::Sequential seq(nn::Linear(3, 4), nn::ReLU(), nn::Linear(4, 2));
  ASSERT_EQ(seq->size(), 3u);
  Tensor x = randn({5, 3});
  auto& fc1 = seq->at<nn::LinearImpl>(0);
  auto& fc2 = seq->at<nn::LinearImpl>(2);
  Tensor expected = fc2.forward(relu(fc1.forward(x)));
  EXPECT_TRUE(allclose(seq(x), expected));
  EXPECT_EQ(seq->named_children().keys(), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(seq->named_parameters().keys(), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
}

TEST(NnSequential, PushBackHoldersPointersAndNames) {
  nn::Sequential seq;
  EXPECT_TRUE(seq->is_empty());
  Tensor x = randn({2, 4});
  EXPECT_TRUE(seq(x).is_same(x));  // an empty chain is the identity
  seq->push_back(nn::Linear(4, 4));
  seq->push_back(std::make_shared<nn::TanhImpl>());
  seq->push_back("head", nn::Linear(4, 1));
  seq->push_back(nn::Functional([](Tensor t) { return t * 2.0; }));
  EXPECT_EQ(seq->named_children().keys(), (std::vector<std::string>{"0", "1", "head", "3"}));
  Tensor expected = seq->at<nn::LinearImpl>(2).forward(seq->at<nn::LinearImpl>(0).forward(x).tanh()) * 2.0;
  EXPECT_TRUE(allclose(seq(x), expected));
  EXPECT_EQ((*seq)[1]->name(), "Tanh");
  EXPECT_NE(seq->ptr<nn::TanhImpl>(1), nullptr);
  expect_error_mentions([&] { seq->ptr<nn::LinearImpl>(1); }, {"Sequential", "Tanh"});
  expect_error_mentions([&] { seq->ptr(4); }, {"Sequential", "4"});
  EXPECT_THROW(seq->push_back("head", nn::ReLU()), Error);  // duplicate name
}

TEST(NnSequential, ForwardRangeRunsAPartOfTheChain) {
  manual_seed(3);
  nn::Sequential seq(nn::Linear(3, 4), nn::ReLU(), nn::Linear(4, 2), nn::Tanh());
  Tensor x = randn({5, 3});
  const Tensor full = seq(x);
  for (size_t k = 0; k <= seq->size(); ++k)
    EXPECT_TRUE(allclose(seq->forward_range(seq->forward_range(x, 0, k), k, seq->size()), full)) << k;
  Tensor middle = seq->forward_range(relu(seq->at<nn::LinearImpl>(0).forward(x)), 2, 3);
  EXPECT_TRUE(allclose(middle, seq->at<nn::LinearImpl>(2).forward(relu(seq->at<nn::LinearImpl>(0).forward(x)))));
  EXPECT_TRUE(seq->forward_range(x, 2, 2).is_same(x));  // an empty range is the identity
  expect_error_mentions([&] { seq->forward_range(x, 3, 2); }, {"Sequential", "forward_range(3, 2)", "4 modules"});
  expect_error_mentions([&] { seq->forward_range(x, 0, 5); }, {"Sequential", "forward_range(0, 5)", "4 modules"});
}

TEST(NnSequential, BracesBuildTheChildrenLeftToRight) {
  // Braces fix the order in which the layers are constructed, and so draw their initial weights: the same
  // seed gives the same network with every compiler (with parentheses the order is the compiler's choice).
  manual_seed(11);
  nn::Sequential braced{nn::Linear(3, 4), nn::ReLU(), nn::Linear(4, 2)};
  manual_seed(11);
  nn::Linear first(3, 4);
  nn::Linear second(4, 2);
  EXPECT_EQ(braced->at<nn::LinearImpl>(0).weight.to_vector<float>(), first->weight.to_vector<float>());
  EXPECT_EQ(braced->at<nn::LinearImpl>(2).weight.to_vector<float>(), second->weight.to_vector<float>());
}

TEST(NnSequential, NestsAndExtends) {
  nn::Sequential inner(nn::Linear(2, 3), nn::ReLU());
  nn::Sequential outer(inner, nn::Linear(3, 1));
  EXPECT_EQ(outer->named_parameters().keys(),
            (std::vector<std::string>{"0.0.weight", "0.0.bias", "1.weight", "1.bias"}));
  Tensor x = randn({4, 2});
  EXPECT_TRUE(allclose(outer(x), outer->at<nn::LinearImpl>(1).forward(inner(x))));
  nn::Sequential extended(nn::Linear(2, 2));
  extended->extend(*inner);
  EXPECT_EQ(extended->size(), 3u);
  EXPECT_EQ(extended->named_children().keys(), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_TRUE(extended->ptr(1) == inner->ptr(0));  // shared, not copied
}

TEST(NnSequential, CloneIsDeepAndIndependent) {
  nn::Sequential seq(nn::Linear(3, 3), nn::BatchNorm1d(3), nn::ReLU());
  seq(randn({4, 3}));  // moves the running statistics
  auto copy = std::dynamic_pointer_cast<nn::SequentialImpl>(seq->clone());
  ASSERT_NE(copy, nullptr);
  ASSERT_EQ(copy->size(), 3u);
  EXPECT_EQ(copy->named_parameters().keys(), seq->named_parameters().keys());
  for (auto& [name, p] : seq->named_parameters()) {
    Tensor q = copy->named_parameters()[name];
    EXPECT_FALSE(q.is_same(p)) << name;
    EXPECT_EQ(q.to_vector<float>(), p.to_vector<float>()) << name;
  }
  EXPECT_EQ(copy->at<nn::BatchNorm1dImpl>(1).running_mean.to_vector<float>(),
            seq->at<nn::BatchNorm1dImpl>(1).running_mean.to_vector<float>());
  seq->eval();
  copy->eval();
  Tensor x = randn({2, 3});
  EXPECT_TRUE(allclose(copy->forward(x), seq(x)));
  {
    NoGradGuard no_grad;
    copy->at<nn::LinearImpl>(0).weight.fill_(0);
  }
  EXPECT_FALSE(allclose(copy->forward(x), seq(x)));
}

TEST(NnModuleList, PushBackIndexAndIterate) {
  nn::ModuleList list(nn::Linear(2, 3), nn::ReLU());
  list->push_back(std::make_shared<nn::LinearImpl>(3, 1));
  list->push_back(nn::Dropout(0.2));
  EXPECT_EQ(list->size(), 4u);
  EXPECT_EQ(list->named_children().keys(), (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(list->ptr<nn::LinearImpl>(2)->options.in_features(), 3);
  EXPECT_EQ(list->at<nn::DropoutImpl>(3).options.p(), 0.2);
  std::vector<std::string> names;
  for (const auto& module : *list) names.push_back(module->name());
  EXPECT_EQ(names, (std::vector<std::string>{"Linear", "ReLU", "Linear", "Dropout"}));
  EXPECT_EQ(list->named_parameters().keys(), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_THROW(list->ptr(4), Error);
  EXPECT_THROW(list->ptr<nn::ReLUImpl>(0), Error);
  auto copy = std::dynamic_pointer_cast<nn::ModuleListImpl>(list->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_FALSE(copy->at<nn::LinearImpl>(0).weight.is_same(list->at<nn::LinearImpl>(0).weight));
  EXPECT_EQ(copy->at<nn::LinearImpl>(0).weight.to_vector<float>(),
            list->at<nn::LinearImpl>(0).weight.to_vector<float>());
}

TEST(NnModuleDict, InsertContainsAndLookup) {
  nn::ModuleDict dict;
  dict->insert("encoder", nn::Linear(4, 8));
  dict->insert("act", std::make_shared<nn::GELUImpl>());
  EXPECT_TRUE(dict->contains("encoder"));
  EXPECT_FALSE(dict->contains("decoder"));
  EXPECT_EQ(dict->size(), 2u);
  EXPECT_EQ(dict->keys(), (std::vector<std::string>{"encoder", "act"}));
  EXPECT_EQ((*dict)["encoder"]->name(), "Linear");
  EXPECT_EQ(dict->at<nn::LinearImpl>("encoder").options.out_features(), 8);
  EXPECT_EQ(dict->named_parameters().keys(), (std::vector<std::string>{"encoder.weight", "encoder.bias"}));
  expect_error_mentions([&] { (*dict)["decoder"]; }, {"ModuleDict", "decoder"});
  EXPECT_THROW(dict->insert("act", nn::ReLU()), Error);
  EXPECT_THROW(dict->ptr<nn::ReLUImpl>("act"), Error);
  int count = 0;
  for (const auto& [key, module] : *dict) count += module != nullptr;
  EXPECT_EQ(count, 2);
  nn::ModuleDict built(std::vector<std::pair<std::string, std::shared_ptr<nn::Module>>>{{"a", nn::Linear(1, 1).ptr()},
                                                                                        {"b", nn::ReLU().ptr()}});
  EXPECT_EQ(built->keys(), (std::vector<std::string>{"a", "b"}));
}

// ---- a nested model -------------------------------------------------------------------------------------------

struct TwoTowerImpl : nn::Cloneable<TwoTowerImpl> {
  TwoTowerImpl() { reset(); }
  void reset() override {
    encoder = register_module("encoder", nn::Sequential(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 8)));
    heads = register_module("heads", nn::ModuleDict());
    heads->insert("a", nn::Linear(8, 2));
    heads->insert("b", nn::Linear(8, 1));
  }
  std::vector<Tensor> forward(const Tensor& x) {
    Tensor h = encoder(x);
    return {heads->at<nn::LinearImpl>("a").forward(h), heads->at<nn::LinearImpl>("b").forward(h)};
  }
  nn::Sequential encoder = nullptr;
  nn::ModuleDict heads = nullptr;
};
TANDEM_MODULE(TwoTower);

TEST(NnNestedModel, DottedParameterNames) {
  TwoTower net;
  EXPECT_EQ(net->named_parameters().keys(),
            (std::vector<std::string>{"encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
                                      "heads.a.weight", "heads.a.bias", "heads.b.weight", "heads.b.bias"}));
  EXPECT_EQ(net->num_parameters(), (4 * 8 + 8) + (8 * 8 + 8) + (8 * 2 + 2) + (8 + 1));
}

TEST(NnNestedModel, FreezingASubtree) {
  TwoTower net;
  net->encoder->requires_grad_(false);
  EXPECT_EQ(net->num_parameters(/*only_trainable=*/true), (8 * 2 + 2) + (8 + 1));
  auto outs = net->forward(randn({3, 4}));
  (outs[0].sum() + outs[1].sum()).backward();
  for (auto& [name, p] : net->named_parameters()) {
    const bool in_encoder = name.rfind("encoder.", 0) == 0;
    EXPECT_EQ(p.grad().defined(), !in_encoder) << name;
  }
  net->requires_grad_(true);
  EXPECT_EQ(net->num_parameters(true), net->num_parameters());
}

TEST(NnNestedModel, CloneOfAUserModule) {
  TwoTower net;
  auto copy = std::dynamic_pointer_cast<TwoTowerImpl>(net->clone());
  ASSERT_NE(copy, nullptr);
  Tensor x = randn({2, 4});
  EXPECT_TRUE(allclose(copy->forward(x)[0], net->forward(x)[0]));
  EXPECT_FALSE(copy->encoder->at<nn::LinearImpl>(0).weight.is_same(net->encoder->at<nn::LinearImpl>(0).weight));
  // The clone's members are its registered children.
  EXPECT_TRUE(copy->named_parameters()["encoder.0.weight"].is_same(copy->encoder->at<nn::LinearImpl>(0).weight));
}

TEST(NnNestedModel, ToFloat64ReachesMemberHandles) {
  TwoTower net;
  nn::Linear first = nn::Linear(net->encoder->ptr<nn::LinearImpl>(0));
  Tensor handle = first->weight;
  net->to(kFloat64);
  EXPECT_EQ(first->weight.dtype(), kFloat64);
  EXPECT_TRUE(first->weight.is_same(handle));
  for (auto& [name, p] : net->named_parameters()) EXPECT_EQ(p.dtype(), kFloat64) << name;
  auto outs = net->forward(randn({2, 4}, kFloat64));
  EXPECT_EQ(outs[1].dtype(), kFloat64);
}

TEST(NnNestedModel, TrainEvalReachesEveryModule) {
  TwoTower net;
  net->eval();
  for (auto& m : net->modules()) EXPECT_FALSE(m->is_training()) << m->name();
  net->train();
  for (auto& m : net->modules()) EXPECT_TRUE(m->is_training()) << m->name();
}

TEST(NnContainers, TreeString) {
  nn::Sequential seq(nn::Linear(3, 4), nn::ReLU());
  EXPECT_EQ(printed(*seq), "Sequential");
  EXPECT_EQ(seq->tree_string(),
            "Sequential\n"
            "  (0): Linear(in_features=3, out_features=4, bias=true)  [weight [4, 3], bias [4]; 16 params]\n"
            "  (1): ReLU()\n"
            "Total parameters: 16 (trainable: 16)\n");
  seq->ptr(0)->requires_grad_(false);
  EXPECT_NE(seq->tree_string().find("weight [4, 3] frozen"), std::string::npos);
  EXPECT_NE(seq->tree_string().find("(trainable: 0)"), std::string::npos);
}

}  // namespace

// Tests of nn::Module itself on a small hand-built tree: registration of parameters, buffers and submodules
// (and every misuse of it), traversal with dotted names (parameters, buffers, children, modules), apply,
// train/eval, to(dtype) and to(device) keeping the member handles and their gradients, zero_grad, freezing,
// replace_module, clone() (training modes kept per module; refused for a module that is not Cloneable), the
// printed tree, the TANDEM_MODULE holder and the chained setters of the options structs.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "backends/cuda/runtime.h"
#include "nn/init.h"
#include "nn/modules/activation.h"
#include "nn/modules/container.h"
#include "nn/modules/conv.h"
#include "nn/modules/dropout.h"
#include "nn/modules/linear.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
using nn::testing::expect_error_mentions;

/// A leaf-ish block with every kind of member: a trained and a frozen parameter, an int64 and a float buffer,
/// and a child module.
struct BlockImpl : nn::Module {
  BlockImpl() : nn::Module("Block") {
    scale = register_parameter("scale", ones({3}));
    offset = register_parameter("offset", zeros({3}), /*requires_grad=*/false);
    steps = register_buffer("steps", zeros(Dims{}, kInt64));
    stats = register_buffer("stats", full({3}, 0.5));
    fc = register_module("fc", nn::Linear(3, 2));
  }
  Tensor forward(const Tensor& x) { return fc(x * scale + offset); }
  Tensor scale, offset, steps, stats;
  nn::Linear fc = nullptr;
};
TANDEM_MODULE(Block);

/// encoder (a Block) followed by a Sequential head.
struct NetImpl : nn::Module {
  NetImpl() : nn::Module("Net") {
    encoder = register_module("encoder", Block());
    head = register_module("head", nn::Sequential(nn::Linear(2, 2), nn::ReLU()));
  }
  Tensor forward(const Tensor& x) { return head(encoder(x)); }
  Block encoder = nullptr;
  nn::Sequential head = nullptr;
};
TANDEM_MODULE(Net);

/// A module whose name is derived from its C++ type.
struct UnnamedImpl : nn::Module {};
TANDEM_MODULE(Unnamed);

TEST(NnModule, RegistrationReturnsTheStoredHandles) {
  Net net;
  EXPECT_EQ(net->named_parameters().keys(),
            (std::vector<std::string>{"encoder.scale", "encoder.offset", "encoder.fc.weight", "encoder.fc.bias",
                                      "head.0.weight", "head.0.bias"}));
  EXPECT_TRUE(net->named_parameters()["encoder.scale"].is_same(net->encoder->scale));
  EXPECT_TRUE(net->named_parameters()["encoder.fc.weight"].is_same(net->encoder->fc->weight));
  EXPECT_TRUE(net->encoder->scale.requires_grad());
  EXPECT_FALSE(net->encoder->offset.requires_grad());
  EXPECT_EQ(net->parameters().size(), 6u);
  EXPECT_TRUE(net->parameters(/*recurse=*/false).empty());
  EXPECT_EQ(net->encoder->named_parameters(/*recurse=*/false).keys(), (std::vector<std::string>{"scale", "offset"}));

  EXPECT_EQ(net->named_buffers().keys(), (std::vector<std::string>{"encoder.steps", "encoder.stats"}));
  EXPECT_TRUE(net->named_buffers()["encoder.stats"].is_same(net->encoder->stats));
  EXPECT_EQ(net->buffers().size(), 2u);
  EXPECT_TRUE(net->buffers(/*recurse=*/false).empty());
  EXPECT_FALSE(net->encoder->stats.requires_grad());
  EXPECT_EQ(net->num_parameters(), 3 + 3 + (3 * 2 + 2) + (2 * 2 + 2));
  EXPECT_EQ(net->num_parameters(/*only_trainable=*/true), 20 - 3);

  // A non-leaf tensor is detached into a leaf parameter.
  Unnamed m;
  Tensor source = randn({2}, requires_grad());
  Tensor& p = m->register_parameter("w", source * 2.0);
  EXPECT_TRUE(p.is_leaf());
  EXPECT_TRUE(p.requires_grad());
  EXPECT_EQ(m->name(), "Unnamed");  // derived from the C++ type, "Impl" dropped
}

TEST(NnModule, RegistrationMisuseNamesTheProblem) {
  Block block;
  expect_error_mentions([&] { block->register_parameter("scale", ones({1})); },
                        {"register_parameter", "'scale'", "already registered", "Block"});
  expect_error_mentions([&] { block->register_buffer("fc", ones({1})); }, {"register_buffer", "'fc'", "already"});
  expect_error_mentions([&] { block->register_module("steps", nn::ReLU()); }, {"register_module", "'steps'"});
  expect_error_mentions([&] { block->register_parameter("a.b", ones({1})); }, {"register_parameter", "'a.b'", "'.'"});
  expect_error_mentions([&] { block->register_buffer("", ones({1})); }, {"register_buffer", "empty"});
  expect_error_mentions([&] { block->register_parameter("u", Tensor()); }, {"register_parameter", "'u'", "undefined"});
  expect_error_mentions([&] { block->register_buffer("u", Tensor()); }, {"register_buffer", "'u'", "undefined"});
  expect_error_mentions([&] { block->register_module("m", nn::Linear(nullptr)); }, {"register_module", "'m'", "empty"});
  // Nothing was added by the failed calls.
  EXPECT_EQ(block->named_parameters(false).size(), 2u);
  EXPECT_EQ(block->named_buffers(false).size(), 2u);
  EXPECT_EQ(block->children().size(), 1u);
}

TEST(NnModule, ChildrenAndModulesInRegistrationOrder) {
  Net net;
  EXPECT_EQ(net->named_children().keys(), (std::vector<std::string>{"encoder", "head"}));
  ASSERT_EQ(net->children().size(), 2u);
  EXPECT_EQ(net->children()[0], net->encoder.ptr());
  EXPECT_EQ(net->named_modules().keys(),
            (std::vector<std::string>{"", "encoder", "encoder.fc", "head", "head.0", "head.1"}));
  EXPECT_EQ(net->named_modules("net").keys(),
            (std::vector<std::string>{"net", "net.encoder", "net.encoder.fc", "net.head", "net.head.0", "net.head.1"}));
  const auto all = net->modules();
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0], net.ptr());
  EXPECT_EQ(all[2], net->encoder->fc.ptr());
  EXPECT_EQ(net->modules(/*include_self=*/false).size(), 5u);
  std::vector<std::string> names;
  for (const auto& m : all) names.push_back(m->name());
  EXPECT_EQ(names, (std::vector<std::string>{"Net", "Block", "Linear", "Sequential", "Linear", "ReLU"}));
}

TEST(NnModule, ApplyVisitsEveryModuleDepthFirst) {
  Net net;
  std::vector<std::string> visited;
  net->apply([&](nn::Module& m) { visited.push_back(m.name()); });
  EXPECT_EQ(visited, (std::vector<std::string>{"Net", "Block", "Linear", "Sequential", "Linear", "ReLU"}));
  std::vector<std::string> paths;
  net->apply([&](const std::string& path, nn::Module&) { paths.push_back(path); });
  EXPECT_EQ(paths, (std::vector<std::string>{"", "encoder", "encoder.fc", "head", "head.0", "head.1"}));
  // The usual use: initialise every layer of one kind.
  net->apply([](nn::Module& m) {
    if (auto* linear = dynamic_cast<nn::LinearImpl*>(&m)) {
      nn::init::constant_(linear->weight, 0.25);
      nn::init::zeros_(linear->bias);
    }
  });
  for (float w : net->encoder->fc->weight.to_vector<float>()) EXPECT_EQ(w, 0.25f);
  for (float w : net->head->at<nn::LinearImpl>(0).weight.to_vector<float>()) EXPECT_EQ(w, 0.25f);
  // x = [1, 2, 3]: encoder gives fc(x * 1 + 0) = [1.5, 1.5]; head: relu(0.25 * 3) = 0.75 twice.
  EXPECT_EQ(net(tensor({1.f, 2.f, 3.f})).to_vector<float>(), (std::vector<float>{0.75f, 0.75f}));
}

TEST(NnModule, TrainAndEvalSetTheWholeSubtree) {
  Net net;
  EXPECT_TRUE(net->is_training());
  net->head->eval();  // only the head's subtree
  EXPECT_TRUE(net->is_training());
  EXPECT_TRUE(net->encoder->fc->is_training());
  EXPECT_FALSE(net->head->is_training());
  EXPECT_FALSE(net->head->ptr(1)->is_training());
  net->eval();
  for (const auto& m : net->modules()) EXPECT_FALSE(m->is_training()) << m->name();
  net->train();
  for (const auto& m : net->modules()) EXPECT_TRUE(m->is_training()) << m->name();
  net->train(false);
  EXPECT_FALSE(net->encoder->is_training());
}

TEST(NnModule, ToDtypeKeepsHandlesAndMovesGradients) {
  Net net;
  Tensor scale = net->encoder->scale;
  net(tensor({1.f, 2.f, 3.f})).sum().backward();
  const std::vector<float> grad_before = scale.grad().to_vector<float>();
  const std::vector<float> weight_before = net->encoder->fc->weight.to_vector<float>();

  net->to(kFloat64);
  EXPECT_TRUE(net->encoder->scale.is_same(scale));
  for (const auto& [name, p] : net->named_parameters()) EXPECT_EQ(p.dtype(), kFloat64) << name;
  EXPECT_EQ(scale.grad().dtype(), kFloat64);
  const std::vector<double> grad_after = scale.grad().to_vector<double>();
  for (size_t i = 0; i < grad_before.size(); ++i) EXPECT_EQ(grad_after[i], static_cast<double>(grad_before[i]));
  const std::vector<double> weight_after = net->encoder->fc->weight.to_vector<double>();
  for (size_t i = 0; i < weight_before.size(); ++i) EXPECT_EQ(weight_after[i], static_cast<double>(weight_before[i]));
  EXPECT_EQ(net->encoder->stats.dtype(), kFloat64);  // floating buffers follow
  EXPECT_EQ(net->encoder->steps.dtype(), kInt64);    // integer buffers keep their type
  EXPECT_FALSE(net->encoder->offset.requires_grad());
  EXPECT_EQ(net(tensor({1.0, 2.0, 3.0})).dtype(), kFloat64);

  net->to(Device(kCPU), kFloat32);
  EXPECT_EQ(net->encoder->fc->weight.dtype(), kFloat32);
  EXPECT_EQ(net->encoder->fc->weight.to_vector<float>(), weight_before);
}

TEST(NnModule, ToDevice) {
  Net net;
  const void* storage = net->encoder->scale.data_ptr();
  net->to(Device(kCPU));  // already there: nothing is copied
  EXPECT_EQ(net->encoder->scale.data_ptr(), storage);
  if (!cuda::is_available()) {
    // Without a GPU the move fails with a message that says why, and the module stays on the CPU.
    expect_error_mentions([&] { net->to(Device(kCUDA)); }, {"cuda"});
    for (const auto& [name, p] : net->named_parameters()) EXPECT_TRUE(p.device().is_cpu()) << name;
    GTEST_SKIP() << "no CUDA device: only the CPU half of to(device) was checked";
  }
  Tensor weight = net->encoder->fc->weight;
  const std::vector<float> values = weight.to_vector<float>();
  Tensor x = randn({4, 3});
  const std::vector<float> expected = net(x).to_vector<float>();
  net(x).sum().backward();
  net->to(Device(kCUDA));
  EXPECT_TRUE(net->encoder->fc->weight.is_same(weight));
  for (const auto& [name, p] : net->named_parameters()) EXPECT_TRUE(p.device().is_cuda()) << name;
  for (const auto& [name, b] : net->named_buffers()) EXPECT_TRUE(b.device().is_cuda()) << name;
  EXPECT_TRUE(weight.grad().device().is_cuda());
  const std::vector<float> on_gpu = net(x.to(Device(kCUDA))).cpu().to_vector<float>();
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(on_gpu[i], expected[i], 1e-5);
  net->to(Device(kCPU));
  EXPECT_EQ(weight.to_vector<float>(), values);
}

TEST(NnModule, ZeroGradClearsOrZeroes) {
  Net net;
  net(randn({2, 3})).sum().backward();
  for (const auto& [name, p] : net->named_parameters()) {
    if (p.requires_grad()) {
      EXPECT_TRUE(p.grad().defined()) << name;
    }
  }
  net->zero_grad(/*set_to_none=*/false);
  for (const auto& [name, p] : net->named_parameters()) {
    if (!p.requires_grad()) continue;
    ASSERT_TRUE(p.grad().defined()) << name;
    for (float g : p.grad().to_vector<float>()) EXPECT_EQ(g, 0.0f) << name;
  }
  net->zero_grad();
  for (const auto& [name, p] : net->named_parameters()) EXPECT_FALSE(p.grad().defined()) << name;
}

TEST(NnModule, FreezingASubtreeAndReplacingAChild) {
  Net net;
  nn::Module& frozen = net->encoder->requires_grad_(false);
  EXPECT_EQ(&frozen, net->encoder.get());
  EXPECT_EQ(net->num_parameters(true), 2 * 2 + 2);
  net(randn({2, 3})).sum().backward();
  EXPECT_FALSE(net->encoder->fc->weight.grad().defined());
  EXPECT_TRUE(net->head->at<nn::LinearImpl>(0).weight.grad().defined());

  auto new_head = net->replace_module("head", std::make_shared<nn::LinearImpl>(2, 4));
  EXPECT_EQ(net->named_children()["head"], new_head);
  EXPECT_TRUE(net->named_parameters()["head.weight"].is_same(new_head->weight));
  EXPECT_FALSE(net->named_parameters().contains("head.0.weight"));
  expect_error_mentions([&] { net->replace_module("tail", std::make_shared<nn::ReLUImpl>()); },
                        {"replace_module", "Net", "'tail'"});
}

TEST(NnModule, CloneKeepsEachModulesTrainingMode) {
  nn::Sequential seq(nn::Linear(3, 3), nn::Sequential(nn::Dropout(0.5), nn::Linear(3, 1)));
  seq->ptr(1)->eval();  // a subtree in evaluation mode under a parent in training mode
  auto copy = std::dynamic_pointer_cast<nn::SequentialImpl>(seq->clone());
  ASSERT_NE(copy, nullptr);
  const auto original = seq->modules(), cloned = copy->modules();
  ASSERT_EQ(cloned.size(), original.size());
  for (size_t i = 0; i < original.size(); ++i)
    EXPECT_EQ(cloned[i]->is_training(), original[i]->is_training()) << "module " << i << " " << original[i]->name();
  EXPECT_TRUE(copy->is_training());
  EXPECT_FALSE(copy->ptr(1)->is_training());
}

TEST(NnModule, CloneNeedsCloneable) {
  Net net;
  expect_error_mentions([&] { net->clone(); }, {"clone", "Net", "Cloneable"});
}

TEST(NnModule, PrintingShowsTheTreeWithShapesAndCounts) {
  Net net;
  const std::string expected =
      "Net\n"
      "  (encoder): Block  [scale [3], offset [3] frozen; 6 params]\n"
      "    (fc): Linear(in_features=3, out_features=2, bias=true)  [weight [2, 3], bias [2]; 8 params]\n"
      "  (head): Sequential\n"
      "    (0): Linear(in_features=2, out_features=2, bias=true)  [weight [2, 2], bias [2]; 6 params]\n"
      "    (1): ReLU()\n"
      "Total parameters: 20 (trainable: 17)\n";
  EXPECT_EQ(net->tree_string(), expected);
  std::ostringstream via_module, via_holder;
  via_module << *net;
  via_holder << net;
  EXPECT_EQ(via_module.str(), expected);
  EXPECT_EQ(via_holder.str(), expected);
}

TEST(NnModuleHolder, ConstructionSharingAndEmptyHolders) {
  Net a;  // a default-constructible Impl: the holder builds one
  ASSERT_FALSE(a.is_empty());
  Net b = a;  // copies share the module
  EXPECT_EQ(a.get(), b.get());
  Net c(std::make_shared<NetImpl>());
  EXPECT_NE(c.get(), a.get());
  Net none(nullptr);
  EXPECT_TRUE(none.is_empty());
  EXPECT_FALSE(static_cast<bool>(none));
  expect_error_mentions([&] { none->parameters(); }, {"empty module holder"});
  nn::Linear no_default;  // LinearImpl has no default constructor: an empty holder
  EXPECT_TRUE(no_default.is_empty());
  nn::Linear fc(4, 3);  // arguments go to the Impl's constructor
  EXPECT_EQ(fc->options.out_features(), 3);
  EXPECT_EQ(fc(randn({2, 4})).sizes(), Dims({2, 3}));  // operator() calls forward
}

TEST(NnOptions, ChainedSettersAndExpandingArrays) {
  auto opts = nn::Conv2dOptions(1, 8, 3);
  auto& same = opts.stride(2).padding({1, 2}).bias(false);
  EXPECT_EQ(&same, &opts);  // each setter returns the options themselves
  EXPECT_EQ(opts.kernel_size(), nn::ExpandingArray2({3, 3}));
  EXPECT_EQ(opts.stride()[1], 2);
  EXPECT_EQ(opts.padding().vec(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(opts.dilation(), nn::ExpandingArray2(1));
  EXPECT_FALSE(opts.bias());
  nn::Conv2d conv(opts);
  EXPECT_EQ(conv(randn({1, 1, 6, 6})).sizes(), Dims({1, 8, 3, 4}));  // (6 + 2 - 3) / 2 + 1, (6 + 4 - 3) / 2 + 1
  // The mutable getter writes the stored value.
  opts.groups() = 2;
  EXPECT_EQ(opts.groups(), 2);
  EXPECT_EQ(nn::LinearOptions(3, 4).bias(false).in_features(3).out_features(), 4);
  std::ostringstream os;
  os << opts.padding();
  EXPECT_EQ(os.str(), "[1, 2]");
  expect_error_mentions([] { nn::ExpandingArray2({1, 2, 3}); }, {"ExpandingArray", "1 or 2", "3"});
}

}  // namespace

// Module and optimizer checkpoints: bit-exact round trips of parameters and buffers through module handles,
// in-place loading (same tensors, dtype converted, frozen flags kept), strict and non-strict matching with the
// load report, prefix mapping for loading an encoder out of a larger checkpoint, and optimizer state that
// resumes training bit for bit.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nn/modules/container.h"
#include "nn/modules/linear.h"
#include "nn/modules/normalization.h"
#include "nn/optim/adam.h"
#include "nn/optim/sgd.h"
#include "nn/serialize/checkpoint.h"
#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem::serialize_testing;

struct EncoderDecoderImpl : nn::Module {
  EncoderDecoderImpl()
      : encoder(register_module("encoder", nn::Sequential(nn::Linear(4, 6), nn::BatchNorm1d(6)))),
        decoder(register_module("decoder", nn::Linear(6, 3))) {}
  Tensor forward(const Tensor& x) { return decoder(encoder(x).relu()); }
  nn::Sequential encoder;
  nn::Linear decoder;
};
TANDEM_MODULE(EncoderDecoder);

/// A different model that reuses an encoder of the same shape under another name.
struct BackboneHeadImpl : nn::Module {
  BackboneHeadImpl()
      : backbone(register_module("backbone", nn::Sequential(nn::Linear(4, 6), nn::BatchNorm1d(6)))),
        head(register_module("head", nn::Linear(6, 2))) {}
  nn::Sequential backbone;
  nn::Linear head;
};
TANDEM_MODULE(BackboneHead);

/// Runs the model in training mode on a batch so that the BatchNorm buffers move away from their defaults.
void touch_buffers(EncoderDecoder& model) {
  NoGradGuard no_grad;
  model->train();
  model(randn({8, 4}));
}

class NnCheckpoint : public ScratchDir {};

TEST_F(NnCheckpoint, ModuleRoundTripIsBitExact) {
  manual_seed(1);
  EncoderDecoder a;
  touch_buffers(a);
  save(a, path("model.safetensors"));

  manual_seed(2);
  EncoderDecoder b;
  const auto b_state = module_state_dict(*b);
  const LoadReport report = load(b, path("model.safetensors"));
  EXPECT_TRUE(report.ok()) << report;
  EXPECT_EQ(report.loaded.size(), b_state.size());

  const auto a_state = module_state_dict(*a);
  ASSERT_EQ(a_state.keys(), b_state.keys());
  EXPECT_EQ(a_state.keys(),
            (std::vector<std::string>{"encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias",
                                      "decoder.weight", "decoder.bias", "encoder.1.running_mean",
                                      "encoder.1.running_var", "encoder.1.num_batches_tracked"}));
  for (const auto& [key, t] : a_state) EXPECT_TRUE(bit_equal(b_state[key], t)) << key;
  EXPECT_EQ(b->encoder[1]->named_buffers()["num_batches_tracked"].item<int64_t>(), 1);

  // The file is a plain safetensors file marked as a tandem module checkpoint.
  const auto raw = load_safetensors(path("model.safetensors"));
  EXPECT_EQ(raw.metadata.at("format"), "tandem");
  EXPECT_EQ(raw.metadata.at("content"), "module");
  EXPECT_EQ(raw.tensors.keys(), a_state.keys());
}

TEST_F(NnCheckpoint, LoadingCopiesIntoTheExistingTensors) {
  manual_seed(3);
  nn::Linear source(3, 2);
  save(source, path("lin.safetensors"), {{"epoch", "4"}});

  nn::Linear target(3, 2);
  target->bias.requires_grad_(false);  // frozen
  const Tensor weight_handle = target->weight;
  optim::SGD opt(target->parameters(), optim::SGDOptions(0.1));
  load(target, path("lin.safetensors"));
  EXPECT_TRUE(weight_handle.is_same(target->weight));
  EXPECT_TRUE(bit_equal(opt.param_groups()[0].params()[0], source->weight));  // the optimizer sees the new values
  EXPECT_TRUE(target->weight.requires_grad());
  EXPECT_FALSE(target->bias.requires_grad());
  EXPECT_EQ(load_safetensors(path("lin.safetensors")).metadata.at("epoch"), "4");
}

TEST_F(NnCheckpoint, LoadingConvertsTheDtypeAndKeepsTheModules) {
  manual_seed(4);
  nn::Linear source(3, 2);  // float32
  save(source, path("f32.safetensors"));
  nn::Linear target(3, 2);
  target->to(kFloat64);
  load(target, path("f32.safetensors"));
  EXPECT_EQ(target->weight.dtype(), kFloat64);
  EXPECT_TRUE(bit_equal(target->weight, source->weight.to(kFloat64)));
  EXPECT_TRUE(target->weight.device().is_cpu());
}

TEST_F(NnCheckpoint, StrictLoadListsEveryProblemAndChangesNothing) {
  manual_seed(5);
  EncoderDecoder a;
  save(a, path("a.safetensors"));
  BackboneHead b;
  const Tensor before = b->head->weight.clone();
  const Tensor backbone_before = b->backbone[0]->named_parameters()["weight"].clone();
  expect_error_mentions([&] { load(b, path("a.safetensors")); },
                        {"a.safetensors", "missing: backbone.0.weight", "missing: head.bias",
                         "unexpected: encoder.0.weight", "unexpected: decoder.bias", "nothing was loaded"});
  EXPECT_TRUE(bit_equal(b->head->weight, before));
  EXPECT_TRUE(bit_equal(b->backbone[0]->named_parameters()["weight"], backbone_before));
}

TEST_F(NnCheckpoint, ShapeMismatchIsReported) {
  nn::Linear small(3, 2), large(5, 2);
  save(small, path("small.safetensors"));
  expect_error_mentions([&] { load(large, path("small.safetensors")); },
                        {"mismatched: weight: checkpoint [2, 3] vs module [2, 5]"});

  const Tensor weight_before = large->weight.clone();
  const LoadReport report = load(large, path("small.safetensors"), LoadOptions().strict(false));
  ASSERT_EQ(report.mismatched.size(), 1u);
  EXPECT_EQ(report.mismatched[0].key, "weight");
  EXPECT_EQ(report.mismatched[0].checkpoint_shape, Dims({2, 3}));
  EXPECT_EQ(report.mismatched[0].module_shape, Dims({2, 5}));
  EXPECT_EQ(report.loaded, std::vector<std::string>{"bias"});
  EXPECT_TRUE(bit_equal(large->weight, weight_before));
  EXPECT_TRUE(bit_equal(large->bias, small->bias));
  EXPECT_FALSE(report.ok());
}

TEST_F(NnCheckpoint, NonStrictLoadReportsMissingAndUnexpected) {
  manual_seed(6);
  EncoderDecoder a;
  save(a, path("a.safetensors"));
  BackboneHead b;
  const LoadReport report = load(b, path("a.safetensors"), LoadOptions().strict(false));
  EXPECT_TRUE(report.loaded.empty());
  EXPECT_EQ(report.missing.size(), 9u);     // backbone: 4 parameters and 3 buffers; head: 2 parameters
  EXPECT_EQ(report.unexpected.size(), 9u);  // every key of a
  EXPECT_TRUE(report.mismatched.empty());
}

// Transfer learning: the encoder of a larger checkpoint becomes the backbone; the head is left alone.
TEST_F(NnCheckpoint, PrefixMappingLoadsAnEncoderOutOfALargerCheckpoint) {
  manual_seed(7);
  EncoderDecoder pretrained;
  touch_buffers(pretrained);
  save(pretrained, path("pretrained.safetensors"));

  BackboneHead model;
  const Tensor head_before = model->head->weight.clone();
  const LoadReport report = load(model, path("pretrained.safetensors"),
                                 LoadOptions().prefix_map({{"encoder.", "backbone."}}).only_prefix(true));
  EXPECT_TRUE(report.ok()) << report;
  EXPECT_EQ(report.loaded.size(), 7u);
  for (const auto& [key, t] : module_state_dict(*pretrained->encoder))
    EXPECT_TRUE(bit_equal(module_state_dict(*model->backbone)[key], t)) << key;
  EXPECT_TRUE(bit_equal(model->head->weight, head_before));

  // Without only_prefix the decoder's keys are unexpected and the head's missing.
  BackboneHead other;
  expect_error_mentions([&] {
    load(other, path("pretrained.safetensors"), LoadOptions().prefix_map({{"encoder.", "backbone."}}));
  }, {"unexpected: decoder.weight", "missing: head.weight"});

  // Mapping onto the empty prefix loads the encoder into a module of its own.
  nn::Sequential encoder(nn::Linear(4, 6), nn::BatchNorm1d(6));
  EXPECT_TRUE(load(encoder, path("pretrained.safetensors"), LoadOptions().prefix_map({{"encoder.", ""}}).only_prefix(true)).ok());
  EXPECT_TRUE(bit_equal(encoder[0]->named_parameters()["bias"],
                        pretrained->encoder[0]->named_parameters()["bias"]));
}

TEST_F(NnCheckpoint, PrefixMappingErrors) {
  nn::Linear lin(2, 2);
  nn::OrderedDict<Tensor> state;
  state.insert("old.weight", randn({2, 2}));
  state.insert("weight", randn({2, 2}));
  state.insert("old.bias", randn({2}));
  expect_error_mentions([&] { load_state_dict(*lin, state, LoadOptions().prefix_map({{"old.", ""}})); },
                        {"'old.weight' and 'weight' both map to the module key 'weight'"});
  expect_error_mentions([&] { load_state_dict(*lin, state, LoadOptions().only_prefix(true)); },
                        {"only_prefix", "prefix_map is empty"});
  // The first matching prefix wins.
  const LoadReport report =
      load_state_dict(*lin, state, LoadOptions().prefix_map({{"old.", "gone."}, {"old.", ""}}).strict(false));
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"old.weight", "old.bias"}));
  EXPECT_EQ(report.loaded, std::vector<std::string>{"weight"});
  EXPECT_EQ(report.missing, std::vector<std::string>{"bias"});
}

// ---- optimizers -----------------------------------------------------------------------------------------------
/// Three Adam steps on a least-squares problem.
void train_steps(nn::Linear& model, optim::Optimizer& opt, int steps) {
  manual_seed(100);
  const Tensor x = randn({16, 3}), y = randn({16, 2});
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    Tensor loss = mse_loss(model(x), y);
    loss.backward();
    opt.step();
  }
}

TEST_F(NnCheckpoint, OptimizerStateResumesTrainingBitForBit) {
  manual_seed(8);
  nn::Linear model(3, 2);
  optim::Adam opt(model->parameters(), optim::AdamOptions(0.05).weight_decay(0.01));
  train_steps(model, opt, 3);
  save(model, path("model.safetensors"));
  save(opt, path("adam.safetensors"));
  train_steps(model, opt, 3);  // the uninterrupted run

  manual_seed(9);
  nn::Linear resumed(3, 2);
  optim::Adam resumed_opt(resumed->parameters(), optim::AdamOptions(0.5));
  load(resumed, path("model.safetensors"));
  load(resumed_opt, path("adam.safetensors"));
  EXPECT_DOUBLE_EQ(resumed_opt.param_groups()[0].options().lr(), 0.05);
  train_steps(resumed, resumed_opt, 3);
  EXPECT_TRUE(bit_equal(resumed->weight, model->weight));
  EXPECT_TRUE(bit_equal(resumed->bias, model->bias));

  const auto raw = load_safetensors(path("adam.safetensors"));
  EXPECT_EQ(raw.metadata.at("content"), "optimizer");
  EXPECT_EQ(raw.metadata.at("optimizer"), "Adam");
}

TEST_F(NnCheckpoint, MixingUpCheckpointKindsIsAnError) {
  nn::Linear model(3, 2);
  optim::SGD sgd(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  optim::Adam adam(model->parameters());
  save(model, path("model.safetensors"));
  save(sgd, path("sgd.safetensors"));
  expect_error_mentions([&] { load(model, path("sgd.safetensors")); }, {"sgd.safetensors", "an optimizer", "not of a module"});
  expect_error_mentions([&] { load(adam, path("model.safetensors")); }, {"model.safetensors", "a module", "not of an optimizer"});
  expect_error_mentions([&] { load(adam, path("sgd.safetensors")); }, {"sgd.safetensors", "SGD", "Adam"});
  expect_error_mentions([&] { save(model, path("m.safetensors"), {{"content", "weights"}}); }, {"'content' is reserved"});
  save(model, path("m.safetensors"), {{"content", "module"}});  // agreeing with the mark is fine
}

TEST_F(NnCheckpoint, OptimizerLoadErrorsNameTheFile) {
  nn::Linear small(3, 2), large(4, 2);
  optim::Adam a(small->parameters()), b(large->parameters());
  train_steps(small, a, 1);
  save(a, path("a.safetensors"));
  expect_error_mentions([&] { load(b, path("a.safetensors")); }, {"a.safetensors"});
  expect_error_mentions([&] { load(b, path("absent.safetensors")); }, {"absent.safetensors", "cannot open"});
}

}  // namespace

// Transfer-learning helpers: glob patterns, freezing, pretrained loading with prefix maps, learning-rate
// groups, gradual unfreezing, linear probing then fine-tuning, and a new task head that leaves the others alone.
#include <gtest/gtest.h>

#include <filesystem>
#include <tandem.h>

#include "mtl/architectures/hps.h"
#include "mtl/core/tiny_model.h"

using namespace tandem;
using tandem::mtl::testing::TinyModel;

TEST(MtlFinetune, GlobPatterns) {
  EXPECT_TRUE(mtl::matches_pattern("encoder.*", "encoder.0.weight"));
  EXPECT_TRUE(mtl::matches_pattern("*.bias", "heads.a.0.bias"));
  EXPECT_TRUE(mtl::matches_pattern("heads.?.0.*", "heads.a.0.weight"));
  EXPECT_TRUE(mtl::matches_pattern("*", ""));
  EXPECT_FALSE(mtl::matches_pattern("encoder.*", "heads.encoder.weight"));
  EXPECT_FALSE(mtl::matches_pattern("*.bias", "encoder.0.weight"));
  EXPECT_TRUE(mtl::matches_pattern("a*b*c", "a_x_b_y_c"));
  EXPECT_FALSE(mtl::matches_pattern("a*b*c", "a_x_b_y_d"));
}

TEST(MtlFinetune, FreezeAndUnfreezeByPattern) {
  TinyModel model;
  auto frozen = mtl::freeze(*model, {"encoder.*"});
  EXPECT_EQ(frozen, (std::vector<std::string>{"encoder.weight", "encoder.bias"}));
  EXPECT_EQ(mtl::trainable_parameter_names(*model),
            (std::vector<std::string>{"head_a.weight", "head_a.bias", "head_b.weight", "head_b.bias"}));
  // A frozen encoder gets no gradient; the heads do.
  Tensor x = randn({4, 3}, kFloat64);
  auto out = model->forward(x);
  (out[0].sum() + out[1].sum()).backward();
  EXPECT_FALSE(model->encoder->weight.grad().defined());
  EXPECT_TRUE(model->head_a->weight.grad().defined());
  mtl::unfreeze(*model, {"encoder.weight"});
  EXPECT_TRUE(model->encoder->weight.requires_grad());
  EXPECT_FALSE(model->encoder->bias.requires_grad());
  EXPECT_THROW(mtl::freeze(*model, {"encoderr.*"}), Error);  // a typo matches nothing: an error, not a no-op
}

TEST(MtlFinetune, LoadPretrainedEncoderThroughAPrefixMap) {
  auto dir = std::filesystem::temp_directory_path() / "tandem_mtl_finetune";
  std::filesystem::create_directories(dir);
  // A "pretrained" single-task network whose first layer is called "backbone".
  struct PretrainedImpl : nn::Module {
    PretrainedImpl() {
      backbone = register_module("backbone", nn::Linear(3, 4));
      classifier = register_module("classifier", nn::Linear(4, 7));
      to(kFloat64);
    }
    nn::Linear backbone{nullptr}, classifier{nullptr};
  };
  auto pretrained = std::make_shared<PretrainedImpl>();
  save(*pretrained, dir / "pretrained.safetensors");
  TinyModel model;
  const Tensor head_before = model->head_a->weight.clone();
  auto report = mtl::load_pretrained(*model, dir / "pretrained.safetensors", {{"backbone.", "encoder."}});
  EXPECT_TRUE(report.ok()) << report;
  EXPECT_EQ(report.loaded, (std::vector<std::string>{"encoder.weight", "encoder.bias"}));
  EXPECT_EQ(model->encoder->weight.to_vector<double>(), pretrained->backbone->weight.to_vector<double>());
  EXPECT_EQ(model->head_a->weight.to_vector<double>(), head_before.to_vector<double>());
  // Strict: a shape mismatch under the mapped prefix is an error that changes nothing.
  EXPECT_THROW(mtl::load_pretrained(*model, dir / "pretrained.safetensors", {{"classifier.", "encoder."}}), Error);
}

TEST(MtlFinetune, DiscriminativeLearningRates) {
  TinyModel model;
  auto groups = mtl::param_groups_by_pattern(*model, {{"encoder.*", 1e-4}, {"head_a.*", 1e-3}}, 1e-2);
  ASSERT_EQ(groups.size(), 3u);
  optim::SGD sgd(groups, optim::SGDOptions(0.5));
  EXPECT_DOUBLE_EQ(sgd.param_groups()[0].options().get_lr(), 1e-4);
  EXPECT_DOUBLE_EQ(sgd.param_groups()[1].options().get_lr(), 1e-3);
  EXPECT_DOUBLE_EQ(sgd.param_groups()[2].options().get_lr(), 1e-2);
  EXPECT_EQ(sgd.param_groups()[2].params().size(), 2u);  // head_b
  // One SGD step moves each group by its own rate.
  for (auto& p : model->parameters()) p.set_grad(ones_like(p));
  const double w0 = model->encoder->bias.to_vector<double>()[0], h0 = model->head_b->bias.to_vector<double>()[0];
  sgd.step();
  EXPECT_NEAR(model->encoder->bias.to_vector<double>()[0], w0 - 1e-4, 1e-15);
  EXPECT_NEAR(model->head_b->bias.to_vector<double>()[0], h0 - 1e-2, 1e-15);
  // Layer-wise decay: heads (top) at base, encoder one layer down at base * decay.
  auto layered = mtl::layerwise_lr_groups(*model, {"head_*", "encoder.*"}, 1e-3, 0.5);
  optim::SGD sgd2(layered, optim::SGDOptions(0.5));
  EXPECT_DOUBLE_EQ(sgd2.param_groups()[1].options().get_lr(), 5e-4);
  EXPECT_THROW(mtl::param_groups_by_pattern(*model, {{"nothing.*", 1.0}}), Error);
}

TEST(MtlFinetune, GradualUnfreezingFollowsTheSchedule) {
  TinyModel model;
  mtl::GradualUnfreezing schedule(*model, {{"head_*"}, {"encoder.weight"}, {"encoder.bias"}}, /*every=*/2);
  EXPECT_EQ(mtl::trainable_parameter_names(*model).size(), 4u);  // the heads only
  schedule.update(1);
  EXPECT_EQ(schedule.stages_unfrozen(), 1u);
  schedule.update(2);
  EXPECT_TRUE(model->encoder->weight.requires_grad());
  EXPECT_FALSE(model->encoder->bias.requires_grad());
  schedule.update(10);
  EXPECT_EQ(schedule.stages_unfrozen(), 3u);
  EXPECT_EQ(mtl::trainable_parameter_names(*model).size(), 6u);
}

TEST(MtlFinetune, LinearProbeThenFineTuneThroughTheTrainer) {
  manual_seed(0);
  auto model = std::make_shared<mtl::testing::TinyModelImpl>();
  auto optimizer = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.1));
  std::vector<mtl::Task> tasks{{"a", mtl::losses::mse(), {}, {}}, {"b", mtl::losses::mse(), {}, {}}};
  mtl::Trainer trainer(model, tasks, mtl::make_weighting("ew", 2), optimizer,
                       mtl::TrainerOptions().epochs(3).progress(false).verbose(false));
  mtl::LinearProbeThenFinetune plan(*model, {"head_*"}, /*probe_epochs=*/2, /*finetune_lr_scale=*/0.1);
  plan.attach(trainer);
  Tensor x = randn({16, 3}, kFloat64);
  mtl::MultiTaskLoader loader(mtl::MultiTaskDataset(x, {x.sum(1, true), x.select(1, 0).unsqueeze(1)}), 8, true, 0);
  const Tensor encoder_before = model->encoder->weight.clone();
  trainer.train_epoch(loader);
  EXPECT_EQ(model->encoder->weight.to_vector<double>(), encoder_before.to_vector<double>());  // probing
  trainer.fit(loader);  // epochs 2 and 3; the switch happens after epoch 2
  EXPECT_TRUE(plan.fine_tuning());
  EXPECT_TRUE(model->encoder->weight.requires_grad());
  // The single group holds pretrained parameters: its rate was scaled.
  EXPECT_NEAR(optimizer->param_groups()[0].options().get_lr(), 0.01, 1e-15);
  EXPECT_NE(model->encoder->weight.to_vector<double>(), encoder_before.to_vector<double>());
}

TEST(MtlFinetune, NewTaskHeadLeavesTheOtherTasksUntouched) {
  manual_seed(1);
  mtl::HPS model(std::vector<std::string>{"a", "b"}, nn::Sequential(nn::Linear(3, 8), nn::ReLU()),
                 [](size_t) { return nn::Sequential(nn::Linear(8, 1)); });
  Tensor x = randn({32, 3});
  auto before = model->forward(x);
  auto trainable = mtl::add_task_head(*model, "c", nn::Sequential(nn::Linear(8, 2)));
  ASSERT_EQ(model->num_tasks(), 3u);
  EXPECT_EQ(model->task_names()[2], "c");
  EXPECT_EQ(trainable.size(), 2u);
  EXPECT_EQ(mtl::trainable_parameter_names(*model), (std::vector<std::string>{"heads.c.0.weight", "heads.c.0.bias"}));
  optim::Adam adam(trainable, optim::AdamOptions(0.05));
  for (int step = 0; step < 20; ++step) {
    adam.zero_grad();
    auto out = model->forward(x);
    Tensor loss = cross_entropy(out[2], (x.select(1, 0) > 0.0).to(kInt64));
    loss.backward();
    adam.step();
  }
  auto after = model->forward(x);
  EXPECT_EQ(after[0].to_vector<float>(), before[0].to_vector<float>());
  EXPECT_EQ(after[1].to_vector<float>(), before[1].to_vector<float>());
  EXPECT_EQ(after[2].sizes(), (Dims{32, 2}));
  EXPECT_THROW(mtl::add_task_head(*model, "a", nn::Sequential(nn::Linear(8, 1))), Error);  // name taken
}

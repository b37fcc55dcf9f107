// The multi-task Trainer: training lowers the losses, partial labels, multi-input problems, monitors and early
// stopping, logs with diagnostics, and a checkpoint that resumes exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <tandem.h>

#include "mtl/core/tiny_model.h"

using namespace tandem;
using tandem::mtl::testing::TinyModel;

namespace {

std::vector<mtl::Task> regression_tasks() {
  return {{"a", mtl::losses::mse(), {mtl::metrics::mse(), mtl::metrics::mae()}, {}},
          {"b", mtl::losses::mse(), {mtl::metrics::mse()}, {}}};
}

/// y_a = sum(x), y_b = x0 - x1: learnable by the tiny model.
mtl::MultiTaskDataset regression_data(int64_t n, uint64_t seed) {
  manual_seed(seed);
  Tensor x = randn({n, 3}, kFloat64);
  return {x, {x.sum(1, true), (x.select(1, 0) - x.select(1, 1)).unsqueeze(1)}};
}

std::filesystem::path scratch(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("tandem_mtl_trainer_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

mtl::TrainerOptions quiet() { return mtl::TrainerOptions().progress(false).verbose(false); }

}  // namespace

TEST(MtlTrainer, FitLowersTheValidationLossOfEveryTask) {
  manual_seed(0);
  auto model = std::make_shared<mtl::testing::TinyModelImpl>();
  auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(0.05));
  mtl::Trainer trainer(model, regression_tasks(), mtl::make_weighting("ew", 2), optimizer, quiet().epochs(15));
  mtl::MultiTaskLoader train(regression_data(128, 1), 16, true, 3), val(regression_data(64, 2), 64, false);
  const mtl::Evaluation before = trainer.evaluate(val);
  auto history = trainer.fit(train, &val);
  ASSERT_EQ(history.size(), 15u);
  EXPECT_EQ(trainer.epoch(), 15);
  const mtl::Evaluation& after = history.back().validation;
  for (size_t t = 0; t < 2; ++t) EXPECT_LT(after.tasks[t].loss, 0.5 * before.tasks[t].loss) << t;
  EXPECT_EQ(trainer.metric_names(), (std::vector<std::string>{"a.mse", "a.mae", "b.mse"}));
  EXPECT_EQ(history.back().weights, (std::vector<double>{1.0, 1.0}));
  EXPECT_NEAR(after.tasks[0].metrics[0], after.tasks[0].loss, 1e-9);  // the MSE metric is the MSE loss
}

TEST(MtlTrainer, UnlabelledSamplesContributeNothing) {
  manual_seed(1);
  auto data = regression_data(32, 3);
  data.masks = {Tensor(), zeros({32}, kFloat64)};  // task b has no labels at all
  auto model = std::make_shared<mtl::testing::TinyModelImpl>();
  const Tensor head_b_before = model->head_b->weight.clone();
  auto optimizer = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.1));
  mtl::Trainer trainer(model, regression_tasks(), mtl::make_weighting("ew", 2), optimizer, quiet().epochs(2));
  trainer.fit(mtl::MultiTaskLoader(data, 8, true, 0));
  EXPECT_EQ(model->head_b->weight.to_vector<double>(), head_b_before.to_vector<double>());
  auto eval = trainer.evaluate(mtl::MultiTaskLoader(data, 8, false));
  EXPECT_TRUE(std::isnan(eval.tasks[1].loss));
  EXPECT_FALSE(std::isnan(eval.tasks[0].loss));
}

TEST(MtlTrainer, MultiInputProblemsTakeOneLoaderPerTask) {
  manual_seed(2);
  auto model = std::make_shared<mtl::testing::TinyModelImpl>();
  auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(0.05));
  mtl::Trainer trainer(model, regression_tasks(), mtl::make_weighting("ew", 2), optimizer, quiet().epochs(10));
  std::vector<mtl::MultiTaskLoader> train{mtl::MultiTaskLoader(regression_data(64, 4), 16, true, 0),
                                          mtl::MultiTaskLoader(regression_data(48, 5), 16, true, 1)};
  std::vector<mtl::MultiTaskLoader> val{mtl::MultiTaskLoader(regression_data(32, 6), 32, false),
                                        mtl::MultiTaskLoader(regression_data(32, 7), 32, false)};
  const auto before = trainer.evaluate(val);
  auto history = trainer.fit(train, &val);
  EXPECT_LT(history.back().validation.total_loss(), 0.5 * before.total_loss());
}

TEST(MtlTrainer, EarlyStoppingAndMonitors) {
  manual_seed(3);
  auto model = std::make_shared<mtl::testing::TinyModelImpl>();
  auto optimizer = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.0));  // never improves
  mtl::Trainer trainer(model, regression_tasks(), mtl::make_weighting("ew", 2), optimizer,
                       quiet().epochs(10).patience(2).monitor("a.mae"));
  mtl::MultiTaskLoader data(regression_data(16, 8), 8, false);
  auto history = trainer.fit(data, &data);
  EXPECT_EQ(history.size(), 3u);  // the first epoch sets the best, two more without improvement
  EXPECT_TRUE(history[0].improved);
  EXPECT_FALSE(history[2].improved);
  EXPECT_FALSE(trainer.monitor_higher_is_better());
  auto opt2 = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.0));
  EXPECT_THROW(mtl::Trainer(model, regression_tasks(), mtl::make_weighting("ew", 2), opt2, quiet().monitor("c.acc")),
               Error);
  EXPECT_THROW(mtl::Trainer(model, regression_tasks(), mtl::make_weighting("ew", 2), opt2, quiet().monitor("delta_m")),
               Error);
  EXPECT_THROW(mtl::Trainer(model, {regression_tasks()[0]}, mtl::make_weighting("ew", 1), opt2, quiet()), Error);
}

TEST(MtlTrainer, LogsEpochRowsWithDiagnostics) {
  manual_seed(4);
  auto dir = scratch("logs");
  auto model = std::make_shared<mtl::testing::TinyModelImpl>();
  auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(0.01));
  mtl::Trainer trainer(model, regression_tasks(), mtl::make_weighting("ew", 2), optimizer,
                       quiet().epochs(2).diagnostics_every(1).log_path((dir / "run").string()));
  mtl::MultiTaskLoader data(regression_data(32, 9), 8, true, 0);
  auto history = trainer.fit(data, &data);
  ASSERT_TRUE(history[0].diagnostics.count("cos.a.b"));
  ASSERT_TRUE(history[0].diagnostics.count("conflict_rate"));
  const double cos = history[0].diagnostics.at("cos.a.b");
  EXPECT_GE(cos, -1.0);
  EXPECT_LE(cos, 1.0);
  std::ifstream jsonl(dir / "run.jsonl");
  std::string line;
  int rows = 0;
  while (std::getline(jsonl, line)) {
    ++rows;
    EXPECT_NE(line.find("\"train_loss.a\""), std::string::npos);
    EXPECT_NE(line.find("\"val.b.mse\""), std::string::npos);
    EXPECT_NE(line.find("\"cos.a.b\""), std::string::npos);
  }
  EXPECT_EQ(rows, 2);
  EXPECT_TRUE(std::filesystem::exists(dir / "run.csv"));
}

TEST(MtlTrainer, CheckpointResumesExactly) {
  auto dir = scratch("resume");
  auto data = regression_data(48, 10);
  auto make = [&](int64_t epochs, const std::string& ckpt) {
    manual_seed(11);
    auto model = std::make_shared<mtl::testing::TinyModelImpl>();
    auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(0.02));
    auto trainer = std::make_unique<mtl::Trainer>(model, regression_tasks(), mtl::make_weighting("ew", 2), optimizer,
                                                  quiet().epochs(epochs).checkpoint_dir(ckpt));
    return std::make_pair(model, std::move(trainer));
  };
  mtl::MultiTaskLoader loader(data, 8, true, 5);
  auto [straight_model, straight] = make(4, "");
  straight->fit(loader, &loader);

  auto [first_model, first] = make(2, (dir / "a").string());
  first->fit(loader, &loader);
  ASSERT_TRUE(std::filesystem::exists(dir / "a" / "last.safetensors"));
  ASSERT_TRUE(std::filesystem::exists(dir / "a" / "best.safetensors"));
  manual_seed(999);  // the checkpoint restores the random stream
  auto [resumed_model, resumed] = make(4, "");
  resumed->load_checkpoint(dir / "a" / "last.safetensors");
  EXPECT_EQ(resumed->epoch(), 2);
  auto rest = resumed->fit(loader, &loader);
  EXPECT_EQ(rest.size(), 2u);
  auto a = straight_model->named_parameters();
  auto b = resumed_model->named_parameters();
  for (const auto& [name, value] : a) EXPECT_EQ(value.to_vector<double>(), b[name].to_vector<double>()) << name;
  // A trainer with another weighting refuses the checkpoint.
  auto model = std::make_shared<mtl::testing::TinyModelImpl>();
  mtl::Trainer other(model, regression_tasks(), mtl::make_weighting("fixed", 2),
                     std::make_shared<optim::Adam>(model->parameters()), quiet());
  EXPECT_THROW(other.load_checkpoint(dir / "a" / "last.safetensors"), Error);
}

TEST(MtlTrainer, FixedWeightsComeFromTheTasks) {
  auto tasks = regression_tasks();
  tasks[1].weight = 0.25;
  auto w = std::dynamic_pointer_cast<mtl::Fixed>(mtl::make_weighting_for("fixed", tasks));
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->weights(), (std::vector<double>{1.0, 0.25}));
}

TEST(MtlTrainer, WeightingParametersJoinTheOptimizerWithTheirOwnRate) {
  auto model = std::make_shared<mtl::testing::TinyModelImpl>();
  auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(0.01));
  auto uw = mtl::make_weighting("uw", 2);
  mtl::Trainer trainer(model, regression_tasks(), uw, optimizer, quiet().weighting_lr(0.1));
  ASSERT_EQ(optimizer->param_groups().size(), 2u);
  EXPECT_DOUBLE_EQ(optimizer->param_groups()[1].options().get_lr(), 0.1);
  EXPECT_TRUE(optimizer->param_groups()[1].params()[0].is_same(uw->parameters()[0]));
  // The learned log-variances move during training and resume from the checkpoint with everything else.
  auto dir = scratch("uw");
  mtl::MultiTaskLoader data(regression_data(32, 12), 8, true, 0);
  trainer.options().epochs(2);
  trainer.fit(data);
  const auto s = uw->parameters()[0].to_vector<float>();
  EXPECT_NE(s[0], -0.5f);
  trainer.save_checkpoint(dir / "uw.safetensors");
  auto model2 = std::make_shared<mtl::testing::TinyModelImpl>();
  auto uw2 = mtl::make_weighting("uw", 2);
  mtl::Trainer resumed(model2, regression_tasks(), uw2, std::make_shared<optim::Adam>(model2->parameters(), optim::AdamOptions(0.01)),
                       quiet().weighting_lr(0.1));
  resumed.load_checkpoint(dir / "uw.safetensors");
  EXPECT_EQ(uw2->parameters()[0].to_vector<float>(), s);
}

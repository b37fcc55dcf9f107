// train_epoch / evaluate: an end-to-end run on separable synthetic data that lowers the loss and reaches high
// accuracy (with progress lines and a metrics log), the per-sample weighting of the epoch loss, training-mode
// switching and restoring, lambdas and loss modules as arguments, and the errors (non-finite or non-scalar
// loss, empty loader).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "nn/data/dataloader.h"
#include "nn/data/dataset.h"
#include "nn/modules/activation.h"
#include "nn/modules/container.h"
#include "nn/modules/linear.h"
#include "nn/modules/loss.h"
#include "nn/optim/sgd.h"
#include "nn/train/metrics_logger.h"
#include "nn/train/trainer.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;
using namespace tandem::nn;

/// Three Gaussian blobs in the plane, 40 points each.
std::shared_ptr<data::TensorDataset> blobs() {
  manual_seed(11);
  const int64_t per_class = 40;
  Tensor centers = tensor({-3.f, 0.f, 3.f, 0.f, 0.f, 3.f}).reshape({3, 2});
  std::vector<Tensor> points, labels;
  for (int64_t c = 0; c < 3; ++c) {
    points.push_back(randn({per_class, 2}).mul(0.7).add(centers[c]));
    labels.push_back(full({per_class}, static_cast<double>(c), kInt64));
  }
  return std::make_shared<data::TensorDataset>(cat(points), cat(labels));
}

Tensor cross_entropy_loss(const Tensor& logits, const Tensor& labels) { return tandem::cross_entropy(logits, labels); }

TEST(NnTrainer, TinyTrainingRunLowersTheLoss) {
  auto dataset = blobs();
  data::DataLoader train_loader(dataset, data::DataLoaderOptions(16).shuffle(true).seed(1));
  data::DataLoader eval_loader(dataset, data::DataLoaderOptions(32));
  manual_seed(12);
  Sequential model(Linear(2, 16), ReLU(), Linear(16, 3));
  optim::SGD optimizer(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));

  std::ostringstream progress;
  const auto plain = ProgressBarOptions().stream(&progress).style(ProgressStyle::Plain).plain_every_percent(50);
  const auto log_dir = std::filesystem::temp_directory_path() / ("tandem_trainer_" + std::to_string(::getpid()));
  std::filesystem::create_directories(log_dir);
  MetricsLogger logger(log_dir / "run.csv");

  const EpochResult before = evaluate(model, eval_loader, cross_entropy_loss,
                                      EpochOptions("before").num_classes(3).progress_bar(plain));
  std::vector<double> losses;
  for (int epoch = 1; epoch <= 6; ++epoch) {
    const EpochResult r = train_epoch(model, train_loader, optimizer, cross_entropy_loss,
                                      EpochOptions("epoch " + std::to_string(epoch)).progress_bar(plain));
    EXPECT_EQ(r.samples, 120);
    EXPECT_EQ(r.batches, 8);
    EXPECT_FALSE(r.classification.has_value());
    losses.push_back(r.loss);
    LogRow row{{"epoch", epoch}};
    append(row, "train_", r.summary());
    logger.log(row);
  }
  const EpochResult after = evaluate(model, eval_loader, cross_entropy_loss,
                                     EpochOptions("after").num_classes(3).top_k(2).progress_bar(plain));

  EXPECT_LT(losses.back(), 0.5 * losses.front());
  EXPECT_LT(after.loss, 0.5 * before.loss);
  ASSERT_TRUE(after.classification.has_value());
  EXPECT_GT(after.classification->accuracy, 0.9);
  EXPECT_EQ(after.classification->num_samples, 120);
  EXPECT_EQ(after.batches, 4);
  const auto summary = after.summary();
  ASSERT_EQ(summary.size(), 6u);  // loss, accuracy, precision/recall/f1 macro, top2
  EXPECT_EQ(summary[0].first, "loss");
  EXPECT_EQ(summary[5].first, "top2_accuracy");

  const std::string out = progress.str();
  EXPECT_NE(out.find("epoch 1:  50% 4/8 ["), std::string::npos) << out;
  EXPECT_NE(out.find("epoch 6: 100% 8/8 ["), std::string::npos) << out;
  EXPECT_NE(out.find("after: 100% 4/4 ["), std::string::npos) << out;
  std::ifstream csv(log_dir / "run.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "epoch,train_loss");
  int rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  EXPECT_EQ(rows, 6);
  std::filesystem::remove_all(log_dir);
}

TEST(NnTrainer, EpochLossIsTheMeanOverSamples) {
  // Five samples in batches of 2, 2 and 1; the "loss" of a batch is the mean of its data, so the epoch loss
  // weighted by batch size is the mean of all data, 2 (an unweighted mean of batches would be 7/3).
  auto dataset = std::make_shared<data::TensorDataset>(tensor({0.0, 1.0, 2.0, 3.0, 4.0}).reshape({5, 1}),
                                                       zeros({5}, kInt64));
  data::DataLoader loader(dataset, data::DataLoaderOptions(2));
  auto identity = [](const Tensor& x) { return x; };
  auto mean_of_output = [](const Tensor& out, const Tensor&) { return out.mean(); };
  const EpochResult r =
      evaluate(identity, loader, mean_of_output, EpochOptions().progress(false).device(Device(kCPU)));
  EXPECT_DOUBLE_EQ(r.loss, 2.0);
  EXPECT_EQ(r.samples, 5);
  EXPECT_EQ(r.batches, 3);
  EXPECT_GE(r.seconds, 0.0);
}

/// A module that records the training flag it sees in each forward.
struct ProbeImpl : Module {
  ProbeImpl() : fc(register_module("fc", Linear(1, 2))) {}
  Tensor forward(const Tensor& x) {
    seen.push_back(is_training());
    return fc(x);
  }
  Linear fc;
  std::vector<bool> seen;
};
TANDEM_MODULE(Probe);

TEST(NnTrainer, SwitchesAndRestoresTrainingMode) {
  auto dataset = std::make_shared<data::TensorDataset>(randn({4, 1}), tensor(std::vector<int64_t>{0, 1, 0, 1}));
  data::DataLoader loader(dataset, data::DataLoaderOptions(2));
  Probe probe;
  optim::SGD optimizer(probe->parameters(), optim::SGDOptions(0.01));
  CrossEntropyLoss loss_module;  // a loss module works as the loss function

  probe->eval();
  train_epoch(probe, loader, optimizer, loss_module, EpochOptions().progress(false));
  EXPECT_EQ(probe->seen, (std::vector<bool>{true, true}));
  EXPECT_FALSE(probe->is_training());  // restored

  probe->train();
  probe->seen.clear();
  evaluate(probe, loader, loss_module, EpochOptions().progress(false));
  EXPECT_EQ(probe->seen, (std::vector<bool>{false, false}));
  EXPECT_TRUE(probe->is_training());

  // A module reached through a shared_ptr, and a module itself, are switched too.
  probe->seen.clear();
  std::shared_ptr<ProbeImpl> pointer = probe.ptr();
  evaluate(pointer, loader, loss_module, EpochOptions().progress(false));
  evaluate(*probe, loader, loss_module, EpochOptions().progress(false));
  EXPECT_EQ(probe->seen, (std::vector<bool>{false, false, false, false}));
  EXPECT_TRUE(probe->is_training());
}

TEST(NnTrainer, Errors) {
  auto dataset = std::make_shared<data::TensorDataset>(randn({4, 1}), tensor(std::vector<int64_t>{0, 1, 0, 1}));
  data::DataLoader loader(dataset, data::DataLoaderOptions(2));
  Linear model(1, 2);
  optim::SGD optimizer(model->parameters(), optim::SGDOptions(0.01));
  const auto quiet = EpochOptions("fit").progress(false);

  auto nan_loss = [](const Tensor& out, const Tensor&) { return out.sum().mul(std::numeric_limits<double>::quiet_NaN()); };
  try {
    train_epoch(model, loader, optimizer, nan_loss, quiet);
    ADD_FAILURE() << "expected tandem::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fit: the loss is nan at batch 0"), std::string::npos) << e.what();
  }
  auto unreduced = [](const Tensor& out, const Tensor&) { return out; };
  EXPECT_THROW(evaluate(model, loader, unreduced, quiet), Error);
  EXPECT_TRUE(model->is_training());  // restored although the pass threw

  auto empty = std::make_shared<data::TensorDataset>(zeros({0, 1}), zeros({0}, kInt64));
  data::DataLoader empty_loader(empty, data::DataLoaderOptions(2));
  EXPECT_THROW(evaluate(model, empty_loader, cross_entropy_loss, quiet), Error);
}

}  // namespace

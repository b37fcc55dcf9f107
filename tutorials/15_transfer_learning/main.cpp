// Tutorial 15: transfer learning — pretrain on some Fashion-MNIST classes, then learn a new task with few labels
// by loading the pretrained encoder (prefix mapping), freezing, discriminative learning rates, linear probing then
// fine-tuning, and gradual unfreezing; finally add a task head to the trained model without disturbing its task.
// Every claim in README.md is checked here.
//
//   tutorial_15_transfer_learning            quick run (CI): 6000 pretraining images, 100 labels for the new task
//   tutorial_15_transfer_learning --full     30000 pretraining images, 3 epochs
//   other flags: --labels N (new-task training labels)  --threads N  --root DIR (Fashion-MNIST folder)
#include <tandem.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "nn/data/idx.h"

namespace td = tandem;
namespace nn = tandem::nn;
namespace mtl = tandem::mtl;
namespace optim = tandem::optim;

namespace {

int failures = 0;
void check(bool ok, const std::string& claim) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", claim.c_str());
  if (!ok) ++failures;
}

/// The images of the even (parity 0) or odd (parity 1) classes, relabelled 0..4, at most `limit` of them.
mtl::MultiTaskDataset five_classes(const nn::data::FashionMNIST& data, int64_t parity, int64_t limit) {
  const auto labels = data.labels().to_vector<int64_t>();
  std::vector<int64_t> rows, relabelled;
  for (size_t i = 0; i < labels.size() && static_cast<int64_t>(rows.size()) < limit; ++i)
    if (labels[i] % 2 == parity) {
      rows.push_back(static_cast<int64_t>(i));
      relabelled.push_back(labels[i] / 2);
    }
  return {data.images().index_select(0, td::tensor(rows)), {td::tensor(relabelled)}};
}

/// A small CNN encoder: 28x28 -> conv 5x5 (16) -> pool -> conv 5x5 (32) -> pool -> 512 -> 64 features.
nn::Sequential make_encoder() {
  return nn::Sequential(nn::Conv2d(1, 16, 5), nn::ReLU(), nn::MaxPool2d(2), nn::Conv2d(16, 32, 5), nn::ReLU(),
                        nn::MaxPool2d(2), nn::Flatten(), nn::Linear(32 * 4 * 4, 64), nn::ReLU());
}

mtl::HPS make_model(const std::string& task) {
  return mtl::HPS(std::vector<std::string>{task}, make_encoder(), [](size_t) { return nn::Sequential(nn::Linear(64, 5)); });
}

mtl::Task classification(const std::string& name) {
  return {name, mtl::losses::cross_entropy(), {mtl::metrics::accuracy()}, {}};
}

/// Trains `model` on `train` for `epochs` and returns the test accuracy.
double train_and_test(mtl::HPS& model, const std::string& task, const mtl::MultiTaskDataset& train,
                      const mtl::MultiTaskDataset& test, std::shared_ptr<optim::Optimizer> optimizer, int64_t epochs,
                      const std::function<void(mtl::Trainer&)>& setup = {}) {
  mtl::Trainer trainer(model.ptr(), {classification(task)}, mtl::make_weighting("ew", 1), optimizer,
                       mtl::TrainerOptions().epochs(epochs).progress(false).verbose(false));
  if (setup) setup(trainer);
  trainer.fit(mtl::MultiTaskLoader(train, 32, true, 0));
  return trainer.evaluate(mtl::MultiTaskLoader(test, 1000, false)).tasks[0].metrics[0];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t pretrain_images = 6000, pretrain_epochs = 2, labels = 100;
  std::string root = nn::data::FashionMNIST::kDefaultRoot;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--full")) pretrain_images = 30000, pretrain_epochs = 3;
    else if (!std::strcmp(argv[i], "--labels") && i + 1 < argc) labels = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) td::cpu::set_num_threads(std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--root") && i + 1 < argc) root = argv[++i];
  }
  if (!std::filesystem::exists(root)) {
    std::printf("Fashion-MNIST not found in %s (apt-get install dataset-fashion-mnist); skipping.\n", root.c_str());
    return 0;
  }
  nn::data::FashionMNIST train_split(root, true), test_split(root, false);
  // Source task: the even classes (T-shirt, Pullover, Coat, Shirt, Bag). New task: the odd ones (Trouser, Dress,
  // Sandal, Sneaker, Ankle boot), with few labels.
  mtl::MultiTaskDataset source = five_classes(train_split, 0, pretrain_images);
  mtl::MultiTaskDataset target_train = five_classes(train_split, 1, labels);
  mtl::MultiTaskDataset target_test = five_classes(test_split, 1, 2000), source_test = five_classes(test_split, 0, 2000);
  const auto dir = std::filesystem::temp_directory_path() / "tandem_tutorial_15";
  std::filesystem::create_directories(dir);

  // ---- 1. pretraining -------------------------------------------------------------------------------------
  std::printf("1. Pretraining on the five even classes (%lld images, %lld epochs)\n",
              static_cast<long long>(source.size()), static_cast<long long>(pretrain_epochs));
  td::manual_seed(0);
  mtl::HPS pretrained = make_model("clothes");
  const double source_acc =
      train_and_test(pretrained, "clothes", source, source_test,
                     std::make_shared<optim::Adam>(pretrained->parameters(), optim::AdamOptions(2e-3)), pretrain_epochs);
  std::printf("  source-task test accuracy: %.3f\n", source_acc);
  check(source_acc > 0.75, "the pretrained model classifies its five classes");
  td::save(pretrained, dir / "pretrained.safetensors");

  // ---- 2. the new task from scratch -----------------------------------------------------------------------
  std::printf("2. The new task (%lld labels) from scratch\n", static_cast<long long>(labels));
  // The same number of optimizer steps (about 300) whatever the number of labels.
  const int64_t epochs = std::max<int64_t>(4, 300 / ((labels + 31) / 32));
  td::manual_seed(1);
  mtl::HPS scratch = make_model("shoes_bags");
  const double scratch_acc =
      train_and_test(scratch, "shoes_bags", target_train, target_test,
                     std::make_shared<optim::Adam>(scratch->parameters(), optim::AdamOptions(2e-3)), epochs);
  std::printf("  from scratch: %.3f\n", scratch_acc);

  // ---- 3. linear probe: pretrained encoder, frozen --------------------------------------------------------
  std::printf("3. Linear probe: load the encoder, freeze it, train the head\n");
  td::manual_seed(1);
  mtl::HPS probe = make_model("shoes_bags");
  auto report = mtl::load_pretrained(*probe, dir / "pretrained.safetensors", {{"encoder.", "encoder."}});
  check(report.ok() && report.loaded.size() == 6, "the 6 encoder tensors loaded; the new head left alone");
  auto frozen = mtl::freeze(*probe, {"encoder.*"});
  check(mtl::trainable_parameter_names(*probe) == std::vector<std::string>{"heads.shoes_bags.0.weight",
                                                                             "heads.shoes_bags.0.bias"},
        "only the head is trainable");
  const double probe_acc =
      train_and_test(probe, "shoes_bags", target_train, target_test,
                     std::make_shared<optim::Adam>(probe->parameters(), optim::AdamOptions(5e-3)), epochs);
  std::printf("  linear probe: %.3f\n", probe_acc);
  check(probe_acc > 0.6, "the frozen features alone take a 2-tensor head far above chance (20%)");

  // ---- 4. linear probe, then fine-tuning with discriminative learning rates --------------------------------
  std::printf("4. Probe for a third of the epochs, then fine-tune everything (encoder at a tenth of the head's rate)\n");
  td::manual_seed(1);
  mtl::HPS tuned = make_model("shoes_bags");
  mtl::load_pretrained(*tuned, dir / "pretrained.safetensors", {{"encoder.", "encoder."}});
  auto groups = mtl::param_groups_by_pattern(*tuned, {{"heads.*", 5e-3}, {"encoder.*", 5e-3}});
  auto optimizer = std::make_shared<optim::Adam>(groups, optim::AdamOptions(5e-3));
  mtl::LinearProbeThenFinetune plan(*tuned, {"heads.*"}, /*probe_epochs=*/epochs / 3, /*finetune_lr_scale=*/0.1);
  const double tuned_acc = train_and_test(tuned, "shoes_bags", target_train, target_test, optimizer, epochs,
                                          [&](mtl::Trainer& trainer) { plan.attach(trainer); });
  std::printf("  probe + fine-tune: %.3f (encoder rate now %.0e, head %.0e)\n", tuned_acc,
              optimizer->param_groups()[1].options().get_lr(), optimizer->param_groups()[0].options().get_lr());
  check(plan.fine_tuning(), "after the probing epochs the whole model trains");
  check(optimizer->param_groups()[1].options().get_lr() < optimizer->param_groups()[0].options().get_lr(),
        "the pretrained encoder trains at a lower rate than the head");
  check(tuned_acc > probe_acc, "fine-tuning recovers what the frozen features miss");
  check(tuned_acc > scratch_acc - 0.03, "and matches training from scratch on this easy task");

  // ---- 5. gradual unfreezing ------------------------------------------------------------------------------
  std::printf("5. Gradual unfreezing: the head first, then the dense layer, then the convolutions\n");
  mtl::HPS gradual = make_model("shoes_bags");
  mtl::GradualUnfreezing schedule(*gradual, {{"heads.*"}, {"encoder.7.*"}, {"encoder.3.*", "encoder.0.*"}});
  std::vector<size_t> trainable;
  for (int64_t e = 0; e < 3; ++e) {
    schedule.update(e);
    trainable.push_back(mtl::trainable_parameter_names(*gradual).size());
  }
  std::printf("  trainable tensors after 0, 1, 2 epochs: %zu, %zu, %zu\n", trainable[0], trainable[1], trainable[2]);
  check(trainable == std::vector<size_t>{2, 4, 8}, "one more stage becomes trainable each epoch");

  // ---- 6. a new task head on the trained model ------------------------------------------------------------
  std::printf("6. Add the new task to the pretrained model without disturbing the old one\n");
  td::Tensor probe_images = source_test.inputs.narrow(0, 0, 256);
  td::Tensor old_before = pretrained->forward(probe_images)[0];
  auto new_head = mtl::add_task_head(*pretrained, "shoes_bags", nn::Sequential(nn::Linear(64, 5)));
  auto head_opt = std::make_shared<optim::Adam>(new_head, optim::AdamOptions(5e-3));
  std::vector<mtl::Task> both{classification("clothes"), classification("shoes_bags")};
  // Only the new task is labelled in these batches: the old task's mask is all zeros.
  mtl::MultiTaskDataset new_task_only{target_train.inputs,
                                      {td::zeros({target_train.size()}, td::kInt64), target_train.targets[0]},
                                      {td::zeros({target_train.size()}), td::Tensor()}};
  mtl::Trainer trainer(pretrained.ptr(), both, mtl::make_weighting("ew", 2), head_opt,
                       mtl::TrainerOptions().epochs(epochs).progress(false).verbose(false));
  trainer.fit(mtl::MultiTaskLoader(new_task_only, 32, true, 0));
  td::Tensor old_after = pretrained->forward(probe_images)[0];
  const double added_acc =
      trainer.evaluate(mtl::MultiTaskLoader(mtl::MultiTaskDataset{target_test.inputs,
                                                                  {td::zeros({target_test.size()}, td::kInt64),
                                                                   target_test.targets[0]},
                                                                  {td::zeros({target_test.size()}), td::Tensor()}},
                                            1000, false))
          .tasks[1]
          .metrics[0];
  std::printf("  new head on the frozen pretrained encoder: %.3f\n", added_acc);
  check(td::allclose(old_before, old_after, 0, 0), "the old task's outputs are bit-for-bit unchanged");
  check(added_acc > 0.6, "the added head learns the new task");

  std::printf(failures ? "\n%d check(s) FAILED\n" : "\nall checks passed\n", failures);
  return failures ? 1 : 0;
}

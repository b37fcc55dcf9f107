// Tutorial 10: the two-head model of tutorial 06 as a multi-task problem — tasks, a hard-sharing model, the
// Trainer, what is shared and what is not, and partial labels. Every claim in README.md is checked here.
//
//   tutorial_10_hard_sharing                 quick run (CI): 4000 training samples, 12 epochs
//   tutorial_10_hard_sharing --epochs 20     longer
#include <tandem.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "mtl/architectures/hps.h"

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

/// 100-d inputs; task "digit" has 10 classes and task "group" 5, each the arg-max of a fixed random linear map.
mtl::MultiTaskDataset make_data(int64_t n, const td::Tensor& map_a, const td::Tensor& map_b) {
  td::Tensor x = td::randn({n, 100});
  return {x, {x.matmul(map_a).argmax(1), x.matmul(map_b).argmax(1)}};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t epochs = 12;
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = std::atoll(argv[++i]);

  td::manual_seed(0);
  td::Tensor map_a = td::randn({100, 10}), map_b = td::randn({100, 5});
  mtl::MultiTaskDataset train = make_data(4000, map_a, map_b), test = make_data(1000, map_a, map_b);

  // ---- 1. tasks ---------------------------------------------------------------------------------------------
  std::printf("1. Tasks\n");
  std::vector<mtl::Task> tasks{{"digit", mtl::losses::cross_entropy(), {mtl::metrics::accuracy()}, {}},
                               {"group", mtl::losses::cross_entropy(), {mtl::metrics::accuracy()}, {}}};
  td::Tensor per_sample = tasks[0].loss(td::randn({4, 10}), td::tensor({1L, 2L, 3L, 4L}));
  check(per_sample.sizes() == td::Dims{4}, "a task's loss is per sample: shape [4] for a batch of 4");

  // ---- 2. the model -----------------------------------------------------------------------------------------
  std::printf("2. A hard-sharing model\n");
  nn::Sequential encoder(nn::Linear(100, 64), nn::ReLU());
  mtl::HPS model(std::vector<std::string>{"digit", "group"}, encoder, [](size_t t) {
    return nn::Sequential(nn::Linear(64, t == 0 ? 10 : 5));
  });
  std::cout << *model;
  auto shared = model->shared_parameter_names();
  check(shared == std::vector<std::string>{"encoder.0.weight", "encoder.0.bias"},
        "shared parameters: the encoder's (everything no task claims)");
  check(model->task_parameters(1).size() == 2, "task 'group' owns its head: weight and bias");
  td::Tensor x = td::randn({3, 100});
  auto out = model->forward(x);
  check(out[0].sizes() == td::Dims{3, 10} && out[1].sizes() == td::Dims{3, 5}, "forward: one output per task");
  check(td::allclose(model->decode(model->encode(x), x)[1], out[1]), "forward = decode(encode(x))");

  // ---- 3. training ------------------------------------------------------------------------------------------
  std::printf("3. Training with equal weighting\n");
  auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(1e-3));
  mtl::Trainer trainer(model.ptr(), tasks, mtl::make_weighting("ew", 2), optimizer,
                       mtl::TrainerOptions().epochs(epochs).progress(false).monitor("digit.accuracy"));
  mtl::MultiTaskLoader train_loader(train, 64, true, 0), test_loader(test, 500, false);
  auto history = trainer.fit(train_loader, &test_loader);
  const auto& final_eval = history.back().validation;
  const double acc_digit = final_eval.tasks[0].metrics[0], acc_group = final_eval.tasks[1].metrics[0];
  check(acc_digit > 0.7, "digit accuracy well above chance (10%): " + std::to_string(acc_digit));
  check(acc_group > 0.7, "group accuracy well above chance (20%): " + std::to_string(acc_group));
  check(trainer.best_monitor().has_value(), "the trainer tracked the best digit accuracy");

  // ---- 4. partial labels ------------------------------------------------------------------------------------
  std::printf("4. Partial labels: only 20%% of the samples have a 'group' label\n");
  mtl::MultiTaskDataset partial = train;
  partial.masks = {td::Tensor(), (td::rand({train.size()}) < 0.2).to(td::kFloat32)};
  td::manual_seed(1);
  mtl::HPS model2(std::vector<std::string>{"digit", "group"}, nn::Sequential(nn::Linear(100, 64), nn::ReLU()),
                  [](size_t t) { return nn::Sequential(nn::Linear(64, t == 0 ? 10 : 5)); });
  auto optimizer2 = std::make_shared<optim::Adam>(model2->parameters(), optim::AdamOptions(1e-3));
  mtl::Trainer trainer2(model2.ptr(), tasks, mtl::make_weighting("ew", 2), optimizer2,
                        mtl::TrainerOptions().epochs(epochs).progress(false).verbose(false));
  auto history2 = trainer2.fit(mtl::MultiTaskLoader(partial, 64, true, 0), &test_loader);
  const double acc_group_partial = history2.back().validation.tasks[1].metrics[0];
  std::printf("  group accuracy with 20%% of the labels: %.3f (all labels: %.3f)\n", acc_group_partial, acc_group);
  check(acc_group_partial > 0.5, "the group head still learns from the labelled fifth");
  const double acc_digit_partial = history2.back().validation.tasks[0].metrics[0];
  check(acc_digit_partial > 0.7, "the digit task, fully labelled, still learns: " + std::to_string(acc_digit_partial));

  std::printf(failures ? "\n%d check(s) FAILED\n" : "\nall checks passed\n", failures);
  return failures ? 1 : 0;
}

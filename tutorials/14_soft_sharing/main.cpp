// Tutorial 14: soft parameter sharing. Instead of one encoder for every task, each task gets its own, and the
// encoders are tied loosely: by an L2 penalty between matching parameters (soft sharing, mtl::SoftSharing), or by
// learned linear mixes of the task activations after each stage (cross-stitch units, mtl::CrossStitch). On the
// MMoE synthetic regression with task correlation p = 0.9, the program sweeps the tie's strength λ and watches
// ‖θ_task1 − θ_task2‖ shrink, then trains a cross-stitch network and prints its α matrices. Every claim in
// README.md is checked here.
//
//   tutorial_14_soft_sharing                quick run (CI): 10000 training samples, 8 epochs per model
//   tutorial_14_soft_sharing --full         30 epochs, 3 seeds
//   tutorial_14_soft_sharing --epochs 20 --seeds 2 --threads 2
#include <tandem.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mtl/architectures/cross_stitch.h"
#include "mtl/architectures/hps.h"
#include "mtl/architectures/soft.h"

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

std::string fmt(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

const std::vector<std::string> kTaskNames{"task1", "task2"};

/// Each task's encoder: two hidden layers, 100 → 64 → 32, with ReLU.
nn::Sequential encoder() { return nn::Sequential(nn::Linear(100, 64), nn::ReLU(), nn::Linear(64, 32), nn::ReLU()); }

/// Cross-stitch units after the encoder's two ReLUs (its children 1 and 3): two stages of Linear + ReLU.
mtl::CrossStitchOptions stitch_after_each_layer() { return mtl::CrossStitchOptions().stitch_after({1, 3}); }

/// Each task's head: 32 → 8 → 1.
nn::Sequential head(size_t) { return nn::Sequential(nn::Linear(32, 8), nn::ReLU(), nn::Linear(8, 1)); }

/// ‖θ_task1 − θ_task2‖ over every pair of matching encoder parameters ("encoders.task1.0.weight" and
/// "encoders.task2.0.weight", ...).
double encoder_distance(const mtl::SoftSharingImpl& model) {
  const auto named = model.named_parameters();
  const std::string first = "encoders.task1.", second = "encoders.task2.";
  double squared = 0;
  for (const auto& [name, parameter] : named) {
    if (name.rfind(first, 0) != 0) continue;
    const td::Tensor& other = named[second + name.substr(first.size())];
    squared += (parameter - other).to(td::kFloat64).square().sum().item<double>();
  }
  return std::sqrt(squared);
}

struct Settings {
  int64_t train_size = 10000, test_size = 2000, epochs = 8, batch_size = 128, seeds = 1, first_seed = 0;
  double correlation = 0.9, lr = 1e-3;
};

/// Trains `model` with equal weighting; returns the test evaluation.
mtl::Evaluation train(const std::shared_ptr<mtl::MultiTaskModel>& model, std::shared_ptr<optim::Optimizer> optimizer,
                      const std::vector<mtl::Task>& tasks, const mtl::MultiTaskDataset& train_set,
                      const mtl::MultiTaskDataset& test_set, const Settings& settings, uint64_t seed) {
  mtl::Trainer trainer(model, tasks, mtl::make_weighting("ew", tasks.size()), std::move(optimizer),
                       mtl::TrainerOptions().epochs(settings.epochs).progress(false).verbose(false));
  trainer.fit(mtl::MultiTaskLoader(train_set, settings.batch_size, /*shuffle=*/true, seed));
  return trainer.evaluate(mtl::MultiTaskLoader(test_set, 1000, /*shuffle=*/false));
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  int threads = 1;  // the matrices here are small: one thread is the fastest on a busy machine
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--full")) {
      settings.epochs = 30;
      settings.seeds = 3;
    } else if (!std::strcmp(argv[i], "--epochs") && i + 1 < argc) {
      settings.epochs = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--seeds") && i + 1 < argc) {
      settings.seeds = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) {
      settings.first_seed = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--full] [--epochs N] [--seeds N] [--seed FIRST] [--threads N]\n", argv[0]);
      return 2;
    }
  }
  if (settings.epochs < 1 || settings.seeds < 1) {
    std::fprintf(stderr, "%s: needs --epochs >= 1 and --seeds >= 1\n", argv[0]);
    return 2;
  }
  td::set_num_threads(threads);

  std::vector<mtl::Task> tasks;
  for (const auto& name : kTaskNames) tasks.push_back({name, mtl::losses::mse(), {mtl::metrics::mse()}, {}});
  const std::vector<double> lambdas{0.0, 1e-3, 1e-2, 1e-1, 1.0};
  mtl::ResultsTable table = mtl::ResultsTable::for_tasks(tasks, {"hps", 4, 2});  // delta_m against hard sharing

  // ---- 1. the soft-sharing model ----------------------------------------------------------------------------
  std::printf("1. Soft sharing: one encoder per task, R = lambda sum_p ||theta_task1^p - theta_task2^p||^2\n");
  {
    td::manual_seed(0);
    mtl::SoftSharing model(kTaskNames, encoder, head, mtl::SoftSharingOptions().lambda(0.01));
    std::cout << *model;
    check(model->shared_parameters().empty(), "soft sharing shares no parameter: each one belongs to a task");
    const double distance = encoder_distance(*model);
    const double penalty = model->regularization().item<float>();
    std::printf("  at initialisation: ||theta_task1 - theta_task2|| = %.4f, R = %.4f\n", distance, penalty);
    check(std::abs(penalty - 0.01 * distance * distance) < 1e-4 * penalty,
          "regularization() = lambda ||theta_task1 - theta_task2||^2 (the trainer adds it to the loss)");
    model->options.lambda(0);
    check(!model->regularization().defined(), "with lambda = 0 there is no penalty: the tasks are fully separate");
  }

  // ---- 2. the sweep over lambda -----------------------------------------------------------------------------
  std::printf("\n2. Training with lambda in {0, 1e-3, 1e-2, 1e-1, 1} (p = %.1f, %lld epochs)\n", settings.correlation,
              static_cast<long long>(settings.epochs));
  std::vector<double> distances;  // first seed, one per lambda
  double initial_distance = 0, variance = 0;
  std::vector<std::vector<float>> alphas_before, alphas_after;  // first seed
  bool alpha_initial_ok = true, self_weight_one_independent = false, default_mixes = false;
  for (int64_t seed = settings.first_seed; seed < settings.first_seed + settings.seeds; ++seed) {
    const auto useed = static_cast<uint64_t>(seed);
    const bool first = seed == settings.first_seed;
    const mtl::MultiTaskDataset all =
        mtl::make_mmoe_synthetic(settings.train_size + settings.test_size, settings.correlation, useed);
    const mtl::MultiTaskDataset train_set = all.slice(0, settings.train_size);
    const mtl::MultiTaskDataset test_set = all.slice(settings.train_size, settings.train_size + settings.test_size);
    if (first) variance = test_set.targets[0].to(td::kFloat64).var().item<double>();

    // The reference: hard sharing with the same encoder and heads.
    td::manual_seed(useed);
    mtl::HPS hps(kTaskNames, encoder(), head);
    table.add_run("hps", train(hps.ptr(), std::make_shared<optim::Adam>(hps->parameters(), optim::AdamOptions(settings.lr)),
                               tasks, train_set, test_set, settings, useed)
                             .flat_metrics());

    for (double lambda : lambdas) {
      td::manual_seed(useed);
      mtl::SoftSharing model(kTaskNames, encoder, head, mtl::SoftSharingOptions().lambda(lambda));
      if (first) initial_distance = encoder_distance(*model);
      auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(settings.lr));
      const mtl::Evaluation test = train(model.ptr(), optimizer, tasks, train_set, test_set, settings, useed);
      table.add_run("soft, lambda=" + fmt("%g", lambda), test.flat_metrics());
      if (first) {
        distances.push_back(encoder_distance(*model));
        std::printf("  lambda = %-6g ||theta_task1 - theta_task2|| = %7.4f   test MSE (%.4f, %.4f)\n", lambda,
                    distances.back(), test.tasks[0].metrics[0], test.tasks[1].metrics[0]);
      }
    }

    // ---- cross-stitch ---------------------------------------------------------------------------------------
    td::manual_seed(useed);
    mtl::CrossStitch model(kTaskNames, encoder, head, stitch_after_each_layer());
    if (first) {
      for (size_t u = 0; u < model->stitches->size(); ++u) {
        alphas_before.push_back(model->stitches->ptr<mtl::CrossStitchUnitImpl>(u)->alpha.to_vector<float>());
        alpha_initial_ok = alpha_initial_ok && alphas_before.back() == std::vector<float>{0.9f, 0.1f, 0.1f, 0.9f};
      }
      // With self_weight 1 the units are the identity: task 1's output does not depend on task 2's tower.
      auto independent = [&](double self_weight) {
        td::manual_seed(useed);
        mtl::CrossStitch probe(kTaskNames, encoder, head, stitch_after_each_layer().self_weight(self_weight));
        const td::Tensor output = probe->forward(test_set.inputs.slice(0, 0, 8))[0].sum();
        std::vector<td::Tensor> tower2;
        for (const auto& [name, parameter] : probe->named_parameters())
          if (name.rfind("towers.task2.", 0) == 0) tower2.push_back(parameter);
        double norm = 0;
        for (const td::Tensor& g : td::autograd::grad({output}, tower2, {}, false, false, /*allow_unused=*/true))
          if (g.defined()) norm += g.square().sum().item<float>();
        return norm == 0.0;
      };
      self_weight_one_independent = independent(1.0);
      default_mixes = !independent(0.9);
    }
    const mtl::Evaluation test =
        train(model.ptr(), std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(settings.lr)), tasks,
              train_set, test_set, settings, useed);
    table.add_run("cross_stitch", test.flat_metrics());
    if (first)
      for (size_t u = 0; u < model->stitches->size(); ++u)
        alphas_after.push_back(model->stitches->ptr<mtl::CrossStitchUnitImpl>(u)->alpha.to_vector<float>());
  }
  std::printf("  before training the encoders were %.4f apart\n", initial_distance);
  bool decreasing = true;
  for (size_t i = 1; i < distances.size(); ++i) decreasing = decreasing && distances[i] < distances[i - 1];
  check(decreasing, "||theta_task1 - theta_task2|| shrinks at every step up in lambda");
  check(distances.front() > 0.8 * initial_distance,
        "with lambda = 0 the encoders stay about as far apart as they started (more than 80% of it)");
  check(distances.back() < 0.05 * initial_distance,
        "with lambda = 1 they are nearly one encoder: under 5% of the starting distance");

  // ---- 3. cross-stitch --------------------------------------------------------------------------------------
  std::printf("\n3. Cross-stitch: a unit after each of the two stages mixes the tasks' activations\n");
  check(alpha_initial_ok, "alpha starts near the identity: [[0.9, 0.1], [0.1, 0.9]] in both units");
  check(self_weight_one_independent, "with self_weight 1 the units are the identity: task1's output has no gradient "
                                     "on task2's tower");
  check(default_mixes, "with the default 0.9 it has: the towers share through the units from the first step");
  double moved = 0, smallest_off_diagonal = 1e9;
  for (size_t u = 0; u < alphas_after.size(); ++u) {
    const auto& a = alphas_after[u];
    std::printf("  stitches.%zu.alpha after training: [[%.4f, %.4f], [%.4f, %.4f]]\n", u, a[0], a[1], a[2], a[3]);
    for (size_t k = 0; k < 4; ++k) moved = std::max(moved, static_cast<double>(std::abs(a[k] - alphas_before[u][k])));
    smallest_off_diagonal = std::min({smallest_off_diagonal, static_cast<double>(a[1]), static_cast<double>(a[2])});
  }
  check(moved > 0.05, "alpha is learned: an entry moved by " + fmt("%.3f", moved) + " (> 0.05)");
  check(smallest_off_diagonal > 0.05, "the off-diagonal entries stay positive (smallest " +
                                          fmt("%.3f", smallest_off_diagonal) + "): each task keeps reading the other's "
                                          "activations");

  // ---- 4. results -------------------------------------------------------------------------------------------
  std::printf("\n4. Test MSE (mean +- std over %lld seed%s; delta_m against hard sharing)\n",
              static_cast<long long>(settings.seeds), settings.seeds > 1 ? "s" : "");
  table.print(std::cout);
  bool learned = true;
  for (const std::string& row : table.rows())
    for (size_t c = 0; c < 2; ++c) learned = learned && table.cell(row, c).mean < 0.15 * variance;
  check(learned, "every model learns both tasks: test MSE below 15% of the labels' variance (" +
                     fmt("%.1f", variance) + ")");

  std::printf(failures ? "\n%d check(s) FAILED\n" : "\nall checks passed\n", failures);
  return failures ? 1 : 0;
}

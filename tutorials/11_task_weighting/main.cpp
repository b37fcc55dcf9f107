// Tutorial 11: task weighting on the GradNorm synthetic regression, whose two tasks differ in scale by σ = (1, 100).
// Equal weighting (ew), uncertainty weighting (uw), GradNorm and dynamic weight average (dwa) train the same
// hard-sharing model; the program prints the task weights each method ends with, the gradient norms that explain
// them, and a results table of the per-task test MSE. Every claim in README.md is checked here.
//
//   tutorial_11_task_weighting                quick run (CI): 4000 training samples, 20 epochs per method
//   tutorial_11_task_weighting --full         8000 samples, 40 epochs, 3 seeds in the table
//   tutorial_11_task_weighting --epochs 30 --seeds 2 --threads 2
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

std::string fmt(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

/// The GradNorm paper's model: a trunk of four fully connected layers of 100 units with ReLU, shared by both
/// tasks, and one linear head per task (100 → 100 outputs).
mtl::HPS make_model(const std::vector<std::string>& task_names) {
  nn::Sequential trunk(nn::Linear(250, 100), nn::ReLU(), nn::Linear(100, 100), nn::ReLU(), nn::Linear(100, 100),
                       nn::ReLU(), nn::Linear(100, 100), nn::ReLU());
  return mtl::HPS(task_names, trunk, [](size_t) { return nn::Sequential(nn::Linear(100, 100)); });
}

/// The dataset restricted to task t (for a single-task baseline).
mtl::MultiTaskDataset only_task(const mtl::MultiTaskDataset& data, size_t t) {
  return mtl::MultiTaskDataset(data.inputs, {data.targets[t]});
}

struct Settings {
  int64_t train_size = 4000, test_size = 1000, epochs = 20, batch_size = 100, seeds = 1, first_seed = 0;
  double lr = 1e-3;
  /// Learning rate of the weighting's own parameters (UW's log-variances, GradNorm's weights).
  double weighting_lr = 0.1;
  /// --full: the longer budget, whose results differ (README.md, section 5) and are checked as such.
  bool full = false;
};

struct Run {
  std::shared_ptr<mtl::Weighting> weighting;
  std::vector<mtl::EpochSummary> history;
  mtl::Evaluation test;
};

/// Trains a fresh model with the weighting `spec` on one seed's data and evaluates it on the test set.
Run train(const std::string& spec, const std::vector<mtl::Task>& tasks, const mtl::MultiTaskDataset& train_set,
          const mtl::MultiTaskDataset& test_set, const Settings& settings, uint64_t seed) {
  td::manual_seed(seed);
  std::vector<std::string> names;
  for (const mtl::Task& task : tasks) names.push_back(task.name);
  mtl::HPS model = make_model(names);
  Run run;
  run.weighting = mtl::make_weighting(spec, tasks.size());
  auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(settings.lr));
  mtl::Trainer trainer(model.ptr(), tasks, run.weighting, optimizer,
                       mtl::TrainerOptions()
                           .epochs(settings.epochs)
                           .progress(false)
                           .verbose(false)
                           .diagnostics_every(10));
  // The trainer appended the weighting's parameters (if any) to the optimizer as the last group, with the
  // optimizer's defaults; they have far to travel, so they get a larger learning rate.
  if (!run.weighting->parameters().empty()) trainer.optimizer().param_groups().back().options().lr(settings.weighting_lr);
  mtl::MultiTaskLoader train_loader(train_set, settings.batch_size, /*shuffle=*/true, seed);
  mtl::MultiTaskLoader test_loader(test_set, 1000, /*shuffle=*/false);
  run.history = trainer.fit(train_loader);
  run.test = trainer.evaluate(test_loader);
  return run;
}

void print_weights(const Run& run, const std::vector<int64_t>& epochs) {
  for (int64_t e : epochs) {
    const mtl::EpochSummary& s = run.history[static_cast<size_t>(e - 1)];
    std::printf("    epoch %2lld: weights (%.4f, %.4f)   train loss (%.4g, %.5g)\n", static_cast<long long>(e),
                s.weights[0], s.weights[1], s.train_losses[0], s.train_losses[1]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  int threads = 1;  // the matrices here are small: one thread is the fastest on a busy machine
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--full")) {
      settings.train_size = 8000;
      settings.epochs = 40;
      settings.seeds = 3;
      settings.full = true;
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
  if (settings.epochs < 4 || settings.seeds < 1) {
    std::fprintf(stderr, "%s: needs --epochs >= 4 and --seeds >= 1\n", argv[0]);
    return 2;
  }
  td::set_num_threads(threads);

  std::vector<mtl::Task> tasks{{"sigma1", mtl::losses::mse(), {mtl::metrics::mse()}, {}},
                               {"sigma100", mtl::losses::mse(), {mtl::metrics::mse()}, {}}};
  const std::vector<std::string> methods{"ew", "uw", "gradnorm:alpha=0.12", "dwa"};
  mtl::ResultsTable table = mtl::ResultsTable::for_tasks(tasks);

  std::map<std::string, Run> runs;  // the first seed, for the explanations below
  for (int64_t seed = settings.first_seed; seed < settings.first_seed + settings.seeds; ++seed) {
    const mtl::MultiTaskDataset all =
        mtl::make_gradnorm_synthetic(settings.train_size + settings.test_size, static_cast<uint64_t>(seed));
    const mtl::MultiTaskDataset train_set = all.slice(0, settings.train_size);
    const mtl::MultiTaskDataset test_set = all.slice(settings.train_size, settings.train_size + settings.test_size);
    if (seed == settings.first_seed) {
      std::printf("0. The data: f_i(x) = sigma_i tanh((B + eps_i) x), x in R^250, outputs in R^100\n");
      const double var1 = test_set.targets[0].square().mean().item<float>();
      const double var100 = test_set.targets[1].square().mean().item<float>();
      std::printf("  mean square of the targets: %.3f (sigma1), %.1f (sigma100)\n", var1, var100);
      check(var100 / var1 > 5000, "the sigma100 targets are ~10^4 times larger in square: predicting 0 costs "
                                  "MSE ~1 on sigma1 and ~10^4 on sigma100");
    }
    // Single-task learning (STL): the same trunk and budget, one model per task — the baseline of delta_m.
    std::vector<double> stl;
    for (size_t t = 0; t < tasks.size(); ++t) {
      Run run = train("ew", {tasks[t]}, only_task(train_set, t), only_task(test_set, t), settings,
                      static_cast<uint64_t>(seed));
      stl.push_back(run.test.tasks[0].metrics[0]);
    }
    table.add_run("stl", stl);
    for (const std::string& spec : methods) {
      Run run = train(spec, tasks, train_set, test_set, settings, static_cast<uint64_t>(seed));
      table.add_run(spec, run.test.flat_metrics());
      if (seed == settings.first_seed) runs.emplace(spec, std::move(run));
    }
  }
  const int64_t E = settings.epochs;

  // ---- 1. equal weighting -----------------------------------------------------------------------------------
  std::printf("\n1. ew: L = L_sigma1 + L_sigma100\n");
  const Run& ew = runs.at("ew");
  print_weights(ew, {1, E});
  const auto& ew_last = ew.history.back();
  const double norm1 = ew_last.diagnostics.at("grad_norm.sigma1"), norm100 = ew_last.diagnostics.at("grad_norm.sigma100");
  std::printf("  gradient norms on the shared trunk (last epoch): %.3g (sigma1), %.3g (sigma100): ratio %.0f\n",
              norm1, norm100, norm100 / norm1);
  check(ew_last.weights[0] == 1.0 && ew_last.weights[1] == 1.0, "ew's weights are (1, 1) at every step");
  check(norm100 > 10 * norm1, "the sigma100 gradient is more than 10x the sigma1 gradient: it steers the trunk");
  const double ew_mse1 = ew.test.tasks[0].metrics[0];
  std::printf("  test MSE of sigma1: %.3f (predicting 0 gives ~1)\n", ew_mse1);
  check(ew_mse1 > 0.9, "under ew the sigma1 task ends no better than predicting 0: " + fmt("%.3f", ew_mse1));

  // ---- 2. uncertainty weighting ------------------------------------------------------------------------------
  std::printf("\n2. uw: L = sum_t L_t e^{-s_t} / 2 + s_t / 2, s_t learned\n");
  const Run& uw = runs.at("uw");
  print_weights(uw, {1, E});
  const std::vector<float> s = dynamic_cast<const mtl::UW&>(*uw.weighting).log_variance().to_vector<float>();
  const double log_l1 = std::log(uw.history.back().train_losses[0]);
  const double log_l100 = std::log(uw.history.back().train_losses[1]);
  std::printf("  learned log-variances s = (%.3f, %.3f); log of the last epoch's losses = (%.3f, %.3f)\n", s[0], s[1],
              log_l1, log_l100);
  check(std::abs(s[0] - log_l1) < 0.3, "s_sigma1 has settled at log L_sigma1 (within 0.3)");
  check(s[1] > s[0] + 3 && s[1] < log_l100 + 0.3,
        "s_sigma100 is far above s_sigma1, climbing towards log L_sigma100 from below");
  const auto& uw_w = uw.history.back().weights;
  check(uw_w[0] > 20 * uw_w[1], "uw weighs sigma1 more than 20x as much as sigma100: " + fmt("%.4f", uw_w[0]) +
                                    " vs " + fmt("%.5f", uw_w[1]));

  // ---- 3. GradNorm -------------------------------------------------------------------------------------------
  std::printf("\n3. gradnorm (alpha = 0.12): weights w_t learned so that the weighted gradient norms match\n");
  const Run& gn = runs.at("gradnorm:alpha=0.12");
  print_weights(gn, {1, 2, E});
  const auto& gn_w = gn.history.back().weights;
  check(gn_w[0] > 1.5 && gn_w[1] < 0.5, "gradnorm raised the sigma1 weight above 1.5 and cut sigma100's below 0.5");
  check(std::abs(gn_w[0] + gn_w[1] - 2.0) < 1e-6, "gradnorm's weights sum to T = 2 after every step");

  // ---- 4. DWA ------------------------------------------------------------------------------------------------
  std::printf("\n4. dwa (temperature 2): lambda_k = T softmax(r_k / 2), r_k = ratio of the last two epoch losses\n");
  const Run& dwa = runs.at("dwa");
  print_weights(dwa, {1, 2, 3, 4, E});
  check(dwa.history[0].weights == std::vector<double>{1.0, 1.0} && dwa.history[1].weights == std::vector<double>{1.0, 1.0},
        "dwa uses weights (1, 1) for the first two epochs");
  double worst_formula_error = 0, worst_sum_error = 0, farthest_from_one = 0;
  for (size_t e = 2; e < dwa.history.size(); ++e) {
    std::vector<double> r(2), expected(2);
    for (size_t k = 0; k < 2; ++k) r[k] = dwa.history[e - 1].train_losses[k] / dwa.history[e - 2].train_losses[k];
    const double z0 = std::exp(r[0] / 2), z1 = std::exp(r[1] / 2);
    expected = {2 * z0 / (z0 + z1), 2 * z1 / (z0 + z1)};
    for (size_t k = 0; k < 2; ++k) {
      worst_formula_error = std::max(worst_formula_error, std::abs(dwa.history[e].weights[k] - expected[k]));
      farthest_from_one = std::max(farthest_from_one, std::abs(dwa.history[e].weights[k] - 1.0));
    }
    worst_sum_error = std::max(worst_sum_error, std::abs(dwa.history[e].weights[0] + dwa.history[e].weights[1] - 2));
  }
  check(worst_formula_error < 1e-9, "from epoch 3 on, each epoch's weights are 2 softmax(r / 2) of the two previous "
                                    "epochs' mean losses (constant within the epoch)");
  check(worst_sum_error < 1e-9, "dwa's weights sum to T = 2");
  check(farthest_from_one < 0.5, "dwa's weights stay near 1 (max |w - 1| = " + fmt("%.3f", farthest_from_one) +
                                     "): both losses fall at similar rates, and dwa never sees their scales");

  // ---- 5. results --------------------------------------------------------------------------------------------
  std::printf("\n5. Test MSE per task (mean +- std over %lld seed%s; delta_m against single-task learning)\n",
              static_cast<long long>(settings.seeds), settings.seeds > 1 ? "s" : "");
  table.print(std::cout);
  auto mean = [&](const std::string& row, size_t column) { return table.cell(row, column).mean; };
  auto delta = [&](const std::string& row) { return table.delta_m_cell(row)->mean; };
  const std::string gradnorm = "gradnorm:alpha=0.12";
  if (!settings.full) {
    check(mean("uw", 0) < 0.8 * mean("ew", 0) && mean(gradnorm, 0) < 0.8 * mean("ew", 0),
          "uw and gradnorm both cut the sigma1 test MSE by more than 20% against ew");
    check(mean(gradnorm, 1) < 1.05 * mean("ew", 1), "gradnorm pays at most 5% on sigma100 for it");
    check(delta("uw") < delta("ew") && delta(gradnorm) < delta("ew"), "delta_m: uw and gradnorm beat ew");
  } else {
    check(mean("uw", 0) < 0.8 * mean("ew", 0), "uw still cuts the sigma1 test MSE by more than 20% against ew");
    check(std::abs(mean(gradnorm, 0) / mean("ew", 0) - 1) < 0.1,
          "gradnorm's advantage is gone: its sigma1 test MSE is within 10% of ew's");
    check(delta("uw") < delta("ew"), "delta_m: uw beats ew");
  }
  check(mean("dwa", 0) > 0.8 * mean("ew", 0), "dwa leaves sigma1 where ew does (within 20%)");
  bool stl_best = true;
  for (const std::string& spec : methods) stl_best = stl_best && mean("stl", 0) < mean(spec, 0);
  check(stl_best, "and yet the sigma1 model trained alone beats every shared model on sigma1: " +
                      fmt("%.3f", mean("stl", 0)));

  std::printf(failures ? "\n%d check(s) FAILED\n" : "\nall checks passed\n", failures);
  return failures ? 1 : 0;
}

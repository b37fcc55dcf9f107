// Tutorial 13: gated mixtures of experts. Shared-bottom (hps), the one-gate mixture of experts (moe: MMoE with
// shared_gate), the multi-gate mixture of experts (mmoe) and customized gate control (cgc) on the MMoE paper's
// synthetic regression, for task correlations p = 0.5, 0.9 and 1.0. The program builds each model, trains it,
// prints a table of test MSE and looks inside the gates. Every claim in README.md is checked here.
//
//   tutorial_13_gating                     quick run (CI): 10000 training samples, 8 epochs per model
//   tutorial_13_gating --full              30 epochs, 3 seeds
//   tutorial_13_gating --epochs 20 --seeds 2 --threads 2
#include <tandem.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "mtl/architectures/cgc.h"
#include "mtl/architectures/hps.h"
#include "mtl/architectures/mmoe.h"

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
constexpr int64_t kInputs = 100, kExperts = 8, kExpertWidth = 16, kTowerWidth = 8, kBottomWidth = 113;

/// An expert: one hidden layer of 16 units on the 100-d input.
nn::Sequential expert() { return nn::Sequential(nn::Linear(kInputs, kExpertWidth), nn::ReLU()); }

/// A task tower on `width` features: 8 hidden units, one output.
mtl::TaskModuleFactory tower(int64_t width) {
  return [width](size_t) { return nn::Sequential(nn::Linear(width, kTowerWidth), nn::ReLU(), nn::Linear(kTowerWidth, 1)); };
}

/// The four models, with about the same number of parameters (the shared bottom is 113 units wide to match the
/// 8 experts of 16).
std::shared_ptr<mtl::MultiTaskModel> make_model(const std::string& architecture) {
  if (architecture == "hps")
    return mtl::HPS(kTaskNames, nn::Sequential(nn::Linear(kInputs, kBottomWidth), nn::ReLU()), tower(kBottomWidth)).ptr();
  if (architecture == "moe")
    return mtl::MMoE(kTaskNames, expert, tower(kExpertWidth), mtl::MMoEOptions(kInputs, kExperts).shared_gate(true)).ptr();
  if (architecture == "mmoe")
    return mtl::MMoE(kTaskNames, expert, tower(kExpertWidth), mtl::MMoEOptions(kInputs, kExperts)).ptr();
  // cgc: 4 shared experts and 2 private experts per task (8 in all); each task's gate sees 4 + 2 of them.
  return mtl::CGC(kTaskNames, expert, tower(kExpertWidth), mtl::CGCOptions(kInputs, 4, 2)).ptr();
}

/// The gate weights of every task on `input`: [N, E] each.
std::vector<td::Tensor> gates_of(mtl::MultiTaskModel& model, const td::Tensor& input) {
  td::NoGradGuard no_grad;
  if (auto* mixture = dynamic_cast<mtl::ExpertMixtureModel*>(&model)) return mixture->gate_weights(input);
  if (auto* cgc = dynamic_cast<mtl::CGCImpl*>(&model)) return cgc->gate_weights(input);
  return {};
}

/// Mean over samples of the total-variation distance ½ Σ_e |g1(x)_e − g2(x)_e| between two tasks' gates: 0 when
/// the tasks mix the experts identically, 1 when they use disjoint experts.
double gate_distance(const td::Tensor& g1, const td::Tensor& g2) {
  return ((g1 - g2).abs().sum(1) * 0.5).mean().item<float>();
}

struct Settings {
  int64_t train_size = 10000, test_size = 2000, epochs = 8, batch_size = 128, seeds = 1, first_seed = 0;
  double lr = 1e-3;
};

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

  const std::vector<double> correlations{0.5, 0.9, 1.0};
  const std::vector<std::string> architectures{"hps", "moe", "mmoe", "cgc"};
  std::vector<mtl::Task> tasks;
  for (const auto& name : kTaskNames) tasks.push_back({name, mtl::losses::mse(), {mtl::metrics::mse()}, {}});

  // ---- 1. the models ----------------------------------------------------------------------------------------
  std::printf("1. Four models of about the same size\n");
  std::map<std::string, int64_t> sizes;
  for (const auto& architecture : architectures) {
    auto model = make_model(architecture);
    sizes[architecture] = model->num_parameters();
    std::ostringstream description;
    model->pretty_print(description);
    std::printf("  %-5s %6lld parameters  %s\n", architecture.c_str(), static_cast<long long>(sizes[architecture]),
                description.str().c_str());
  }
  bool similar = true;
  for (const auto& [name, count] : sizes) similar = similar && count > 0.7 * sizes["mmoe"] && count < 1.3 * sizes["mmoe"];
  check(similar, "every model has within 30% of mmoe's parameter count");

  // ---- 2. training ------------------------------------------------------------------------------------------
  std::printf("\n2. Training each model on each correlation (Adam, lr 1e-3, %lld epochs)\n",
              static_cast<long long>(settings.epochs));
  std::map<double, mtl::ResultsTable> tables;
  std::map<std::string, double> label_variance;
  // Gate statistics of the first seed: per correlation and architecture.
  std::map<std::string, double> distance, initial_distance, worst_row_sum_error, private_share;
  std::map<std::string, std::vector<double>> expert_usage;
  double worst_fraction = 0, fraction_sum = 0;
  int64_t fraction_count = 0;
  // No single-task row here: each table's delta_m is measured against shared-bottom (hps).
  for (double p : correlations) tables.emplace(p, mtl::ResultsTable::for_tasks(tasks, {"hps", 4, 2}));
  for (int64_t seed = settings.first_seed; seed < settings.first_seed + settings.seeds; ++seed) {
    for (double p : correlations) {
      const mtl::MultiTaskDataset all =
          mtl::make_mmoe_synthetic(settings.train_size + settings.test_size, p, static_cast<uint64_t>(seed));
      const mtl::MultiTaskDataset train_set = all.slice(0, settings.train_size);
      const mtl::MultiTaskDataset test_set = all.slice(settings.train_size, settings.train_size + settings.test_size);
      std::vector<double> variance;  // of each task's test labels
      for (const td::Tensor& y : test_set.targets) variance.push_back(y.to(td::kFloat64).var().item<double>());
      if (seed == settings.first_seed) label_variance["p=" + fmt("%.1f", p)] = variance[0];
      mtl::MultiTaskLoader train_loader(train_set, settings.batch_size, /*shuffle=*/true, static_cast<uint64_t>(seed));
      mtl::MultiTaskLoader test_loader(test_set, 1000, /*shuffle=*/false);
      const auto start = std::chrono::steady_clock::now();
      for (const auto& architecture : architectures) {
        td::manual_seed(static_cast<uint64_t>(seed));
        auto model = make_model(architecture);
        const bool inspect = seed == settings.first_seed && architecture != "hps";
        const std::string key = architecture + ", p=" + fmt("%.1f", p);
        if (inspect) {
          const std::vector<td::Tensor> gates = gates_of(*model, test_set.inputs);
          initial_distance[key] = gate_distance(gates[0], gates[1]);
        }
        auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(settings.lr));
        mtl::Trainer trainer(model, tasks, mtl::make_weighting("ew", 2), optimizer,
                             mtl::TrainerOptions().epochs(settings.epochs).progress(false).verbose(false));
        trainer.fit(train_loader);
        const mtl::Evaluation test = trainer.evaluate(test_loader);
        tables.at(p).add_run(architecture, test.flat_metrics());
        for (size_t t = 0; t < test.tasks.size(); ++t) {
          const double fraction = test.tasks[t].metrics[0] / variance[t];
          worst_fraction = std::max(worst_fraction, fraction);
          fraction_sum += fraction;
          ++fraction_count;
        }
        if (!inspect) continue;
        const std::vector<td::Tensor> gates = gates_of(*model, test_set.inputs);
        double row_error = 0;
        for (const td::Tensor& g : gates)
          row_error = std::max(row_error, static_cast<double>((g.sum(1) - 1.0).abs().max().item<float>()));
        worst_row_sum_error[key] = row_error;
        distance[key] = gate_distance(gates[0], gates[1]);
        for (size_t t = 0; t < 2; ++t) {
          std::vector<double> usage;
          for (float v : gates[t].mean(0).to_vector<float>()) usage.push_back(v);
          expert_usage[key + ", " + kTaskNames[t]] = usage;
          if (architecture == "cgc") private_share[key + ", " + kTaskNames[t]] = usage[4] + usage[5];
        }
      }
      std::printf("  seed %lld, p = %.1f: hps, moe, mmoe and cgc trained in %.1f s\n", static_cast<long long>(seed), p,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }

  // ---- 3. results -------------------------------------------------------------------------------------------
  std::printf("\n3. Test MSE (mean +- std over %lld seed%s); the label variance is ~%.1f\n",
              static_cast<long long>(settings.seeds), settings.seeds > 1 ? "s" : "", label_variance["p=0.5"]);
  for (double p : correlations) {
    std::printf("\n  correlation p = %.1f (delta_m against hps)\n", p);
    tables.at(p).print(std::cout);
  }
  const double mean_fraction = fraction_sum / static_cast<double>(fraction_count);
  check(mean_fraction < 0.15, "on average a model's test MSE is below 15% of the label variance: " +
                                  fmt("%.1f%%", 100 * mean_fraction));
  check(worst_fraction < 0.5, "every model learns both tasks at every p: test MSE below half the label variance "
                              "(worst " + fmt("%.1f%%", 100 * worst_fraction) + ")");

  // ---- 4. inside the gates ----------------------------------------------------------------------------------
  std::printf("\n4. Inside the gates (first seed, on the test inputs)\n");
  std::printf("  mean gate weight of each expert:\n");
  for (const std::string key : {"moe, p=0.5", "mmoe, p=0.5", "mmoe, p=0.9", "mmoe, p=1.0", "cgc, p=0.5"})
    for (const std::string& task : kTaskNames) {
      std::printf("    %-20s", (key + ", " + task).c_str());
      for (double v : expert_usage.at(key + ", " + task)) std::printf(" %.3f", v);
      std::printf("\n");
    }
  double worst_sum = 0;
  for (const auto& [key, error] : worst_row_sum_error) worst_sum = std::max(worst_sum, error);
  check(worst_sum < 1e-5, "every gate's weights sum to 1 for every sample (softmax), in moe, mmoe and cgc");
  std::printf("  distance between the two tasks' gates, mean over samples of 1/2 sum_e |g1 - g2|:\n");
  std::printf("                 before training   after\n");
  for (const std::string architecture : {"moe", "mmoe"})
    for (double p : correlations) {
      const std::string key = architecture + ", p=" + fmt("%.1f", p);
      std::printf("    %-12s %15.4f %8.4f\n", key.c_str(), initial_distance.at(key), distance.at(key));
    }
  bool moe_identical = true, mmoe_differ = true;
  for (double p : correlations) {
    const std::string p_name = "p=" + fmt("%.1f", p);
    moe_identical = moe_identical && distance.at("moe, " + p_name) == 0.0;
    mmoe_differ = mmoe_differ && distance.at("mmoe, " + p_name) > 0.01;
  }
  check(moe_identical, "moe: one gate for both tasks, so the two tasks' weights are identical (distance 0)");
  check(mmoe_differ, "mmoe: each task has its own gate, and they mix the experts differently (distance > 0.01)");
  check(distance.at("mmoe, p=0.5") > initial_distance.at("mmoe, p=0.5") + 0.05,
        "at p=0.5 training pushes mmoe's two gates apart (distance up by more than 0.05)");
  check(distance.at("mmoe, p=0.5") > distance.at("mmoe, p=1.0") + 0.05,
        "mmoe's gates end further apart for less related tasks: distance at p=0.5 > distance at p=1.0 + 0.05");
  std::printf("  cgc: share of each task's gate on its own two experts (the last two entries):\n");
  for (double p : correlations) {
    const std::string key = "cgc, p=" + fmt("%.1f", p);
    std::printf("    %-12s task1 %.3f  task2 %.3f\n", key.c_str(), private_share.at(key + ", task1"),
                private_share.at(key + ", task2"));
  }
  // cgc: task t's gate weighs the 4 shared experts, then its own 2 — another task's private experts are not in
  // it, so task1's output has no gradient on task2's private experts.
  {
    td::manual_seed(0);
    auto cgc = make_model("cgc");
    const td::Tensor x = td::randn({16, kInputs});
    const std::vector<td::Tensor> gates = gates_of(*cgc, x);
    std::vector<td::Tensor> others, shared;
    for (const auto& [name, parameter] : cgc->named_parameters()) {
      if (name.rfind("task_experts.task2.", 0) == 0) others.push_back(parameter);
      if (name.rfind("shared_experts.", 0) == 0) shared.push_back(parameter);
    }
    auto gradient_norm = [&](const std::vector<td::Tensor>& inputs) {
      const td::Tensor output = cgc->forward(x)[0].sum();
      double norm = 0;
      for (const td::Tensor& g : td::autograd::grad({output}, inputs, {}, false, false, /*allow_unused=*/true))
        if (g.defined()) norm += g.square().sum().item<float>();
      return norm;
    };
    check(gates[0].size(1) == 6 && gradient_norm(others) == 0.0 && gradient_norm(shared) > 0.0,
          "cgc: task1's gate has 4 + 2 entries, and task1's output has a gradient on the shared experts but none on "
          "task2's private ones");
  }

  std::printf(failures ? "\n%d check(s) FAILED\n" : "\nall checks passed\n", failures);
  return failures ? 1 : 0;
}

// Tutorial 12: gradient-level methods — PCGrad, MGDA and CAGrad, next to the plain average (ew). First on the
// two-parameter toy problem of the CAGrad paper, where every method's end point can be printed as coordinates
// and losses (and written as CSV for plotting); then on a small Multi-Fashion run, where the trainer's gradient
// diagnostics (cosine, conflict rates overall and per layer, gradient norms) show how the two tasks' gradients
// relate in a real network. Every claim in README.md is checked here.
//
//   tutorial_12_gradient_surgery                     quick run (CI): 5000 Adam steps (lr 0.02) per toy run,
//                                                     1 epoch of 3000 Multi-Fashion samples per method
//   tutorial_12_gradient_surgery --full              the paper's toy setting (lr 0.001, 100000 steps) and
//                                                     3 epochs of 10000 Multi-Fashion samples
//   tutorial_12_gradient_surgery --csv out/toy       one CSV per toy run (step, x, y, L1, L2) for plotting
//   tutorial_12_gradient_surgery --data-dir DIR --threads 2
#include <tandem.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mtl/architectures/hps.h"
#include "mtl/data/toy_landscape.h"

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

struct Settings {
  int64_t toy_steps = 5000;
  double toy_lr = 0.02;
  int64_t fashion_size = 3000, fashion_epochs = 1;
  /// The paper's toy setting (--full): lr 0.001 and 100000 steps.
  bool paper_setting = false;
  std::string csv_dir;
  std::string data_dir = nn::data::FashionMNIST::kDefaultRoot;
};

const std::vector<std::string> kMethods{"ew", "mgda", "pcgrad", "cagrad"};

// ---- part 1: the toy landscape ------------------------------------------------------------------------------

struct ToyEnd {
  std::array<double, 2> point, losses;
  double stationarity;
  double average() const { return 0.5 * (losses[0] + losses[1]); }
};

void write_csv(const std::string& path, const mtl::ToyTrajectory& path_taken, int64_t record_every) {
  std::ofstream out(path);
  out << "step,x,y,L1,L2\n";
  for (size_t i = 0; i < path_taken.points.size(); ++i)
    out << static_cast<int64_t>(i) * record_every << ',' << path_taken.points[i][0] << ',' << path_taken.points[i][1]
        << ',' << path_taken.losses[i][0] << ',' << path_taken.losses[i][1] << '\n';
}

/// Runs every method from every starting point; returns the end points by (start index, method).
std::map<std::pair<size_t, std::string>, ToyEnd> run_toy(const Settings& settings) {
  std::map<std::pair<size_t, std::string>, ToyEnd> ends;
  const auto starts = mtl::toy_landscape_starts();
  const int64_t record_every = std::max<int64_t>(1, settings.toy_steps / 500);
  if (!settings.csv_dir.empty()) std::filesystem::create_directories(settings.csv_dir);
  std::printf("  %-14s %-7s %18s %20s %9s %13s\n", "start", "method", "end (x, y)", "losses (L1, L2)", "average",
              "stationarity");
  for (size_t s = 0; s < starts.size(); ++s) {
    for (const std::string& method : kMethods) {
      td::manual_seed(0);
      auto weighting = mtl::make_weighting(method, 2);
      const mtl::ToyTrajectory trajectory =
          mtl::run_toy_landscape(*weighting, starts[s], settings.toy_steps, settings.toy_lr, record_every);
      ToyEnd end{trajectory.final_point(), trajectory.final_losses(), 0};
      end.stationarity = mtl::toy_landscape_stationarity(end.point[0], end.point[1]);
      ends[{s, method}] = end;
      std::printf("  (%5.1f, %4.1f)   %-7s (%7.3f, %7.3f)   (%8.3f, %8.3f) %9.3f %13.1e\n", starts[s][0], starts[s][1],
                  method.c_str(), end.point[0], end.point[1], end.losses[0], end.losses[1], end.average(),
                  end.stationarity);
      if (!settings.csv_dir.empty())
        write_csv(settings.csv_dir + "/" + method + "_start" + std::to_string(s) + ".csv", trajectory, record_every);
    }
  }
  return ends;
}

// ---- part 2: Multi-Fashion ----------------------------------------------------------------------------------

/// The reference LeNet of Multi-Fashion: conv(1→10, k9) → ReLU → maxpool2 → conv(10→20, k5) → ReLU → maxpool2 →
/// FC 500→50 → ReLU, shared; one FC 50→10 head per task.
mtl::HPS lenet() {
  nn::Sequential encoder(nn::Conv2d(1, 10, 9), nn::ReLU(), nn::MaxPool2d(2), nn::Conv2d(10, 20, 5), nn::ReLU(),
                         nn::MaxPool2d(2), nn::Flatten(), nn::Linear(500, 50), nn::ReLU());
  return mtl::HPS(mtl::kMultiFashionTaskNames, encoder, [](size_t) { return nn::Sequential(nn::Linear(50, 10)); });
}

void run_multi_fashion(const Settings& settings) {
  const std::filesystem::path dir(settings.data_dir);
  if (!std::filesystem::exists(dir / "train-images-idx3-ubyte.gz") ||
      !std::filesystem::exists(dir / "t10k-images-idx3-ubyte.gz")) {
    std::printf("  Fashion-MNIST is not in %s (Debian package dataset-fashion-mnist): skipping this part\n",
                settings.data_dir.c_str());
    return;
  }
  const mtl::MultiTaskDataset train_set = mtl::make_multi_fashion("train", settings.fashion_size, 0, settings.data_dir);
  const mtl::MultiTaskDataset test_set = mtl::make_multi_fashion("test", 1000, 1, settings.data_dir);
  std::vector<mtl::Task> tasks;
  for (const auto& name : mtl::kMultiFashionTaskNames)
    tasks.push_back({name, mtl::losses::cross_entropy(), {mtl::metrics::accuracy()}, {}});
  std::printf("  %lld training pairs (36x36), %lld test pairs; LeNet trunk, one head per task\n",
              static_cast<long long>(train_set.size()), static_cast<long long>(test_set.size()));

  std::map<std::string, mtl::EpochSummary> last;
  std::map<std::string, mtl::Evaluation> test;
  std::vector<std::string> shared_names;
  for (const std::string method : {"mgda", "pcgrad", "cagrad"}) {
    td::manual_seed(0);
    mtl::HPS model = lenet();
    shared_names = model->shared_parameter_names();
    auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(1e-3));
    mtl::Trainer trainer(model.ptr(), tasks, mtl::make_weighting(method, 2), optimizer,
                         mtl::TrainerOptions().epochs(settings.fashion_epochs).progress(false).verbose(false));
    const auto history = trainer.fit(mtl::MultiTaskLoader(train_set, 64, /*shuffle=*/true, 0));
    last[method] = history.back();
    test[method] = trainer.evaluate(mtl::MultiTaskLoader(test_set, 500, /*shuffle=*/false));
    std::printf("  %-7s test accuracy (left, right) = (%.3f, %.3f)   mean weights (%.3f, %.3f)   %.1f s\n",
                method.c_str(), test[method].tasks[0].metrics[0], test[method].tasks[1].metrics[0],
                history.back().weights[0], history.back().weights[1], history.back().seconds);
  }

  const auto& d = last.at("pcgrad").diagnostics;
  std::printf("\n  pcgrad's diagnostics of the last epoch (EpochSummary::diagnostics):\n");
  for (const auto& [key, value] : d) std::printf("    %-34s %8.4f\n", key.c_str(), value);

  bool complete = d.count("cos.left.right") && d.count("conflict_rate") && d.count("conflict.left.right") &&
                  d.count("grad_norm.left") && d.count("grad_norm.right");
  for (const auto& name : shared_names) complete = complete && d.count("conflict_rate." + name);
  check(complete, "every gradient method logs cos.left.right, conflict_rate (overall and per shared parameter: " +
                      std::to_string(shared_names.size()) + " of them) and grad_norm.<task>");
  bool in_range = true;
  for (const auto& [method, summary] : last)
    for (const auto& [key, value] : summary.diagnostics) {
      if (key.rfind("cos.", 0) == 0) in_range = in_range && value >= -1 && value <= 1;
      if (key.rfind("conflict", 0) == 0) in_range = in_range && value >= 0 && value <= 1;
    }
  check(in_range, "cosines lie in [-1, 1] and conflict rates in [0, 1]");
  check(d.at("conflict_rate") == d.at("conflict.left.right"),
        "with two tasks, conflict_rate is the one pair's rate: conflict.left.right");
  double highest_layer_rate = 0;
  for (const auto& name : shared_names) highest_layer_rate = std::max(highest_layer_rate, d.at("conflict_rate." + name));
  check(highest_layer_rate >= d.at("conflict_rate"),
        "some layer's gradients conflict at least as often as the whole gradient does (highest " +
            fmt("%.3f", highest_layer_rate) + ")");
  const auto& mgda_w = last.at("mgda").weights;
  check(std::abs(mgda_w[0] + mgda_w[1] - 1.0) < 1e-6, "mgda's weights are a convex combination: they sum to 1");
  const auto& pc_w = last.at("pcgrad").weights;
  check(pc_w[0] >= 1.0 && pc_w[1] >= 1.0, "pcgrad's weights are >= 1: a projection only adds a multiple of the "
                                          "other task's gradient when they conflict");
  check(d.at("conflict_rate") == 0.0 || pc_w[0] + pc_w[1] > 2.0,
        "and they exceed (1, 1) on average exactly because some steps conflicted");
  bool learned = true;
  for (const auto& [method, evaluation] : test)
    for (const auto& task : evaluation.tasks) learned = learned && task.metrics[0] > 0.2;
  check(learned, "after this short training every method is well above chance (10%) on both tasks");
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  int threads = 1;  // the toy problem and the small LeNet gain nothing from threads on a busy machine
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--full")) {
      settings.toy_steps = 100000;
      settings.toy_lr = 1e-3;
      settings.paper_setting = true;
      settings.fashion_size = 10000;
      settings.fashion_epochs = 3;
    } else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) {
      settings.toy_steps = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--lr") && i + 1 < argc) {
      settings.toy_lr = std::atof(argv[++i]);
    } else if (!std::strcmp(argv[i], "--csv") && i + 1 < argc) {
      settings.csv_dir = argv[++i];
    } else if (!std::strcmp(argv[i], "--data-dir") && i + 1 < argc) {
      settings.data_dir = argv[++i];
    } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--full] [--steps N] [--lr X] [--csv DIR] [--data-dir DIR] [--threads N]\n",
                   argv[0]);
      return 2;
    }
  }
  if (settings.toy_steps < 1 || !(settings.toy_lr > 0)) {
    std::fprintf(stderr, "%s: needs --steps >= 1 and --lr > 0\n", argv[0]);
    return 2;
  }
  td::set_num_threads(threads);

  // ---- 1. the toy problem -----------------------------------------------------------------------------------
  std::printf("1. The CAGrad paper's toy problem: %lld Adam steps (lr %g) from each of its three starts\n",
              static_cast<long long>(settings.toy_steps), settings.toy_lr);
  const auto ends = run_toy(settings);
  // What the paper shows, and what holds here from every start.
  bool on_front = true, stationary = true, cagrad_middle = true, cagrad_best = true;
  for (size_t s = 0; s < 3; ++s) {
    for (const std::string method : {"mgda", "pcgrad"}) {
      const ToyEnd& end = ends.at({s, method});
      on_front = on_front && std::abs(end.point[1] + 8.4) < 0.1;
      stationary = stationary && end.stationarity < 1e-2;
      cagrad_best = cagrad_best && ends.at({s, "cagrad"}).average() < end.average() - 0.3;
    }
    cagrad_middle = cagrad_middle && std::abs(ends.at({s, "cagrad"}).point[0]) < 1.0 &&
                    ends.at({s, "cagrad"}).average() < -14.9;
  }
  check(on_front && stationary, "mgda and pcgrad end on the Pareto front (y = -8.4 +- 0.1), at Pareto-stationary "
                                "points (the min-norm combination of the two gradients is below 0.01)");
  check(cagrad_middle, "cagrad ends near the middle of the front (|x| < 1), where the average loss is lowest "
                       "(below -14.9; the minimum is -15.09 at x = 0)");
  check(cagrad_best, "from every start cagrad's average loss is at least 0.3 below mgda's and pcgrad's");
  check(ends.at({1, "mgda"}).point[0] < -6.5,
        "from (-8.5, -5) mgda stops at the first Pareto-stationary point it meets, near the end x = -7");
  if (settings.paper_setting)
    check(ends.at({0, "ew"}).point[1] > 0 && ends.at({2, "ew"}).point[1] > 0,
          "with the paper's learning rate, ew is still in the upper valleys (y > 0) from (-8.5, 7.5) and (9, 9)");
  if (!settings.csv_dir.empty())
    std::printf("  trajectories written to %s/<method>_start<k>.csv\n", settings.csv_dir.c_str());

  // ---- 2. Multi-Fashion -------------------------------------------------------------------------------------
  std::printf("\n2. Multi-Fashion: %lld epoch(s) of %lld samples with each gradient method\n",
              static_cast<long long>(settings.fashion_epochs), static_cast<long long>(settings.fashion_size));
  run_multi_fashion(settings);

  std::printf(failures ? "\n%d check(s) FAILED\n" : "\nall checks passed\n", failures);
  return failures ? 1 : 0;
}

// The `tandem` command-line program.
//
// `tandem mtl` runs multi-task experiments: architectures × weighting methods × seeds on a built-in benchmark,
// with single-task baselines, and prints the results table with Δm% (see mtl/experiment.h):
//   tandem mtl --data multi-fashion --arch hps,mmoe --weighting ew,uw,pcgrad,cagrad --seeds 3
// Its default (no options) is the flagship demo: hps with ew, uw, pcgrad and cagrad on a Multi-Fashion subset.
//
// `tandem demo` (the default without a subcommand) trains a small two-task network with nothing
// but tandem's tensors and autograd: a shared trunk of two Linear+ReLU layers, held as raw parameter tensors,
// feeds a regression head (task A) and a classification head (task B). The same network is then trained on
// each task alone, so the output compares multi-task learning (MTL) with single-task learning (STL).
//
// Data, generated from --seed: x ~ N(0, I) in R^32,
//   task A (regression):     y_a = sin(w_a.x) + 0.1 noise
//   task B (classification): y_b = [w_b.x > 0], with w_b at 40 degrees from w_a, so the tasks share features.
#include <tandem.h>

#include <CLI/CLI.hpp>

#include "mtl/experiment.h"
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace td = tandem;

namespace {

constexpr int64_t kInputDim = 32;
constexpr int64_t kHidden = 64;
constexpr int64_t kTrainSize = 4096;
constexpr int64_t kTestSize = 1024;
constexpr int64_t kBatch = 64;
constexpr double kFrequency = 1.0;  // task A: y = sin(kFrequency w_a.x) + noise; higher is harder

struct DemoOptions {
  uint64_t seed = 0;
  int64_t steps = 1500;
  double lr = 0.05;
  int threads = 0;  // 0: keep the default (all cores)
};

struct Split {
  td::Tensor x;    // [n, 32] float32
  td::Tensor y_a;  // [n, 1] float32
  td::Tensor y_b;  // [n] int64 in {0, 1}
};

struct Data {
  Split train, test;
};

/// A unit vector in R^d (a column [d, 1]).
td::Tensor unit_column(const td::Tensor& v) { return v.div(v.norm()).reshape({-1, 1}); }

Split make_split(int64_t n, const td::Tensor& w_a, const td::Tensor& w_b) {
  Split s;
  s.x = td::randn({n, kInputDim});
  s.y_a = s.x.matmul(w_a).mul(kFrequency).sin() + 0.1 * td::randn({n, 1});
  s.y_b = s.x.matmul(w_b).reshape({n}).gt(0.0).to(td::kInt64);
  return s;
}

Data make_data(uint64_t seed) {
  td::manual_seed(seed);
  td::Tensor w_a = unit_column(td::randn({kInputDim}));
  // w_b = cos(40deg) w_a + sin(40deg) u with u a unit vector orthogonal to w_a: related, not identical, tasks.
  td::Tensor r = td::randn({kInputDim, 1});
  td::Tensor u = unit_column(r - w_a * (w_a * r).sum());
  const double angle = 40.0 * M_PI / 180.0;
  td::Tensor w_b = std::cos(angle) * w_a + std::sin(angle) * u;
  Data d;
  d.train = make_split(kTrainSize, w_a, w_b);
  d.test = make_split(kTestSize, w_a, w_b);
  return d;
}

/// He-initialised weight [in, out] and zero bias [out], both leaves that require grad.
struct Linear {
  td::Tensor weight, bias;
  Linear(int64_t in, int64_t out)
      : weight((td::randn({in, out}) * std::sqrt(2.0 / static_cast<double>(in))).requires_grad_(true)),
        bias(td::zeros({out}, td::requires_grad())) {}
  td::Tensor operator()(const td::Tensor& x) const { return x.matmul(weight) + bias; }
};

struct Network {
  Linear layer1{kInputDim, kHidden}, layer2{kHidden, kHidden};
  Linear head_a{kHidden, 1}, head_b{kHidden, 2};

  td::Tensor trunk(const td::Tensor& x) const { return layer2(layer1(x).relu()).relu(); }
  std::vector<td::Tensor> parameters() const {
    return {layer1.weight, layer1.bias, layer2.weight, layer2.bias,
            head_a.weight, head_a.bias, head_b.weight, head_b.bias};
  }
};

enum class Tasks { Both, OnlyA, OnlyB };

struct Metrics {
  double mse = NAN;       // task A on the test split
  double accuracy = NAN;  // task B on the test split
};

Metrics evaluate(const Network& net, const Split& test) {
  td::NoGradGuard no_grad;
  td::Tensor h = net.trunk(test.x);
  Metrics m;
  m.mse = td::mse_loss(net.head_a(h), test.y_a).item<double>();
  m.accuracy = net.head_b(h).argmax(1).eq(test.y_b).to(td::kFloat64).mean().item<double>();
  return m;
}

/// Plain SGD on the chosen task(s); prints the mean training loss of each task per epoch.
Metrics train(Tasks tasks, const Data& data, const DemoOptions& opt, const char* label) {
  td::manual_seed(opt.seed + 1);  // the same initial weights for every run
  Network net;
  const std::vector<td::Tensor> params = net.parameters();
  const int64_t steps_per_epoch = kTrainSize / kBatch;
  const bool use_a = tasks != Tasks::OnlyB, use_b = tasks != Tasks::OnlyA;

  std::printf("\n[%s]\n", label);
  td::Tensor perm;
  double sum_a = 0, sum_b = 0;
  int64_t seen = 0;
  for (int64_t step = 0; step < opt.steps; ++step) {
    const int64_t in_epoch = step % steps_per_epoch;
    if (in_epoch == 0) perm = td::randperm(kTrainSize);
    td::Tensor idx = perm.narrow(0, in_epoch * kBatch, kBatch);
    td::Tensor x = data.train.x.index_select(0, idx);

    td::Tensor h = net.trunk(x);
    td::Tensor loss_a = td::mse_loss(net.head_a(h), data.train.y_a.index_select(0, idx));
    td::Tensor loss_b = td::cross_entropy(net.head_b(h), data.train.y_b.index_select(0, idx));
    td::Tensor loss = use_a && use_b ? loss_a + loss_b : use_a ? loss_a : loss_b;
    loss.backward();
    {
      td::NoGradGuard no_grad;
      for (const td::Tensor& p : params) {
        td::Tensor g = p.grad();
        if (!g.defined()) continue;  // a head the chosen task does not use
        td::Tensor param = p;
        param.sub_(g, opt.lr);
        p.set_grad(td::Tensor());
      }
    }
    sum_a += loss_a.item<double>();
    sum_b += loss_b.item<double>();
    ++seen;
    if (in_epoch == steps_per_epoch - 1 || step == opt.steps - 1) {
      std::printf("  epoch %3lld  train loss  A (mse) %s%.4f   B (cross-entropy) %s%.4f\n",
                  static_cast<long long>(step / steps_per_epoch + 1), use_a ? "" : "(unused) ", sum_a / seen,
                  use_b ? "" : "(unused) ", sum_b / seen);
      sum_a = sum_b = 0;
      seen = 0;
    }
  }
  Metrics m = evaluate(net, data.test);
  std::printf("  test: A mse %.4f, B accuracy %.2f%%\n", m.mse, 100 * m.accuracy);
  return m;
}

int run_demo(const DemoOptions& opt) {
  if (opt.threads > 0) td::set_num_threads(opt.threads);
  const auto start = std::chrono::steady_clock::now();
  std::printf("tandem demo: a shared trunk (32 -> 64 -> 64, ReLU) with a regression head (task A) and a\n"
              "classification head (task B), plain SGD (lr %.3g, batch %lld), %lld steps, seed %llu, %d threads\n",
              opt.lr, static_cast<long long>(kBatch), static_cast<long long>(opt.steps),
              static_cast<unsigned long long>(opt.seed), td::get_num_threads());
  const Data data = make_data(opt.seed);
  {
    td::NoGradGuard no_grad;
    const double variance = data.test.y_a.var().item<double>();
    const double positive = data.test.y_b.to(td::kFloat64).mean().item<double>();
    std::printf("data: %lld train / %lld test samples; task A target variance %.4f (the mse of predicting the "
                "mean), task B %.1f%% positive\n",
                static_cast<long long>(kTrainSize), static_cast<long long>(kTestSize), variance, 100 * positive);
  }

  const Metrics mtl = train(Tasks::Both, data, opt, "multi-task: loss = mse(A) + cross_entropy(B)");
  const Metrics stl_a = train(Tasks::OnlyA, data, opt, "single-task A: loss = mse(A)");
  const Metrics stl_b = train(Tasks::OnlyB, data, opt, "single-task B: loss = cross_entropy(B)");

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\n%-12s %12s %16s\n", "", "A test mse", "B test accuracy");
  std::printf("%-12s %12.4f %15.2f%%\n", "multi-task", mtl.mse, 100 * mtl.accuracy);
  std::printf("%-12s %12.4f %15.2f%%\n", "single-task", stl_a.mse, 100 * stl_b.accuracy);
  std::printf("done in %.2f s\n", seconds);
  const bool finite = std::isfinite(mtl.mse) && std::isfinite(stl_a.mse) && std::isfinite(mtl.accuracy) &&
                      std::isfinite(stl_b.accuracy);
  if (!finite) std::fprintf(stderr, "tandem demo: training diverged (non-finite metrics)\n");
  return finite ? 0 : 1;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  // Weighting specs may carry options after ':' ("cagrad:c=0.4,rescale=0"): a ',' followed by "key=" belongs
  // to the previous spec.
  std::string current;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string piece = text.substr(start, end - start);
    const bool is_option = !current.empty() && current.find(':') != std::string::npos &&
                           piece.find('=') != std::string::npos && piece.find(':') == std::string::npos;
    if (is_option) {
      current += "," + piece;
    } else {
      if (!current.empty()) items.push_back(current);
      current = piece;
    }
    start = end + 1;
  }
  if (!current.empty()) items.push_back(current);
  return items;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tandem: a C++20 deep-learning framework with multi-task learning at its heart"};
  app.require_subcommand(0, 1);
  DemoOptions opt;

  td::mtl::ExperimentConfig mtl_config;
  mtl_config.weightings({"ew", "uw", "pcgrad", "cagrad"}).train_size(10000).test_size(2000);
  std::string archs = "hps", weightings = "ew,uw,pcgrad,cagrad";
  int mtl_threads = 0;
  bool no_stl = false;
  CLI::App* mtl = app.add_subcommand("mtl", "multi-task experiments: architectures x weightings x seeds, with STL "
                                            "baselines and a results table (the flagship demo)");
  mtl->add_option("--data", mtl_config.data(), "benchmark: multi-fashion, mmoe-synthetic, gradnorm-synthetic")
      ->capture_default_str();
  mtl->add_option("--arch", archs, "architectures, comma-separated: hps, soft, cross_stitch, mmoe, moe, cgc, ple, "
                                   "dselect_k, mtan")
      ->capture_default_str();
  mtl->add_option("--weighting", weightings,
                  "weighting methods, comma-separated, each with optional options (cagrad:c=0.4); "
                  "`tandem mtl --list` shows them")
      ->capture_default_str();
  mtl->add_option("--seeds", mtl_config.seeds(), "seeds per run")->check(CLI::PositiveNumber)->capture_default_str();
  mtl->add_option("--epochs", mtl_config.epochs(), "training epochs")->check(CLI::PositiveNumber)->capture_default_str();
  mtl->add_option("--train-size", mtl_config.train_size(), "training samples (0: the benchmark's default)")
      ->capture_default_str();
  mtl->add_option("--test-size", mtl_config.test_size(), "test samples (0: the benchmark's default)")
      ->capture_default_str();
  mtl->add_option("--batch-size", mtl_config.batch_size(), "batch size")->check(CLI::PositiveNumber)->capture_default_str();
  mtl->add_option("--lr", mtl_config.lr(), "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  mtl->add_option("--correlation", mtl_config.correlation(), "task correlation p of mmoe-synthetic")
      ->capture_default_str();
  mtl->add_option("--out", mtl_config.out_dir(), "write results.md/.csv and per-run JSONL logs here");
  mtl->add_option("--data-dir", mtl_config.data_dir(), "Fashion-MNIST folder")->capture_default_str();
  mtl->add_option("--threads", mtl_threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  mtl->add_flag("--no-stl", no_stl, "skip the single-task baselines (no Δm%)");
  mtl->add_flag("--progress", mtl_config.progress(), "progress bars");
  bool list = false;
  mtl->add_flag("--list", list, "list the benchmarks, architectures and weighting methods, then exit");

  CLI::App* demo = app.add_subcommand("demo", "train a two-task network and compare it with single-task training");
  for (CLI::App* target : {static_cast<CLI::App*>(&app), demo}) {
    target->add_option("--seed", opt.seed, "seed of the data and of the initial weights")->capture_default_str();
    target->add_option("--steps", opt.steps, "SGD steps of each training run")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    target->add_option("--lr", opt.lr, "SGD learning rate")->check(CLI::PositiveNumber)->capture_default_str();
    target->add_option("--threads", opt.threads, "CPU threads (0: all cores)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
  }
  CLI11_PARSE(app, argc, argv);
  try {
    if (mtl->parsed()) {
      namespace m = td::mtl;
      if (list) {
        auto print = [](const char* what, const std::vector<std::string>& names) {
          std::printf("%s:", what);
          for (const auto& n : names) std::printf(" %s", n.c_str());
          std::printf("\n");
        };
        print("benchmarks", m::benchmark_names());
        print("architectures", m::architecture_names());
        print("weightings", m::weighting_names());
        return 0;
      }
      if (mtl_threads > 0) td::cpu::set_num_threads(mtl_threads);
      mtl_config.architectures(split_list(archs)).weightings(split_list(weightings)).stl(!no_stl);
      std::printf("tandem mtl: %s, architectures %s, weightings %s, %lld seed(s), %lld epoch(s)\n",
                  mtl_config.data().c_str(), archs.c_str(), weightings.c_str(),
                  static_cast<long long>(mtl_config.seeds()), static_cast<long long>(mtl_config.epochs()));
      const auto start = std::chrono::steady_clock::now();
      auto table = m::run_experiment(mtl_config, std::cout);
      std::printf("\n");
      table.print(std::cout);
      std::printf("\nΔm%%: mean relative change of every metric against single-task training, sign so that lower "
                  "is better (negative: better than STL). %.1f s in total.\n",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (!mtl_config.out_dir().empty())
        std::printf("results written to %s/results.md and .csv\n", mtl_config.out_dir().c_str());
      return 0;
    }
    return run_demo(opt);  // `demo` and no subcommand
  } catch (const td::Error& e) {
    std::fprintf(stderr, "tandem: %s\n", e.what());
    return 1;
  }
}

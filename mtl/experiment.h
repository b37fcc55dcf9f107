// Experiments: architectures × weightings × seeds on one of the built-in benchmarks, with single-task (STL)
// baselines trained on the same backbone and budget, summarised in a results table with Δm%. This is what
// `tandem mtl` runs and what bench/results/mtl_*.md record.
//
//   auto table = mtl::run_experiment(mtl::ExperimentConfig().data("multi-fashion").architectures({"hps", "mmoe"})
//                                        .weightings({"ew", "uw", "pcgrad", "cagrad"}).seeds(3).epochs(5));
//   table.print(std::cout);
//
// Benchmarks (see REFERENCES.md): "multi-fashion" (two 10-class tasks on 36×36 overlaid Fashion-MNIST items,
// LeNet backbone), "mmoe-synthetic" (two regression tasks of correlation p, MLP experts/bottom), and
// "gradnorm-synthetic" (two regression tasks whose scales differ by σ = (1, 100), a 4-layer FC-100 trunk).
// Architectures: hps, soft, cross_stitch, mmoe, moe (one shared gate), cgc, ple, dselect_k, mtan — each built
// from the benchmark's backbone pieces.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "mtl/data/dataset.h"
#include "mtl/model.h"
#include "mtl/results.h"
#include "mtl/task.h"
#include "nn/options.h"

namespace tandem::mtl {

struct ExperimentConfig {
  TANDEM_ARG(std::string, data) = "multi-fashion";
  TANDEM_ARG(std::vector<std::string>, architectures) = std::vector<std::string>{"hps"};
  /// Weighting specs as make_weighting takes them ("cagrad:c=0.4").
  TANDEM_ARG(std::vector<std::string>, weightings) = std::vector<std::string>{"ew"};
  TANDEM_ARG(int64_t, seeds) = 1;
  TANDEM_ARG(int64_t, epochs) = 3;
  /// Training and test set sizes (0: the benchmark's default).
  TANDEM_ARG(int64_t, train_size) = 0;
  TANDEM_ARG(int64_t, test_size) = 0;
  TANDEM_ARG(int64_t, batch_size) = 128;
  TANDEM_ARG(double, lr) = 3e-3;
  /// Task correlation p of mmoe-synthetic.
  TANDEM_ARG(double, correlation) = 0.9;
  /// Train the single-task baselines and report Δm% against them.
  TANDEM_ARG(bool, stl) = true;
  /// When set: results.md/.csv and one JSONL log per run (for scripts/plot_mtl.py) are written there.
  TANDEM_ARG(std::string, out_dir);
  TANDEM_ARG(bool, progress) = false;
  /// One line per finished run on stdout.
  TANDEM_ARG(bool, verbose) = true;
  /// Fashion-MNIST directory (multi-fashion).
  TANDEM_ARG(std::string, data_dir) = "/usr/share/datasets/fashion-mnist";
};

/// A benchmark's data, tasks and the way to build each architecture on its backbone.
struct Benchmark {
  std::string name;
  std::vector<Task> tasks;
  MultiTaskDataset train, test;
  /// Builds architecture `arch` for the given tasks (a subset of `tasks`, by index, for STL baselines).
  std::function<std::shared_ptr<MultiTaskModel>(const std::string& arch, const std::vector<size_t>& tasks)> make_model;
};

/// The benchmark named by config.data, generated from `seed`.
Benchmark make_benchmark(const ExperimentConfig& config, uint64_t seed);
/// Names accepted by ExperimentConfig::data / ::architectures.
std::vector<std::string> benchmark_names();
std::vector<std::string> architecture_names();

/// Runs every (architecture, weighting, seed) and, with config.stl, the single-task baselines; returns the table
/// (rows "stl", then "<arch> + <weighting>"). Writes results and logs under config.out_dir when set.
ResultsTable run_experiment(const ExperimentConfig& config, std::ostream& out);

}  // namespace tandem::mtl

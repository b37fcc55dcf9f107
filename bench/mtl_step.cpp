// Cost of one multi-task training step per weighting method, on the reference LeNet hard-sharing model of the
// Multi-Fashion benchmark (a [256, 1, 36, 36] batch, two 10-class heads): forward, weighting->backward (one
// backward pass for loss-level methods, one per task for gradient methods), optimizer step. The counter
// `vs_ew` is the step time divided by ew's, measured in the same run — what a method costs over plain summing.
// Data are random (the cost does not depend on the values). Threads: TANDEM_NUM_THREADS / OpenMP default.
//
//   build/release/bench/bench_mtl_step --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <tandem.h>

#include <map>
#include <string>

#include "mtl/architectures/hps.h"

namespace td = tandem;
namespace mtl = tandem::mtl;
namespace nn = tandem::nn;

namespace {

constexpr int64_t kBatch = 256;
std::map<std::string, double> g_seconds_per_step;  // filled as methods run; ew runs first

std::shared_ptr<mtl::MultiTaskModel> lenet_hps() {
  nn::Sequential encoder(nn::Conv2d(1, 10, 9), nn::ReLU(), nn::MaxPool2d(2), nn::Conv2d(10, 20, 5), nn::ReLU(),
                         nn::MaxPool2d(2), nn::Flatten(), nn::Linear(500, 50), nn::ReLU());
  return mtl::HPS(std::vector<std::string>{"left", "right"}, encoder,
                  [](size_t) { return nn::Sequential(nn::Linear(50, 10)); })
      .ptr();
}

void BM_Step(benchmark::State& state, const std::string& spec) {
  td::manual_seed(0);
  auto model = lenet_hps();
  std::vector<mtl::Task> tasks{{"left", mtl::losses::cross_entropy(), {}, {}},
                               {"right", mtl::losses::cross_entropy(), {}, {}}};
  auto weighting = mtl::make_weighting(spec, 2);
  auto optimizer = std::make_shared<td::optim::Adam>(model->parameters(), td::optim::AdamOptions(1e-3));
  for (const td::Tensor& p : weighting->parameters()) optimizer->add_param_group(td::optim::OptimizerParamGroup({p}));
  td::Tensor x = td::rand({kBatch, 1, 36, 36});
  td::Tensor y1 = td::randint(0, 10, {kBatch}), y2 = td::randint(0, 10, {kBatch});
  int64_t step = 0;
  for (auto _ : state) {
    optimizer->zero_grad();
    auto fwd = mtl::forward_for(*weighting, *model, x);
    std::vector<td::Tensor> losses{mtl::task_loss(tasks[0], fwd.outputs[0], y1),
                                   mtl::task_loss(tasks[1], fwd.outputs[1], y2)};
    mtl::StepContext context(*model, losses, fwd.representation, fwd.representation_leaf);
    context.step = step++;
    weighting->backward(context);
    optimizer->step();
    weighting->after_step();
    if (weighting->needs_losses_after_step()) {
      td::NoGradGuard no_grad;
      auto out = model->forward(x);
      weighting->after_step_losses({mtl::task_loss(tasks[0], out[0], y1).item<double>(),
                                    mtl::task_loss(tasks[1], out[1], y2).item<double>()});
    }
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

/// Records each method's mean step time so that later methods can report their ratio to ew.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> copy = runs;
    for (Run& run : copy) {
      if (run.run_type != Run::RT_Iteration && run.aggregate_name != "median") continue;
      const std::string& name = run.run_name.function_name;  // "MtlStep/<method>"
      const std::string method = name.substr(name.find('/') + 1);
      const double per_step = run.GetAdjustedRealTime();
      if (method == "ew" && !g_seconds_per_step.count("ew")) g_seconds_per_step["ew"] = per_step;
      if (g_seconds_per_step.count("ew")) run.counters["vs_ew"] = per_step / g_seconds_per_step["ew"];
    }
    ConsoleReporter::ReportRuns(copy);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> methods = {"ew",      "uw",       "dwa",         "rlw",         "gls",
                                            "gradnorm", "famo",    "mgda",        "mgda:scope=rep", "pcgrad",
                                            "cagrad",  "gradvac",  "imtl",        "aligned_mtl", "nash_mtl",
                                            "db_mtl",  "upgrad",   "graddrop:scope=rep"};
  for (const auto& m : methods)
    benchmark::RegisterBenchmark(("MtlStep/" + m).c_str(), BM_Step, m)->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

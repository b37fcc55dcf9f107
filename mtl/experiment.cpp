// The experiment runner behind `tandem mtl`: benchmark data and backbones, STL baselines, every
// (architecture, weighting, seed) run, and the results table.
#include "mtl/experiment.h"

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "mtl/architectures/architectures.h"
#include "mtl/diagnostics.h"
#include "mtl/data/gradnorm_synthetic.h"
#include "mtl/data/mmoe_synthetic.h"
#include "mtl/data/multi_fashion.h"
#include "mtl/trainer.h"
#include "nn/nn.h"
#include "tensor/functions.h"
#include "tensor/random.h"

namespace tandem::mtl {

namespace {

std::string join(const std::vector<std::string>& names, const char* sep = ", ") {
  std::ostringstream os;
  for (size_t i = 0; i < names.size(); ++i) os << (i ? sep : "") << names[i];
  return os.str();
}

/// What an architecture is made of on a given benchmark.
struct Backbone {
  int64_t input_features;            // flattened input size (what gates read)
  int64_t feature_width;             // width of the encoder's output
  int64_t expert_width;              // width of a (small) expert's output
  std::function<nn::Sequential()> encoder;  // the shared bottom (hps), one task's encoder (soft), an expert
  std::function<nn::Sequential()> small_expert;  // experts of gated models (cheaper than a full encoder)
  std::function<nn::Sequential(int64_t in)> stage_expert;  // PLE experts above the first level
  std::function<nn::Sequential(size_t task_index)> tower;  // task tower/head on top of feature_width features
  std::function<std::vector<nn::Sequential>()> stages;     // the encoder cut into stages (cross-stitch)
  // MTAN: shared stages whose outputs keep dim 1 as channels, their widths, the attention modules and the
  // heads on the last stage's output.
  std::function<std::vector<nn::Sequential>()> mtan_stages;
  std::vector<int64_t> mtan_channels;
  AttentionFactory mtan_attention;
  std::function<nn::Sequential(size_t task_index)> mtan_head;
  int64_t experts = 4;
};

std::shared_ptr<MultiTaskModel> build(const std::string& arch, const Backbone& b,
                                      const std::vector<std::string>& names, const std::vector<size_t>& task_ids) {
  auto tower = [&](size_t local) { return b.tower(task_ids[local]); };
  if (arch == "hps") return HPS(names, b.encoder(), tower).ptr();
  if (arch == "soft") return SoftSharing(names, b.encoder, tower).ptr();
  if (arch == "cross_stitch") {
    auto stages_to_tower = [&]() {
      nn::Sequential seq;
      for (auto& s : b.stages()) seq->push_back(s);
      return seq;
    };
    return CrossStitch(names, stages_to_tower, tower).ptr();
  }
  if (arch == "mmoe" || arch == "moe")
    return MMoE(names, b.small_expert, tower,
                MMoEOptions(b.input_features, b.experts).shared_gate(arch == "moe"))
        .ptr();
  if (arch == "cgc")
    return CGC(names, b.small_expert, tower, CGCOptions(b.input_features, b.experts / 2, 1)).ptr();
  if (arch == "dselect_k")
    return DSelectK(names, b.small_expert, tower, DSelectKOptions(b.input_features, b.experts, 2)).ptr();
  if (arch == "ple") {
    auto expert = [&](int64_t level) { return level == 0 ? b.small_expert() : b.stage_expert(b.expert_width); };
    return PLE(names, expert, tower,
               PLEOptions(b.input_features, b.expert_width, 2, std::max<int64_t>(1, b.experts / 2), 1))
        .ptr();
  }
  if (arch == "mtan") {
    auto head = [&](size_t local) { return b.mtan_head(task_ids[local]); };
    return MTAN(names, b.mtan_stages(), head, MTANOptions(b.mtan_channels), b.mtan_attention).ptr();
  }
  TD_CHECK(false, "mtl::run_experiment: unknown architecture '", arch, "' (known: ", join(architecture_names()), ")");
  return nullptr;
}

// ---- benchmarks ---------------------------------------------------------------------------------------------

Backbone lenet_backbone() {
  Backbone b;
  b.input_features = 36 * 36;
  b.feature_width = 50;
  b.expert_width = 50;
  auto stage1 = [] { return nn::Sequential(nn::Conv2d(1, 10, 9), nn::ReLU(), nn::MaxPool2d(2)); };
  auto stage2 = [] { return nn::Sequential(nn::Conv2d(10, 20, 5), nn::ReLU(), nn::MaxPool2d(2)); };
  auto stage3 = [] { return nn::Sequential(nn::Flatten(), nn::Linear(500, 50), nn::ReLU()); };
  b.encoder = [=] {
    nn::Sequential seq;
    for (auto s : {stage1(), stage2(), stage3()}) seq->push_back(s);
    return seq;
  };
  b.stages = [=] { return std::vector<nn::Sequential>{stage1(), stage2(), stage3()}; };
  b.small_expert = b.encoder;
  b.stage_expert = [](int64_t in) { return nn::Sequential(nn::Linear(in, 50), nn::ReLU()); };
  b.tower = [](size_t) { return nn::Sequential(nn::Linear(50, 10)); };
  b.experts = 3;
  // MTAN needs stages whose resolutions divide each other: the second convolution is padded (14x14 -> 7x7
  // after pooling), and the dense part moves into the heads.
  b.mtan_stages = [] {
    return std::vector<nn::Sequential>{
        nn::Sequential(nn::Conv2d(1, 10, 9), nn::ReLU(), nn::MaxPool2d(2)),
        nn::Sequential(nn::Conv2d(nn::Conv2dOptions(10, 20, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2))};
  };
  b.mtan_channels = {10, 20};
  b.mtan_attention = conv_attention();
  b.mtan_head = [](size_t) {
    return nn::Sequential(nn::Flatten(), nn::Linear(20 * 7 * 7, 50), nn::ReLU(), nn::Linear(50, 10));
  };
  return b;
}

Backbone mlp_backbone(int64_t in, int64_t bottom, int64_t expert, int64_t tower_hidden, int64_t out, int64_t experts) {
  Backbone b;
  b.input_features = in;
  b.encoder = [=] { return nn::Sequential(nn::Linear(in, bottom), nn::ReLU()); };
  b.feature_width = bottom;
  b.expert_width = expert;
  b.small_expert = [=] { return nn::Sequential(nn::Linear(in, expert), nn::ReLU()); };
  b.stage_expert = [=](int64_t width) { return nn::Sequential(nn::Linear(width, expert), nn::ReLU()); };
  b.stages = [=] {
    return std::vector<nn::Sequential>{nn::Sequential(nn::Linear(in, bottom), nn::ReLU()),
                                       nn::Sequential(nn::Linear(bottom, bottom), nn::ReLU())};
  };
  b.experts = experts;
  b.mtan_stages = b.stages;
  b.mtan_channels = {bottom, bottom};
  b.mtan_attention = linear_attention();
  // Towers read whatever width their architecture gives them: the bottom's for hps/soft/cross-stitch, an
  // expert's for the gated models. Linear layers are created lazily per call with the right width below.
  b.tower = [=](size_t) { return nn::Sequential(nn::Linear(bottom, tower_hidden), nn::ReLU(), nn::Linear(tower_hidden, out)); };
  b.mtan_head = b.tower;
  return b;
}

}  // namespace

std::vector<std::string> benchmark_names() { return {"multi-fashion", "mmoe-synthetic", "gradnorm-synthetic"}; }
std::vector<std::string> architecture_names() {
  return {"hps", "soft", "cross_stitch", "mmoe", "moe", "cgc", "ple", "dselect_k", "mtan"};
}

Benchmark make_benchmark(const ExperimentConfig& config, uint64_t seed) {
  Benchmark bench;
  bench.name = config.data();
  if (config.data() == "multi-fashion") {
    const int64_t n_train = config.train_size() > 0 ? config.train_size() : 60000;
    const int64_t n_test = config.test_size() > 0 ? config.test_size() : 10000;
    bench.train = make_multi_fashion("train", n_train, seed, config.data_dir());
    bench.test = make_multi_fashion("test", n_test, seed + 1000003, config.data_dir());
    for (const char* name : {"left", "right"})
      bench.tasks.push_back({name, losses::cross_entropy(), {metrics::accuracy()}, {}});
    const Backbone b = lenet_backbone();
    bench.make_model = [b, names = std::vector<std::string>{"left", "right"}](const std::string& arch,
                                                                              const std::vector<size_t>& ids) {
      std::vector<std::string> chosen;
      for (size_t i : ids) chosen.push_back(names[i]);
      return build(arch, b, chosen, ids);
    };
    return bench;
  }
  if (config.data() == "mmoe-synthetic" || config.data() == "gradnorm-synthetic") {
    const bool mmoe = config.data() == "mmoe-synthetic";
    const int64_t n_train = config.train_size() > 0 ? config.train_size() : (mmoe ? 10000 : 8000);
    const int64_t n_test = config.test_size() > 0 ? config.test_size() : 2000;
    // Train and test come from one draw, so that they share the ground-truth function.
    MultiTaskDataset all = mmoe ? make_mmoe_synthetic(n_train + n_test, config.correlation(), seed)
                                : make_gradnorm_synthetic(n_train + n_test, seed);
    bench.train = all.slice(0, n_train);
    bench.test = all.slice(n_train, n_train + n_test);
    std::vector<std::string> names{mmoe ? "task1" : "sigma1", mmoe ? "task2" : "sigma100"};
    for (const auto& name : names) bench.tasks.push_back({name, losses::mse(), {metrics::mse()}, {}});
    const int64_t in = bench.train.inputs.size(1), out = bench.train.targets[0].size(1);
    const Backbone dense = mmoe ? mlp_backbone(in, 113, 16, 8, out, 8) : mlp_backbone(in, 100, 100, 100, out, 4);
    bench.make_model = [dense, names, mmoe, in, out](const std::string& arch, const std::vector<size_t>& ids) {
      std::vector<std::string> chosen;
      for (size_t i : ids) chosen.push_back(names[i]);
      Backbone b = dense;
      const bool gated = arch == "mmoe" || arch == "moe" || arch == "cgc" || arch == "dselect_k" || arch == "ple";
      if (gated) {  // towers sit on an expert's output
        const int64_t width = mmoe ? 16 : 100, hidden = mmoe ? 8 : 100;
        b.tower = [=](size_t) { return nn::Sequential(nn::Linear(width, hidden), nn::ReLU(), nn::Linear(hidden, out)); };
      }
      if (!mmoe && (arch == "hps" || arch == "soft")) {  // GradNorm's trunk: 4 FC-100 ReLU layers
        b.encoder = [in] {
          return nn::Sequential(nn::Linear(in, 100), nn::ReLU(), nn::Linear(100, 100), nn::ReLU(), nn::Linear(100, 100),
                                nn::ReLU(), nn::Linear(100, 100), nn::ReLU());
        };
        b.tower = [out](size_t) { return nn::Sequential(nn::Linear(100, out)); };
      }
      return build(arch, b, chosen, ids);
    };
    return bench;
  }
  TD_CHECK(false, "mtl::make_benchmark: unknown benchmark '", config.data(), "' (known: ", join(benchmark_names()), ")");
  return bench;
}

// ---- runs ---------------------------------------------------------------------------------------------------

namespace {

struct RunResult {
  Evaluation test;
  double seconds = 0;
};

MultiTaskDataset only_tasks(const MultiTaskDataset& data, const std::vector<size_t>& ids) {
  MultiTaskDataset out;
  out.inputs = data.inputs;
  for (size_t i : ids) {
    out.targets.push_back(data.targets[i]);
    if (!data.masks.empty()) out.masks.push_back(data.masks[i]);
  }
  return out;
}

RunResult train_and_test(const ExperimentConfig& config, const Benchmark& bench, const std::string& arch,
                         const std::string& weighting_spec, const std::vector<size_t>& ids, uint64_t seed,
                         const std::string& log_path) {
  manual_seed(seed);
  auto model = bench.make_model(arch, ids);
  std::vector<Task> tasks;
  for (size_t i : ids) tasks.push_back(bench.tasks[i]);
  auto weighting = make_weighting_for(weighting_spec, tasks);
  auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(config.lr()));
  TrainerOptions options;
  options.epochs(config.epochs()).progress(config.progress()).verbose(false).log_path(log_path);
  if (dynamic_cast<GradientWeighting*>(weighting.get()) == nullptr && !log_path.empty()) options.diagnostics_every(10);
  Trainer trainer(model, tasks, weighting, optimizer, options);
  MultiTaskLoader train(only_tasks(bench.train, ids), config.batch_size(), true, seed);
  MultiTaskLoader test(only_tasks(bench.test, ids), 1000, false);
  const auto start = std::chrono::steady_clock::now();
  trainer.fit(train);
  RunResult result;
  result.test = trainer.evaluate(test);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::string describe(const Benchmark& bench, const Evaluation& e, const std::vector<size_t>& ids) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(4);
  for (size_t k = 0; k < ids.size(); ++k) {
    const Task& task = bench.tasks[ids[k]];
    for (size_t m = 0; m < task.metrics.size(); ++m)
      os << " " << task.name << "." << task.metrics[m].name << "=" << e.tasks[k].metrics[m];
  }
  return os.str();
}

}  // namespace

ResultsTable run_experiment(const ExperimentConfig& config, std::ostream& out) {
  TD_CHECK(config.seeds() >= 1, "mtl::run_experiment: seeds must be >= 1");
  TD_CHECK(config.epochs() >= 1, "mtl::run_experiment: epochs must be >= 1");
  for (const auto& arch : config.architectures()) {
    const auto known = architecture_names();
    TD_CHECK(std::find(known.begin(), known.end(), arch) != known.end(), "mtl::run_experiment: unknown architecture '",
             arch, "' (known: ", join(known), ")");
  }
  for (const auto& w : config.weightings()) make_weighting(w, 2);  // reject unknown methods before any training
  if (!config.out_dir().empty()) std::filesystem::create_directories(config.out_dir());

  std::optional<ResultsTable> table;
  for (int64_t s = 0; s < config.seeds(); ++s) {
    const uint64_t seed = static_cast<uint64_t>(s);
    const Benchmark bench = make_benchmark(config, seed);
    if (!table) table.emplace(ResultsTable::for_tasks(bench.tasks));
    const size_t T = bench.tasks.size();
    std::vector<size_t> all(T);
    for (size_t t = 0; t < T; ++t) all[t] = t;
    if (s == 0)  // gradient methods need shared parameters (soft sharing has none): refuse before training
      for (const auto& arch : config.architectures()) {
        const bool has_shared = !bench.make_model(arch, all)->shared_parameters().empty();
        for (const auto& spec : config.weightings())
          TD_CHECK(has_shared || !is_gradient_method(spec.substr(0, spec.find(':'))), "mtl::run_experiment: ", arch,
                   " has no shared parameters, so the gradient method '", spec,
                   "' does not apply to it (use a loss-level method)");
      }
    std::vector<bool> higher;
    for (const Task& t : bench.tasks)
      for (const Metric& m : t.metrics) higher.push_back(m.higher_is_better);

    if (s == 0 && config.verbose()) {
      bool classification = true;
      for (const Tensor& y : bench.train.targets) classification = classification && y.dim() == 1 && y.dtype() == kInt64;
      if (classification && T > 1) {
        const Tensor r = relatedness(bench.train.targets);
        out << "label agreement R (fraction of samples whose labels coincide):";
        for (size_t i = 0; i < T; ++i)
          for (size_t j = i + 1; j < T; ++j)
            out << " " << bench.tasks[i].name << "/" << bench.tasks[j].name << "=" << std::fixed << std::setprecision(3)
                << r.to_vector<double>()[i * T + j] << std::defaultfloat;
        out << std::endl;
      }
    }
    std::vector<double> baseline;
    if (config.stl()) {
      double seconds = 0;
      for (size_t t = 0; t < T; ++t) {
        const std::string log = config.out_dir().empty() ? std::string()
                                                         : config.out_dir() + "/stl_" + bench.tasks[t].name + "_seed" +
                                                               std::to_string(s);
        RunResult r = train_and_test(config, bench, "hps", "ew", {t}, seed, log);
        const auto values = r.test.flat_metrics();
        baseline.insert(baseline.end(), values.begin(), values.end());
        seconds += r.seconds;
      }
      table->add_run("stl", baseline);
      if (config.verbose()) {
        Evaluation e;
        size_t k = 0;
        for (size_t t = 0; t < T; ++t) {
          TaskEvaluation te;
          for (size_t m = 0; m < bench.tasks[t].metrics.size(); ++m) te.metrics.push_back(baseline[k++]);
          e.tasks.push_back(te);
        }
        out << "seed " << s << " stl (hps backbone, one model per task):" << describe(bench, e, all) << " ("
            << std::setprecision(3) << seconds << " s)" << std::endl;
      }
    }
    for (const auto& arch : config.architectures())
      for (const auto& spec : config.weightings()) {
        const std::string row = arch + " + " + spec;
        std::string log;
        if (!config.out_dir().empty()) {
          log = config.out_dir() + "/" + arch + "_" + spec + "_seed" + std::to_string(s);
          for (char& c : log)
            if (c == ':' || c == ',' || c == '=') c = '_';
        }
        RunResult r = train_and_test(config, bench, arch, spec, all, seed, log);
        const auto values = r.test.flat_metrics();
        std::optional<double> dm;
        if (!baseline.empty()) dm = delta_m(values, baseline, higher);
        table->add_run(row, values, dm);
        if (config.verbose()) {
          out << "seed " << s << " " << row << ":" << describe(bench, r.test, all);
          if (dm) out << " Δm=" << std::showpos << std::fixed << std::setprecision(2) << *dm << "%" << std::noshowpos;
          out << " (" << std::defaultfloat << std::setprecision(3) << r.seconds << " s)" << std::endl;
        }
      }
  }
  if (!config.out_dir().empty()) table->write(config.out_dir() + "/results");
  return *table;
}

}  // namespace tandem::mtl

// Tutorial 16: writing a weighting method of your own. Two small methods, one of each family:
//   max_loss   (a LossWeighting): back-propagate only the largest task loss of each step; it counts how often
//              it picked each task in a buffer, so the count is saved and restored with the trainer's checkpoint;
//   normalized (a GradientWeighting): scale each task's shared gradient to the same norm, computed from the
//              Gramian K alone, with options `target` (unit | mean) and `scope` (params | last | rep).
// Both are registered under their names, made with mtl::make_weighting, checked by hand on a model whose
// gradients are known, and used in a Trainer on tutorial 11's problem. Every claim in README.md is checked here.
//
//   tutorial_16_write_your_own_method                quick run (CI): 4000 samples, 20 epochs per method
//   tutorial_16_write_your_own_method --epochs 40 --threads 2
#include <tandem.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

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

bool near(const std::vector<double>& a, const std::vector<double>& b, double tolerance = 1e-12) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::abs(a[i] - b[i]) > tolerance) return false;
  return true;
}

std::string show(const std::vector<double>& values) {
  std::string text = "(";
  for (size_t i = 0; i < values.size(); ++i) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%s%.4g", i ? ", " : "", values[i]);
    text += buffer;
  }
  return text + ")";
}

// ---- a loss-level method ------------------------------------------------------------------------------------

/// max_loss: each step, only the task with the largest loss is trained (weight 1; the others 0). A minimax
/// rule: it always works on the worst task. The buffer "times_chosen" ([T] int64) counts the picks.
class MaxLoss : public mtl::LossWeighting {
 public:
  MaxLoss(size_t num_tasks, const mtl::WeightingOptions& options) : mtl::LossWeighting("max_loss", num_tasks) {
    options.check_known("max_loss", {});  // no options: any key=value is an error naming the method
    times_chosen_ = register_buffer("times_chosen", td::zeros({static_cast<int64_t>(num_tasks)}, td::kInt64));
  }
  std::vector<int64_t> times_chosen() const { return times_chosen_.to_vector<int64_t>(); }

 protected:
  td::Tensor combine(mtl::StepContext& context, std::vector<double>& weights) override {
    size_t worst = 0;
    double largest = -INFINITY;
    for (size_t t = 0; t < context.losses.size(); ++t) {
      const double value = context.losses[t].detach().to(td::kFloat64).item<double>();
      if (value > largest) largest = value, worst = t;
    }
    weights.assign(num_tasks(), 0.0);
    weights[worst] = 1.0;
    {
      td::NoGradGuard no_grad;  // state changes are not part of the graph
      times_chosen_.select(0, static_cast<int64_t>(worst)).add_(1.0);
    }
    return context.losses[worst].reshape({});  // LossWeighting::backward adds extra_loss and calls backward()
  }

 private:
  td::Tensor times_chosen_;
};

// ---- a gradient-level method --------------------------------------------------------------------------------

/// normalized: the shared update is Σ_t α_t g_t with α_t = c / ‖g_t‖, so every task's gradient enters with the
/// same norm c — 1 (target=unit) or the mean of the ‖g_t‖ (target=mean, which keeps the step size of the plain
/// sum). The norms come from the diagonal of the Gramian, K_tt = ‖g_t‖². A zero gradient gets weight 0.
class Normalized : public mtl::GradientWeighting {
 public:
  Normalized(size_t num_tasks, const mtl::WeightingOptions& options)
      : mtl::GradientWeighting("normalized", num_tasks, mtl::parse_scope(options.text("scope", "params"))) {
    options.check_known("normalized", {"target", "scope"});
    target_ = options.text("target", "unit");
    TD_CHECK(target_ == "unit" || target_ == "mean", "normalized: target must be unit or mean, got '", target_, "'");
  }
  const std::string& target() const { return target_; }

 protected:
  mtl::GradientCombination combine(const mtl::GradientInputs& inputs) override {
    const size_t T = num_tasks();
    const std::vector<double> K = inputs.gramian.to_vector<double>();  // [T, T] float64, row-major
    std::vector<double> norms(T);
    double mean_norm = 0;
    for (size_t t = 0; t < T; ++t) {
      norms[t] = std::sqrt(std::max(K[t * T + t], 0.0));
      mean_norm += norms[t] / static_cast<double>(T);
    }
    const double c = target_ == "unit" ? 1.0 : mean_norm;
    mtl::GradientCombination combination;
    for (size_t t = 0; t < T; ++t) combination.weights.push_back(norms[t] > 0 ? c / norms[t] : 0.0);
    return combination;  // weights only: the base class forms Σ α_t g_t and writes it into the shared .grad
  }

 private:
  std::string target_;
};

// ---- a model whose gradients are known ----------------------------------------------------------------------

/// θ ∈ R^2 (float64) is shared and there are no task parameters; L_t = c_t + g_tᵀθ, so ∂L_t/∂θ = g_t exactly and
/// the value of L_t is c_t at θ = 0. The input is ignored.
class KnownGradientsImpl : public mtl::MultiTaskModel {
 public:
  KnownGradientsImpl(std::vector<std::vector<double>> gradients, std::vector<double> values)
      : mtl::MultiTaskModel({"a", "b"}), gradients_(std::move(gradients)), values_(std::move(values)) {
    theta = register_parameter("theta", td::zeros({2}, td::kFloat64));
  }
  std::vector<td::Tensor> forward(const td::Tensor&) override {
    std::vector<td::Tensor> losses;
    for (size_t t = 0; t < 2; ++t) losses.push_back((theta * td::tensor(gradients_[t], td::kFloat64)).sum() + values_[t]);
    return losses;
  }
  std::vector<td::Tensor> task_parameters(size_t) const override { return {}; }
  td::Tensor theta;

 private:
  std::vector<std::vector<double>> gradients_;
  std::vector<double> values_;
};
TANDEM_MODULE(KnownGradients);

/// One step of `method` on the model, as the trainer runs it: zero the gradients, forward, losses, backward.
/// Returns the weights and leaves the update in theta.grad().
std::vector<double> one_step(mtl::Weighting& method, KnownGradientsImpl& model) {
  model.zero_grad();
  mtl::StepContext context(model, model.forward(td::Tensor()));
  return method.backward(context).weights;
}

// ---- the trainer on tutorial 11's problem -------------------------------------------------------------------

mtl::HPS make_model() {
  nn::Sequential trunk(nn::Linear(250, 100), nn::ReLU(), nn::Linear(100, 100), nn::ReLU(), nn::Linear(100, 100),
                       nn::ReLU(), nn::Linear(100, 100), nn::ReLU());
  return mtl::HPS(std::vector<std::string>{"sigma1", "sigma100"}, trunk,
                  [](size_t) { return nn::Sequential(nn::Linear(100, 100)); });
}

struct Run {
  std::shared_ptr<mtl::Weighting> weighting;
  std::vector<mtl::EpochSummary> history;
  mtl::Evaluation test;
};

Run train(const std::string& spec, const mtl::MultiTaskDataset& train_set, const mtl::MultiTaskDataset& test_set,
          int64_t epochs, const std::string& checkpoint_dir = "") {
  const std::vector<mtl::Task> tasks{{"sigma1", mtl::losses::mse(), {mtl::metrics::mse()}, {}},
                                     {"sigma100", mtl::losses::mse(), {mtl::metrics::mse()}, {}}};
  td::manual_seed(0);
  mtl::HPS model = make_model();
  Run run;
  run.weighting = mtl::make_weighting(spec, tasks.size());
  auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(1e-3));
  mtl::Trainer trainer(model.ptr(), tasks, run.weighting, optimizer,
                       mtl::TrainerOptions().epochs(epochs).progress(false).verbose(false).checkpoint_dir(checkpoint_dir));
  run.history = trainer.fit(mtl::MultiTaskLoader(train_set, 100, /*shuffle=*/true, 0));
  run.test = trainer.evaluate(mtl::MultiTaskLoader(test_set, 1000, /*shuffle=*/false));
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t epochs = 20;
  int threads = 1;  // the matrices here are small: one thread is the fastest on a busy machine
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--epochs") && i + 1 < argc) {
      epochs = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--epochs N] [--threads N]\n", argv[0]);
      return 2;
    }
  }
  if (epochs < 1) {
    std::fprintf(stderr, "%s: needs --epochs >= 1\n", argv[0]);
    return 2;
  }
  td::set_num_threads(threads);

  // ---- 1. registering ---------------------------------------------------------------------------------------
  std::printf("1. Registering the two methods\n");
  mtl::register_weighting("max_loss", [](size_t num_tasks, const mtl::WeightingOptions& options) {
    return std::make_shared<MaxLoss>(num_tasks, options);
  });
  mtl::register_weighting("normalized", [](size_t num_tasks, const mtl::WeightingOptions& options) {
    return std::make_shared<Normalized>(num_tasks, options);
  });
  const auto names = mtl::weighting_names();
  const bool listed = std::find(names.begin(), names.end(), "max_loss") != names.end() &&
                      std::find(names.begin(), names.end(), "normalized") != names.end();
  check(listed, "weighting_names() lists max_loss and normalized next to the " + std::to_string(names.size() - 2) +
                    " built-in methods");
  check(!mtl::is_gradient_method("max_loss") && mtl::is_gradient_method("normalized"),
        "is_gradient_method: max_loss is loss-level, normalized is gradient-level");
  auto made = std::dynamic_pointer_cast<Normalized>(mtl::make_weighting("normalized:target=mean,scope=last", 2));
  check(made && made->target() == "mean" && made->scope() == mtl::SharedScope::kLastSharedLayer,
        "make_weighting(\"normalized:target=mean,scope=last\", 2) parses both options");
  auto rejects = [](const std::string& spec) {
    try {
      mtl::make_weighting(spec, 2);
    } catch (const td::Error& error) {
      std::printf("  %s -> tandem::Error: %s\n", spec.c_str(), error.what());
      return true;
    }
    return false;
  };
  check(rejects("normalized:target=max") && rejects("normalized:eps=1") && rejects("max_loss:temperature=2"),
        "bad values and unknown options are errors that name the method");

  // ---- 2. checked by hand -----------------------------------------------------------------------------------
  std::printf("\n2. One step on a model with known gradients: g_a = (3, 4), g_b = (0, 2)\n");
  const std::vector<std::vector<double>> gradients{{3.0, 4.0}, {0.0, 2.0}};
  {
    KnownGradients model(gradients, std::vector<double>{2.0, 5.0});  // L_a = 2, L_b = 5
    MaxLoss method(2, {});
    const auto weights = one_step(method, *model);
    const auto update = model->theta.grad().to_vector<double>();
    std::printf("  max_loss, losses (2, 5): weights %s, theta.grad %s\n", show(weights).c_str(), show(update).c_str());
    check(near(weights, {0.0, 1.0}) && near(update, {0.0, 2.0}), "max_loss trains task b alone: the update is g_b");
    KnownGradients model2(gradients, std::vector<double>{7.0, 5.0});
    one_step(method, *model2);
    check(near(model2->theta.grad().to_vector<double>(), {3.0, 4.0}) &&
              method.times_chosen() == std::vector<int64_t>{1, 1},
          "with losses (7, 5) it trains task a: g_a; times_chosen counts one pick each");
  }
  {
    KnownGradients model(gradients, std::vector<double>{2.0, 5.0});
    Normalized unit(2, {});
    const auto weights = one_step(unit, *model);
    const auto update = model->theta.grad().to_vector<double>();
    std::printf("  normalized (unit): weights %s, theta.grad %s\n", show(weights).c_str(), show(update).c_str());
    // ‖g_a‖ = 5, ‖g_b‖ = 2: α = (1/5, 1/2), d = (3, 4)/5 + (0, 2)/2 = (0.6, 1.8).
    check(near(weights, {0.2, 0.5}) && near(update, {0.6, 1.8}), "normalized: alpha = (1/5, 1/2), update (0.6, 1.8)");
    Normalized mean(2, {{"target", "mean"}});
    const auto mean_weights = one_step(mean, *model);
    // mean norm 3.5: α = (0.7, 1.75), d = 3.5 · (0.6, 1.8) = (2.1, 6.3).
    check(near(mean_weights, {0.7, 1.75}) && near(model->theta.grad().to_vector<double>(), {2.1, 6.3}),
          "normalized:target=mean: alpha = (0.7, 1.75), update (2.1, 6.3)");
  }

  // ---- 3. in the trainer ------------------------------------------------------------------------------------
  std::printf("\n3. In the trainer, on tutorial 11's problem (sigma = (1, 100), %lld epochs)\n",
              static_cast<long long>(epochs));
  const mtl::MultiTaskDataset all = mtl::make_gradnorm_synthetic(5000, 0);
  const mtl::MultiTaskDataset train_set = all.slice(0, 4000), test_set = all.slice(4000, 5000);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tandem_tutorial_16_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::vector<std::string> specs{"ew", "max_loss", "normalized"};
  std::vector<Run> runs;
  for (const std::string& spec : specs) {
    runs.push_back(train(spec, train_set, test_set, epochs, spec == "max_loss" ? dir.string() : ""));
    const Run& run = runs.back();
    std::printf("  %-10s last-epoch weights %-22s test MSE sigma1 %.4f, sigma100 %.1f\n", spec.c_str(),
                show(run.history.back().weights).c_str(), run.test.tasks[0].metrics[0], run.test.tasks[1].metrics[0]);
  }
  const Run &ew = runs[0], &max_loss = runs[1], &normalized = runs[2];
  const auto picks = std::dynamic_pointer_cast<MaxLoss>(max_loss.weighting)->times_chosen();
  std::printf("  max_loss picked (sigma1, sigma100) = (%lld, %lld) times\n", static_cast<long long>(picks[0]),
              static_cast<long long>(picks[1]));
  check(picks[0] == 0 && picks[1] == epochs * 40, "max_loss picked sigma100 at every one of the " +
                                                      std::to_string(epochs * 40) + " steps: its loss is ~10^4 x larger");
  const auto& w = normalized.history.back().weights;
  check(w[0] > 10 * w[1], "normalized gives sigma1's gradient over 10x the weight of sigma100's: " + show(w));
  check(normalized.test.tasks[0].metrics[0] < 0.8 * ew.test.tasks[0].metrics[0],
        "and cuts the sigma1 test MSE by more than 20% against ew");
  check(max_loss.test.tasks[0].metrics[0] > ew.test.tasks[0].metrics[0],
        "max_loss, which never trains sigma1, does worse on it than ew");

  // ---- 4. state in checkpoints ------------------------------------------------------------------------------
  std::printf("\n4. The weighting's state is in the trainer's checkpoint\n");
  {
    td::manual_seed(0);
    mtl::HPS model = make_model();
    auto method = std::make_shared<MaxLoss>(2, mtl::WeightingOptions{});
    mtl::Trainer fresh(model.ptr(),
                       {{"sigma1", mtl::losses::mse(), {mtl::metrics::mse()}, {}},
                        {"sigma100", mtl::losses::mse(), {mtl::metrics::mse()}, {}}},
                       method, std::make_shared<optim::Adam>(model->parameters()),
                       mtl::TrainerOptions().progress(false).verbose(false));
    fresh.load_checkpoint(dir / "last.safetensors");
    std::printf("  a fresh max_loss after load_checkpoint: times_chosen = (%lld, %lld), epoch %lld\n",
                static_cast<long long>(method->times_chosen()[0]), static_cast<long long>(method->times_chosen()[1]),
                static_cast<long long>(fresh.epoch()));
    check(method->times_chosen() == picks && fresh.epoch() == epochs,
          "load_checkpoint restored the buffer times_chosen along with the model and the epoch");
  }
  std::filesystem::remove_all(dir);

  std::printf(failures ? "\n%d check(s) FAILED\n" : "\nall checks passed\n", failures);
  return failures ? 1 : 0;
}

// Tutorial 04: modules and optimizers. An MLP built from submodules, its named parameters and printed tree,
// train()/eval(), freezing a layer, an optimizer with two parameter groups, a learning-rate scheduler, and a
// training loop on a generated three-arm spiral whose loss must fall. Every claim in README.md is checked here.
//
//   tutorial_04_modules_and_optim                 the quick run (a few seconds; what CI runs)
//   tutorial_04_modules_and_optim --epochs 300    train the spiral longer
//   tutorial_04_modules_and_optim --threads 2     CPU threads for the kernels
#include <tandem.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace td = tandem;
namespace nn = tandem::nn;
namespace optim = tandem::optim;

namespace {

int failures = 0;

void check(bool ok, const std::string& claim) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", claim.c_str());
  if (!ok) ++failures;
}

// ---- the model --------------------------------------------------------------------------------------------

/// A multi-layer perceptron: in -> hidden -> hidden -> classes, ReLU between the layers and dropout before the
/// output layer. Each layer is a submodule registered under a name, which becomes the first part of its
/// parameters' dotted names ("fc1.weight").
struct MLPImpl : nn::Module {
  MLPImpl(int64_t in, int64_t hidden, int64_t classes, double dropout_p)
      : nn::Module("MLP"),
        fc1(register_module("fc1", nn::Linear(in, hidden))),
        fc2(register_module("fc2", nn::Linear(hidden, hidden))),
        dropout(register_module("dropout", nn::Dropout(dropout_p))),
        out(register_module("out", nn::Linear(hidden, classes))) {}

  td::Tensor forward(td::Tensor x) {
    x = td::relu(fc1(x));
    x = td::relu(fc2(x));
    return out(dropout(x));
  }

  nn::Linear fc1, fc2;
  nn::Dropout dropout;
  nn::Linear out;
};
TANDEM_MODULE(MLP);

// ---- the data ---------------------------------------------------------------------------------------------

/// n points on each of `arms` interleaved spiral arms in the plane; the label of a point is its arm.
/// x [arms * n, 2] float32, y [arms * n] int64.
struct Spiral {
  td::Tensor x, y;
};

Spiral make_spiral(int64_t n, int64_t arms, double noise, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, noise);
  std::vector<float> xs;
  std::vector<int64_t> ys;
  const double pi = std::acos(-1.0);
  for (int64_t arm = 0; arm < arms; ++arm) {
    for (int64_t i = 0; i < n; ++i) {
      double r = static_cast<double>(i + 1) / static_cast<double>(n);  // radius in (0, 1]
      double theta = 2 * pi * static_cast<double>(arm) / static_cast<double>(arms) + 3 * pi * r + gauss(rng);
      xs.push_back(static_cast<float>(r * std::sin(theta)));
      xs.push_back(static_cast<float>(r * std::cos(theta)));
      ys.push_back(arm);
    }
  }
  return {td::tensor(xs).reshape({arms * n, 2}), td::tensor(ys)};
}

double accuracy(const td::Tensor& logits, const td::Tensor& labels) {
  return logits.argmax(1).eq(labels).to(td::kFloat64).mean().item<double>();
}

bool same_values(const td::Tensor& a, const td::Tensor& b) {
  return a.sizes() == b.sizes() && a.to_vector<float>() == b.to_vector<float>();
}

// ---- 1. a module tree -------------------------------------------------------------------------------------

void module_tree() {
  std::printf("\n1. A module made of submodules\n");
  MLP net(2, 64, 3, 0.1);
  std::cout << *net;

  auto named = net->named_parameters();
  std::printf("  named_parameters():\n");
  for (const auto& [name, p] : named) std::cout << "    " << name << "  " << p.sizes() << "\n";
  check(named.keys() == std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "out.weight",
                                                 "out.bias"},
        "parameters are named <submodule>.<parameter>, in registration order");
  check(named["fc1.weight"].sizes() == td::Dims{64, 2}, "fc1.weight is [out_features, in_features] = [64, 2]");
  check(net->num_parameters() == 2 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3,
        "num_parameters() counts every scalar: 4547");
  check(named["fc1.weight"].is_same(net->fc1->weight),
        "named_parameters() hands out the module's own tensors, not copies");
  check(net->children().size() == 4 && net->modules().size() == 5,
        "children(): the 4 direct submodules; modules(): those plus the MLP itself");
  check(net->tree_string().find("(fc1): Linear(in_features=2, out_features=64") != std::string::npos,
        "the printed tree shows each submodule with its configuration");
}

// ---- 2. train() and eval() --------------------------------------------------------------------------------

void train_and_eval() {
  std::printf("\n2. train() and eval()\n");
  td::manual_seed(1);
  MLP net(2, 64, 3, 0.5);
  td::Tensor x = td::randn({8, 2});
  check(net->is_training() && net->dropout->is_training(), "a new module is in training mode, and so are its children");

  td::Tensor a = net(x), b = net(x);
  check(!same_values(a, b), "training mode: dropout draws a new mask on every call, so outputs differ");

  net->eval();
  check(!net->is_training() && !net->dropout->is_training() && !net->fc1->is_training(),
        "eval() switches the whole tree to evaluation mode");
  td::Tensor c = net(x), d = net(x);
  check(same_values(c, d), "evaluation mode: dropout is the identity, so outputs are deterministic");
  net->train();
  check(net->dropout->is_training(), "train() switches it back");
}

// ---- 3. freezing ------------------------------------------------------------------------------------------

void freezing() {
  std::printf("\n3. Freezing a layer\n");
  td::manual_seed(2);
  MLP net(2, 16, 3, 0.0);
  int64_t all = net->num_parameters();
  net->fc1->requires_grad_(false);
  std::cout << *net;
  check(net->num_parameters(/*only_trainable=*/true) == all - (2 * 16 + 16),
        "after fc1->requires_grad_(false), fc1's 48 scalars no longer count as trainable");

  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
  td::Tensor before = net->fc1->weight.clone();
  td::Tensor out_before = net->out->weight.clone();
  Spiral data = make_spiral(20, 3, 0.0, 7);
  opt.zero_grad();
  nn::F::cross_entropy(net(data.x), data.y).backward();
  check(!net->fc1->weight.grad().defined(), "backward leaves no gradient on the frozen weight");
  opt.step();
  check(same_values(net->fc1->weight, before), "the optimizer skips it: fc1.weight is unchanged by step()");
  check(!same_values(net->out->weight, out_before), "while the other layers moved");
  net->fc1->requires_grad_(true);
  check(net->num_parameters(true) == all, "requires_grad_(true) unfreezes it");
}

// ---- 4. parameter groups and a scheduler ------------------------------------------------------------------

void groups_and_scheduler() {
  std::printf("\n4. An optimizer with two parameter groups, and a scheduler\n");
  MLP net(2, 16, 3, 0.0);
  std::vector<td::Tensor> body = net->fc1->parameters();
  for (const td::Tensor& p : net->fc2->parameters()) body.push_back(p);

  std::vector<optim::OptimizerParamGroup> groups;
  groups.emplace_back(body, optim::OptionOverrides{{"lr", 1e-3}});  // the body: a smaller learning rate
  groups.emplace_back(net->out->parameters());                    // the head: the defaults (lr 1e-2)
  optim::Adam opt(groups, optim::AdamOptions(1e-2).weight_decay(1e-4));
  check(opt.param_groups().size() == 2 && opt.param_groups()[0].params().size() == 4 &&
            opt.param_groups()[1].params().size() == 2,
        "two groups: fc1+fc2 (4 tensors) and out (2 tensors)");
  check(opt.param_groups()[0].options().lr() == 1e-3 && opt.param_groups()[1].options().lr() == 1e-2,
        "group 0 has its own lr 1e-3, group 1 inherits the default 1e-2");
  auto& g0 = dynamic_cast<const optim::AdamOptions&>(opt.param_groups()[0].options());
  check(g0.weight_decay() == 1e-4, "options not overridden (weight_decay) come from the defaults");

  optim::StepLR sched(opt, /*step_size=*/2, /*gamma=*/0.5);
  std::vector<std::vector<double>> lrs;
  for (int epoch = 0; epoch < 5; ++epoch) {
    lrs.push_back(sched.get_last_lr());
    std::printf("  epoch %d: lr = %.2e (body), %.2e (head)\n", epoch, lrs.back()[0], lrs.back()[1]);
    sched.step();
  }
  bool halves = true;
  for (int epoch = 0; epoch < 5; ++epoch) {
    double factor = std::pow(0.5, epoch / 2);
    halves = halves && std::abs(lrs[epoch][0] - 1e-3 * factor) < 1e-15 && std::abs(lrs[epoch][1] - 1e-2 * factor) < 1e-15;
  }
  check(halves, "StepLR(step_size=2, gamma=0.5) halves both lrs every 2 epochs, keeping their 1:10 ratio");
}

// ---- 5. training ------------------------------------------------------------------------------------------

void training(int epochs) {
  std::printf("\n5. Training the MLP on a three-arm spiral\n");
  td::manual_seed(0);
  Spiral train = make_spiral(200, 3, 0.2, 1);
  Spiral test = make_spiral(100, 3, 0.2, 2);
  MLP net(2, 64, 3, 0.1);
  optim::Adam opt(net->parameters(), optim::AdamOptions(1e-2));
  optim::CosineAnnealingLR sched(opt, /*T_max=*/epochs);
  const int64_t n = train.x.size(0), batch = 50;

  net->eval();
  double initial_loss = nn::F::cross_entropy(net(train.x), train.y).item<double>();
  double initial_acc = accuracy(net(test.x), test.y);
  std::printf("  before training: loss %.4f, test accuracy %.3f\n", initial_loss, initial_acc);

  double final_loss = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    net->train();
    td::Tensor order = td::randperm(n);
    double total = 0;
    for (int64_t start = 0; start < n; start += batch) {
      td::Tensor idx = order.slice(0, start, start + batch);
      td::Tensor loss = nn::F::cross_entropy(net(train.x.index_select(0, idx)), train.y.index_select(0, idx));
      opt.zero_grad();
      loss.backward();
      nn::utils::clip_grad_norm_(net->parameters(), 5.0);
      opt.step();
      total += loss.item<double>() * static_cast<double>(idx.size(0));
    }
    sched.step();
    final_loss = total / static_cast<double>(n);
    if (epoch % (epochs / 5 > 0 ? epochs / 5 : 1) == 0 || epoch == epochs - 1)
      std::printf("  epoch %3d: train loss %.4f, lr %.2e\n", epoch, final_loss, sched.get_last_lr()[0]);
  }

  net->eval();
  td::NoGradGuard no_grad;
  double train_loss = nn::F::cross_entropy(net(train.x), train.y).item<double>();
  double test_acc = accuracy(net(test.x), test.y);
  std::printf("  after %d epochs: loss %.4f, test accuracy %.3f\n", epochs, train_loss, test_acc);
  check(train_loss < 0.5 * initial_loss, "the training loss fell to less than half its initial value");
  check(test_acc > 0.9, "test accuracy above 90% (chance is 33%)");
}

}  // namespace

int main(int argc, char** argv) {
  int epochs = 60;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) td::set_num_threads(std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: %s [--epochs N] [--threads N]\n", argv[0]);
      return 2;
    }
  }
  if (epochs < 1) epochs = 1;
  std::printf("tandem tutorial 04: modules and optimizers\n");
  module_tree();
  train_and_eval();
  freezing();
  groups_and_scheduler();
  training(epochs);
  std::printf("\n%s (%d failed checks)\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED", failures);
  return failures == 0 ? 0 : 1;
}

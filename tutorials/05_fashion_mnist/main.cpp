// Tutorial 05: Fashion-MNIST with the DataLoader. An MLP and a LeNet-style CNN trained on the real data set
// (Debian's dataset-fashion-mnist), evaluated on the test split after every epoch. Every claim in README.md is
// checked here.
//
//   tutorial_05_fashion_mnist             quick run: 5000 training / 1000 test images, 1 epoch per model (CI)
//   tutorial_05_fashion_mnist --full      the whole data set (60000 / 10000), 5 epochs per model; checks the
//                                         targets MLP >= 88% and CNN >= 90% test accuracy
//   other flags: --model mlp|cnn|both  --epochs N  --train N  --test N  --batch N  --threads N  --seed N
//                --root DIR (the folder with the *-ubyte.gz files)
#include <tandem.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "nn/data/dataloader.h"
#include "nn/data/dataset.h"
#include "nn/data/idx.h"
#include "nn/data/transforms.h"
#include "nn/metrics.h"

namespace td = tandem;
namespace nn = tandem::nn;
namespace data = tandem::nn::data;
namespace optim = tandem::optim;

namespace {

int failures = 0;

void check(bool ok, const std::string& claim) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", claim.c_str());
  if (!ok) ++failures;
}

struct Settings {
  bool full = false;
  std::string model = "both";
  int epochs = 1;
  int64_t train_size = 5000;  // 0: all
  int64_t test_size = 1000;   // 0: all
  int64_t batch = 64;
  uint64_t seed = 0;
  std::string root = data::FashionMNIST::kDefaultRoot;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---- the models -------------------------------------------------------------------------------------------

/// 784 -> 256 -> 128 -> 10 with ReLU and dropout: every pixel connected to every hidden unit.
nn::Sequential make_mlp() {
  return nn::Sequential(nn::Flatten(),                                                   //
                        nn::Linear(784, 256), nn::ReLU(), nn::Dropout(0.2),              //
                        nn::Linear(256, 128), nn::ReLU(), nn::Dropout(0.2),              //
                        nn::Linear(128, 10));
}

/// LeNet-style: two 3x3 convolutions (32 and 64 channels, each followed by batch norm, ReLU and a 2x2 max
/// pool: 28x28 -> 14x14 -> 7x7), then 64*7*7 -> 128 -> 10.
nn::Sequential make_cnn() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)), nn::BatchNorm2d(32), nn::ReLU(),
                        nn::MaxPool2d(2),                                                   //
                        nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)), nn::BatchNorm2d(64), nn::ReLU(),
                        nn::MaxPool2d(2),                                                   //
                        nn::Flatten(), nn::Linear(64 * 7 * 7, 128), nn::ReLU(), nn::Dropout(0.3),
                        nn::Linear(128, 10));
}

// ---- training and evaluation ------------------------------------------------------------------------------

/// Accuracy, per-class precision/recall/F1 and the confusion matrix of `model` over the loader's examples.
nn::metrics::ClassificationReport evaluate(nn::Sequential& model, data::DataLoader& loader) {
  model->eval();
  td::NoGradGuard no_grad;
  nn::metrics::ClassificationMetrics metrics(10);
  for (data::Example& batch : loader) metrics.update(model(batch.data), batch.target);
  return metrics.compute();
}

/// One line per class: its name, F1, precision, recall and what it is most often mistaken for.
void print_per_class(const nn::metrics::ClassificationReport& report) {
  std::printf("  %-12s %6s %9s %6s   most often mistaken for\n", "class", "F1", "precision", "recall");
  for (int64_t c = 0; c < 10; ++c) {
    int64_t worst = -1, worst_count = 0;
    for (int64_t p = 0; p < 10; ++p) {
      int64_t count = report.confusion_matrix[c][p].item<int64_t>();
      if (p != c && count > worst_count) worst = p, worst_count = count;
    }
    std::printf("  %-12s %6.3f %9.3f %6.3f   %s (%lld)\n", data::FashionMNIST::kClassNames[c], report.f1[c],
                report.precision[c], report.recall[c], worst < 0 ? "-" : data::FashionMNIST::kClassNames[worst],
                static_cast<long long>(worst_count));
  }
}

/// Trains `model` for settings.epochs epochs with Adam and a cosine learning-rate decay, printing the test
/// accuracy after each epoch; returns the accuracy after the last one.
double train_model(const std::string& title, nn::Sequential model, data::DataLoader& train_loader,
                   data::DataLoader& test_loader, const Settings& settings) {
  std::printf("\n%s\n", title.c_str());
  std::cout << *model;
  optim::Adam optimizer(model->parameters(), optim::AdamOptions(1e-3));
  optim::CosineAnnealingLR scheduler(optimizer, /*T_max=*/settings.epochs);

  nn::metrics::ClassificationReport report = evaluate(model, test_loader);
  std::printf("  before training: test accuracy %.4f\n", report.accuracy);
  double first_loss = -1, last_loss = 0;
  auto run_start = std::chrono::steady_clock::now();
  for (int epoch = 0; epoch < settings.epochs; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    model->train();
    double loss_sum = 0;
    int64_t seen = 0;
    for (data::Example& batch : train_loader) {
      td::Tensor loss = nn::F::cross_entropy(model(batch.data), batch.target);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      double value = loss.item<double>();
      if (first_loss < 0) first_loss = value;
      loss_sum += value * static_cast<double>(batch.target.size(0));
      seen += batch.target.size(0);
    }
    scheduler.step();
    last_loss = loss_sum / static_cast<double>(seen);
    double train_seconds = seconds_since(start);
    report = evaluate(model, test_loader);
    std::printf("  epoch %d: train loss %.4f, test accuracy %.4f  (%.1f s training, %.1f s total)\n", epoch + 1,
                last_loss, report.accuracy, train_seconds, seconds_since(start));
    std::fflush(stdout);
  }
  std::printf("  %d epochs in %.1f s; final test accuracy %.4f, macro F1 %.4f\n", settings.epochs,
              seconds_since(run_start), report.accuracy, report.f1_macro);
  print_per_class(report);
  check(last_loss < first_loss, title + ": the epoch's mean training loss is below the first batch's loss");
  return report.accuracy;
}

void parse(int argc, char** argv, Settings& s) {
  bool epochs_given = false;
  for (int i = 1; i < argc; ++i) {
    auto next = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--full")) s.full = true;
    else if (!std::strcmp(argv[i], "--model")) s.model = next("--model");
    else if (!std::strcmp(argv[i], "--epochs")) s.epochs = std::atoi(next("--epochs")), epochs_given = true;
    else if (!std::strcmp(argv[i], "--train")) s.train_size = std::atoll(next("--train"));
    else if (!std::strcmp(argv[i], "--test")) s.test_size = std::atoll(next("--test"));
    else if (!std::strcmp(argv[i], "--batch")) s.batch = std::atoll(next("--batch"));
    else if (!std::strcmp(argv[i], "--seed")) s.seed = std::strtoull(next("--seed"), nullptr, 10);
    else if (!std::strcmp(argv[i], "--threads")) td::set_num_threads(std::atoi(next("--threads")));
    else if (!std::strcmp(argv[i], "--root")) s.root = next("--root");
    else {
      std::fprintf(stderr,
                   "usage: %s [--full] [--model mlp|cnn|both] [--epochs N] [--train N] [--test N] [--batch N]\n"
                   "          [--threads N] [--seed N] [--root DIR]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  if (s.full) {
    s.train_size = 0;
    s.test_size = 0;
    if (!epochs_given) s.epochs = 5;
  }
  if (s.model != "mlp" && s.model != "cnn" && s.model != "both") {
    std::fprintf(stderr, "--model must be mlp, cnn or both\n");
    std::exit(2);
  }
  if (s.epochs < 1) s.epochs = 1;
}

/// The first n examples of `dataset` (all of them when n is 0 or too large).
data::DatasetPtr first(const data::DatasetPtr& dataset, int64_t n) {
  if (n <= 0 || static_cast<size_t>(n) >= dataset->size()) return dataset;
  std::vector<size_t> indices(static_cast<size_t>(n));
  std::iota(indices.begin(), indices.end(), size_t{0});
  return std::make_shared<data::Subset>(dataset, std::move(indices));
}

int run(const Settings& settings) {
  // ---- 1. the data ----
  std::printf("\n1. Loading Fashion-MNIST from %s\n", settings.root.c_str());
  auto load_start = std::chrono::steady_clock::now();
  auto train_raw = std::make_shared<data::FashionMNIST>(settings.root, /*train=*/true);
  auto test_raw = std::make_shared<data::FashionMNIST>(settings.root, /*train=*/false);
  std::printf("  %s and %s in %.2f s\n", train_raw->name().c_str(), test_raw->name().c_str(),
              seconds_since(load_start));
  check(train_raw->images().sizes() == td::Dims{60000, 1, 28, 28} && train_raw->labels().dtype() == td::kInt64,
        "60000 training images [1, 28, 28] (float32 in [0, 1]) with int64 labels");

  try {
    data::FashionMNIST missing("/nonexistent/fashion-mnist");
    check(false, "a folder without the files is rejected");
  } catch (const td::Error& e) {
    std::printf("  a folder without the files: %s\n", e.what());
    check(std::string(e.what()).find("dataset-fashion-mnist") != std::string::npos,
          "a folder without the files is rejected with a message naming the Debian package");
  }

  // Normalise once, with the training set's mean and standard deviation (0.2860, 0.3530).
  data::Normalize normalize({0.2860}, {0.3530});
  auto train_all = std::make_shared<data::TensorDataset>(normalize(train_raw->images()), train_raw->labels());
  auto test_all = std::make_shared<data::TensorDataset>(normalize(test_raw->images()), test_raw->labels());
  double mean = train_all->data().mean().item<double>(), stddev = train_all->data().std().item<double>();
  std::printf("  after Normalize: mean %.4f, std %.4f\n", mean, stddev);
  check(std::abs(mean) < 1e-3 && std::abs(stddev - 1) < 1e-3, "normalised training images have mean 0 and std 1");

  data::DatasetPtr train_set = first(train_all, settings.train_size);
  data::DatasetPtr test_set = first(test_all, settings.test_size);
  data::DataLoader train_loader(train_set, data::DataLoaderOptions(settings.batch).shuffle(true).seed(settings.seed));
  data::DataLoader test_loader(test_set, data::DataLoaderOptions(500));
  std::printf("  training on %zu images (%zu batches of %lld), testing on %zu\n", train_set->size(),
              train_loader.size(), static_cast<long long>(settings.batch), test_set->size());
  data::Example first_batch = *train_loader.begin();
  check(first_batch.data.sizes() == td::Dims{settings.batch, 1, 28, 28} && first_batch.target.sizes() == td::Dims{settings.batch},
        "a batch is data [batch, 1, 28, 28] and target [batch]");

  // ---- 2. and 3. the models ----
  const bool full_data = settings.train_size == 0 && settings.test_size == 0;
  const double mlp_target = full_data && settings.epochs >= 5 ? 0.88 : 0.60;
  const double cnn_target = full_data && settings.epochs >= 5 ? 0.90 : 0.60;
  char claim[160];
  if (settings.model != "cnn") {
    td::manual_seed(settings.seed);
    double acc = train_model("2. MLP 784-256-128-10", make_mlp(), train_loader, test_loader, settings);
    std::snprintf(claim, sizeof claim, "MLP test accuracy %.2f%% >= %.0f%% (chance: 10%%)", 100 * acc, 100 * mlp_target);
    check(acc >= mlp_target, claim);
  }
  if (settings.model != "mlp") {
    td::manual_seed(settings.seed);
    train_loader.set_epoch(0);  // the CNN sees the same batches in the same order as the MLP did
    double acc = train_model("3. CNN conv32-pool-conv64-pool-fc128-fc10", make_cnn(), train_loader, test_loader, settings);
    std::snprintf(claim, sizeof claim, "CNN test accuracy %.2f%% >= %.0f%% (chance: 10%%)", 100 * acc, 100 * cnn_target);
    check(acc >= cnn_target, claim);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  parse(argc, argv, settings);
  std::printf("tandem tutorial 05: Fashion-MNIST (%s, %d epoch%s, %d threads)\n",
              settings.full ? "full data set" : "quick run", settings.epochs, settings.epochs == 1 ? "" : "s",
              td::get_num_threads());
  try {
    run(settings);
  } catch (const td::Error& e) {
    std::fprintf(stderr, "\nerror: %s\n", e.what());
    return 1;
  }
  std::printf("\n%s (%d failed checks)\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED", failures);
  return failures == 0 ? 0 : 1;
}

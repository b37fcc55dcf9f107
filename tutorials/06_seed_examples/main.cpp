// Tutorial 06: three small classic examples rebuilt with tandem — (a) a two-head model trained on the sum of
// two cross-entropies, (b) a small CNN on Fashion-MNIST, (c) an Embedding + 1-D convolution text classifier on
// a generated corpus. Every claim in README.md is checked here.
//
//   tutorial_06_seed_examples             quick run (CI): generated data, and 5000 / 1000 Fashion-MNIST images
//                                         for one epoch of the CNN
//   tutorial_06_seed_examples --full      the CNN on the whole Fashion-MNIST (60000 / 10000) for 5 epochs
//   other flags: --only a|b|c  --epochs N (CNN)  --threads N  --root DIR (Fashion-MNIST folder)
#include <tandem.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <numeric>
#include <random>
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

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * fraction);
  return buf;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ============================================================================================================
// (a) two heads on a shared layer
// ============================================================================================================

/// 100-d input -> Linear 64 + ReLU (shared) -> two heads: 10 classes and 5 classes. The heads return logits;
/// the softmax is inside the cross-entropy loss (and applied explicitly for probabilities).
struct TwoHeadNetImpl : nn::Module {
  TwoHeadNetImpl()
      : nn::Module("TwoHeadNet"),
        shared(register_module("shared", nn::Linear(100, 64))),
        head_a(register_module("head_a", nn::Linear(64, 10))),
        head_b(register_module("head_b", nn::Linear(64, 5))) {}

  /// Logits of both heads: ([N, 10], [N, 5]).
  std::pair<td::Tensor, td::Tensor> forward(const td::Tensor& x) {
    td::Tensor h = td::relu(shared(x));
    return {head_a(h), head_b(h)};
  }

  nn::Linear shared, head_a, head_b;
};
TANDEM_MODULE(TwoHeadNet);

void two_heads() {
  std::printf("\n(a) A two-head model: one shared layer, a 10-class and a 5-class softmax head\n");
  td::manual_seed(0);
  // Labels from two fixed random linear maps of the input: learnable, and different for the two tasks.
  const int64_t n_train = 8000, n_test = 2000;
  td::Tensor map_a = td::randn({100, 10}), map_b = td::randn({100, 5});
  auto make = [&](int64_t n) {
    td::Tensor x = td::randn({n, 100});
    td::Tensor labels = td::stack({x.matmul(map_a).argmax(1), x.matmul(map_b).argmax(1)}, 1);  // [n, 2]
    return std::make_pair(x, labels);
  };
  auto [x_train, y_train] = make(n_train);
  auto [x_test, y_test] = make(n_test);

  // One dataset, two labels per sample: targets [N, 2].
  auto train_set = std::make_shared<data::TensorDataset>(x_train, y_train);
  data::DataLoader loader(train_set, data::DataLoaderOptions(64).shuffle(true));

  TwoHeadNet net;
  std::cout << *net;
  optim::Adam opt(net->parameters(), optim::AdamOptions(1e-3));
  const int epochs = 8;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    double total = 0;
    int64_t batches = 0;
    for (data::Example& batch : loader) {
      auto [logits_a, logits_b] = net(batch.data);
      td::Tensor loss = nn::F::cross_entropy(logits_a, batch.target.select(1, 0)) +
                        nn::F::cross_entropy(logits_b, batch.target.select(1, 1));
      opt.zero_grad();
      loss.backward();
      opt.step();
      total += loss.item<double>();
      ++batches;
    }
    if (epoch == 0 || epoch == epochs - 1)
      std::printf("  epoch %d: mean summed loss %.4f\n", epoch + 1, total / static_cast<double>(batches));
  }

  td::NoGradGuard no_grad;
  auto [logits_a, logits_b] = net(x_test);
  double acc_a = nn::metrics::accuracy(logits_a, y_test.select(1, 0));
  double acc_b = nn::metrics::accuracy(logits_b, y_test.select(1, 1));
  std::printf("  test accuracy: head A (10 classes) %s, head B (5 classes) %s\n", percent(acc_a).c_str(),
              percent(acc_b).c_str());
  td::Tensor probs_a = logits_a.softmax(1);
  check(td::allclose(probs_a.sum(1), td::ones({n_test}), 1e-5, 1e-5),
        "softmax(logits) of head A: each row is a distribution over 10 classes");
  check(acc_a > 0.7, "head A well above chance (10%): " + percent(acc_a));
  check(acc_b > 0.7, "head B well above chance (20%): " + percent(acc_b));
}

// ============================================================================================================
// (b) a small CNN on Fashion-MNIST
// ============================================================================================================

/// conv 3x3 32 -> ReLU -> pool 2 -> conv 3x3 64 -> ReLU -> pool 2 -> dense 64 -> ReLU -> dense 10, with
/// unpadded convolutions: 28 -> 26 -> 13 -> 11 -> 5, so the first dense layer sees 64 * 5 * 5 = 1600 values.
nn::Sequential make_small_cnn() {
  return nn::Sequential(nn::Conv2d(1, 32, 3), nn::ReLU(), nn::MaxPool2d(2),   //
                        nn::Conv2d(32, 64, 3), nn::ReLU(), nn::MaxPool2d(2),  //
                        nn::Flatten(), nn::Linear(64 * 5 * 5, 64), nn::ReLU(), nn::Linear(64, 10));
}

/// The first n examples of `dataset` (all when n is 0 or too large).
data::DatasetPtr first(const data::DatasetPtr& dataset, int64_t n) {
  if (n <= 0 || static_cast<size_t>(n) >= dataset->size()) return dataset;
  std::vector<size_t> indices(static_cast<size_t>(n));
  std::iota(indices.begin(), indices.end(), size_t{0});
  return std::make_shared<data::Subset>(dataset, std::move(indices));
}

void small_cnn(const std::string& root, bool full, int epochs) {
  std::printf("\n(b) A small CNN on Fashion-MNIST (%s)\n", full ? "the whole data set" : "a 5000 / 1000 subset");
  td::manual_seed(0);
  auto train_raw = std::make_shared<data::FashionMNIST>(root, /*train=*/true);
  auto test_raw = std::make_shared<data::FashionMNIST>(root, /*train=*/false);
  data::Normalize normalize({0.2860}, {0.3530});
  data::DatasetPtr train_set =
      first(std::make_shared<data::TensorDataset>(normalize(train_raw->images()), train_raw->labels()), full ? 0 : 5000);
  data::DatasetPtr test_set =
      first(std::make_shared<data::TensorDataset>(normalize(test_raw->images()), test_raw->labels()), full ? 0 : 1000);
  data::DataLoader train_loader(train_set, data::DataLoaderOptions(64).shuffle(true));
  data::DataLoader test_loader(test_set, data::DataLoaderOptions(500));

  nn::Sequential net = make_small_cnn();
  std::cout << *net;
  td::Tensor probe = net(td::zeros({2, 1, 28, 28}));
  check(probe.sizes() == td::Dims{2, 10}, "a [2, 1, 28, 28] batch gives [2, 10] logits");
  optim::Adam opt(net->parameters(), optim::AdamOptions(1e-3));

  auto evaluate = [&] {
    net->eval();
    td::NoGradGuard no_grad;
    int64_t correct = 0, seen = 0;
    for (data::Example& batch : test_loader) {
      correct += net(batch.data).argmax(1).eq(batch.target).sum().item<int64_t>();
      seen += batch.target.size(0);
    }
    return static_cast<double>(correct) / static_cast<double>(seen);
  };

  double acc = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    net->train();
    double total = 0;
    int64_t batches = 0;
    for (data::Example& batch : train_loader) {
      td::Tensor loss = nn::F::cross_entropy(net(batch.data), batch.target);
      opt.zero_grad();
      loss.backward();
      opt.step();
      total += loss.item<double>();
      ++batches;
    }
    acc = evaluate();
    std::printf("  epoch %d: train loss %.4f, test accuracy %s (%.1f s)\n", epoch + 1,
                total / static_cast<double>(batches), percent(acc).c_str(), seconds_since(start));
    std::fflush(stdout);
  }
  check(acc > (full ? 0.88 : 0.6), "test accuracy well above chance (10%): " + percent(acc));
}

// ============================================================================================================
// (c) Embedding + Conv1d text classifier
// ============================================================================================================

/// A generated corpus of two "topics". Token 0 is padding; tokens 1..20 are filler words that both topics use
/// equally; tokens 21..60 are content words: topic 0 draws them from 21..45, topic 1 from 36..60 (the range
/// 36..45 is shared, so single words are ambiguous). A document has 8..30 tokens, 70% of them filler, and is
/// padded with 0 to 30 tokens.
struct Corpus {
  td::Tensor tokens;  ///< int64 [N, 30]
  td::Tensor labels;  ///< int64 [N]
};

constexpr int64_t kPad = 0, kVocab = 61, kMaxLen = 30;

Corpus make_corpus(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> length(8, kMaxLen), filler(1, 20), topic0(21, 45), topic1(36, 60);
  std::bernoulli_distribution is_filler(0.7), coin(0.5);
  std::vector<int64_t> tokens(static_cast<size_t>(n * kMaxLen), kPad), labels;
  for (int64_t i = 0; i < n; ++i) {
    int64_t topic = coin(rng) ? 1 : 0;
    labels.push_back(topic);
    int64_t len = length(rng);
    for (int64_t t = 0; t < len; ++t)
      tokens[static_cast<size_t>(i * kMaxLen + t)] = is_filler(rng) ? filler(rng) : (topic ? topic1(rng) : topic0(rng));
  }
  return {td::tensor(tokens).reshape({n, kMaxLen}), td::tensor(labels)};
}

/// tokens [N, L] -> Embedding [N, L, 16] -> (as [N, 16, L]) Conv1d 3 -> [N, 32, L] -> ReLU -> max over the
/// real (non-padding) positions -> [N, 32] -> Linear -> [N, 2].
struct TextCNNImpl : nn::Module {
  TextCNNImpl()
      : nn::Module("TextCNN"),
        embedding(register_module("embedding", nn::Embedding(nn::EmbeddingOptions(kVocab, 16).padding_idx(kPad)))),
        conv(register_module("conv", nn::Conv1d(nn::Conv1dOptions(16, 32, 3).padding(1)))),
        fc(register_module("fc", nn::Linear(32, 2))) {}

  td::Tensor forward(const td::Tensor& tokens) {
    td::Tensor x = embedding(tokens).transpose(1, 2);  // [N, 16, L]: channels first for the convolution
    td::Tensor h = td::relu(conv(x));                  // [N, 32, L], all >= 0
    // Padding positions must not win the max: after the ReLU every value is >= 0, so setting them to 0 makes
    // the max over all positions equal to the max over the real ones.
    td::Tensor padding = tokens.eq(static_cast<double>(kPad)).unsqueeze(1);  // [N, 1, L], broadcast over channels
    h = h.masked_fill(padding, 0.0);
    return fc(h.amax({2}));  // global max over time: [N, 32]
  }

  nn::Embedding embedding;
  nn::Conv1d conv;
  nn::Linear fc;
};
TANDEM_MODULE(TextCNN);

void text_classifier() {
  std::printf("\n(c) An Embedding + Conv1d text classifier on a generated two-topic corpus\n");
  td::manual_seed(0);
  Corpus train = make_corpus(4000, 1), test = make_corpus(1000, 2);
  std::cout << "  first document (label " << train.labels[0].item<int64_t>() << "): " << train.tokens[0] << "\n";

  TextCNN net;
  std::cout << *net;
  check(td::allclose(net->embedding->weight[kPad], td::zeros({16})), "the padding row of the embedding starts at zero");

  auto train_set = std::make_shared<data::TensorDataset>(train.tokens, train.labels);
  data::DataLoader loader(train_set, data::DataLoaderOptions(32).shuffle(true));
  optim::Adam opt(net->parameters(), optim::AdamOptions(3e-3));
  td::Tensor initial_loss, final_loss;
  {
    td::NoGradGuard no_grad;
    initial_loss = nn::F::cross_entropy(net(test.tokens), test.labels);
  }
  bool padding_grad_zero = true;
  for (int epoch = 0; epoch < 5; ++epoch) {
    for (data::Example& batch : loader) {
      td::Tensor loss = nn::F::cross_entropy(net(batch.data), batch.target);
      opt.zero_grad();
      loss.backward();
      padding_grad_zero = padding_grad_zero && net->embedding->weight.grad()[kPad].abs().max().item<double>() == 0;
      opt.step();
    }
  }
  td::NoGradGuard no_grad;
  td::Tensor logits = net(test.tokens);
  final_loss = nn::F::cross_entropy(logits, test.labels);
  double acc = nn::metrics::accuracy(logits, test.labels);
  std::printf("  test loss %.4f -> %.4f, test accuracy %s\n", initial_loss.item<double>(), final_loss.item<double>(),
              percent(acc).c_str());
  check(padding_grad_zero, "the padding row never receives a gradient");
  check(td::allclose(net->embedding->weight[kPad], td::zeros({16})), "...so it is still zero after training");
  check(final_loss.item<double>() < 0.5 * initial_loss.item<double>(), "the test loss fell below half its initial value");
  check(acc > 0.9, "test accuracy well above chance (50%): " + percent(acc));
}

}  // namespace

int main(int argc, char** argv) {
  std::string only, root = data::FashionMNIST::kDefaultRoot;
  bool full = false;
  int epochs = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--full")) full = true;
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) td::set_num_threads(std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--root") && i + 1 < argc) root = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--full] [--only a|b|c] [--epochs N] [--threads N] [--root DIR]\n", argv[0]);
      return 2;
    }
  }
  if (epochs < 1) epochs = full ? 5 : 1;
  std::printf("tandem tutorial 06: three small examples\n");
  try {
    if (only.empty() || only == "a") two_heads();
    if (only.empty() || only == "b") small_cnn(root, full, epochs);
    if (only.empty() || only == "c") text_classifier();
  } catch (const td::Error& e) {
    std::fprintf(stderr, "\nerror: %s\n", e.what());
    return 1;
  }
  std::printf("\n%s (%d failed checks)\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED", failures);
  return failures == 0 ? 0 : 1;
}

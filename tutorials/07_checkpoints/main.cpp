// Tutorial 07: checkpoints. Saving a model and its optimizer to safetensors files, loading them into fresh
// objects bit for bit, resuming training so that it matches an uninterrupted run step for step, non-strict
// loading with a LoadReport, taking the encoder out of a larger checkpoint with a prefix mapping, and the
// rejection of a corrupted file. Every claim in README.md is checked here.
//
//   tutorial_07_checkpoints [--keep DIR]   --keep writes the checkpoints to DIR and leaves them there
//                                          (default: a temporary folder, removed at the end)
#include <tandem.h>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "nn/data/dataloader.h"
#include "nn/data/dataset.h"
#include "nn/serialize/checkpoint.h"
#include "nn/serialize/safetensors.h"

namespace td = tandem;
namespace nn = tandem::nn;
namespace data = tandem::nn::data;
namespace optim = tandem::optim;
namespace fs = std::filesystem;

namespace {

int failures = 0;

void check(bool ok, const std::string& claim) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", claim.c_str());
  if (!ok) ++failures;
}

/// True when a and b have the same dtype and shape and the very same bytes.
bool bitwise_equal(const td::Tensor& a, const td::Tensor& b) {
  if (a.dtype() != b.dtype() || a.sizes() != b.sizes()) return false;
  td::Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), static_cast<size_t>(a.numel()) * td::element_size(a.dtype())) == 0;
}

/// True when every parameter and buffer of the two modules is bitwise equal (same names, same order).
bool same_state(const nn::Module& a, const nn::Module& b) {
  auto sa = td::module_state_dict(a), sb = td::module_state_dict(b);
  if (sa.keys() != sb.keys()) return false;
  for (const auto& [key, tensor] : sa)
    if (!bitwise_equal(tensor, sb[key])) return false;
  return true;
}

// ---- the model and the data ---------------------------------------------------------------------------------

/// An encoder (with a BatchNorm, so the checkpoint holds buffers too) and a classification head.
struct ClassifierImpl : nn::Module {
  explicit ClassifierImpl(int64_t classes = 3)
      : nn::Module("Classifier"),
        encoder(register_module("encoder", nn::Sequential(nn::Linear(8, 32), nn::BatchNorm1d(32), nn::ReLU(),
                                                          nn::Linear(32, 16), nn::ReLU()))),
        head(register_module("head", nn::Linear(16, classes))) {}
  td::Tensor forward(const td::Tensor& x) { return head(encoder(x)); }
  nn::Sequential encoder;
  nn::Linear head;
};
TANDEM_MODULE(Classifier);

/// 512 points in 8-d, labelled by which of three fixed random directions they lean towards most.
std::shared_ptr<data::TensorDataset> make_dataset() {
  td::manual_seed(123);
  td::Tensor x = td::randn({512, 8});
  td::Tensor y = x.matmul(td::randn({8, 3})).argmax(1);
  return std::make_shared<data::TensorDataset>(x, y);
}

/// Everything a training run holds: the model, the optimizer and the learning-rate schedule.
struct Run {
  Classifier net;
  optim::Adam opt;
  optim::StepLR sched;
  explicit Run(uint64_t seed)
      : net((td::manual_seed(seed), Classifier())),
        opt(net->parameters(), optim::AdamOptions(1e-2)),
        sched(opt, /*step_size=*/2, /*gamma=*/0.5) {}
};

/// Trains epochs [first, last) and appends each step's loss. The loader's shuffling depends only on its seed and
/// the epoch number, so set_epoch(first) gives a resumed run the same batches as an uninterrupted one.
void train_epochs(Run& run, data::DataLoader& loader, int first, int last, std::vector<float>& losses) {
  run.net->train();
  for (int epoch = first; epoch < last; ++epoch) {
    loader.set_epoch(static_cast<uint64_t>(epoch));
    for (data::Example& batch : loader) {
      td::Tensor loss = nn::F::cross_entropy(run.net(batch.data), batch.target);
      run.opt.zero_grad();
      loss.backward();
      run.opt.step();
      losses.push_back(loss.item<float>());
    }
    run.sched.step();
  }
}

// ---- 1. save and load ---------------------------------------------------------------------------------------

void save_and_load(const fs::path& dir, const std::shared_ptr<data::TensorDataset>& dataset) {
  std::printf("\n1. Saving a model and its optimizer, loading them into fresh ones\n");
  data::DataLoader loader(dataset, data::DataLoaderOptions(64).shuffle(true).seed(7));
  Run run(1);
  std::vector<float> losses;
  train_epochs(run, loader, 0, 2, losses);

  td::save(run.net, dir / "model.safetensors", {{"epoch", "2"}});
  td::save(run.opt, dir / "optimizer.safetensors");
  td::save_safetensors(run.sched.state_dict(), dir / "scheduler.safetensors");
  std::printf("  wrote model.safetensors (%ju bytes), optimizer.safetensors (%ju bytes)\n",
              static_cast<uintmax_t>(fs::file_size(dir / "model.safetensors")),
              static_cast<uintmax_t>(fs::file_size(dir / "optimizer.safetensors")));

  td::SafetensorsContent content = td::load_safetensors(dir / "model.safetensors");
  std::printf("  model.safetensors holds:\n");
  for (const auto& [key, tensor] : content.tensors) std::cout << "    " << key << "  " << tensor.sizes() << "\n";
  check(content.tensors.contains("encoder.0.weight") && content.tensors.contains("encoder.1.running_mean") &&
            content.tensors.contains("head.bias"),
        "the file holds every parameter and buffer under its dotted name");
  check(content.metadata["epoch"] == "2" && content.metadata["format"] == "tandem",
        "and the metadata: our epoch=2 plus format=tandem");

  Run fresh(99);  // another seed: different initial weights
  check(!same_state(*run.net, *fresh.net), "a fresh model starts with different weights");
  td::LoadReport report = td::load(fresh.net, dir / "model.safetensors");
  std::cout << "  " << report << "\n";
  check(report.ok() && report.loaded.size() == td::module_state_dict(*fresh.net).size(),
        "a strict load matches every key");
  check(same_state(*run.net, *fresh.net), "after loading, every parameter and buffer is bit-identical");

  td::load(fresh.opt, dir / "optimizer.safetensors");
  const auto& s0 = run.opt.state().at(0);
  const auto& s1 = fresh.opt.state().at(0);
  check(s1.step() == s0.step() && bitwise_equal(s1["exp_avg"], s0["exp_avg"]) &&
            bitwise_equal(s1["exp_avg_sq"], s0["exp_avg_sq"]),
        "the optimizer's state (step count and Adam's moment estimates) is restored bit for bit");
  check(fresh.opt.param_groups()[0].options().lr() == run.opt.param_groups()[0].options().lr(),
        "and its learning rate (already decayed by the scheduler) too");
}

// ---- 2. resuming ----------------------------------------------------------------------------------------------

void resume(const fs::path& dir, const std::shared_ptr<data::TensorDataset>& dataset) {
  std::printf("\n2. Resumed training equals uninterrupted training, step for step\n");
  const int total_epochs = 4, stop_after = 2;

  // A: four epochs in one go.
  data::DataLoader loader_a(dataset, data::DataLoaderOptions(64).shuffle(true).seed(7));
  Run a(1);
  std::vector<float> losses_a;
  train_epochs(a, loader_a, 0, total_epochs, losses_a);

  // B: two epochs, a checkpoint, then everything rebuilt from scratch and the last two epochs.
  std::vector<float> losses_b;
  {
    data::DataLoader loader_b(dataset, data::DataLoaderOptions(64).shuffle(true).seed(7));
    Run b(1);
    train_epochs(b, loader_b, 0, stop_after, losses_b);
    td::save(b.net, dir / "resume_model.safetensors");
    td::save(b.opt, dir / "resume_optimizer.safetensors");
    td::save_safetensors(b.sched.state_dict(), dir / "resume_scheduler.safetensors");
  }  // the first half's model, optimizer and loader are gone
  data::DataLoader loader_c(dataset, data::DataLoaderOptions(64).shuffle(true).seed(7));
  Run c(12345);  // a different seed: whatever it starts with is overwritten by the checkpoint
  td::load(c.net, dir / "resume_model.safetensors");
  td::load(c.opt, dir / "resume_optimizer.safetensors");
  c.sched.load_state_dict(td::load_safetensors(dir / "resume_scheduler.safetensors").tensors);
  check(c.sched.last_epoch() == stop_after, "the scheduler resumes at epoch 2");
  train_epochs(c, loader_c, stop_after, total_epochs, losses_b);

  std::printf("  %zu steps; losses at the restart (steps %zu..%zu): A %.7f %.7f, resumed %.7f %.7f\n",
              losses_a.size(), losses_a.size() / 2 - 1, losses_a.size() / 2, losses_a[losses_a.size() / 2 - 1],
              losses_a[losses_a.size() / 2], losses_b[losses_b.size() / 2 - 1], losses_b[losses_b.size() / 2]);
  check(losses_a.size() == losses_b.size() &&
            std::memcmp(losses_a.data(), losses_b.data(), losses_a.size() * sizeof(float)) == 0,
        "every one of the " + std::to_string(losses_a.size()) + " step losses is bit-identical");
  check(same_state(*a.net, *c.net), "and so are the final parameters and BatchNorm buffers");
}

// ---- 3. non-strict loading --------------------------------------------------------------------------------------

/// The classifier with a 5-class head and an extra layer: some keys match, some do not.
struct WiderClassifierImpl : nn::Module {
  WiderClassifierImpl()
      : nn::Module("WiderClassifier"),
        encoder(register_module("encoder", nn::Sequential(nn::Linear(8, 32), nn::BatchNorm1d(32), nn::ReLU(),
                                                          nn::Linear(32, 16), nn::ReLU()))),
        head(register_module("head", nn::Linear(16, 5))),
        calibration(register_module("calibration", nn::Linear(5, 5))) {}
  nn::Sequential encoder;
  nn::Linear head, calibration;
};
TANDEM_MODULE(WiderClassifier);

void non_strict(const fs::path& dir) {
  std::printf("\n3. Non-strict loading and the LoadReport\n");
  td::manual_seed(5);
  WiderClassifier wider;
  td::Tensor head_before = wider->head->weight.clone();
  td::Tensor encoder_before = wider->encoder->named_parameters()["0.weight"].clone();
  try {
    td::load(wider, dir / "model.safetensors");
    check(false, "a strict load into a different architecture throws");
  } catch (const td::Error& e) {
    std::printf("  strict load: %s\n", e.what());
    check(true, "a strict load into a different architecture throws, listing the problems");
  }
  check(bitwise_equal(wider->encoder->named_parameters()["0.weight"], encoder_before),
        "and changes nothing: a failed strict load leaves the module as it was");

  td::LoadReport report = td::load(wider, dir / "model.safetensors", td::LoadOptions().strict(false));
  std::cout << "  non-strict load: " << report << "\n";
  check(report.missing == std::vector<std::string>{"calibration.weight", "calibration.bias"},
        "missing: the keys the checkpoint does not have (calibration.*)");
  check(report.unexpected.empty(), "unexpected: none (every checkpoint key names a module tensor)");
  check(report.mismatched.size() == 2 && report.mismatched[0].key == "head.weight" &&
            report.mismatched[0].checkpoint_shape == td::Dims{3, 16} && report.mismatched[0].module_shape == td::Dims{5, 16},
        "mismatched: head.weight [3, 16] in the file vs [5, 16] here, and head.bias");
  check(report.loaded.size() == 9, "loaded: the 9 encoder tensors (4 Linear, 2 BatchNorm parameters, 3 buffers)");
  check(bitwise_equal(wider->head->weight, head_before), "mismatched tensors are left unchanged");
  check(!bitwise_equal(wider->encoder->named_parameters()["0.weight"], encoder_before), "matching ones are loaded");
}

// ---- 4. an encoder out of a larger checkpoint ---------------------------------------------------------------------

/// A new model that reuses the classifier's encoder (here called "backbone") under a new 5-class head.
struct TransferNetImpl : nn::Module {
  TransferNetImpl()
      : nn::Module("TransferNet"),
        backbone(register_module("backbone", nn::Sequential(nn::Linear(8, 32), nn::BatchNorm1d(32), nn::ReLU(),
                                                            nn::Linear(32, 16), nn::ReLU()))),
        new_head(register_module("new_head", nn::Linear(16, 5))) {}
  td::Tensor forward(const td::Tensor& x) { return new_head(backbone(x)); }
  nn::Sequential backbone;
  nn::Linear new_head;
};
TANDEM_MODULE(TransferNet);

void prefix_mapping(const fs::path& dir) {
  std::printf("\n4. Loading the encoder out of a larger checkpoint\n");
  td::manual_seed(6);
  TransferNet net;
  td::Tensor head_before = net->new_head->weight.clone();
  auto report = td::load(net, dir / "model.safetensors",
                         td::LoadOptions().prefix_map({{"encoder.", "backbone."}}).only_prefix(true));
  std::cout << "  " << report << "\n";
  check(report.ok() && report.loaded.size() == 9,
        "encoder.* -> backbone.*: all 9 backbone tensors loaded, nothing missing or unexpected");
  auto saved = td::load_safetensors(dir / "model.safetensors").tensors;
  bool same = true;
  for (const auto& [key, tensor] : net->backbone->named_parameters())
    same = same && bitwise_equal(tensor, saved["encoder." + key]);
  check(same, "backbone.0.weight etc. now equal encoder.0.weight etc. of the checkpoint");
  check(bitwise_equal(net->new_head->weight, head_before),
        "only_prefix: the checkpoint's head.* is ignored and new_head keeps its own initialisation");
}

// ---- 5. corrupted files -------------------------------------------------------------------------------------------

void corrupted(const fs::path& dir) {
  std::printf("\n5. A corrupted checkpoint is rejected\n");
  const fs::path good = dir / "model.safetensors", truncated = dir / "truncated.safetensors";
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  {
    std::ofstream out(truncated, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 100));  // the last 100 bytes are lost
  }
  td::manual_seed(7);
  Classifier net;
  td::Tensor before = net->head->weight.clone();
  try {
    td::load(net, truncated);
    check(false, "loading a truncated file throws tandem::Error");
  } catch (const td::Error& e) {
    std::printf("  %s\n", e.what());
    check(true, "loading a truncated file throws tandem::Error");
    check(std::string(e.what()).find("truncated.safetensors") != std::string::npos, "the message names the file");
  }
  check(bitwise_equal(net->head->weight, before), "the model is unchanged");

  const fs::path garbage = dir / "garbage.safetensors";
  {
    std::ofstream out(garbage, std::ios::binary);
    out << "this is not a checkpoint at all";
  }
  try {
    td::load(net, garbage);
    check(false, "a file that is not safetensors is rejected too");
  } catch (const td::Error& e) {
    std::printf("  %s\n", e.what());
    check(true, "a file that is not safetensors is rejected too");
  }
  bool leftovers = false;
  for (const auto& entry : fs::directory_iterator(dir))
    leftovers = leftovers || entry.path().filename().string().find(".tmp.") != std::string::npos;
  check(!leftovers, "saves are atomic (temporary file, then rename): no temporary files are left behind");
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--keep") && i + 1 < argc) dir = argv[++i], keep = true;
    else {
      std::fprintf(stderr, "usage: %s [--keep DIR]\n", argv[0]);
      return 2;
    }
  }
  if (!keep) dir = fs::temp_directory_path() / ("tandem_tutorial_07_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::printf("tandem tutorial 07: checkpoints (files in %s)\n", dir.string().c_str());
  int rc = 0;
  try {
    auto dataset = make_dataset();
    save_and_load(dir, dataset);
    resume(dir, dataset);
    non_strict(dir);
    prefix_mapping(dir);
    corrupted(dir);
  } catch (const td::Error& e) {
    std::fprintf(stderr, "\nerror: %s\n", e.what());
    rc = 1;
  }
  if (!keep) fs::remove_all(dir);
  std::printf("\n%s (%d failed checks)\n", failures == 0 && rc == 0 ? "all checks passed" : "SOME CHECKS FAILED",
              failures);
  return failures == 0 && rc == 0 ? 0 : 1;
}

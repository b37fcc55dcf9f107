// Transfer learning for (multi-task) models: load a pretrained encoder, freeze and unfreeze by name pattern,
// discriminative learning rates through parameter groups, gradual unfreezing on a schedule, linear probing then
// full fine-tuning, and a new task head on a trained multi-task model that leaves the other tasks untouched.
//
//   mtl::load_pretrained(*model, "pretrained.safetensors", {{"encoder.", "encoder."}});
//   mtl::freeze(*model, {"encoder.*"});                       // train the heads only
//   auto groups = mtl::param_groups_by_pattern(*model, {{"encoder.*", 1e-4}, {"heads.*", 1e-3}});
//   auto opt = std::make_shared<optim::Adam>(groups, optim::AdamOptions(1e-3));
//   mtl::GradualUnfreezing schedule(*model, {{"heads.*"}, {"encoder.2.*"}, {"encoder.0.*"}}, /*every=*/1);
//   schedule.attach(trainer);                                 // one more stage trainable after each epoch
//
// Patterns are globs over dotted parameter names: '*' matches any run of characters (dots included), '?' one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mtl/model.h"
#include "nn/module.h"
#include "nn/optim/optimizer.h"
#include "nn/serialize/checkpoint.h"

namespace tandem::mtl {

class Trainer;

/// Whether `name` matches the glob `pattern`.
bool matches_pattern(const std::string& pattern, const std::string& name);

/// Stops training the parameters whose names match any pattern; returns their names (a tandem::Error when a
/// pattern matches nothing, naming it — a misspelt pattern would otherwise freeze nothing silently).
std::vector<std::string> freeze(nn::Module& module, const std::vector<std::string>& patterns);
/// Makes them trainable again.
std::vector<std::string> unfreeze(nn::Module& module, const std::vector<std::string>& patterns);
/// Names of the parameters that currently require grad.
std::vector<std::string> trainable_parameter_names(const nn::Module& module);

/// Loads the entries of a checkpoint whose keys start with a prefix of `prefix_map` (renamed to the mapped
/// prefix) into `module`, leaving everything else alone. Strict: every module parameter under the mapped
/// prefixes must be found with its shape. Returns what was loaded and what was not.
LoadReport load_pretrained(nn::Module& module, const std::filesystem::path& path, const PrefixMap& prefix_map,
                           bool strict = true);

/// One parameter group per (pattern, learning rate), in order; a parameter joins the first pattern it matches.
/// Parameters matching none go into a last group with `default_lr` (or are left out when default_lr < 0).
/// Frozen parameters are included, so that unfreezing them later trains them at their group's rate.
std::vector<optim::OptimizerParamGroup> param_groups_by_pattern(const nn::Module& module,
                                                                const std::vector<std::pair<std::string, double>>& lrs,
                                                                double default_lr = -1.0);

/// Layer-wise learning-rate decay: `layers` are patterns from the output side down to the input; layer k gets
/// base_lr · decay^k. Parameters matching no layer get base_lr · decay^layers.size().
std::vector<optim::OptimizerParamGroup> layerwise_lr_groups(const nn::Module& module,
                                                            const std::vector<std::string>& layers, double base_lr,
                                                            double decay);

/// Gradual unfreezing (as in ULMFiT): stage 0 (usually the heads) trains from the start; every `every` epochs
/// one more stage (a list of patterns) becomes trainable. The constructor freezes every parameter of the
/// module that stage 0 does not cover.
class GradualUnfreezing {
 public:
  GradualUnfreezing(nn::Module& module, std::vector<std::vector<std::string>> stages, int64_t every = 1);
  /// Applies the schedule for `epochs_done` finished epochs (idempotent).
  void update(int64_t epochs_done);
  /// Calls update() at the end of each of the trainer's epochs.
  void attach(Trainer& trainer);
  /// Number of stages currently trainable.
  size_t stages_unfrozen() const { return unfrozen_; }

 private:
  nn::Module& module_;
  std::vector<std::vector<std::string>> stages_;
  int64_t every_;
  size_t unfrozen_ = 0;
};

/// Linear probing, then full fine-tuning: for `probe_epochs` only the parameters matching `head_patterns`
/// train; then everything is unfrozen and the learning rate of every optimizer group that holds a
/// non-head parameter is multiplied by `finetune_lr_scale` (a smaller rate for the pretrained part).
class LinearProbeThenFinetune {
 public:
  LinearProbeThenFinetune(nn::Module& module, std::vector<std::string> head_patterns, int64_t probe_epochs,
                          double finetune_lr_scale = 0.1);
  void attach(Trainer& trainer);
  bool fine_tuning() const { return fine_tuning_; }

 private:
  nn::Module& module_;
  std::vector<std::string> head_patterns_;
  int64_t probe_epochs_;
  double lr_scale_;
  bool fine_tuning_ = false;
};

/// Adds task `name` with `head` to a trained model and freezes every other parameter, so that training then
/// changes only the new head and the existing tasks' outputs stay exactly as they were. Returns the new
/// head's parameters (what the optimizer should train).
std::vector<Tensor> add_task_head(MultiTaskModel& model, const std::string& name, nn::Sequential head);

}  // namespace tandem::mtl

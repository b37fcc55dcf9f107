// Transfer-learning helpers: pattern freezing, pretrained loading, learning-rate groups, unfreezing schedules.
#include "mtl/finetune.h"

#include <algorithm>

#include "mtl/trainer.h"

namespace tandem::mtl {

bool matches_pattern(const std::string& pattern, const std::string& name) {
  // Iterative glob matching with backtracking to the last '*'.
  size_t p = 0, n = 0, star = std::string::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {
bool matches_any(const std::vector<std::string>& patterns, const std::string& name) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return matches_pattern(p, name); });
}

std::vector<std::string> set_trainable(nn::Module& module, const std::vector<std::string>& patterns, bool trainable,
                                       const char* op) {
  auto params = module.named_parameters();
  for (const auto& pattern : patterns) {
    bool any = false;
    for (const auto& [name, p] : params) any = any || matches_pattern(pattern, name);
    TD_CHECK(any, op, ": pattern '", pattern, "' matches no parameter of ", module.name());
  }
  std::vector<std::string> changed;
  for (auto& [name, p] : params)
    if (matches_any(patterns, name)) {
      p.requires_grad_(trainable);
      if (!trainable) p.set_grad(Tensor());
      changed.push_back(name);
    }
  return changed;
}
}  // namespace

std::vector<std::string> freeze(nn::Module& module, const std::vector<std::string>& patterns) {
  return set_trainable(module, patterns, false, "mtl::freeze");
}

std::vector<std::string> unfreeze(nn::Module& module, const std::vector<std::string>& patterns) {
  return set_trainable(module, patterns, true, "mtl::unfreeze");
}

std::vector<std::string> trainable_parameter_names(const nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& [name, p] : module.named_parameters())
    if (p.requires_grad()) names.push_back(name);
  return names;
}

LoadReport load_pretrained(nn::Module& module, const std::filesystem::path& path, const PrefixMap& prefix_map,
                           bool strict) {
  TD_CHECK(!prefix_map.empty(), "mtl::load_pretrained: give at least one (checkpoint prefix, module prefix) pair");
  return load(module, path, LoadOptions().prefix_map(prefix_map).only_prefix(true).strict(strict));
}

std::vector<optim::OptimizerParamGroup> param_groups_by_pattern(const nn::Module& module,
                                                                const std::vector<std::pair<std::string, double>>& lrs,
                                                                double default_lr) {
  std::vector<std::vector<Tensor>> members(lrs.size());
  std::vector<Tensor> rest;
  for (const auto& [name, p] : module.named_parameters()) {
    size_t k = 0;
    while (k < lrs.size() && !matches_pattern(lrs[k].first, name)) ++k;
    if (k < lrs.size()) members[k].push_back(p);
    else rest.push_back(p);
  }
  std::vector<optim::OptimizerParamGroup> groups;
  for (size_t k = 0; k < lrs.size(); ++k) {
    TD_CHECK(!members[k].empty(), "mtl::param_groups_by_pattern: pattern '", lrs[k].first,
             "' matches no parameter (or only parameters an earlier pattern took)");
    groups.emplace_back(members[k], optim::OptionOverrides{{"lr", lrs[k].second}});
  }
  if (!rest.empty() && default_lr >= 0) groups.emplace_back(rest, optim::OptionOverrides{{"lr", default_lr}});
  return groups;
}

std::vector<optim::OptimizerParamGroup> layerwise_lr_groups(const nn::Module& module,
                                                            const std::vector<std::string>& layers, double base_lr,
                                                            double decay) {
  TD_CHECK(decay > 0, "mtl::layerwise_lr_groups: decay must be positive, got ", decay);
  std::vector<std::pair<std::string, double>> lrs;
  double lr = base_lr;
  for (const auto& layer : layers) {
    lrs.emplace_back(layer, lr);
    lr *= decay;
  }
  return param_groups_by_pattern(module, lrs, lr);
}

GradualUnfreezing::GradualUnfreezing(nn::Module& module, std::vector<std::vector<std::string>> stages, int64_t every)
    : module_(module), stages_(std::move(stages)), every_(every) {
  TD_CHECK(!stages_.empty(), "mtl::GradualUnfreezing: no stages");
  TD_CHECK(every_ >= 1, "mtl::GradualUnfreezing: every must be >= 1, got ", every_);
  freeze(module_, {"*"});
  unfreeze(module_, stages_[0]);
  unfrozen_ = 1;
}

void GradualUnfreezing::update(int64_t epochs_done) {
  const size_t target = std::min(stages_.size(), static_cast<size_t>(1 + epochs_done / every_));
  while (unfrozen_ < target) unfreeze(module_, stages_[unfrozen_++]);
}

void GradualUnfreezing::attach(Trainer& trainer) {
  trainer.on_epoch_end([this](Trainer& t, const EpochSummary&) { update(t.epoch()); });
}

LinearProbeThenFinetune::LinearProbeThenFinetune(nn::Module& module, std::vector<std::string> head_patterns,
                                                 int64_t probe_epochs, double finetune_lr_scale)
    : module_(module), head_patterns_(std::move(head_patterns)), probe_epochs_(probe_epochs),
      lr_scale_(finetune_lr_scale) {
  TD_CHECK(probe_epochs_ >= 0, "mtl::LinearProbeThenFinetune: probe_epochs must be >= 0");
  if (probe_epochs_ > 0) {
    freeze(module_, {"*"});
    unfreeze(module_, head_patterns_);
  } else {
    fine_tuning_ = true;
  }
}

void LinearProbeThenFinetune::attach(Trainer& trainer) {
  trainer.on_epoch_end([this](Trainer& t, const EpochSummary&) {
    if (fine_tuning_ || t.epoch() < probe_epochs_) return;
    fine_tuning_ = true;
    unfreeze(module_, {"*"});
    // Lower the rate of every group holding a pretrained (non-head) parameter.
    const auto named = module_.named_parameters();
    for (auto& group : t.optimizer().param_groups()) {
      bool pretrained = false;
      for (const Tensor& p : group.params())
        for (const auto& [name, q] : named)
          if (q.is_same(p) && !matches_any(head_patterns_, name)) pretrained = true;
      if (pretrained) group.options().set_lr(group.options().get_lr() * lr_scale_);
    }
  });
}

std::vector<Tensor> add_task_head(MultiTaskModel& model, const std::string& name, nn::Sequential head) {
  const auto before = model.named_parameters();
  model.add_task(name, head);
  for (const auto& [key, p] : before) {
    Tensor t = p;
    t.requires_grad_(false);
    t.set_grad(Tensor());
  }
  std::vector<Tensor> added = head->parameters();
  for (Tensor& p : added) p.requires_grad_(true);
  return added;
}

}  // namespace tandem::mtl

// Cross-stitch networks (cross_stitch, Misra et al. 2016): one tower per task, all of the same structure, and
// after chosen stages of the towers a cross-stitch unit with a learnable α ∈ R^{T×T} that mixes the task
// activations before they enter the next stage:
//
//   h̃_t = Σ_j α[t, j] h_j        (h_j: task j's activation after the stage, all of the same shape)
//
// α starts near the identity: α[t, t] = self_weight (0.9), α[t, j≠t] = (1 − self_weight) / (T − 1). Then one
// head per task reads its tower's output.
//
// The tower factory returns an nn::Sequential whose children are the stages: any Tensor → Tensor modules,
// layers or nested Sequentials. CrossStitchOptions::stitch_after names the stages that a unit follows; by
// default a unit follows every stage.
//
//   auto tower = [] {
//     return nn::Sequential(nn::Linear(16, 32), nn::ReLU(), nn::Linear(32, 32), nn::ReLU());
//   };
//   mtl::CrossStitch model(std::vector<std::string>{"a", "b"}, tower,
//                          [](size_t) { return nn::Sequential(nn::Linear(32, 1)); },
//                          mtl::CrossStitchOptions().stitch_after({1, 3}));   // after each ReLU
//   // parameters: towers.a.0.weight, ..., stitches.0.alpha, stitches.1.alpha, heads.a.0.weight, ...
//
// Every task's output depends on every tower through α, so the towers (up to the last unit) and the units are
// shared; the heads, and the stages of tower t after the last unit, belong to task t alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "mtl/architectures/hps.h"
#include "nn/options.h"

namespace tandem::mtl {

struct CrossStitchOptions {
  /// The stages (indices of the tower's children) followed by a cross-stitch unit; empty means every stage.
  TANDEM_ARG(std::vector<size_t>, stitch_after) = {};
  /// α[t, t] at initialisation; the other entries of each row share 1 − self_weight equally.
  TANDEM_ARG(double, self_weight) = 0.9;
};

/// One cross-stitch unit: T activations of one shape in, T mixtures Σ_j α[t, j] h_j out.
class CrossStitchUnitImpl : public nn::Cloneable<CrossStitchUnitImpl> {
 public:
  CrossStitchUnitImpl(int64_t num_tasks, double self_weight = 0.9);
  /// α back to its initial value.
  void reset() override;
  /// activations[j]: task j's activation; all of the same shape, as many as tasks.
  std::vector<Tensor> forward(const std::vector<Tensor>& activations);
  /// "CrossStitchUnit(tasks=2, self_weight=0.9)".
  void pretty_print(std::ostream& os) const override;

  int64_t num_tasks;
  double self_weight;
  Tensor alpha;  ///< [T, T]: row t mixes the activations into task t's
};
TANDEM_MODULE(CrossStitchUnit);

/// Cross-stitch network: per-task towers joined by cross-stitch units after the chosen stages, then heads.
class CrossStitchImpl : public MultiTaskModel {
 public:
  CrossStitchImpl(std::vector<std::string> task_names, const ModuleFactory& tower_factory,
                  const TaskModuleFactory& head_factory, const CrossStitchOptions& options = {});

  std::vector<Tensor> forward(const Tensor& input) override;
  /// Task t's head and the stages of its tower after the last cross-stitch unit.
  std::vector<Tensor> task_parameters(size_t task) const override;
  /// "CrossStitch(tasks=[a, b], stages=2, stitch_after=[0, 1])".
  void pretty_print(std::ostream& os) const override;

  /// Number of stages (children) in each tower.
  size_t num_stages() const { return num_stages_; }
  /// The stages followed by a unit, ascending.
  const std::vector<size_t>& stitched_stages() const { return stitched_; }

  CrossStitchOptions options;
  /// The towers and the heads by task name; the units in stage order.
  nn::ModuleDict towers;
  nn::ModuleList stitches;
  nn::ModuleDict heads;

 private:
  std::vector<nn::Sequential> tower_list_;  // [task]; its children are the stages
  std::vector<CrossStitchUnit> units_;      // one per entry of stitched_
  std::vector<nn::Sequential> head_list_;
  size_t num_stages_ = 0;
  std::vector<size_t> stitched_;
};
TANDEM_MODULE(CrossStitch);

}  // namespace tandem::mtl

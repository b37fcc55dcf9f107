// Progressive layered extraction (ple, Tang et al. 2020): CGC layers (cgc.h) stacked into levels. At level l
// each task t has an input x_t^l and the shared experts have a shared input x_s^l (all x at level 0); task t's
// gate mixes the shared experts and t's private experts into x_t^{l+1}; below the last level a shared gate
// mixes every expert of the level (shared and all private ones) into x_s^{l+1}. Task t's tower reads its gate
// output of the last level.
//
// Experts come from a factory of the level, `expert_factory(level)` (level 0, 1, ...): experts of level 0 read
// the input; experts of level l >= 1 read a mixture of level l − 1's expert outputs, which has
// `expert_features` values per sample (the gates of those levels read that many). So typically
//
//   auto expert = [](int64_t level) {
//     return nn::Sequential(nn::Linear(level == 0 ? 100 : 16, 16), nn::ReLU());
//   };
//   mtl::PLE model(std::vector<std::string>{"a", "b"}, expert, tower_factory,
//                  mtl::PLEOptions(/*input_features=*/100, /*expert_features=*/16, /*num_levels=*/2,
//                                  /*num_shared_experts=*/2, /*num_task_experts=*/1));
//   // parameters: levels.0.shared_experts.0.0.weight, ..., levels.0.task_experts.a.0.0.weight, ...,
//   //             levels.0.gates.a.weight, ..., levels.0.shared_gate.weight, ..., towers.b.0.bias
//
// Which parameters belong to one task follows the data flow: below the last level every private expert also
// feeds the shared gate, and so reaches every task. Task t's own parameters are its tower, its gates of the
// last two levels and its private experts of the last level; everything else is shared. (With one level, PLE
// is CGC.)
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "mtl/architectures/cgc.h"
#include "nn/options.h"

namespace tandem::mtl {

/// Builds a fresh expert for a level (0-based): level 0 experts read the input, later ones an expert output.
using LevelModuleFactory = std::function<nn::Sequential(int64_t level)>;

struct PLEOptions {
  PLEOptions(int64_t input_features, int64_t expert_features, int64_t num_levels, int64_t num_shared_experts,
             int64_t num_task_experts)
      : input_features_(input_features),
        expert_features_(expert_features),
        num_levels_(num_levels),
        num_shared_experts_(num_shared_experts),
        num_task_experts_(num_task_experts) {}
  /// Values per sample of the (flattened) input, which the level-0 gates read.
  TANDEM_ARG(int64_t, input_features);
  /// Values per sample of an expert's output, which the gates of levels >= 1 read.
  TANDEM_ARG(int64_t, expert_features);
  TANDEM_ARG(int64_t, num_levels);
  /// Shared experts per level.
  TANDEM_ARG(int64_t, num_shared_experts);
  /// Private experts of each task, per level.
  TANDEM_ARG(int64_t, num_task_experts);
};

/// The gate weights of one level.
struct PLELevelGates {
  std::vector<Tensor> task;  ///< per task: [N, S + P], shared experts first
  Tensor shared;             ///< [N, S + T·P]; undefined at the last level
};

/// Progressive layered extraction: `num_levels` extraction layers, then per-task towers.
class PLEImpl : public MultiTaskModel {
 public:
  PLEImpl(std::vector<std::string> task_names, const LevelModuleFactory& expert_factory,
          const TaskModuleFactory& tower_factory, const PLEOptions& options);

  std::vector<Tensor> forward(const Tensor& input) override;
  /// The gate weights of every level on a batch (each row sums to 1).
  std::vector<PLELevelGates> gate_weights(const Tensor& input);

  /// Task t's tower, gates of the last two levels and private experts of the last level (see the top).
  std::vector<Tensor> task_parameters(size_t task) const override;
  /// The last layer of every shared expert of the last level.
  std::vector<Tensor> last_shared_parameters() const override;
  /// "PLE(tasks=[a, b], levels=2, shared_experts=2, task_experts=1, input_features=100, expert_features=16)".
  void pretty_print(std::ostream& os) const override;

  PLEOptions options;
  /// The extraction layers, level 0 first.
  nn::ModuleList levels;
  nn::ModuleDict towers;

 private:
  std::vector<Tensor> run(const Tensor& input, std::vector<PLELevelGates>* gates);
  std::vector<ExtractionLayer> level_list_;
  std::vector<nn::Sequential> tower_list_;
};
TANDEM_MODULE(PLE);

}  // namespace tandem::mtl

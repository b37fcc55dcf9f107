// Multi-task attention network (mtan, Liu et al. 2019): a shared network cut into stages, and for every task,
// at every stage, an attention module that selects from the shared features what the task needs:
//
//   u_s = stage_s(u_{s−1})                   (u_{−1} = x; the shared features)
//   m_t,s = sigmoid(att_t,s(u_0))                         for s = 0
//   m_t,s = sigmoid(att_t,s(cat(u_s, a_t,s−1; dim 1)))    for s >= 1
//   a_t,s = m_t,s ⊙ u_s                      (task t's attended features; the mask has u_s's shape)
//   y_t = head_t(a_t,last)
//
// The attention modules come from a factory `attention(stage, in_channels, out_channels)`; it returns the
// module that computes the mask's logits (MTAN applies the sigmoid). in_channels is C_0 at stage 0 and
// C_s + C_{s−1} after, out_channels is C_s, where C_s = MTANOptions::stage_channels[s] is the size of dim 1 of
// stage s's output. The default, linear_attention(), is one Linear layer, for [N, C] features. For images
// ([N, C, H, W] features) pass conv_attention(): 1×1 convolutions, as in the paper,
//   Conv2d(in, out, 1) → BatchNorm2d(out) → ReLU → Conv2d(out, out, 1) → BatchNorm2d(out)   (then the sigmoid);
// or any factory of your own of that signature. When a stage lowers the resolution, a_t,s−1 is average-pooled
// to the resolution of u_s before the concatenation (the sizes must divide).
//
//   std::vector<nn::Sequential> stages{nn::Sequential(nn::Linear(16, 32), nn::ReLU()),
//                                      nn::Sequential(nn::Linear(32, 32), nn::ReLU())};
//   mtl::MTAN model(std::vector<std::string>{"a", "b"}, stages,
//                   [](size_t) { return nn::Sequential(nn::Linear(32, 1)); }, mtl::MTANOptions({32, 32}));
//   // parameters: stages.0.0.weight, ..., attention.a.0.0.weight, ..., attention.b.1.0.bias, heads.a.0.weight
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "mtl/architectures/hps.h"
#include "nn/options.h"

namespace tandem::mtl {

/// Builds the attention module (its mask logits) of one task at one stage.
using AttentionFactory = std::function<nn::Sequential(size_t stage, int64_t in_channels, int64_t out_channels)>;

/// Linear(in_channels, out_channels): attention for [N, C] features.
AttentionFactory linear_attention();
/// Conv2d(in, out, 1) → BatchNorm2d(out) → ReLU → Conv2d(out, out, 1) → BatchNorm2d(out): attention for
/// [N, C, H, W] features.
AttentionFactory conv_attention();

struct MTANOptions {
  explicit MTANOptions(std::vector<int64_t> stage_channels) : stage_channels_(std::move(stage_channels)) {}
  /// C_s: the size of dim 1 of each stage's output, one per stage.
  TANDEM_ARG(std::vector<int64_t>, stage_channels);
};

/// Multi-task attention network: shared stages, per-task attention masks at every stage, per-task heads.
class MTANImpl : public MultiTaskModel {
 public:
  MTANImpl(std::vector<std::string> task_names, std::vector<nn::Sequential> stages,
           const TaskModuleFactory& head_factory, const MTANOptions& options,
           const AttentionFactory& attention_factory = linear_attention());

  std::vector<Tensor> forward(const Tensor& input) override;
  /// The shared stages, task t's attention modules and head.
  Tensor forward_task(const Tensor& input, size_t task) override;
  /// masks[t][s]: the mask of task t at stage s on a batch (values in (0, 1), the shape of stage s's output).
  std::vector<std::vector<Tensor>> masks(const Tensor& input);

  /// Task t's attention modules and head.
  std::vector<Tensor> task_parameters(size_t task) const override;
  /// "MTAN(tasks=[a, b], stages=2, stage_channels=[32, 32])".
  void pretty_print(std::ostream& os) const override;

  size_t num_stages() const { return stage_list_.size(); }

  MTANOptions options;
  /// The shared stages, in order.
  nn::ModuleList stages;
  /// Per task name: a ModuleList of its attention modules, one per stage.
  nn::ModuleDict attention;
  nn::ModuleDict heads;

 private:
  /// Runs the stages and the attention of the tasks in `tasks`; fills `masks` ([task][stage]) when given.
  std::vector<Tensor> run(const Tensor& input, const std::vector<size_t>& tasks,
                          std::vector<std::vector<Tensor>>* masks);
  std::vector<nn::Sequential> stage_list_;
  std::vector<std::vector<nn::Sequential>> attention_list_;  // [task][stage]
  std::vector<nn::Sequential> head_list_;
};
TANDEM_MODULE(MTAN);

}  // namespace tandem::mtl

// The interface every multi-task model implements, whatever its architecture (mtl/architectures/) — and what
// the weighting methods and the trainer rely on:
//  - forward(x): one output per task, in task order;
//  - task_parameters(t): what belongs to task t alone (its head, tower, gate...); everything else is shared;
//  - last_shared_parameters(): GradNorm's "last shared layer" and the cheap scope of gradient methods;
//  - encode/decode, for models with a single shared representation z = encode(x): decode(z, x) gives the task
//    outputs. Gradient methods "on the representation" (MGDA-UB, GradDrop...) differentiate with respect to z.
//  - regularization(): an extra term added to the training loss (soft sharing's L2 tie between towers).
//
// Writing your own: derive from MultiTaskModel, register the modules as usual, implement forward and
// task_parameters, and override the rest where it applies.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/modules/container.h"
#include "tensor/tensor.h"

namespace tandem::mtl {

class MultiTaskModel : public nn::Module {
 public:
  explicit MultiTaskModel(std::vector<std::string> task_names);

  const std::vector<std::string>& task_names() const { return task_names_; }
  size_t num_tasks() const { return task_names_.size(); }
  /// The index of the task with this name (a tandem::Error naming the known tasks when there is none).
  size_t task_index(const std::string& name) const;

  /// One output per task, in task order. By default decode(encode(x), x).
  virtual std::vector<Tensor> forward(const Tensor& input);
  /// The output of one task only; by default forward(input)[task]. Models whose towers are independent
  /// override it so that multi-input problems (one loader per task) do not run every head on every batch.
  virtual Tensor forward_task(const Tensor& input, size_t task);

  /// Whether encode/decode are available (a single shared representation).
  virtual bool has_representation() const { return false; }
  /// The shared representation of a batch.
  virtual Tensor encode(const Tensor& input);
  /// The task outputs from the representation (and the input, for gates that look at it).
  virtual std::vector<Tensor> decode(const Tensor& representation, const Tensor& input);

  /// The parameters that only task t uses.
  virtual std::vector<Tensor> task_parameters(size_t task) const = 0;
  /// The parameters shared by the tasks: by default every parameter that no task_parameters(t) lists, in
  /// registration order.
  virtual std::vector<Tensor> shared_parameters() const;
  /// The parameters of the last shared layer. By default: the shared parameters of the module that owns the
  /// last shared parameter (e.g. "encoder.4." for "encoder.4.bias").
  virtual std::vector<Tensor> last_shared_parameters() const;
  /// An extra loss term added to the sum of task losses (undefined when there is none).
  virtual Tensor regularization() { return {}; }

  /// Adds a task with its own head on top of what the model shares (transfer learning: a new task for a trained
  /// model). Architectures that support it override this; the default throws a tandem::Error naming the model.
  virtual void add_task(const std::string& name, nn::Sequential head);

  /// Names of the shared parameters, in the order of shared_parameters() (for per-layer diagnostics).
  std::vector<std::string> shared_parameter_names() const;

 protected:
  std::vector<std::string> task_names_;
};

}  // namespace tandem::mtl

// Task weighting: how the T task losses of a step become the gradients of the model. Two families share one
// interface, so the trainer treats them alike:
//  - LossWeighting (ew, fixed, uw, dwa, rlw, gls, gradnorm, famo): combine() builds one scalar loss from the task
//    losses, and one backward pass of it fills every .grad.
//  - GradientWeighting (mgda, pcgrad, cagrad, gradvac, imtl, aligned_mtl, nash_mtl, db_mtl, upgrad, graddrop):
//    one backward per task fills the T x D matrix G of per-task gradients of the shared part (mtl/task_gradients.h),
//    combine() turns it — usually only its T x T Gramian K — into the shared gradient, and each task's own
//    parameters keep their plain task gradient.
// What "shared" means for a gradient method is its scope: all shared parameters (default), the last shared layer
// (K from that layer only; the combination weights are then applied to all shared parameters) or the shared
// representation (z = encode(x); the gradient of z is combined and then back-propagated through the encoder).
//
// A weighting is an nn::Module: its learnable parameters (UW's log-variances, GradNorm's weights) are trained
// by the model's optimizer (the trainer adds them as a parameter group), and its state (DWA's loss history,
// GradVac's targets, FAMO's logits, DB-MTL's moving averages) lives in parameters and buffers, so it is saved
// and restored with the checkpoint.
//
// Methods are made by name from a registry: mtl::make_weighting("cagrad:c=0.4", num_tasks). Options follow the
// name after ':' as key=value pairs separated by ','. Every method accepts `scope` where it applies
// (params | last | rep) and rejects options it does not know.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mtl/model.h"
#include "mtl/task_gradients.h"
#include "nn/module.h"
#include "tensor/tensor.h"

namespace tandem::mtl {

/// What counts as shared for a gradient method.
enum class SharedScope { kParameters, kLastSharedLayer, kRepresentation };
SharedScope parse_scope(const std::string& text);
const char* scope_name(SharedScope scope);

/// Options of a weighting method: key=value pairs, each read by the method with a default.
class WeightingOptions {
 public:
  WeightingOptions() = default;
  WeightingOptions(std::initializer_list<std::pair<const std::string, std::string>> values) : values_(values) {}
  /// Parses "c=0.4,scope=rep" (an empty string gives no options).
  static WeightingOptions parse(const std::string& text);
  WeightingOptions& set(const std::string& key, const std::string& value);
  WeightingOptions& set(const std::string& key, double value);
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  /// The value of `key` as a number, or `fallback` when unset (a tandem::Error naming the method when the value
  /// is not a number).
  double number(const std::string& method, const std::string& key, double fallback) const;
  std::string text(const std::string& key, const std::string& fallback) const;
  /// Throws a tandem::Error naming the method, the unknown key and the known ones.
  void check_known(const std::string& method, const std::vector<std::string>& known) const;
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

/// Everything a weighting sees in one training step.
struct StepContext {
  StepContext(MultiTaskModel& model_, std::vector<Tensor> losses_, Tensor representation_ = {},
              Tensor representation_leaf_ = {})
      : model(model_), losses(std::move(losses_)), representation(std::move(representation_)),
        representation_leaf(std::move(representation_leaf_)) {}
  MultiTaskModel& model;
  /// The task losses of the step (scalars, attached to the graph), in task order.
  std::vector<Tensor> losses;
  /// With a representation scope: z = model.encode(x) (attached to the encoder's graph) and the detached leaf
  /// that the heads were run on (see mtl::forward_for). Undefined otherwise.
  Tensor representation;
  Tensor representation_leaf;
  /// Extra term added to the combined loss (e.g. the model's regularization()); undefined when none.
  Tensor extra_loss;
  int64_t epoch = 0;
  int64_t step = 0;
};

/// Per-step information a weighting records for diagnostics.
struct WeightingReport {
  /// The effective weight of each task's loss/gradient this step.
  std::vector<double> weights;
  /// The per-task gradients of the step (gradient methods only; undefined otherwise). Valid until the next step.
  const TaskGradients* gradients = nullptr;
};

class Weighting : public nn::Module {
 public:
  Weighting(std::string method, size_t num_tasks);
  /// The registry name ("ew", "pcgrad"...).
  const std::string& method() const { return method_; }
  size_t num_tasks() const { return num_tasks_; }

  /// Back-propagates one step: afterwards every trainable parameter reached by the losses (the model's and this
  /// weighting's) has its .grad (accumulated, as backward does). Returns the weights used.
  virtual WeightingReport backward(StepContext& context) = 0;

  /// Whether the forward pass must go through encode/decode with a detached representation.
  virtual bool uses_representation() const { return false; }
  /// Called after optimizer.step() (e.g. GradNorm's renormalisation).
  virtual void after_step() {}
  /// Whether after_step_losses() wants the task losses of the same batch recomputed after the step (FAMO).
  virtual bool needs_losses_after_step() const { return false; }
  virtual void after_step_losses(const std::vector<double>& /*losses_after*/) {}
  /// Called at the end of each training epoch with the epoch-mean training loss of each task (DWA).
  virtual void end_epoch(const std::vector<double>& /*mean_losses*/) {}

  void pretty_print(std::ostream& os) const override;

 protected:
  /// Checks that there is one loss per task, each a one-element tensor (naming the method).
  void check_losses(const std::vector<Tensor>& losses) const;

 private:
  std::string method_;
  size_t num_tasks_;
};

/// Methods that back-propagate one combined loss.
class LossWeighting : public Weighting {
 public:
  using Weighting::Weighting;
  WeightingReport backward(StepContext& context) override;

 protected:
  /// The combined loss of the step; `weights` receives the effective task weights.
  virtual Tensor combine(StepContext& context, std::vector<double>& weights) = 0;
};

/// What a gradient method returns: the task weights α (the shared gradient is then Σ α_t g_t) or, for methods
/// that are not a linear combination of this step's gradients, the shared gradient itself ([D]) — in which case
/// `weights` are only reported.
struct GradientCombination {
  std::vector<double> weights;
  Tensor direction;
};

/// What a gradient method sees.
struct GradientInputs {
  const TaskGradients& gradients;
  /// K = G Gᵀ over the scope's columns, [T, T] float64 on the CPU.
  const Tensor& gramian;
  /// The task losses' values (after transform_losses).
  const std::vector<double>& losses;
  /// Columns [scope_begin, scope_end) of G form the scope (all of them except for kLastSharedLayer).
  int64_t scope_begin, scope_end;
  /// With a representation scope, z (for GradDrop's sign(z)); undefined otherwise.
  const Tensor& representation;
};

/// Methods that combine per-task gradients of the shared part.
class GradientWeighting : public Weighting {
 public:
  GradientWeighting(std::string method, size_t num_tasks, SharedScope scope);
  SharedScope scope() const { return scope_; }
  bool uses_representation() const override { return scope_ == SharedScope::kRepresentation; }
  WeightingReport backward(StepContext& context) override;

 protected:
  virtual GradientCombination combine(const GradientInputs& inputs) = 0;
  /// Maps the task losses before their gradients are taken (IMTL's scaling, DB-MTL's logarithm). Identity by
  /// default. Parameters of this weighting used here receive the gradient of Σ_t transformed_t.
  virtual std::vector<Tensor> transform_losses(const std::vector<Tensor>& losses) { return losses; }

 private:
  SharedScope scope_;
  TaskGradients gradients_;
};

// ---- the registry -------------------------------------------------------------------------------------------

using WeightingFactory = std::function<std::shared_ptr<Weighting>(size_t num_tasks, const WeightingOptions& options)>;

/// Adds (or replaces) a method under `name`.
void register_weighting(const std::string& name, WeightingFactory factory);
/// Makes a method from "name" or "name:key=value,key=value" (a tandem::Error listing the known names when the
/// name is unknown).
std::shared_ptr<Weighting> make_weighting(const std::string& spec, size_t num_tasks);
std::shared_ptr<Weighting> make_weighting(const std::string& name, size_t num_tasks, const WeightingOptions& options);
/// The registered names, sorted.
std::vector<std::string> weighting_names();
/// Whether the method combines per-task gradients (costs T backward passes).
bool is_gradient_method(const std::string& name);

namespace detail {
/// What the built-in method lists (mtl/weighting/builtin_*.cpp) use to fill the registry.
void add_builtin_weighting(const std::string& name, WeightingFactory factory);
}  // namespace detail

// ---- forward helper -----------------------------------------------------------------------------------------

struct ForwardResult {
  std::vector<Tensor> outputs;
  /// z and the detached leaf the heads ran on, when the weighting uses the representation.
  Tensor representation, representation_leaf;
};

/// The model's forward as the weighting needs it: plain forward, or encode → detach → decode for methods on the
/// representation (a tandem::Error when the model has no single representation).
ForwardResult forward_for(const Weighting& weighting, MultiTaskModel& model, const Tensor& input);

}  // namespace tandem::mtl

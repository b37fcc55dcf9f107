// Hard parameter sharing (hps): one encoder shared by every task, then one head per task — the baseline that the
// other architectures are measured against.
//
//   auto encoder = nn::Sequential(nn::Linear(16, 32), nn::ReLU());
//   mtl::HPS model(std::vector<std::string>{"left", "right"}, encoder,
//                  [](size_t) { return nn::Sequential(nn::Linear(32, 10)); });
//   auto outputs = model->forward(x);  // {left logits, right logits}
//   // parameters: encoder.0.weight, encoder.0.bias, heads.left.0.weight, ..., heads.right.0.bias
//
// This header also holds what every architecture of mtl/architectures/ is built from: the factory types that
// make the per-task and per-expert modules, and the helpers that build, check and name them.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "mtl/model.h"
#include "nn/modules/container.h"

namespace tandem::mtl {

/// Builds a fresh module (an expert, a tower, an encoder) each time it is called. Every call must return new
/// modules with their own parameters: the architectures check that no parameter is registered twice.
using ModuleFactory = std::function<nn::Sequential()>;
/// Builds the module of one task (a head or a tower) from the task's index in task order, so that tasks may
/// differ (e.g. 10 classes for one, a scalar for another).
using TaskModuleFactory = std::function<nn::Sequential(size_t task)>;

namespace detail {

/// The modules of the tasks, one per task in task order, and the ModuleDict (keyed by task name) they are
/// registered in.
struct TaskModules {
  nn::ModuleDict dict;
  std::vector<nn::Sequential> list;
};

/// Throws unless a task name can name a module (non-empty, no '.').
void check_task_name(const std::string& architecture, const std::string& name);

/// Calls factory(t) for every task; `what` names the modules in errors ("head", "tower").
TaskModules make_task_modules(const std::string& architecture, const std::vector<std::string>& task_names,
                              const TaskModuleFactory& factory, const std::string& what);
/// Wraps modules given one per task (in task order) into a TaskModules, checking their number.
TaskModules wrap_task_modules(const std::string& architecture, const std::vector<std::string>& task_names,
                              std::vector<nn::Sequential> modules, const std::string& what);
/// Calls factory() `count` times and registers the results in a ModuleList.
std::pair<nn::ModuleList, std::vector<nn::Sequential>> make_module_list(const std::string& architecture,
                                                                        int64_t count, const ModuleFactory& factory,
                                                                        const std::string& what);

/// Throws (naming the architecture) when one parameter tensor is registered twice in `model` — a factory that
/// returned the same module on two calls, or a module passed in twice.
void check_distinct_parameters(const std::string& architecture, const nn::Module& model);

/// Throws unless `input` is defined and has a batch dimension.
void check_batched_input(const std::string& architecture, const Tensor& input);

/// The parameters of the module that owns the last parameter of `module` (its last layer), e.g. those of
/// "2." for a Sequential whose last parameter is "2.bias". Empty when the module has no parameters.
std::vector<Tensor> last_layer_parameters(const nn::Module& module);

/// Appends the parameters of `module` to `out`.
void append_parameters(std::vector<Tensor>& out, const nn::Module& module);

/// "[a, b, c]".
std::string join_names(const std::vector<std::string>& names);

/// Runs `fn`; a tandem::Error it throws that does not already name the architecture is rethrown as
/// "<architecture>: input of shape [..]: <original message>", so that a wrong input shape deep inside a user's
/// encoder still says which model it reached.
template <typename Fn>
auto with_input_context(const std::string& architecture, const Tensor& input, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error& error) {
    const std::string message = error.what();
    if (message.compare(0, architecture.size(), architecture) == 0) throw;
    if (input.defined())
      throw Error(tandem::detail::concat(architecture, ": input of shape ", input.sizes(), ": ", message));
    throw Error(tandem::detail::concat(architecture, ": ", message));
  }
}

}  // namespace detail

/// Hard parameter sharing: outputs[t] = head_t(encoder(x)). The representation is z = encoder(x).
class HPSImpl : public MultiTaskModel {
 public:
  /// `heads` holds one module per task, in task order.
  HPSImpl(std::vector<std::string> task_names, nn::Sequential encoder, std::vector<nn::Sequential> heads);
  /// `head_factory(t)` builds the head of task t.
  HPSImpl(std::vector<std::string> task_names, nn::Sequential encoder, const TaskModuleFactory& head_factory);

  std::vector<Tensor> forward(const Tensor& input) override;
  /// head_t(encoder(x)) without running the other heads.
  Tensor forward_task(const Tensor& input, size_t task) override;

  bool has_representation() const override { return true; }
  /// encoder(x).
  Tensor encode(const Tensor& input) override;
  /// head_t(z) for every task (the input is not used).
  std::vector<Tensor> decode(const Tensor& representation, const Tensor& input) override;

  /// The parameters of task t's head.
  std::vector<Tensor> task_parameters(size_t task) const override;
  /// Adds task `name` (last in task order) with `head` on top of the shared encoder; registered as
  /// heads.<name>. Throws when the name is taken or the head shares parameters with the model.
  void add_task(const std::string& name, nn::Sequential head) override;
  /// "HPS(tasks=[left, right])".
  void pretty_print(std::ostream& os) const override;

  nn::Sequential encoder;
  /// The heads, by task name.
  nn::ModuleDict heads;

 private:
  void register_all(detail::TaskModules heads);
  std::vector<nn::Sequential> head_list_;
};
TANDEM_MODULE(HPS);

}  // namespace tandem::mtl

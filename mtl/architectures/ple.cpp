// PLE: extraction layers stacked into levels, with shared gates between them, then per-task towers.
#include "mtl/architectures/ple.h"

namespace tandem::mtl {

PLEImpl::PLEImpl(std::vector<std::string> task_names, const LevelModuleFactory& expert_factory,
                 const TaskModuleFactory& tower_factory, const PLEOptions& opts)
    : MultiTaskModel(std::move(task_names)), options(opts) {
  TD_CHECK(options.num_levels() >= 1, "PLE: num_levels must be >= 1, got ", options.num_levels());
  TD_CHECK(options.expert_features() >= 1, "PLE: expert_features must be >= 1, got ", options.expert_features());
  TD_CHECK(static_cast<bool>(expert_factory), "PLE: the expert factory is empty");
  for (int64_t level = 0; level < options.num_levels(); ++level) {
    const bool last = level + 1 == options.num_levels();
    ExtractionLayer layer("PLE", level, task_names_, level == 0 ? options.input_features() : options.expert_features(),
                          options.num_shared_experts(), options.num_task_experts(),
                          [&expert_factory, level] { return expert_factory(level); }, /*with_shared_gate=*/!last);
    levels->push_back(layer);
    level_list_.push_back(layer);
  }
  register_module("levels", levels);
  auto task_towers = detail::make_task_modules("PLE", task_names_, tower_factory, "tower");
  towers = register_module("towers", task_towers.dict);
  tower_list_ = std::move(task_towers.list);
  detail::check_distinct_parameters("PLE", *this);
}

std::vector<Tensor> PLEImpl::run(const Tensor& input, std::vector<PLELevelGates>* gates) {
  detail::check_batched_input("PLE", input);
  return detail::with_input_context("PLE", input, [&] {
    std::vector<Tensor> task_inputs(num_tasks(), input);
    Tensor shared_input = input;
    for (auto& layer : level_list_) {
      auto out = layer->forward(task_inputs, shared_input);
      if (gates) gates->push_back(PLELevelGates{out.task_gates, out.shared_gate_weights});
      task_inputs = std::move(out.task_outputs);
      shared_input = out.shared_output;
    }
    std::vector<Tensor> outputs;
    for (size_t t = 0; t < num_tasks(); ++t) outputs.push_back(tower_list_[t]->forward(task_inputs[t]));
    return outputs;
  });
}

std::vector<Tensor> PLEImpl::forward(const Tensor& input) { return run(input, nullptr); }

std::vector<PLELevelGates> PLEImpl::gate_weights(const Tensor& input) {
  std::vector<PLELevelGates> gates;
  run(input, &gates);
  return gates;
}

std::vector<Tensor> PLEImpl::task_parameters(size_t task) const {
  TD_CHECK(task < num_tasks(), "PLE: task ", task, " is out of range for ", num_tasks(), " tasks");
  const size_t L = level_list_.size();
  std::vector<Tensor> params;
  // Task gates of level L−2 feed only task t's inputs of the last level, which has no shared gate.
  if (L >= 2) detail::append_parameters(params, *level_list_[L - 2]->task_gate(task));
  detail::append_parameters(params, *level_list_[L - 1]->task_expert_list(task));
  detail::append_parameters(params, *level_list_[L - 1]->task_gate(task));
  detail::append_parameters(params, *tower_list_[task]);
  return params;
}

std::vector<Tensor> PLEImpl::last_shared_parameters() const {
  std::vector<Tensor> params;
  for (const auto& expert : *level_list_.back()->shared_experts)
    for (const Tensor& p : detail::last_layer_parameters(*expert)) params.push_back(p);
  TD_CHECK(!params.empty(), "PLE: the shared experts of the last level have no parameters (num_shared_experts = ",
           options.num_shared_experts(), ")");
  return params;
}

void PLEImpl::pretty_print(std::ostream& os) const {
  os << "PLE(tasks=" << detail::join_names(task_names_) << ", levels=" << options.num_levels()
     << ", shared_experts=" << options.num_shared_experts() << ", task_experts=" << options.num_task_experts()
     << ", input_features=" << options.input_features() << ", expert_features=" << options.expert_features() << ")";
}

}  // namespace tandem::mtl

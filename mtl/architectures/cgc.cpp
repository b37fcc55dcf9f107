// CGC: the extraction layer (shared + private experts, per-task gates, an optional shared gate) and the
// one-layer model built on it.
#include "mtl/architectures/cgc.h"

#include "tensor/functions.h"

namespace tandem::mtl {

// ---- ExtractionLayer ------------------------------------------------------------------------------------------

ExtractionLayerImpl::ExtractionLayerImpl(std::string architecture, int64_t level, std::vector<std::string> task_names,
                                         int64_t gate_input_features, int64_t num_shared_experts,
                                         int64_t num_task_experts, const ModuleFactory& expert_factory,
                                         bool with_shared_gate)
    : architecture_(std::move(architecture)),
      level_(level),
      task_names_(std::move(task_names)),
      features_(gate_input_features),
      num_shared_(num_shared_experts),
      num_private_(num_task_experts) {
  TD_CHECK(!task_names_.empty(), architecture_, ": needs at least one task");
  TD_CHECK(features_ >= 1, architecture_, ": the gates' input_features must be >= 1, got ", features_);
  TD_CHECK(num_shared_ >= 0 && num_private_ >= 0, architecture_, ": expert counts must be >= 0, got ", num_shared_,
           " shared and ", num_private_, " per task");
  TD_CHECK(num_shared_ + num_private_ >= 1, architecture_, ": a task gate needs at least one expert to weigh");
  auto [list, modules] = detail::make_module_list(architecture_, num_shared_, expert_factory, "expert");
  shared_experts = register_module("shared_experts", list);
  shared_list_ = std::move(modules);
  for (const auto& name : task_names_) {
    auto [task_list, task_modules] = detail::make_module_list(architecture_, num_private_, expert_factory, "expert");
    task_experts->insert(name, task_list);
    task_expert_lists_.push_back(task_list);
    private_lists_.push_back(std::move(task_modules));
  }
  register_module("task_experts", task_experts);
  for (const auto& name : task_names_) {
    nn::Linear gate(features_, num_shared_ + num_private_);
    gates->insert(name, gate);
    gate_list_.push_back(gate);
  }
  register_module("gates", gates);
  if (with_shared_gate) {
    const int64_t all = num_shared_ + static_cast<int64_t>(task_names_.size()) * num_private_;
    shared_gate = register_module("shared_gate", nn::Linear(features_, all));
  }
}

Tensor ExtractionLayerImpl::run_gate(nn::Linear& gate, const Tensor& input, const std::string& which) {
  const std::string where = "the " + which + " input of level " + std::to_string(level_);
  return gate->forward(detail::flatten_gate_input(architecture_, input, features_, where)).softmax(-1);
}

namespace {
/// Stacks expert outputs along dim 1, checking that they agree (naming the architecture and level).
Tensor stack_experts(const std::string& architecture, int64_t level, const std::vector<Tensor>& outputs) {
  for (size_t e = 1; e < outputs.size(); ++e)
    TD_CHECK(outputs[e].sizes() == outputs[0].sizes(), architecture, ": at level ", level,
             " the experts return different shapes (", outputs[0].sizes(), " and ", outputs[e].sizes(),
             "); every expert must give the same shape");
  return stack(outputs, 1);
}
}  // namespace

ExtractionLayerImpl::Output ExtractionLayerImpl::forward(const std::vector<Tensor>& task_inputs,
                                                         const Tensor& shared_input, std::optional<size_t> task) {
  const size_t T = task_names_.size();
  TD_CHECK(task_inputs.size() == T, architecture_, ": level ", level_, " got ", task_inputs.size(),
           " task inputs for ", T, " tasks");
  TD_CHECK(!task || *task < T, architecture_, ": task ", task.value_or(0), " is out of range for ", T, " tasks");
  std::vector<Tensor> shared_out;
  for (auto& expert : shared_list_) shared_out.push_back(expert->forward(shared_input));
  std::vector<std::vector<Tensor>> private_out(T);
  for (size_t t = 0; t < T; ++t)
    if (!task || t == *task)
      for (auto& expert : private_lists_[t]) private_out[t].push_back(expert->forward(task_inputs[t]));

  Output out;
  out.task_outputs.resize(T);
  out.task_gates.resize(T);
  for (size_t t = 0; t < T; ++t) {
    if (task && t != *task) continue;
    std::vector<Tensor> mine = shared_out;
    mine.insert(mine.end(), private_out[t].begin(), private_out[t].end());
    out.task_gates[t] = run_gate(gate_list_[t], task_inputs[t], "task '" + task_names_[t] + "' gate's");
    out.task_outputs[t] = mix_experts(stack_experts(architecture_, level_, mine), out.task_gates[t]);
  }
  if (has_shared_gate() && !task) {
    std::vector<Tensor> all = shared_out;
    for (size_t t = 0; t < T; ++t) all.insert(all.end(), private_out[t].begin(), private_out[t].end());
    out.shared_gate_weights = run_gate(shared_gate, shared_input, "shared gate's");
    out.shared_output = mix_experts(stack_experts(architecture_, level_, all), out.shared_gate_weights);
  }
  return out;
}

void ExtractionLayerImpl::pretty_print(std::ostream& os) const {
  os << "ExtractionLayer(level=" << level_ << ", shared_experts=" << num_shared_ << ", task_experts=" << num_private_
     << ", shared_gate=" << (has_shared_gate() ? "true" : "false") << ")";
}

// ---- CGC ------------------------------------------------------------------------------------------------------

CGCImpl::CGCImpl(std::vector<std::string> task_names, const ModuleFactory& expert_factory,
                 const TaskModuleFactory& tower_factory, const CGCOptions& opts)
    : MultiTaskModel(std::move(task_names)),
      options(opts),
      layer_("CGC", 0, task_names_, opts.input_features(), opts.num_shared_experts(), opts.num_task_experts(),
             expert_factory, /*with_shared_gate=*/false) {
  // The layer's modules are registered on the model itself, so that the names read shared_experts.0..., not
  // layer.shared_experts.0...; the layer object only runs them.
  shared_experts = register_module("shared_experts", layer_->shared_experts);
  task_experts = register_module("task_experts", layer_->task_experts);
  gates = register_module("gates", layer_->gates);
  auto task_towers = detail::make_task_modules("CGC", task_names_, tower_factory, "tower");
  towers = register_module("towers", task_towers.dict);
  tower_list_ = std::move(task_towers.list);
  detail::check_distinct_parameters("CGC", *this);
}

ExtractionLayerImpl::Output CGCImpl::run_layer(const Tensor& input, std::optional<size_t> task) {
  detail::check_batched_input("CGC", input);
  return detail::with_input_context("CGC", input, [&] {
    return layer_->forward(std::vector<Tensor>(num_tasks(), input), input, task);
  });
}

std::vector<Tensor> CGCImpl::forward(const Tensor& input) {
  auto out = run_layer(input, std::nullopt);
  return detail::with_input_context("CGC", input, [&] {
    std::vector<Tensor> outputs;
    for (size_t t = 0; t < num_tasks(); ++t) outputs.push_back(tower_list_[t]->forward(out.task_outputs[t]));
    return outputs;
  });
}

Tensor CGCImpl::forward_task(const Tensor& input, size_t task) {
  TD_CHECK(task < num_tasks(), "CGC: task ", task, " is out of range for ", num_tasks(), " tasks");
  auto out = run_layer(input, task);
  return detail::with_input_context("CGC", input, [&] { return tower_list_[task]->forward(out.task_outputs[task]); });
}

std::vector<Tensor> CGCImpl::gate_weights(const Tensor& input) { return run_layer(input, std::nullopt).task_gates; }

std::vector<Tensor> CGCImpl::task_parameters(size_t task) const {
  TD_CHECK(task < num_tasks(), "CGC: task ", task, " is out of range for ", num_tasks(), " tasks");
  std::vector<Tensor> params;
  detail::append_parameters(params, *layer_->task_expert_list(task));
  detail::append_parameters(params, *layer_->task_gate(task));
  detail::append_parameters(params, *tower_list_[task]);
  return params;
}

std::vector<Tensor> CGCImpl::last_shared_parameters() const {
  std::vector<Tensor> params;
  for (const auto& expert : *shared_experts)
    for (const Tensor& p : detail::last_layer_parameters(*expert)) params.push_back(p);
  TD_CHECK(!params.empty(), "CGC: the shared experts have no parameters (num_shared_experts = ",
           options.num_shared_experts(), ")");
  return params;
}

void CGCImpl::pretty_print(std::ostream& os) const {
  os << "CGC(tasks=" << detail::join_names(task_names_) << ", shared_experts=" << options.num_shared_experts()
     << ", task_experts=" << options.num_task_experts() << ", input_features=" << options.input_features() << ")";
}

}  // namespace tandem::mtl

// MMoE and the expert-mixture frame it shares with DSelect-k: experts, per-task gates, per-task towers.
#include "mtl/architectures/mmoe.h"

#include "tensor/functions.h"

namespace tandem::mtl {

Tensor mix_experts(const Tensor& experts, const Tensor& weights) {
  TD_CHECK(experts.defined() && weights.defined(), "mix_experts: undefined experts or weights");
  TD_CHECK(experts.dim() >= 2, "mix_experts: the stacked experts must be [N, E, ...], got shape ", experts.sizes());
  TD_CHECK(weights.dim() == 2 && weights.size(0) == experts.size(0) && weights.size(1) == experts.size(1),
           "mix_experts: weights of shape ", weights.sizes(), " do not match experts of shape ", experts.sizes(),
           " (expected [", experts.size(0), ", ", experts.size(1), "])");
  Dims shape = weights.sizes();
  for (int64_t d = 2; d < experts.dim(); ++d) shape.push_back(1);
  return (experts * weights.reshape(shape)).sum(1);
}

namespace detail {
Tensor flatten_gate_input(const std::string& architecture, const Tensor& input, int64_t features,
                          const std::string& where) {
  TD_CHECK(input.defined(), architecture, ": ", where, " is undefined");
  TD_CHECK(input.dim() >= 2, architecture, ": ", where, " must be [N, ...] with ", features,
           " values per sample, got shape ", input.sizes());
  const int64_t per_sample = input.size(0) == 0 ? 0 : input.numel() / input.size(0);
  TD_CHECK(per_sample == features, architecture, ": ", where, " of shape ", input.sizes(), " has ", per_sample,
           " values per sample but the gates expect ", features);
  return input.reshape({input.size(0), features});
}
}  // namespace detail

// ---- ExpertMixtureModel ---------------------------------------------------------------------------------------

ExpertMixtureModel::ExpertMixtureModel(std::string architecture, std::vector<std::string> task_names,
                                       int64_t input_features, int64_t num_experts,
                                       const ModuleFactory& expert_factory)
    : MultiTaskModel(std::move(task_names)),
      architecture_(std::move(architecture)),
      input_features_(input_features),
      num_experts_(num_experts) {
  TD_CHECK(input_features_ >= 1, architecture_, ": input_features must be >= 1, got ", input_features_);
  TD_CHECK(num_experts_ >= 1, architecture_, ": num_experts must be >= 1, got ", num_experts_);
  auto [list, modules] = detail::make_module_list(architecture_, num_experts_, expert_factory, "expert");
  experts = register_module("experts", list);
  expert_list_ = std::move(modules);
}

void ExpertMixtureModel::build_towers(const TaskModuleFactory& tower_factory) {
  auto task_towers = detail::make_task_modules(architecture_, task_names_, tower_factory, "tower");
  towers = register_module("towers", task_towers.dict);
  tower_list_ = std::move(task_towers.list);
  detail::check_distinct_parameters(architecture_, *this);
}

Tensor ExpertMixtureModel::encode(const Tensor& input) {
  detail::check_batched_input(architecture_, input);
  return detail::with_input_context(architecture_, input, [&] {
    std::vector<Tensor> outputs;
    outputs.reserve(expert_list_.size());
    for (auto& expert : expert_list_) outputs.push_back(expert->forward(input));
    for (size_t e = 1; e < outputs.size(); ++e)
      TD_CHECK(outputs[e].sizes() == outputs[0].sizes(), architecture_, ": expert ", e, " returned shape ",
               outputs[e].sizes(), " but expert 0 returned ", outputs[0].sizes(),
               "; every expert must give the same shape");
    TD_CHECK(outputs[0].dim() >= 1 && outputs[0].size(0) == input.size(0), architecture_, ": the experts returned ",
             outputs[0].sizes(), " for a batch of ", input.size(0));
    return stack(outputs, 1);
  });
}

Tensor ExpertMixtureModel::checked_gate(size_t task, const Tensor& input) {
  Tensor gate_input = detail::flatten_gate_input(architecture_, input, input_features_);
  return compute_gate(task, gate_input);
}

void ExpertMixtureModel::check_representation(const Tensor& representation, const Tensor& input) const {
  TD_CHECK(representation.defined(), architecture_, ": decode got an undefined representation");
  TD_CHECK(representation.dim() >= 2 && representation.size(1) == num_experts_, architecture_,
           ": the representation must be the stacked experts [N, ", num_experts_, ", ...], got shape ",
           representation.sizes());
  TD_CHECK(input.defined() && input.dim() >= 1 && input.size(0) == representation.size(0), architecture_,
           ": decode needs the input of the batch (for the gates); the representation has ", representation.size(0),
           " samples but the input is ", input.defined() ? input.sizes() : Dims{});
}

std::vector<Tensor> ExpertMixtureModel::decode(const Tensor& representation, const Tensor& input) {
  check_representation(representation, input);
  return detail::with_input_context(architecture_, input, [&] {
    std::vector<Tensor> outputs;
    outputs.reserve(num_tasks());
    for (size_t t = 0; t < num_tasks(); ++t)
      outputs.push_back(tower_list_[t]->forward(mix_experts(representation, checked_gate(t, input))));
    return outputs;
  });
}

std::vector<Tensor> ExpertMixtureModel::forward(const Tensor& input) { return decode(encode(input), input); }

Tensor ExpertMixtureModel::forward_task(const Tensor& input, size_t task) {
  TD_CHECK(task < num_tasks(), architecture_, ": task ", task, " is out of range for ", num_tasks(), " tasks");
  Tensor z = encode(input);
  return detail::with_input_context(architecture_, input, [&] {
    return tower_list_[task]->forward(mix_experts(z, checked_gate(task, input)));
  });
}

std::vector<Tensor> ExpertMixtureModel::gate_weights(const Tensor& input) {
  detail::check_batched_input(architecture_, input);
  std::vector<Tensor> weights;
  for (size_t t = 0; t < num_tasks(); ++t) weights.push_back(checked_gate(t, input));
  return weights;
}

std::vector<Tensor> ExpertMixtureModel::task_parameters(size_t task) const {
  TD_CHECK(task < num_tasks(), architecture_, ": task ", task, " is out of range for ", num_tasks(), " tasks");
  std::vector<Tensor> params = gate_parameters(task);
  detail::append_parameters(params, *tower_list_[task]);
  return params;
}

std::vector<Tensor> ExpertMixtureModel::last_shared_parameters() const {
  std::vector<Tensor> params;
  for (const auto& expert : expert_list_)
    for (const Tensor& p : detail::last_layer_parameters(*expert)) params.push_back(p);
  TD_CHECK(!params.empty(), architecture_, ": the experts have no parameters");
  return params;
}

// ---- MMoE -----------------------------------------------------------------------------------------------------

MMoEImpl::MMoEImpl(std::vector<std::string> task_names, const ModuleFactory& expert_factory,
                   const TaskModuleFactory& tower_factory, const MMoEOptions& opts)
    : ExpertMixtureModel("MMoE", std::move(task_names), opts.input_features(), opts.num_experts(), expert_factory),
      options(opts) {
  if (options.shared_gate()) {
    gate = register_module("gate", nn::Linear(options.input_features(), options.num_experts()));
  } else {
    for (const auto& name : task_names_) {
      nn::Linear task_gate(options.input_features(), options.num_experts());
      gates->insert(name, task_gate);
      gate_list_.push_back(task_gate);
    }
    register_module("gates", gates);
  }
  build_towers(tower_factory);
}

Tensor MMoEImpl::compute_gate(size_t task, const Tensor& gate_input) {
  nn::Linear& layer = options.shared_gate() ? gate : gate_list_[task];
  return layer->forward(gate_input).softmax(-1);
}

std::vector<Tensor> MMoEImpl::gate_parameters(size_t task) const {
  if (options.shared_gate()) return {};
  return gate_list_[task]->parameters();
}

void MMoEImpl::pretty_print(std::ostream& os) const {
  os << "MMoE(tasks=" << detail::join_names(task_names_) << ", experts=" << options.num_experts()
     << ", input_features=" << options.input_features() << (options.shared_gate() ? ", shared_gate=true" : "")
     << ")";
}

}  // namespace tandem::mtl

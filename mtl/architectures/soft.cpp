// Soft parameter sharing: one encoder and one head per task, and the pairwise L2 tie between the encoders.
#include "mtl/architectures/soft.h"

#include "tensor/functions.h"

namespace tandem::mtl {

SoftSharingImpl::SoftSharingImpl(std::vector<std::string> task_names, const ModuleFactory& encoder_factory,
                                 const TaskModuleFactory& head_factory, const SoftSharingOptions& opts)
    : MultiTaskModel(std::move(task_names)), options(opts) {
  TD_CHECK(options.lambda() >= 0, "SoftSharing: lambda must be >= 0, got ", options.lambda());
  TD_CHECK(static_cast<bool>(encoder_factory), "SoftSharing: the encoder factory is empty");
  auto task_encoders = detail::make_task_modules(
      "SoftSharing", task_names_, [&](size_t) { return encoder_factory(); }, "encoder");
  auto task_heads = detail::make_task_modules("SoftSharing", task_names_, head_factory, "head");
  encoders = register_module("encoders", task_encoders.dict);
  heads = register_module("heads", task_heads.dict);
  encoder_list_ = std::move(task_encoders.list);
  head_list_ = std::move(task_heads.list);
  detail::check_distinct_parameters("SoftSharing", *this);

  // The penalty pairs parameters by name, so every encoder must have the same parameters.
  const auto reference = encoder_list_[0]->named_parameters();
  for (size_t t = 1; t < encoder_list_.size(); ++t) {
    const auto named = encoder_list_[t]->named_parameters();
    TD_CHECK(named.size() == reference.size(), "SoftSharing: the encoder of task '", task_names_[t], "' has ",
             named.size(), " parameters but that of task '", task_names_[0], "' has ", reference.size(),
             "; the encoder factory must build the same structure every time");
    for (const auto& [name, parameter] : reference) {
      const Tensor* other = named.find(name);
      TD_CHECK(other != nullptr, "SoftSharing: the encoder of task '", task_names_[t], "' has no parameter '", name,
               "'; the encoder factory must build the same structure every time");
      TD_CHECK(other->sizes() == parameter.sizes(), "SoftSharing: parameter '", name, "' has shape ", other->sizes(),
               " in the encoder of task '", task_names_[t], "' but ", parameter.sizes(), " in that of task '",
               task_names_[0], "'");
    }
  }
}

std::vector<Tensor> SoftSharingImpl::forward(const Tensor& input) {
  std::vector<Tensor> outputs;
  outputs.reserve(num_tasks());
  for (size_t t = 0; t < num_tasks(); ++t) outputs.push_back(forward_task(input, t));
  return outputs;
}

Tensor SoftSharingImpl::forward_task(const Tensor& input, size_t task) {
  TD_CHECK(task < num_tasks(), "SoftSharing: task ", task, " is out of range for ", num_tasks(), " tasks");
  detail::check_batched_input("SoftSharing", input);
  return detail::with_input_context("SoftSharing", input, [&] {
    return head_list_[task]->forward(encoder_list_[task]->forward(input));
  });
}

std::vector<Tensor> SoftSharingImpl::task_parameters(size_t task) const {
  TD_CHECK(task < num_tasks(), "SoftSharing: task ", task, " is out of range for ", num_tasks(), " tasks");
  std::vector<Tensor> params;
  detail::append_parameters(params, *encoder_list_[task]);
  detail::append_parameters(params, *head_list_[task]);
  return params;
}

Tensor SoftSharingImpl::regularization() {
  if (options.lambda() == 0 || num_tasks() < 2) return {};
  std::vector<nn::OrderedDict<Tensor>> params;
  for (const auto& encoder : encoder_list_) params.push_back(encoder->named_parameters());
  if (params[0].empty()) return {};
  Tensor total;
  for (size_t i = 0; i < params.size(); ++i)
    for (size_t j = i + 1; j < params.size(); ++j)
      for (const auto& [name, parameter] : params[i]) {
        Tensor term = (parameter - params[j][name]).square().sum();
        total = total.defined() ? total + term : term;
      }
  return total * options.lambda();
}

void SoftSharingImpl::pretty_print(std::ostream& os) const {
  os << "SoftSharing(tasks=" << detail::join_names(task_names_) << ", lambda=" << options.lambda() << ")";
}

}  // namespace tandem::mtl

// Hard parameter sharing, and the building helpers every architecture uses (declared in hps.h).
#include "mtl/architectures/hps.h"

#include <sstream>
#include <unordered_map>

namespace tandem::mtl {

namespace detail {

void check_task_name(const std::string& architecture, const std::string& name) {
  TD_CHECK(!name.empty() && name.find('.') == std::string::npos, architecture, ": the task name '", name,
           "' cannot name a module (it must be non-empty and contain no '.')");
}

TaskModules make_task_modules(const std::string& architecture, const std::vector<std::string>& task_names,
                              const TaskModuleFactory& factory, const std::string& what) {
  TD_CHECK(static_cast<bool>(factory), architecture, ": the ", what, " factory is empty");
  std::vector<nn::Sequential> modules;
  for (size_t t = 0; t < task_names.size(); ++t) modules.push_back(factory(t));
  return wrap_task_modules(architecture, task_names, std::move(modules), what);
}

TaskModules wrap_task_modules(const std::string& architecture, const std::vector<std::string>& task_names,
                              std::vector<nn::Sequential> modules, const std::string& what) {
  TD_CHECK(modules.size() == task_names.size(), architecture, ": got ", modules.size(), " ", what, "s for ",
           task_names.size(), " tasks ", join_names(task_names));
  TaskModules out;
  for (size_t t = 0; t < task_names.size(); ++t) {
    check_task_name(architecture, task_names[t]);
    TD_CHECK(!modules[t].is_empty(), architecture, ": the ", what, " of task '", task_names[t], "' is empty");
    out.dict->insert(task_names[t], modules[t]);
  }
  out.list = std::move(modules);
  return out;
}

std::pair<nn::ModuleList, std::vector<nn::Sequential>> make_module_list(const std::string& architecture,
                                                                        int64_t count, const ModuleFactory& factory,
                                                                        const std::string& what) {
  TD_CHECK(static_cast<bool>(factory), architecture, ": the ", what, " factory is empty");
  nn::ModuleList list;
  std::vector<nn::Sequential> modules;
  for (int64_t i = 0; i < count; ++i) {
    nn::Sequential module = factory();
    TD_CHECK(!module.is_empty(), architecture, ": the ", what, " factory returned an empty module");
    list->push_back(module);
    modules.push_back(module);
  }
  return {list, modules};
}

void check_distinct_parameters(const std::string& architecture, const nn::Module& model) {
  std::unordered_map<const TensorImpl*, std::string> seen;
  for (const auto& [name, parameter] : model.named_parameters()) {
    auto [it, inserted] = seen.emplace(parameter.unsafeGetTensorImpl(), name);
    TD_CHECK(inserted, architecture, ": the parameter '", name, "' is the same tensor as '", it->second,
             "'; each factory call must build new modules (not return the same one again)");
  }
}

void check_batched_input(const std::string& architecture, const Tensor& input) {
  TD_CHECK(input.defined(), architecture, ": the input is undefined");
  TD_CHECK(input.dim() >= 1, architecture, ": the input must have a batch dimension, got a 0-d tensor");
}

std::vector<Tensor> last_layer_parameters(const nn::Module& module) {
  const auto named = module.named_parameters();
  if (named.empty()) return {};
  const std::string last = named.keys().back();
  const auto dot = last.rfind('.');
  const std::string prefix = dot == std::string::npos ? std::string() : last.substr(0, dot + 1);
  std::vector<Tensor> layer;
  for (const auto& [name, parameter] : named)
    if (name.compare(0, prefix.size(), prefix) == 0 && name.find('.', prefix.size()) == std::string::npos)
      layer.push_back(parameter);
  return layer;
}

void append_parameters(std::vector<Tensor>& out, const nn::Module& module) {
  for (const Tensor& p : module.parameters()) out.push_back(p);
}

std::string join_names(const std::vector<std::string>& names) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < names.size(); ++i) os << (i ? ", " : "") << names[i];
  os << ']';
  return os.str();
}

}  // namespace detail

HPSImpl::HPSImpl(std::vector<std::string> task_names, nn::Sequential encoder_module,
                 std::vector<nn::Sequential> head_modules)
    : MultiTaskModel(std::move(task_names)), encoder(std::move(encoder_module)) {
  register_all(detail::wrap_task_modules("HPS", task_names_, std::move(head_modules), "head"));
}

HPSImpl::HPSImpl(std::vector<std::string> task_names, nn::Sequential encoder_module,
                 const TaskModuleFactory& head_factory)
    : MultiTaskModel(std::move(task_names)), encoder(std::move(encoder_module)) {
  register_all(detail::make_task_modules("HPS", task_names_, head_factory, "head"));
}

void HPSImpl::register_all(detail::TaskModules task_heads) {
  TD_CHECK(!encoder.is_empty(), "HPS: the encoder is empty");
  register_module("encoder", encoder);
  heads = register_module("heads", task_heads.dict);
  head_list_ = std::move(task_heads.list);
  detail::check_distinct_parameters("HPS", *this);
}

Tensor HPSImpl::encode(const Tensor& input) {
  detail::check_batched_input("HPS", input);
  return detail::with_input_context("HPS", input, [&] { return encoder->forward(input); });
}

std::vector<Tensor> HPSImpl::decode(const Tensor& representation, const Tensor&) {
  TD_CHECK(representation.defined(), "HPS: decode got an undefined representation");
  return detail::with_input_context("HPS", representation, [&] {
    std::vector<Tensor> outputs;
    outputs.reserve(head_list_.size());
    for (auto& head : head_list_) outputs.push_back(head->forward(representation));
    return outputs;
  });
}

std::vector<Tensor> HPSImpl::forward(const Tensor& input) { return decode(encode(input), input); }

Tensor HPSImpl::forward_task(const Tensor& input, size_t task) {
  TD_CHECK(task < num_tasks(), "HPS: task ", task, " is out of range for ", num_tasks(), " tasks");
  Tensor z = encode(input);
  return detail::with_input_context("HPS", z, [&] { return head_list_[task]->forward(z); });
}

std::vector<Tensor> HPSImpl::task_parameters(size_t task) const {
  TD_CHECK(task < num_tasks(), "HPS: task ", task, " is out of range for ", num_tasks(), " tasks");
  return head_list_[task]->parameters();
}

void HPSImpl::add_task(const std::string& name, nn::Sequential head) {
  for (const auto& existing : task_names_)
    TD_CHECK(existing != name, "HPS: cannot add task '", name, "': the model already has a task of that name (tasks: ",
             detail::join_names(task_names_), ")");
  TD_CHECK(!head.is_empty(), "HPS: the head of the new task '", name, "' is empty");
  const auto existing = parameters();
  for (const auto& [key, p] : head->named_parameters())
    for (const Tensor& q : existing)
      TD_CHECK(!p.is_same(q), "HPS: the head of the new task '", name, "' shares its parameter '", key,
               "' with the model; pass a new module");
  detail::check_task_name("HPS", name);
  heads->insert(name, head);
  head_list_.push_back(head);
  task_names_.push_back(name);
}

void HPSImpl::pretty_print(std::ostream& os) const { os << "HPS(tasks=" << detail::join_names(task_names_) << ")"; }

}  // namespace tandem::mtl

// MultiTaskModel: the defaults of the interface (shared = the complement of the task parameters; the last
// shared layer = the module owning the last shared parameter; forward through encode/decode).
#include "mtl/model.h"

#include <algorithm>
#include <sstream>
#include <unordered_set>

namespace tandem::mtl {

namespace {
std::string join(const std::vector<std::string>& names) {
  std::ostringstream os;
  for (size_t i = 0; i < names.size(); ++i) os << (i ? ", " : "") << names[i];
  return os.str();
}
bool contains(const std::vector<Tensor>& list, const Tensor& t) {
  return std::any_of(list.begin(), list.end(), [&](const Tensor& x) { return x.is_same(t); });
}
}  // namespace

MultiTaskModel::MultiTaskModel(std::vector<std::string> task_names) : task_names_(std::move(task_names)) {
  TD_CHECK(!task_names_.empty(), "MultiTaskModel: needs at least one task");
  std::unordered_set<std::string> seen;
  for (const auto& n : task_names_)
    TD_CHECK(seen.insert(n).second, "MultiTaskModel: task name '", n, "' appears twice in [", join(task_names_), "]");
}

size_t MultiTaskModel::task_index(const std::string& name) const {
  auto it = std::find(task_names_.begin(), task_names_.end(), name);
  TD_CHECK(it != task_names_.end(), "MultiTaskModel: no task named '", name, "' (tasks: ", join(task_names_), ")");
  return static_cast<size_t>(it - task_names_.begin());
}

std::vector<Tensor> MultiTaskModel::forward(const Tensor& input) {
  TD_CHECK(has_representation(), "MultiTaskModel::forward: ", name(),
           " must override forward (it has no encode/decode pair)");
  return decode(encode(input), input);
}

Tensor MultiTaskModel::forward_task(const Tensor& input, size_t task) {
  TD_CHECK(task < num_tasks(), "MultiTaskModel::forward_task: task ", task, " out of range for ", num_tasks(),
           " tasks");
  return forward(input)[task];
}

Tensor MultiTaskModel::encode(const Tensor&) {
  TD_CHECK(false, "MultiTaskModel::encode: ", name(),
           " has no single shared representation; use a parameter scope (scope=params or scope=last)");
  return {};
}

std::vector<Tensor> MultiTaskModel::decode(const Tensor&, const Tensor&) {
  TD_CHECK(false, "MultiTaskModel::decode: ", name(),
           " has no single shared representation; use a parameter scope (scope=params or scope=last)");
  return {};
}

void MultiTaskModel::add_task(const std::string& name, nn::Sequential) {
  TD_CHECK(false, "MultiTaskModel::add_task: ", this->name(), " does not support adding a task ('", name, "')");
}

std::vector<Tensor> MultiTaskModel::shared_parameters() const {
  std::vector<Tensor> own;
  for (size_t t = 0; t < num_tasks(); ++t) {
    auto p = task_parameters(t);
    own.insert(own.end(), p.begin(), p.end());
  }
  std::vector<Tensor> shared;
  for (const Tensor& p : parameters())
    if (!contains(own, p)) shared.push_back(p);
  return shared;
}

std::vector<std::string> MultiTaskModel::shared_parameter_names() const {
  const auto shared = shared_parameters();
  const auto named = named_parameters();
  std::vector<std::string> names;
  for (const Tensor& p : shared) {
    std::string found = "?";
    for (const auto& [key, value] : named)
      if (value.is_same(p)) {
        found = key;
        break;
      }
    names.push_back(found);
  }
  return names;
}

std::vector<Tensor> MultiTaskModel::last_shared_parameters() const {
  const auto shared = shared_parameters();
  TD_CHECK(!shared.empty(), "MultiTaskModel::last_shared_parameters: ", name(), " has no shared parameters");
  const auto names = shared_parameter_names();
  const std::string& last = names.back();
  const auto dot = last.rfind('.');
  const std::string prefix = dot == std::string::npos ? std::string() : last.substr(0, dot + 1);
  std::vector<Tensor> layer;
  for (size_t i = 0; i < shared.size(); ++i) {
    const std::string& n = names[i];
    // Same owner: the name is prefix + a parameter name without further dots.
    if (n.compare(0, prefix.size(), prefix) == 0 && n.find('.', prefix.size()) == std::string::npos)
      layer.push_back(shared[i]);
  }
  return layer;
}

}  // namespace tandem::mtl

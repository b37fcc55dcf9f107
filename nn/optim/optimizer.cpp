// The optimizer base: parameter groups and their options, the step loop that hands each parameter with a
// gradient to the concrete update rule, zero_grad, and the state_dict / load_state_dict flattening of
// hyper-parameters and per-parameter state into named tensors.
#include "nn/optim/optimizer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>
#include <string_view>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::optim {

// =============================================================================================================
// OptimizerOptions
// =============================================================================================================
std::vector<std::pair<std::string, double>> OptimizerOptions::values() const {
  std::vector<std::pair<std::string, double>> out;
  auto copy = clone();  // visiting needs mutable access; read a copy
  copy->for_each_field([&](const char* name, double& value) { out.emplace_back(name, value); });
  return out;
}

void OptimizerOptions::set_value(const std::string& name, double value, const std::string& owner) {
  bool found = false;
  std::string known;
  for_each_field([&](const char* field, double& stored) {
    known += known.empty() ? field : std::string(", ") + field;
    if (name == field) {
      stored = value;
      found = true;
    }
  });
  TD_CHECK(found, owner, ": no option called '", name, "' (options: ", known, ")");
}

void OptimizerOptions::visit_flag(const FieldVisitor& fn, const char* name, bool& flag) {
  double value = flag ? 1.0 : 0.0;
  fn(name, value);
  flag = value != 0.0;
}

// =============================================================================================================
// OptimizerParamGroup
// =============================================================================================================
OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params) : params_(std::move(params)) {}

OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params, OptionOverrides overrides)
    : params_(std::move(params)), overrides_(std::move(overrides)) {}

OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options)
    : params_(std::move(params)), options_(std::move(options)) {}

OptimizerParamGroup::OptimizerParamGroup(const OptimizerParamGroup& other)
    : params_(other.params_),
      options_(other.options_ ? other.options_->clone() : nullptr),
      overrides_(other.overrides_) {}

OptimizerParamGroup& OptimizerParamGroup::operator=(const OptimizerParamGroup& other) {
  if (this != &other) {
    params_ = other.params_;
    options_ = other.options_ ? other.options_->clone() : nullptr;
    overrides_ = other.overrides_;
  }
  return *this;
}

OptimizerOptions& OptimizerParamGroup::options() {
  TD_CHECK(options_ != nullptr, "OptimizerParamGroup: this group has no options until it is added to an optimizer");
  return *options_;
}

const OptimizerOptions& OptimizerParamGroup::options() const {
  TD_CHECK(options_ != nullptr, "OptimizerParamGroup: this group has no options until it is added to an optimizer");
  return *options_;
}

// =============================================================================================================
// OptimizerParamState
// =============================================================================================================
void OptimizerParamState::set(const std::string& name, Tensor value) {
  if (Tensor* existing = buffers_.find(name))
    *existing = std::move(value);
  else
    buffers_.insert(name, std::move(value));
}

void OptimizerParamState::follow(const Tensor& param) {
  for (auto& [name, buffer] : buffers_) {
    if (!buffer.is_floating_point()) continue;
    if (buffer.device() != param.device() || buffer.dtype() != param.dtype())
      buffer = buffer.to(param.device(), param.dtype());
  }
}

Tensor& OptimizerParamState::get_or_create(const std::string& name, const std::function<Tensor()>& make) {
  if (Tensor* existing = buffers_.find(name)) return *existing;
  return buffers_.insert(name, make());
}

// =============================================================================================================
// Optimizer
// =============================================================================================================
void Optimizer::init(const std::vector<OptimizerParamGroup>& param_groups) {
  check_options(*defaults_);
  for (const auto& group : param_groups) add_param_group(group);
}

void Optimizer::add_param_group(const OptimizerParamGroup& group) {
  const std::string who = name();
  OptimizerParamGroup added(group);
  if (!added.has_options()) {
    auto options = defaults_->clone();
    for (const auto& [key, value] : added.overrides()) options->set_value(key, value, who);
    added.set_options(std::move(options));
  } else {
    TD_CHECK(added.overrides().empty(), who, ": a parameter group has both its own options and overrides");
  }
  check_options(added.options());

  std::set<const TensorImpl*> seen;
  for (const auto& g : param_groups_)
    for (const auto& p : g.params()) seen.insert(p.unsafeGetTensorImpl());
  for (size_t i = 0; i < added.params().size(); ++i) {
    const Tensor& p = added.params()[i];
    TD_CHECK(p.defined(), who, ": parameter ", i, " of a group is an undefined tensor");
    TD_CHECK(p.is_floating_point(), who, ": can only optimize floating tensors, but parameter ", i, " of a group is ",
             p.dtype());
    TD_CHECK(p.is_leaf(), who, ": can't optimize a non-leaf tensor (parameter ", i, " of a group, shape ", p.sizes(),
             ")");
    TD_CHECK(seen.insert(p.unsafeGetTensorImpl()).second, who, ": parameter ", i, " of a group (shape ", p.sizes(),
             ") appears in more than one place; each parameter may be listed once");
  }
  param_groups_.push_back(std::move(added));
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> all;
  for (const auto& group : param_groups_) all.insert(all.end(), group.params().begin(), group.params().end());
  return all;
}

Tensor Optimizer::step(const LossClosure& closure) {
  Tensor loss;
  if (closure) {
    AutoGradMode enable_grad(true);
    loss = closure();
  }
  NoGradGuard no_grad;
  int64_t index = 0;
  for (auto& group : param_groups_) {
    check_options(group.options());
    for (Tensor& param : group.params()) {
      Tensor grad = param.grad();
      if (grad.defined()) {
        OptimizerParamState& state = state_[index];
        state.set_step(state.step() + 1);
        state.follow(param);
        update(param, grad, group.options(), state);
      }
      ++index;
    }
  }
  return loss;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (auto& group : param_groups_) {
    for (Tensor& param : group.params()) {
      Tensor grad = param.grad();
      if (!grad.defined()) continue;
      if (set_to_none) {
        param.set_grad(Tensor());
      } else {
        if (grad.grad_fn()) {  // a gradient built with create_graph: cut it from its graph before zeroing
          grad = grad.detach();
          param.set_grad(grad);
        }
        grad.zero_();
      }
    }
  }
}

// ---- state_dict ---------------------------------------------------------------------------------------------
namespace {

const std::string kGroupPrefix = "param_groups.";
const std::string kStatePrefix = "state.";

/// Parses "<number>.<rest>" at the start of `text`; false when it does not have that form.
bool split_index(std::string_view text, int64_t& index, std::string& rest) {
  const size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == text.size()) return false;
  const auto result = std::from_chars(text.data(), text.data() + dot, index);
  if (result.ec != std::errc() || result.ptr != text.data() + dot || index < 0) return false;
  rest = std::string(text.substr(dot + 1));
  return true;
}

/// The single value of a one-element tensor, as a double; throws naming the key otherwise.
double scalar_value(const Tensor& t, const std::string& key, const std::string& who) {
  TD_CHECK(t.defined() && t.numel() == 1, who, "::load_state_dict: '", key, "' must hold one value but has shape ",
           t.defined() ? t.sizes() : Dims{});
  return t.to(Device(kCPU)).item<double>();
}

}  // namespace

nn::OrderedDict<Tensor> Optimizer::state_dict() const {
  NoGradGuard no_grad;
  nn::OrderedDict<Tensor> dict;
  int64_t first_index = 0;
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    const auto& group = param_groups_[g];
    const std::string prefix = kGroupPrefix + std::to_string(g) + ".";
    for (const auto& [option, value] : group.options().values())
      dict.insert(prefix + option, scalar_tensor(value, kFloat64));
    const auto count = static_cast<int64_t>(group.params().size());
    dict.insert(prefix + "params",
                arange(static_cast<double>(first_index), static_cast<double>(first_index + count), 1, kInt64));
    first_index += count;
  }
  for (const auto& [index, state] : state_) {
    const std::string prefix = kStatePrefix + std::to_string(index) + ".";
    dict.insert(prefix + "step", scalar_tensor(static_cast<double>(state.step()), kInt64));
    for (const auto& [buffer, value] : state.buffers()) dict.insert(prefix + buffer, value.detach().clone());
  }
  return dict;
}

void Optimizer::load_state_dict(const nn::OrderedDict<Tensor>& dict) {
  NoGradGuard no_grad;
  const std::string who = name();
  const std::string where = who + "::load_state_dict";
  const std::vector<Tensor> params = parameters();
  const std::vector<std::string> buffer_names = state_names();

  // Sort the keys into per-group options and per-parameter state (keeping the dict's order), rejecting anything
  // unknown.
  struct Entry {
    std::string field, key;
    Tensor value;
  };
  auto take = [](std::vector<Entry>& entries, const std::string& field) -> std::optional<Entry> {
    auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.field == field; });
    if (it == entries.end()) return std::nullopt;
    Entry found = *it;
    entries.erase(it);
    return found;
  };
  std::map<int64_t, std::vector<Entry>> group_entries, state_entries;
  for (const auto& [key, value] : dict) {
    int64_t index = 0;
    std::string field;
    if (key.rfind(kGroupPrefix, 0) == 0 &&
        split_index(std::string_view(key).substr(kGroupPrefix.size()), index, field)) {
      group_entries[index].push_back({field, key, value});
    } else if (key.rfind(kStatePrefix, 0) == 0 &&
               split_index(std::string_view(key).substr(kStatePrefix.size()), index, field)) {
      state_entries[index].push_back({field, key, value});
    } else {
      TD_CHECK(false, where, ": unexpected key '", key,
               "' (expected param_groups.<g>.<option> or state.<index>.<name>)");
    }
  }

  // Groups: same count, same sizes, every option present and nothing else.
  TD_CHECK(static_cast<int64_t>(group_entries.size()) == static_cast<int64_t>(param_groups_.size()), where,
           ": the state dict has ", group_entries.size(), " parameter groups but the optimizer has ",
           param_groups_.size());
  std::vector<std::unique_ptr<OptimizerOptions>> new_options;
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    auto found = group_entries.find(static_cast<int64_t>(g));
    TD_CHECK(found != group_entries.end(), where, ": no entries for parameter group ", g, " (expected keys '",
             kGroupPrefix, g, ".<option>')");
    auto& entries = found->second;
    const std::string prefix = kGroupPrefix + std::to_string(g) + ".";

    const auto params_entry = take(entries, "params");
    TD_CHECK(params_entry.has_value(), where, ": missing key '", prefix, "params'");
    const Tensor& indices = params_entry->value;
    const auto expected = static_cast<int64_t>(param_groups_[g].params().size());
    TD_CHECK(indices.defined() && indices.dim() == 1 && indices.size(0) == expected, where, ": '", prefix,
             "params' lists ", indices.defined() && indices.dim() == 1 ? indices.size(0) : -1, " parameters but group ",
             g, " of the optimizer has ", expected);

    auto options = param_groups_[g].options().clone();
    for (const auto& field : options->values()) {
      const std::string& option = field.first;
      const auto entry = take(entries, option);
      TD_CHECK(entry.has_value(), where, ": missing key '", prefix, option, "'");
      options->set_value(option, scalar_value(entry->value, entry->key, who), who);
    }
    TD_CHECK(entries.empty(), where, ": unexpected key '", entries.empty() ? "" : entries.front().key, "' (", who,
             " has no such option)");
    check_options(*options);
    new_options.push_back(std::move(options));
  }

  // State: indices in range, a step count, known buffers of the parameter's shape.
  std::map<int64_t, OptimizerParamState> new_state;
  for (auto& [index, entries] : state_entries) {
    TD_CHECK(index < static_cast<int64_t>(params.size()), where, ": '", entries.front().key, "' refers to parameter ",
             index, " but the optimizer has ", params.size(), " parameters");
    const Tensor& param = params[static_cast<size_t>(index)];
    OptimizerParamState state;
    const auto step_entry = take(entries, "step");
    TD_CHECK(step_entry.has_value(), where, ": missing key '", kStatePrefix, index, ".step'");
    const double step = scalar_value(step_entry->value, step_entry->key, who);
    TD_CHECK(step >= 0 && std::floor(step) == step, where, ": '", step_entry->key,
             "' must be a non-negative whole number but is ", step);
    state.set_step(static_cast<int64_t>(step));
    for (const Entry& entry : entries) {
      TD_CHECK(std::find(buffer_names.begin(), buffer_names.end(), entry.field) != buffer_names.end(), where,
               ": unexpected key '", entry.key, "' (", who, " keeps no state called '", entry.field, "')");
      TD_CHECK(entry.value.defined() && entry.value.sizes() == param.sizes(), where, ": '", entry.key, "' has shape ",
               entry.value.defined() ? entry.value.sizes() : Dims{}, " but parameter ", index, " has shape ",
               param.sizes());
      state.set(entry.field, entry.value.to(param.device(), param.dtype()).clone());
    }
    new_state.emplace(index, std::move(state));
  }

  for (size_t g = 0; g < param_groups_.size(); ++g) param_groups_[g].set_options(std::move(new_options[g]));
  state_ = std::move(new_state);
}

namespace detail {
void check_option(bool ok, const std::string& optimizer, const char* what, double value, const char* requirement) {
  TD_CHECK(ok, optimizer, ": invalid ", what, " ", value, " (", requirement, ")");
}
}  // namespace detail

}  // namespace tandem::optim

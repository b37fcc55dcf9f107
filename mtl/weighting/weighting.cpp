// The weighting base classes (one backward of a combined loss; T backwards and a combination of per-task
// gradients), their options, the registry and the forward helper.
#include "mtl/weighting/weighting.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <sstream>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace detail {
// Defined next to the methods (mtl/weighting/builtin_*.cpp): add every built-in method to the registry.
void register_loss_weightings();
void register_gradient_weightings();
}  // namespace detail

namespace {
std::string join(const std::vector<std::string>& names) {
  std::ostringstream os;
  for (size_t i = 0; i < names.size(); ++i) os << (i ? ", " : "") << names[i];
  return os.str();
}
}  // namespace

// ---- scope and options --------------------------------------------------------------------------------------

SharedScope parse_scope(const std::string& text) {
  if (text == "params" || text == "parameters") return SharedScope::kParameters;
  if (text == "last") return SharedScope::kLastSharedLayer;
  if (text == "rep" || text == "representation") return SharedScope::kRepresentation;
  TD_CHECK(false, "mtl: unknown scope '", text, "' (expected params, last or rep)");
  return SharedScope::kParameters;
}

const char* scope_name(SharedScope scope) {
  switch (scope) {
    case SharedScope::kParameters: return "params";
    case SharedScope::kLastSharedLayer: return "last";
    case SharedScope::kRepresentation: return "rep";
  }
  return "?";
}

WeightingOptions WeightingOptions::parse(const std::string& text) {
  WeightingOptions options;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    const size_t eq = item.find('=');
    TD_CHECK(eq != std::string::npos && eq > 0, "mtl: option '", item, "' in '", text, "' is not key=value");
    options.values_[item.substr(0, eq)] = item.substr(eq + 1);
    start = end + 1;
  }
  return options;
}

WeightingOptions& WeightingOptions::set(const std::string& key, const std::string& value) {
  values_[key] = value;
  return *this;
}

WeightingOptions& WeightingOptions::set(const std::string& key, double value) {
  std::ostringstream os;
  os.precision(17);
  os << value;
  return set(key, os.str());
}

double WeightingOptions::number(const std::string& method, const std::string& key, double fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  const double value = std::strtod(it->second.c_str(), &end);
  TD_CHECK(!it->second.empty() && end && *end == '\0', method, ": option ", key, "='", it->second,
           "' is not a number");
  return value;
}

std::string WeightingOptions::text(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

void WeightingOptions::check_known(const std::string& method, const std::vector<std::string>& known) const {
  for (const auto& [key, value] : values_)
    TD_CHECK(std::find(known.begin(), known.end(), key) != known.end(), method, ": unknown option '", key,
             "' (known: ", known.empty() ? std::string("none") : join(known), ")");
}

// ---- base classes -------------------------------------------------------------------------------------------

Weighting::Weighting(std::string method, size_t num_tasks) : method_(std::move(method)), num_tasks_(num_tasks) {
  TD_CHECK(num_tasks >= 1, method_, ": needs at least one task");
}

void Weighting::pretty_print(std::ostream& os) const { os << "Weighting(" << method_ << ", tasks=" << num_tasks_ << ")"; }

void Weighting::check_losses(const std::vector<Tensor>& losses) const {
  TD_CHECK(losses.size() == num_tasks_, method_, ": got ", losses.size(), " losses for ", num_tasks_, " tasks");
  for (size_t t = 0; t < losses.size(); ++t)
    TD_CHECK(losses[t].defined() && losses[t].numel() == 1, method_, ": the loss of task ", t,
             " must be a one-element tensor, got shape ", losses[t].defined() ? losses[t].sizes() : Dims{});
}

WeightingReport LossWeighting::backward(StepContext& context) {
  check_losses(context.losses);
  std::vector<double> weights;
  Tensor loss = combine(context, weights);
  if (context.extra_loss.defined()) loss = loss + context.extra_loss;
  loss.backward();
  return {weights, nullptr};
}

GradientWeighting::GradientWeighting(std::string method, size_t num_tasks, SharedScope scope)
    : Weighting(std::move(method), num_tasks), scope_(scope) {}

WeightingReport GradientWeighting::backward(StepContext& context) {
  check_losses(context.losses);
  MultiTaskModel& model = context.model;
  const std::vector<Tensor> losses = transform_losses(context.losses);
  TD_CHECK(losses.size() == num_tasks(), method(), ": transform_losses returned ", losses.size(), " losses");

  // The shared inputs, with the last shared layer at the end so that its columns form one block.
  std::vector<Tensor> shared;
  int64_t scope_first_input = 0;
  if (scope_ == SharedScope::kRepresentation) {
    TD_CHECK(context.representation_leaf.defined() && context.representation.defined(), method(),
             ": scope=rep needs the representation: run the forward with mtl::forward_for");
    shared = {context.representation_leaf};
  } else {
    shared = model.shared_parameters();
    TD_CHECK(!shared.empty(), method(), ": ", model.name(), " has no shared parameters");
    if (scope_ == SharedScope::kLastSharedLayer) {
      const auto last = model.last_shared_parameters();
      TD_CHECK(!last.empty(), method(), ": ", model.name(), " has an empty last shared layer");
      std::vector<Tensor> ordered;
      auto in_last = [&](const Tensor& p) {
        return std::any_of(last.begin(), last.end(), [&](const Tensor& q) { return q.is_same(p); });
      };
      for (const Tensor& p : shared)
        if (!in_last(p)) ordered.push_back(p);
      scope_first_input = static_cast<int64_t>(ordered.size());
      for (const Tensor& p : shared)
        if (in_last(p)) ordered.push_back(p);
      TD_CHECK(ordered.size() - static_cast<size_t>(scope_first_input) == last.size(), method(),
               ": last_shared_parameters() of ", model.name(), " are not all shared parameters");
      shared = std::move(ordered);
    }
  }
  std::vector<Tensor> own;
  for (const Tensor& p : parameters())
    if (p.requires_grad()) own.push_back(p);
  gradients_.compute(losses, shared, [&](size_t t) {
    auto extra = model.task_parameters(t);
    extra.insert(extra.end(), own.begin(), own.end());
    return extra;
  });

  const int64_t begin = gradients_.offsets()[static_cast<size_t>(scope_first_input)], end = gradients_.dim();
  const Tensor K = gradients_.gramian(begin, end);
  std::vector<double> loss_values;
  for (const Tensor& l : losses) loss_values.push_back(l.detach().to(kFloat64).item<double>());
  const GradientInputs inputs{gradients_, K, loss_values, begin, end, context.representation};
  GradientCombination combination = combine(inputs);
  Tensor direction;
  if (combination.direction.defined()) {
    TD_CHECK(combination.direction.numel() == gradients_.dim(), method(), ": combined direction has ",
             combination.direction.numel(), " elements for D = ", gradients_.dim());
    direction = combination.direction.detach().reshape({gradients_.dim()});
  } else {
    direction = gradients_.combine(combination.weights);
  }

  if (scope_ == SharedScope::kRepresentation) {
    context.representation.backward(direction.view(context.representation.sizes()).to(context.representation.dtype()));
  } else {
    gradients_.write_to(shared, direction);
  }
  if (context.extra_loss.defined()) context.extra_loss.backward();
  return {combination.weights, &gradients_};
}

// ---- registry -----------------------------------------------------------------------------------------------

namespace {
std::map<std::string, WeightingFactory>& registry() {
  static std::map<std::string, WeightingFactory> methods;
  return methods;
}
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
void ensure_builtins() {
  static std::once_flag once;
  std::call_once(once, [] {
    detail::register_loss_weightings();
    detail::register_gradient_weightings();
  });
}
}  // namespace

void register_weighting(const std::string& name, WeightingFactory factory) {
  TD_CHECK(!name.empty() && name.find(':') == std::string::npos, "register_weighting: invalid name '", name, "'");
  TD_CHECK(static_cast<bool>(factory), "register_weighting: empty factory for '", name, "'");
  ensure_builtins();
  std::lock_guard lock(registry_mutex());
  registry()[name] = std::move(factory);
}

namespace detail {
/// Registration used by the built-in lists (no ensure_builtins: they run inside it).
void add_builtin_weighting(const std::string& name, WeightingFactory factory) {
  std::lock_guard lock(registry_mutex());
  registry()[name] = std::move(factory);
}
}  // namespace detail

std::shared_ptr<Weighting> make_weighting(const std::string& name, size_t num_tasks, const WeightingOptions& options) {
  ensure_builtins();
  WeightingFactory factory;
  {
    std::lock_guard lock(registry_mutex());
    auto it = registry().find(name);
    if (it != registry().end()) factory = it->second;
  }
  TD_CHECK(static_cast<bool>(factory), "make_weighting: unknown method '", name, "' (known: ", join(weighting_names()),
           ")");
  auto method = factory(num_tasks, options);
  TD_CHECK(method != nullptr, "make_weighting: the factory of '", name, "' returned nothing");
  return method;
}

std::shared_ptr<Weighting> make_weighting(const std::string& spec, size_t num_tasks) {
  const size_t colon = spec.find(':');
  if (colon == std::string::npos) return make_weighting(spec, num_tasks, WeightingOptions{});
  return make_weighting(spec.substr(0, colon), num_tasks, WeightingOptions::parse(spec.substr(colon + 1)));
}

std::vector<std::string> weighting_names() {
  ensure_builtins();
  std::lock_guard lock(registry_mutex());
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;
}

bool is_gradient_method(const std::string& name) {
  return std::dynamic_pointer_cast<GradientWeighting>(make_weighting(name, 2, WeightingOptions{})) != nullptr;
}

// ---- forward ------------------------------------------------------------------------------------------------

ForwardResult forward_for(const Weighting& weighting, MultiTaskModel& model, const Tensor& input) {
  ForwardResult result;
  if (!weighting.uses_representation()) {
    result.outputs = model.forward(input);
  } else {
    TD_CHECK(model.has_representation(), weighting.method(), ": scope=rep needs a model with a single shared ",
             "representation (encode/decode); ", model.name(), " has none — use scope=params or scope=last");
    result.representation = model.encode(input);
    result.representation_leaf = result.representation.detach().requires_grad_(true);
    result.outputs = model.decode(result.representation_leaf, input);
  }
  TD_CHECK(result.outputs.size() == model.num_tasks(), "mtl::forward_for: ", model.name(), " returned ",
           result.outputs.size(), " outputs for ", model.num_tasks(), " tasks");
  return result;
}

}  // namespace tandem::mtl

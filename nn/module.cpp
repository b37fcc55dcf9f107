// Module tree bookkeeping: registration, dotted-name traversal, train/eval, device and dtype moves, freezing,
// zero_grad, printing. Layers live in nn/modules/.
#include "nn/module.h"

#include <cxxabi.h>

#include <cstdlib>
#include <sstream>
#include <typeinfo>

#include "tensor/dispatch.h"

namespace tandem::nn {

namespace {
void check_name(const std::string& name, const char* what) {
  TD_CHECK(!name.empty(), what, ": the name must not be empty");
  TD_CHECK(name.find('.') == std::string::npos, what, ": the name '", name, "' must not contain '.'");
}

std::string type_name_of(const Module& m) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(typeid(m).name(), nullptr, nullptr, &status);
  std::string full = status == 0 && demangled ? demangled : typeid(m).name();
  std::free(demangled);
  auto lt = full.find('<');  // drop template arguments
  if (lt != std::string::npos) full = full.substr(0, lt);
  auto colon = full.rfind("::");
  if (colon != std::string::npos) full = full.substr(colon + 2);
  if (full.size() > 4 && full.compare(full.size() - 4, 4, "Impl") == 0) full.resize(full.size() - 4);
  return full;
}
}  // namespace

Module::Module(std::string name) : name_(std::move(name)) {}

const std::string& Module::name() const {
  if (name_.empty()) name_ = type_name_of(*this);
  return name_;
}

Tensor& Module::register_parameter(std::string name, Tensor tensor, bool requires_grad) {
  check_name(name, "register_parameter");
  TD_CHECK(tensor.defined(), "register_parameter: parameter '", name, "' is an undefined tensor");
  TD_CHECK(!parameters_.contains(name) && !buffers_.contains(name) && !children_.contains(name),
           "register_parameter: '", name, "' is already registered in ", this->name());
  if (!tensor.is_leaf()) tensor = tensor.detach();
  if (tensor.requires_grad() != requires_grad) tensor.requires_grad_(requires_grad);
  return parameters_.insert(std::move(name), std::move(tensor));
}

Tensor& Module::register_buffer(std::string name, Tensor tensor) {
  check_name(name, "register_buffer");
  TD_CHECK(tensor.defined(), "register_buffer: buffer '", name, "' is an undefined tensor");
  TD_CHECK(!parameters_.contains(name) && !buffers_.contains(name) && !children_.contains(name),
           "register_buffer: '", name, "' is already registered in ", this->name());
  return buffers_.insert(std::move(name), std::move(tensor));
}

void Module::add_child(std::string name, std::shared_ptr<Module> module) {
  check_name(name, "register_module");
  TD_CHECK(module != nullptr, "register_module: submodule '", name, "' is empty");
  TD_CHECK(!parameters_.contains(name) && !buffers_.contains(name) && !children_.contains(name),
           "register_module: '", name, "' is already registered in ", this->name());
  children_.insert(std::move(name), std::move(module));
}

void Module::replace_child(const std::string& name, std::shared_ptr<Module> module) {
  TD_CHECK(module != nullptr, "replace_module: the new submodule '", name, "' is empty");
  std::shared_ptr<Module>* slot = children_.find(name);
  TD_CHECK(slot != nullptr, "replace_module: ", this->name(), " has no submodule '", name, "'");
  *slot = std::move(module);
}

OrderedDict<Tensor> Module::named_parameters(bool recurse) const {
  OrderedDict<Tensor> out;
  for (auto& [k, v] : parameters_) out.insert(k, v);
  if (recurse)
    for (auto& [child_name, child] : children_)
      for (auto& [k, v] : child->named_parameters(true)) out.insert(child_name + "." + k, v);
  return out;
}
std::vector<Tensor> Module::parameters(bool recurse) const { return named_parameters(recurse).values(); }

OrderedDict<Tensor> Module::named_buffers(bool recurse) const {
  OrderedDict<Tensor> out;
  for (auto& [k, v] : buffers_) out.insert(k, v);
  if (recurse)
    for (auto& [child_name, child] : children_)
      for (auto& [k, v] : child->named_buffers(true)) out.insert(child_name + "." + k, v);
  return out;
}
std::vector<Tensor> Module::buffers(bool recurse) const { return named_buffers(recurse).values(); }

std::vector<std::shared_ptr<Module>> Module::children() const { return children_.values(); }
OrderedDict<std::shared_ptr<Module>> Module::named_children() const {
  OrderedDict<std::shared_ptr<Module>> out;
  for (auto& [k, v] : children_) out.insert(k, v);
  return out;
}

OrderedDict<std::shared_ptr<Module>> Module::named_modules(const std::string& prefix, bool include_self) {
  OrderedDict<std::shared_ptr<Module>> out;
  if (include_self) out.insert(prefix, shared_from_this());
  for (auto& [k, child] : children_) {
    const std::string child_prefix = prefix.empty() ? k : prefix + "." + k;
    for (auto& [name, m] : child->named_modules(child_prefix, true)) out.insert(name, m);
  }
  return out;
}
std::vector<std::shared_ptr<Module>> Module::modules(bool include_self) {
  return named_modules("", include_self).values();
}

void Module::apply(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (auto& [k, child] : children_) child->apply(fn);
}
void Module::apply(const std::function<void(const std::string&, Module&)>& fn, const std::string& prefix) {
  fn(prefix, *this);
  for (auto& [k, child] : children_) child->apply(fn, prefix.empty() ? k : prefix + "." + k);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [k, child] : children_) child->train(on);
}

void set_data(Tensor& target, const Tensor& source) {
  TD_CHECK(target.defined() && source.defined(), "set_data: undefined tensor");
  TensorImpl& t = *target.impl();
  const TensorImpl& s = *source.impl();
  t.storage = s.storage;
  t.sizes = s.sizes;
  t.strides = s.strides;
  t.offset = s.offset;
  t.dtype = s.dtype;
}

namespace {
void move_tensor(Tensor& t, Device device, ScalarType dtype, bool change_dtype) {
  NoGradGuard no_grad;
  const ScalarType target_dtype = change_dtype && is_floating(t.dtype()) ? dtype : t.dtype();
  if (t.device() == device && t.dtype() == target_dtype) return;
  Tensor moved = t.detach().to(device, target_dtype);
  set_data(t, moved);
  if (Tensor g = t.grad(); g.defined()) {
    Tensor moved_grad = g.to(device, target_dtype);
    t.set_grad(moved_grad);
  }
}
}  // namespace

void Module::to(Device device) {
  for (auto& [k, p] : parameters_) move_tensor(p, device, p.dtype(), false);
  for (auto& [k, b] : buffers_) move_tensor(b, device, b.dtype(), false);
  for (auto& [k, child] : children_) child->to(device);
}
void Module::to(ScalarType dtype) {
  for (auto& [k, p] : parameters_) move_tensor(p, p.device(), dtype, true);
  for (auto& [k, b] : buffers_) move_tensor(b, b.device(), dtype, true);
  for (auto& [k, child] : children_) child->to(dtype);
}
void Module::to(Device device, ScalarType dtype) {
  to(device);
  to(dtype);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none) {
      p.set_grad(Tensor());
    } else {
      NoGradGuard no_grad;
      g.zero_();
    }
  }
}

Module& Module::requires_grad_(bool requires_grad) {
  for (Tensor& p : parameters()) p.requires_grad_(requires_grad);
  return *this;
}

int64_t Module::num_parameters(bool only_trainable) const {
  int64_t n = 0;
  for (const Tensor& p : parameters())
    if (!only_trainable || p.requires_grad()) n += p.numel();
  return n;
}

std::shared_ptr<Module> Module::clone() const {
  throw Error(detail::concat("clone: ", name(),
                             " cannot be cloned; derive it from nn::Cloneable<", name(), "Impl> and implement reset()"));
}

void Module::pretty_print(std::ostream& os) const { os << name(); }

void Module::print_tree(std::ostream& os, const std::string& label, int indent) const {
  const std::string pad(static_cast<size_t>(indent) * 2, ' ');
  os << pad;
  if (!label.empty()) os << '(' << label << "): ";
  pretty_print(os);
  int64_t own = 0;
  for (auto& [k, p] : parameters_) own += p.numel();
  if (!parameters_.empty()) {
    os << "  [";
    bool first = true;
    for (auto& [k, p] : parameters_) {
      os << (first ? "" : ", ") << k << ' ' << p.sizes() << (p.requires_grad() ? "" : " frozen");
      first = false;
    }
    os << "; " << own << " params]";
  }
  os << '\n';
  for (auto& [k, child] : children_) child->print_tree(os, k, indent + 1);
}

std::string Module::tree_string() const {
  std::ostringstream os;
  print_tree(os, "", 0);
  os << "Total parameters: " << num_parameters() << " (trainable: " << num_parameters(true) << ")\n";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.tree_string(); }

}  // namespace tandem::nn

// nn::Module: the tree that models are built from, in libtorch's shape. A module owns named parameters
// (tensors that require grad), named buffers (state such as running statistics) and named child modules;
// everything else — training flag, device/dtype moves, zero_grad, freezing, printing, cloning — walks that tree.
//
//   struct NetImpl : tandem::nn::Module {
//     NetImpl() : fc(register_module("fc", tandem::nn::Linear(784, 10))) {}
//     tandem::Tensor forward(tandem::Tensor x) { return fc(x); }
//     tandem::nn::Linear fc;
//   };
//   TANDEM_MODULE(Net);  // Net is a shared handle to a NetImpl: Net net; net->parameters(); net(x);
//
// Parameters are stored as Tensor handles shared with the member fields, so moving a module (to(device)) swaps
// the data inside those same tensors rather than replacing them.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"
#include "tensor/tensor.h"

namespace tandem::nn {

/// An insertion-ordered list of (name, value) pairs with lookup by name — what named_parameters() returns.
template <typename V>
class OrderedDict {
 public:
  using Item = std::pair<std::string, V>;
  V& insert(std::string key, V value) {
    TD_CHECK(!contains(key), "OrderedDict: key '", key, "' already exists");
    items_.emplace_back(std::move(key), std::move(value));
    return items_.back().second;
  }
  bool contains(const std::string& key) const { return find(key) != nullptr; }
  V* find(const std::string& key) {
    for (auto& it : items_)
      if (it.first == key) return &it.second;
    return nullptr;
  }
  const V* find(const std::string& key) const {
    for (auto& it : items_)
      if (it.first == key) return &it.second;
    return nullptr;
  }
  V& operator[](const std::string& key) {
    V* v = find(key);
    TD_CHECK(v != nullptr, "OrderedDict: no key '", key, "'");
    return *v;
  }
  const V& operator[](const std::string& key) const {
    const V* v = find(key);
    TD_CHECK(v != nullptr, "OrderedDict: no key '", key, "'");
    return *v;
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    for (auto& it : items_) k.push_back(it.first);
    return k;
  }
  std::vector<V> values() const {
    std::vector<V> v;
    for (auto& it : items_) v.push_back(it.second);
    return v;
  }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  void clear() { items_.clear(); }

 private:
  std::vector<Item> items_;
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  /// `name` is the type name shown by printing (e.g. "Linear"); derived from the C++ type when empty.
  explicit Module(std::string name = "");
  virtual ~Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;

  /// The type name used when printing, e.g. "Linear".
  const std::string& name() const;

  // ---- registration -------------------------------------------------------------------------------------
  /// Registers (and returns a handle to) a parameter; it requires grad unless requires_grad is false.
  Tensor& register_parameter(std::string name, Tensor tensor, bool requires_grad = true);
  /// Registers persistent state that is saved and moved with the module but is not trained.
  Tensor& register_buffer(std::string name, Tensor tensor);
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    add_child(std::move(name), module);
    return module;
  }
  template <typename H, typename = typename H::ContainedType>
  H register_module(std::string name, H holder) {
    add_child(std::move(name), holder.ptr());
    return holder;
  }
  /// Replaces a registered child (e.g. a new task head); returns the new child.
  template <typename M>
  std::shared_ptr<M> replace_module(const std::string& name, std::shared_ptr<M> module) {
    replace_child(name, module);
    return module;
  }

  // ---- traversal ----------------------------------------------------------------------------------------
  std::vector<Tensor> parameters(bool recurse = true) const;
  /// Dotted names, e.g. "encoder.fc1.weight".
  OrderedDict<Tensor> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  OrderedDict<Tensor> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  OrderedDict<std::shared_ptr<Module>> named_children() const;
  /// This module and all its descendants, depth first (the root first, with name "").
  std::vector<std::shared_ptr<Module>> modules(bool include_self = true);
  OrderedDict<std::shared_ptr<Module>> named_modules(const std::string& prefix = "", bool include_self = true);
  /// Calls fn on this module and every descendant.
  void apply(const std::function<void(Module&)>& fn);
  void apply(const std::function<void(const std::string&, Module&)>& fn, const std::string& prefix = "");

  // ---- state --------------------------------------------------------------------------------------------
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  /// Moves every parameter and buffer (keeping the same Tensor handles, and the .grad with them).
  virtual void to(Device device);
  virtual void to(ScalarType dtype);
  void to(Device device, ScalarType dtype);
  /// Clears (set_to_none) or zeroes every parameter's gradient.
  void zero_grad(bool set_to_none = true);
  /// Freezes (false) or unfreezes (true) every parameter of this subtree.
  Module& requires_grad_(bool requires_grad = true);
  /// Number of scalars in all parameters (only trainable ones if requested).
  int64_t num_parameters(bool only_trainable = false) const;

  /// A deep copy (parameters, buffers, children) for modules deriving from Cloneable<T>.
  virtual std::shared_ptr<Module> clone() const;

  // ---- printing -----------------------------------------------------------------------------------------
  /// One line describing this module's own configuration, e.g. "Linear(in_features=784, out_features=10)".
  virtual void pretty_print(std::ostream& os) const;
  /// The whole tree, one module per line, with parameter shapes and counts.
  std::string tree_string() const;

 protected:
  OrderedDict<Tensor> parameters_;
  OrderedDict<Tensor> buffers_;
  OrderedDict<std::shared_ptr<Module>> children_;
  bool training_ = true;

 private:
  void add_child(std::string name, std::shared_ptr<Module> module);
  void replace_child(const std::string& name, std::shared_ptr<Module> module);
  void print_tree(std::ostream& os, const std::string& name, int indent) const;
  mutable std::string name_;
};

std::ostream& operator<<(std::ostream& os, const Module& module);

/// Replaces the data (storage, shape, dtype, device) of `target` with `source`'s, keeping target's handle and
/// autograd identity; what Module::to and checkpoint loading use.
void set_data(Tensor& target, const Tensor& source);

/// Base for modules that can be deep-copied: Derived::reset() must (re)create all parameters, buffers and
/// children. clone() builds a fresh copy with reset() and copies the values over.
template <typename Derived>
class Cloneable : public Module {
 public:
  using Module::Module;
  /// (Re)creates parameters, buffers and submodules from the options.
  virtual void reset() = 0;
  std::shared_ptr<Module> clone() const override {
    auto copy = std::make_shared<Derived>(static_cast<const Derived&>(*this));
    copy->parameters_.clear();
    copy->buffers_.clear();
    copy->children_.clear();
    copy->reset();
    copy_state_into(*copy);
    return copy;
  }

 private:
  void copy_state_into(Module& copy) const {
    NoGradGuard no_grad;
    auto src_params = named_parameters(), dst_params = copy.named_parameters();
    TD_CHECK(src_params.size() == dst_params.size(), "clone: ", name(), " reset() made ", dst_params.size(),
             " parameters but the original has ", src_params.size());
    for (auto& [key, src] : src_params) {
      Tensor& dst = dst_params[key];
      Tensor value = src.clone().detach();
      set_data(dst, value);
      dst.requires_grad_(src.requires_grad());
    }
    auto src_buffers = named_buffers(), dst_buffers = copy.named_buffers();
    for (auto& [key, src] : src_buffers) {
      Tensor& dst = dst_buffers[key];
      set_data(dst, src.clone().detach());
    }
    copy_training_modes(*this, copy);
  }

  /// Gives each module of `copy`'s tree the training mode of the module at the same place in `source`'s tree
  /// (top down, so that a child in eval() under a parent in train() stays in eval()).
  static void copy_training_modes(const Module& source, Module& copy) {
    copy.train(source.is_training());
    const auto from = source.children(), to = copy.children();
    for (size_t i = 0; i < from.size() && i < to.size(); ++i) copy_training_modes(*from[i], *to[i]);
  }
};

/// A shared handle to a module implementation, as libtorch's ModuleHolder: `Linear fc(784, 10); fc(x);
/// fc->weight`. A default-constructed holder builds the module with its default arguments when possible; one
/// built from nullptr is empty.
template <typename Impl>
class ModuleHolder {
 public:
  using ContainedType = Impl;
  ModuleHolder() : impl_(default_construct()) {}
  ModuleHolder(std::nullptr_t) {}  // NOLINT: an empty holder
  ModuleHolder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}  // NOLINT
  template <typename A0, typename... Args,
            typename = std::enable_if_t<!std::is_same_v<std::decay_t<A0>, ModuleHolder> &&
                                        !std::is_same_v<std::decay_t<A0>, std::shared_ptr<Impl>> &&
                                        !std::is_same_v<std::decay_t<A0>, std::nullptr_t>>>
  explicit ModuleHolder(A0&& a0, Args&&... args)
      : impl_(std::make_shared<Impl>(std::forward<A0>(a0), std::forward<Args>(args)...)) {}

  Impl* operator->() const { return get(); }
  Impl& operator*() const { return *get(); }
  Impl* get() const {
    TD_CHECK(impl_ != nullptr, "ModuleHolder: accessing an empty module holder");
    return impl_.get();
  }
  const std::shared_ptr<Impl>& ptr() const { return impl_; }
  bool is_empty() const { return impl_ == nullptr; }
  explicit operator bool() const { return impl_ != nullptr; }
  /// Calls the module's forward().
  template <typename... Args>
  decltype(auto) operator()(Args&&... args) const {
    return get()->forward(std::forward<Args>(args)...);
  }
  /// Forwards indexing to the module (Sequential, ModuleList, ModuleDict): `seq[0]`, `dict["head"]`.
  template <typename Key>
  decltype(auto) operator[](Key&& key) const {
    return (*get())[std::forward<Key>(key)];
  }

 private:
  static std::shared_ptr<Impl> default_construct() {
    if constexpr (std::is_default_constructible_v<Impl>) return std::make_shared<Impl>();
    else return nullptr;
  }
  std::shared_ptr<Impl> impl_;
};

template <typename Impl>
std::ostream& operator<<(std::ostream& os, const ModuleHolder<Impl>& m) {
  return os << *m;
}

}  // namespace tandem::nn

/// Declares `Name`, a ModuleHolder of `NameImpl`, like libtorch's TORCH_MODULE.
#define TANDEM_MODULE(Name)                                 \
  class Name : public ::tandem::nn::ModuleHolder<Name##Impl> { \
   public:                                                  \
    using ::tandem::nn::ModuleHolder<Name##Impl>::ModuleHolder; \
    Name() : ::tandem::nn::ModuleHolder<Name##Impl>() {}    \
  }

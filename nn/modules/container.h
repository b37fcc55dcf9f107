// Containers: Sequential (a chain of Tensor -> Tensor modules), ModuleList (an indexed list of modules) and
// ModuleDict (modules by name), plus Functional, which wraps a plain function as a module for Sequential.
//
//   nn::Sequential net(nn::Linear(784, 128), nn::ReLU(), nn::Linear(128, 10));
//   Tensor logits = net(x);                       // children are named "0", "1", "2"
//   auto fc = net->ptr<nn::LinearImpl>(0);        // typed access
//
// Cloning a container clones every child.
#pragma once

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace tandem::nn {

/// A module whose forward takes one Tensor and returns a Tensor: what Sequential can chain.
template <typename M>
concept TensorToTensorModule = std::derived_from<M, Module> && requires(M& module, Tensor input) {
  { module.forward(input) } -> std::convertible_to<Tensor>;
};

/// A module holder (Linear, ReLU, ...) or a shared_ptr to a module: what the containers' constructors take.
template <typename T>
concept ModuleHandle = std::convertible_to<std::remove_cvref_t<T>, std::shared_ptr<Module>> ||
    requires(const std::remove_cvref_t<T>& holder) {
  typename std::remove_cvref_t<T>::ContainedType;
  holder.ptr();
};

/// A function Tensor -> Tensor as a module without parameters: `Sequential(Linear(4, 4), Functional(tandem::relu))`.
class FunctionalImpl : public Cloneable<FunctionalImpl> {
 public:
  using Function = std::function<Tensor(Tensor)>;
  explicit FunctionalImpl(Function function);
  void reset() override {}
  Tensor forward(Tensor input);
  void pretty_print(std::ostream& os) const override { os << "Functional()"; }

 private:
  Function function_;
};
TANDEM_MODULE(Functional);

namespace detail {
/// Throws unless `index` < `size`, naming the container.
void check_container_index(const char* container, size_t index, size_t size);
/// Casts a stored child to T, throwing (naming the container and the child) when it is of another type.
template <typename T>
std::shared_ptr<T> cast_child(const char* container, const std::string& key, const std::shared_ptr<Module>& module) {
  auto typed = std::dynamic_pointer_cast<T>(module);
  TD_CHECK(typed != nullptr, container, ": child '", key, "' is a ", module->name(), ", not the requested type");
  return typed;
}
}  // namespace detail

/// Applies its children in order, each one's output feeding the next. Children are named "0", "1", ... unless
/// pushed with a name.
class SequentialImpl : public Cloneable<SequentialImpl> {
 public:
  SequentialImpl() = default;
  /// Sequential(Linear(4, 8), ReLU(), ...): module holders or shared_ptrs of Tensor -> Tensor modules.
  template <ModuleHandle... Modules>
  explicit SequentialImpl(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }

  /// Appends a module under the name of its position.
  template <TensorToTensorModule M>
  void push_back(std::shared_ptr<M> module) {
    push_back(std::to_string(entries_.size()), std::move(module));
  }
  template <TensorToTensorModule M>
  void push_back(std::string name, std::shared_ptr<M> module) {
    TD_CHECK(module != nullptr, "Sequential: cannot push_back an empty module");
    register_module(name, std::static_pointer_cast<Module>(module));
    entries_.push_back(Entry{std::move(name), module, &invoke<M>});
  }
  template <typename Impl>
  void push_back(const ModuleHolder<Impl>& holder) {
    push_back(holder.ptr());
  }
  template <typename Impl>
  void push_back(std::string name, const ModuleHolder<Impl>& holder) {
    push_back(std::move(name), holder.ptr());
  }
  /// Appends (shares, does not copy) every module of `other`.
  void extend(const SequentialImpl& other);

  /// Runs the chain; an empty Sequential returns its input.
  Tensor forward(Tensor input);
  /// Runs only the children [begin, end) on `input` (begin == end returns it), so a caller can stop after
  /// any child and go on later: forward(x) == forward_range(forward_range(x, 0, k), k, size()).
  Tensor forward_range(Tensor input, size_t begin, size_t end);

  size_t size() const { return entries_.size(); }
  bool is_empty() const { return entries_.empty(); }
  /// The i-th module.
  std::shared_ptr<Module> operator[](size_t index) const { return ptr(index); }
  /// The i-th module, cast to T (e.g. ptr<LinearImpl>(0)); throws when it is of another type.
  template <typename T = Module>
  std::shared_ptr<T> ptr(size_t index) const {
    detail::check_container_index("Sequential", index, entries_.size());
    if constexpr (std::is_same_v<T, Module>)
      return entries_[index].module;
    else
      return detail::cast_child<T>("Sequential", entries_[index].name, entries_[index].module);
  }
  template <typename T>
  T& at(size_t index) const {
    return *ptr<T>(index);
  }
  /// The modules in order.
  std::vector<std::shared_ptr<Module>> modules_in_order() const;

  /// Nothing to (re)create: the children are the state. clone() clones each child.
  void reset() override {}
  std::shared_ptr<Module> clone() const override;
  void pretty_print(std::ostream& os) const override { os << "Sequential"; }

 private:
  using Invoker = Tensor (*)(Module&, Tensor);
  struct Entry {
    std::string name;
    std::shared_ptr<Module> module;
    Invoker invoke;
  };
  template <typename M>
  static Tensor invoke(Module& module, Tensor input) {
    return static_cast<M&>(module).forward(std::move(input));
  }
  std::vector<Entry> entries_;
};
TANDEM_MODULE(Sequential);

/// An indexed list of modules (any kind), registered as children "0", "1", ...; it has no forward.
class ModuleListImpl : public Cloneable<ModuleListImpl> {
 public:
  ModuleListImpl() = default;
  template <ModuleHandle... Modules>
  explicit ModuleListImpl(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }

  template <typename M>
  requires std::derived_from<M, Module>
  void push_back(std::shared_ptr<M> module) {
    TD_CHECK(module != nullptr, "ModuleList: cannot push_back an empty module");
    std::shared_ptr<Module> base = std::move(module);
    register_module(std::to_string(modules_.size()), base);
    modules_.push_back(std::move(base));
  }
  template <typename Impl>
  void push_back(const ModuleHolder<Impl>& holder) {
    push_back(holder.ptr());
  }
  /// Appends (shares, does not copy) every module of `other`.
  void extend(const ModuleListImpl& other);

  size_t size() const { return modules_.size(); }
  bool is_empty() const { return modules_.empty(); }
  std::shared_ptr<Module> operator[](size_t index) const { return ptr(index); }
  template <typename T = Module>
  std::shared_ptr<T> ptr(size_t index) const {
    detail::check_container_index("ModuleList", index, modules_.size());
    if constexpr (std::is_same_v<T, Module>)
      return modules_[index];
    else
      return detail::cast_child<T>("ModuleList", std::to_string(index), modules_[index]);
  }
  template <typename T>
  T& at(size_t index) const {
    return *ptr<T>(index);
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

  void reset() override {}
  std::shared_ptr<Module> clone() const override;
  void pretty_print(std::ostream& os) const override { os << "ModuleList"; }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};
TANDEM_MODULE(ModuleList);

/// Modules by name, in insertion order; each is a child under its key.
class ModuleDictImpl : public Cloneable<ModuleDictImpl> {
 public:
  ModuleDictImpl() = default;
  explicit ModuleDictImpl(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& modules);

  template <typename M>
  requires std::derived_from<M, Module>
  void insert(std::string key, std::shared_ptr<M> module) {
    TD_CHECK(module != nullptr, "ModuleDict: cannot insert an empty module under '", key, "'");
    TD_CHECK(!contains(key), "ModuleDict: key '", key, "' already exists");
    register_module(std::move(key), std::static_pointer_cast<Module>(std::move(module)));
  }
  template <typename Impl>
  void insert(std::string key, const ModuleHolder<Impl>& holder) {
    insert(std::move(key), holder.ptr());
  }
  bool contains(const std::string& key) const { return children_.contains(key); }
  /// The module under `key`; throws naming the key when there is none.
  std::shared_ptr<Module> operator[](const std::string& key) const { return ptr(key); }
  template <typename T = Module>
  std::shared_ptr<T> ptr(const std::string& key) const {
    const std::shared_ptr<Module>* found = children_.find(key);
    TD_CHECK(found != nullptr, "ModuleDict: no module under key '", key, "'");
    if constexpr (std::is_same_v<T, Module>)
      return *found;
    else
      return detail::cast_child<T>("ModuleDict", key, *found);
  }
  template <typename T>
  T& at(const std::string& key) const {
    return *ptr<T>(key);
  }
  size_t size() const { return children_.size(); }
  bool is_empty() const { return children_.empty(); }
  std::vector<std::string> keys() const { return children_.keys(); }
  std::vector<std::shared_ptr<Module>> values() const { return children_.values(); }
  /// (key, module) pairs in insertion order.
  auto begin() const { return children_.begin(); }
  auto end() const { return children_.end(); }

  void reset() override {}
  std::shared_ptr<Module> clone() const override;
  void pretty_print(std::ostream& os) const override { os << "ModuleDict"; }
};
TANDEM_MODULE(ModuleDict);

}  // namespace tandem::nn

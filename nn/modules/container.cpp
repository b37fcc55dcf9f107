// Sequential, ModuleList, ModuleDict and Functional.
#include "nn/modules/container.h"

namespace tandem::nn {

FunctionalImpl::FunctionalImpl(Function function) : function_(std::move(function)) {
  TD_CHECK(static_cast<bool>(function_), "Functional: the function is empty");
}

Tensor FunctionalImpl::forward(Tensor input) { return function_(std::move(input)); }

namespace detail {
void check_container_index(const char* container, size_t index, size_t size) {
  TD_CHECK(index < size, container, ": index ", index, " is out of range for a container of ", size, " modules");
}
}  // namespace detail

// ---- Sequential -------------------------------------------------------------------------------------------------

void SequentialImpl::extend(const SequentialImpl& other) {
  TD_CHECK(&other != this, "Sequential: cannot extend a Sequential with itself");
  for (const Entry& entry : other.entries_) {
    const std::string name = std::to_string(entries_.size());
    register_module(name, entry.module);
    entries_.push_back(Entry{name, entry.module, entry.invoke});
  }
}

Tensor SequentialImpl::forward(Tensor input) { return forward_range(std::move(input), 0, entries_.size()); }

Tensor SequentialImpl::forward_range(Tensor input, size_t begin, size_t end) {
  TD_CHECK(begin <= end && end <= entries_.size(), "Sequential: forward_range(", begin, ", ", end,
           ") is not a range of the ", entries_.size(), " modules");
  for (size_t i = begin; i < end; ++i) input = entries_[i].invoke(*entries_[i].module, std::move(input));
  return input;
}

std::vector<std::shared_ptr<Module>> SequentialImpl::modules_in_order() const {
  std::vector<std::shared_ptr<Module>> out;
  out.reserve(entries_.size());
  for (const Entry& entry : entries_) out.push_back(entry.module);
  return out;
}

std::shared_ptr<Module> SequentialImpl::clone() const {
  auto copy = std::make_shared<SequentialImpl>();
  for (const Entry& entry : entries_) {
    std::shared_ptr<Module> child = entry.module->clone();
    copy->register_module(entry.name, child);
    copy->entries_.push_back(Entry{entry.name, std::move(child), entry.invoke});
  }
  copy->training_ = training_;
  return copy;
}

// ---- ModuleList -------------------------------------------------------------------------------------------------

void ModuleListImpl::extend(const ModuleListImpl& other) {
  TD_CHECK(&other != this, "ModuleList: cannot extend a ModuleList with itself");
  for (const auto& module : other.modules_) push_back(module);
}

std::shared_ptr<Module> ModuleListImpl::clone() const {
  auto copy = std::make_shared<ModuleListImpl>();
  for (const auto& module : modules_) copy->push_back(module->clone());
  copy->training_ = training_;
  return copy;
}

// ---- ModuleDict -------------------------------------------------------------------------------------------------

ModuleDictImpl::ModuleDictImpl(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& modules) {
  for (const auto& [key, module] : modules) insert(key, module);
}

std::shared_ptr<Module> ModuleDictImpl::clone() const {
  auto copy = std::make_shared<ModuleDictImpl>();
  for (const auto& [key, module] : children_) copy->insert(key, module->clone());
  copy->training_ = training_;
  return copy;
}

}  // namespace tandem::nn

// Graph building blocks: node bookkeeping, AccumulateGrad, SavedVariable, and the helpers that connect a new
// node to its inputs and outputs. Also grad mode's thread-local flag.
#include "autograd/node.h"

#include <atomic>

#include "autograd/function.h"
#include "tensor/dispatch.h"
#include "tensor/functions.h"

namespace tandem {

namespace {
thread_local bool grad_enabled = true;
}  // namespace
bool GradMode::is_enabled() { return grad_enabled; }
void GradMode::set_enabled(bool enabled) { grad_enabled = enabled; }

namespace autograd {

namespace {
std::atomic<uint64_t> next_sequence_nr{0};
}  // namespace

Node::Node() : sequence_nr(next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

void Node::run_pre_hooks(variable_list& grads) {
  for (const PreHook& hook : pre_hooks) {
    if (hook.output_nr >= grads.size() || !grads[hook.output_nr].defined()) continue;
    Tensor replaced = hook.fn(grads[hook.output_nr]);
    if (replaced.defined()) grads[hook.output_nr] = replaced;
  }
}

// ---- AccumulateGrad -------------------------------------------------------------------------------------------
AccumulateGrad::AccumulateGrad(Tensor v) : variable(std::move(v)) {}

void AccumulateGrad::run_pre_hooks(variable_list& grads) {
  for (const TensorHook& hook : variable.impl()->hooks) {
    if (!hook || grads.empty() || !grads[0].defined()) continue;
    Tensor replaced = hook(grads[0]);
    if (replaced.defined()) grads[0] = replaced;
  }
}

variable_list AccumulateGrad::apply(variable_list&& grads) {
  if (grads.empty() || !grads[0].defined()) return {};
  Tensor incoming = grads[0];
  TensorImpl& impl = *variable.impl();
  if (!impl.grad) {
    if (GradMode::is_enabled()) {
      impl.grad = incoming.impl();  // create_graph: keep the gradient's own graph
    } else {
      // Own the buffer: a gradient may alias other tensors (an expanded view, the user's grad_output).
      Tensor owned = incoming.detach();
      if (!owned.is_contiguous() || owned.impl()->storage.use_count() > 1 || owned.impl()->is_view)
        owned = owned.clone();
      impl.grad = owned.impl();
    }
  } else if (GradMode::is_enabled()) {
    impl.grad = (Tensor(impl.grad) + incoming).impl();
  } else {
    Tensor g(impl.grad);
    g.add_(incoming);
  }
  return {};
}

// ---- SavedVariable --------------------------------------------------------------------------------------------
SavedVariable::SavedVariable(const Tensor& t, bool is_output) : is_output_(is_output), was_defined_(t.defined()) {
  if (!t.defined()) return;
  version_ = t.impl()->storage->version;
  if (is_output) {
    // Keep the values, not the grad_fn (the node owning this SavedVariable *is* that grad_fn).
    data_ = detail::make_view(t, t.sizes(), t.strides(), t.storage_offset());
    data_.impl()->is_view = t.impl()->is_view;
    output_nr_ = t.impl()->output_nr;
  } else {
    data_ = t;
  }
}

Tensor SavedVariable::unpack(Node* owner) const {
  const std::string who = owner ? owner->name() : std::string("backward");
  TD_CHECK(!released_, who,
           ": trying to backward through the graph a second time (or to use saved tensors after they were freed). "
           "Saved values are freed by backward() and autograd::grad() unless retain_graph=true is passed.");
  if (!was_defined_) return Tensor();
  TD_CHECK(data_.impl()->storage->version == version_, who,
           ": a tensor saved for backward was modified by an in-place operation: ", data_.toString(), " is at version ",
           data_.impl()->storage->version, ", expected version ", version_);
  if (!is_output_) return data_;
  Tensor out = detail::make_view(data_, data_.sizes(), data_.strides(), data_.storage_offset());
  out.impl()->is_view = data_.impl()->is_view;
  if (owner) {
    out.impl()->grad_fn = owner->shared_from_this();
    out.impl()->output_nr = output_nr_;
  }
  return out;
}

void SavedVariable::reset() {
  data_ = Tensor();
  released_ = true;
}

// ---- connecting nodes ---------------------------------------------------------------------------------------
bool compute_requires_grad_list(const variable_list& tensors) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : tensors)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined()) return Edge{};
  TensorImpl& impl = *t.impl();
  if (impl.grad_fn) return Edge{impl.grad_fn, impl.output_nr};
  if (!impl.requires_grad) return Edge{};
  std::shared_ptr<Node> acc = impl.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    acc->num_outputs = 1;
    impl.grad_accumulator = acc;
  }
  return Edge{acc, 0};
}

void connect_inputs(Node& node, const variable_list& inputs) {
  node.next_edges.reserve(inputs.size());
  node.input_meta.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge e = gradient_edge(t);
    node.next_edges.push_back(e);
    if (t.defined()) node.input_meta.push_back(InputMeta{t.sizes(), t.dtype(), t.device()});
    else node.input_meta.push_back(InputMeta{});
  }
}

void set_history(Tensor& output, const std::shared_ptr<Node>& node) {
  TensorImpl& impl = *output.impl();
  impl.grad_fn = node;
  impl.output_nr = node->num_outputs++;
  impl.requires_grad = true;
}

bool same_view(const Tensor& a, const Tensor& b) {
  return a.impl()->storage == b.impl()->storage && a.sizes() == b.sizes() && a.strides() == b.strides() &&
         a.storage_offset() == b.storage_offset() && a.dtype() == b.dtype();
}

// ---- custom functions -----------------------------------------------------------------------------------------
double SavedValue::toDouble() const {
  if (auto p = std::get_if<double>(&value_)) return *p;
  if (auto p = std::get_if<int64_t>(&value_)) return static_cast<double>(*p);
  throw Error("SavedValue: not a number");
}
int64_t SavedValue::toInt() const {
  if (auto p = std::get_if<int64_t>(&value_)) return *p;
  throw Error("SavedValue: not an integer");
}
bool SavedValue::toBool() const {
  if (auto p = std::get_if<bool>(&value_)) return *p;
  throw Error("SavedValue: not a bool");
}
const std::string& SavedValue::toString() const {
  if (auto p = std::get_if<std::string>(&value_)) return *p;
  throw Error("SavedValue: not a string");
}
const std::vector<int64_t>& SavedValue::toIntVector() const {
  if (auto p = std::get_if<std::vector<int64_t>>(&value_)) return *p;
  throw Error("SavedValue: not an integer list");
}
const Tensor& SavedValue::toTensor() const {
  if (auto p = std::get_if<Tensor>(&value_)) return *p;
  throw Error("SavedValue: not a tensor");
}

void AutogradContext::save_for_backward(variable_list tensors) { to_save_ = std::move(tensors); }
variable_list AutogradContext::get_saved_variables() const {
  variable_list out;
  out.reserve(saved_.size());
  for (const SavedVariable& s : saved_) out.push_back(s.unpack(node_));
  return out;
}
void AutogradContext::mark_non_differentiable(const variable_list& outputs) {
  non_differentiable_.insert(non_differentiable_.end(), outputs.begin(), outputs.end());
}
bool AutogradContext::needs_input_grad(size_t i) const { return i < needs_input_grad_.size() && needs_input_grad_[i]; }

}  // namespace autograd
}  // namespace tandem

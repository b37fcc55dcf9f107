// Tensor's autograd methods (requires_grad, grad, backward, hooks, detach) and the in-place helpers of
// tensor/dispatch.h that need the graph: the guard against in-place writes that would break backward, and
// the rebasing of a tensor's history onto the out-of-place result of an in-place op.
#include <atomic>

#include "autograd/engine.h"
#include "tensor/dispatch.h"
#include "tensor/functions.h"

namespace tandem {

bool Tensor::requires_grad() const {
  TD_CHECK(defined(), "requires_grad: undefined tensor");
  return impl_->requires_grad || impl_->grad_fn != nullptr;
}

Tensor& Tensor::requires_grad_(bool requires_grad) {
  TD_CHECK(defined(), "requires_grad_: undefined tensor");
  TD_CHECK(is_leaf(), "requires_grad_: only leaf tensors can change requires_grad (this one was computed by ",
           impl_->grad_fn->name(), "); use detach() to make a leaf");
  TD_CHECK(!requires_grad || is_floating(dtype()), "requires_grad_: only floating-point tensors can require grad, got ",
           dtype());
  impl_->requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const {
  TD_CHECK(defined(), "grad: undefined tensor");
  return impl_->grad ? Tensor(impl_->grad) : Tensor();
}

void Tensor::set_grad(const Tensor& grad) const {
  TD_CHECK(defined(), "set_grad: undefined tensor");
  if (grad.defined())
    TD_CHECK(grad.sizes() == sizes(), "set_grad: gradient shape ", grad.sizes(), " does not match tensor shape ",
             sizes());
  impl_->grad = grad.defined() ? grad.impl() : nullptr;
}

const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const {
  TD_CHECK(defined(), "grad_fn: undefined tensor");
  return impl_->grad_fn;
}

bool Tensor::is_leaf() const { return grad_fn() == nullptr; }

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  TD_CHECK(defined(), "backward: undefined tensor");
  TD_CHECK(requires_grad(), "backward: the tensor does not require grad and has no grad_fn (shape ", sizes(), ")");
  autograd::backward({*this}, {gradient}, retain_graph, create_graph);
}

void Tensor::retain_grad() const {
  TD_CHECK(requires_grad(), "retain_grad: the tensor does not require grad");
  if (is_leaf() || impl_->retains_grad) return;
  impl_->retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  static std::atomic<size_t> ids{0};
  impl_->grad_fn->pre_hooks.push_back(autograd::Node::PreHook{
      ids++ | (size_t{1} << 62), impl_->output_nr, [weak](const Tensor& g) {
        if (auto impl = weak.lock()) {
          Tensor kept = GradMode::is_enabled() ? g : g.detach().clone();
          impl->grad = impl->grad ? (Tensor(impl->grad) + kept).impl() : kept.impl();
        }
        return Tensor();
      }});
}

bool Tensor::retains_grad() const { return defined() && impl_->retains_grad; }

namespace {
std::atomic<size_t> next_hook_id{1};
constexpr size_t kNonLeafHook = size_t{1} << 63;
}  // namespace

size_t Tensor::register_hook(TensorHook hook) const {
  TD_CHECK(requires_grad(), "register_hook: cannot register a hook on a tensor that does not require grad");
  if (is_leaf()) {
    impl_->hooks.push_back(std::move(hook));
    return impl_->hooks.size() - 1;
  }
  const size_t id = next_hook_id++ | kNonLeafHook;
  impl_->grad_fn->pre_hooks.push_back(autograd::Node::PreHook{id, impl_->output_nr, std::move(hook)});
  return id;
}

void Tensor::remove_hook(size_t handle) const {
  if (handle & kNonLeafHook) {
    TD_CHECK(impl_->grad_fn, "remove_hook: tensor has no grad_fn");
    auto& hooks = impl_->grad_fn->pre_hooks;
    for (auto it = hooks.begin(); it != hooks.end(); ++it)
      if (it->id == handle) {
        hooks.erase(it);
        return;
      }
    throw Error(detail::concat("remove_hook: no hook with handle ", handle));
  }
  TD_CHECK(handle < impl_->hooks.size() && impl_->hooks[handle], "remove_hook: no hook with handle ", handle);
  impl_->hooks[handle] = nullptr;
}

Tensor Tensor::detach() const {
  TD_CHECK(defined(), "detach: undefined tensor");
  Tensor out = detail::make_view(*this, sizes(), strides(), storage_offset());
  out.impl()->is_view = false;
  return out;
}

Tensor& Tensor::detach_() {
  TD_CHECK(defined(), "detach_: undefined tensor");
  impl_->grad_fn = nullptr;
  impl_->requires_grad = false;
  return *this;
}

uint32_t Tensor::_version() const { return impl_->storage->version; }

namespace detail {

void check_inplace(const Tensor& t, const char* op) {
  if (!GradMode::is_enabled()) return;
  TD_CHECK(!(t.is_leaf() && t.requires_grad()), op,
           ": a leaf tensor that requires grad is used in an in-place operation (shape ", t.sizes(),
           "); do it under NoGradGuard, or on a clone()");
  TD_CHECK(!(t.impl()->is_view && t.requires_grad()), op, ": in-place operation on a view (shape ", t.sizes(),
           ") of a tensor that requires grad is not supported; do it under NoGradGuard, or on a clone()");
}

void rebase_history(Tensor& t, const Tensor& result) {
  TensorImpl& impl = *t.impl();
  impl.grad_fn = result.impl()->grad_fn;
  impl.output_nr = result.impl()->output_nr;
  impl.requires_grad = impl.grad_fn != nullptr;
}

Tensor& assign_inplace(Tensor& t, const Tensor& result, const char* op) {
  check_inplace(t, op);
  TD_CHECK(result.sizes() == t.sizes(), op, ": the result of shape ", result.sizes(),
           " does not fit the in-place output of shape ", t.sizes());
  const bool records = GradMode::is_enabled() && result.requires_grad();
  TD_CHECK(!(records && t.impl()->is_view), op,
           ": in-place operation on a view that would need a gradient (shape ", t.sizes(),
           ") is not supported; clone() the view first or run it under NoGradGuard");
  check_same_device(t, result, op);
  backend_of(t).copy(strided(result), strided(t));  // converts the dtype if the result's differs
  bump_version(t);
  if (records) rebase_history(t, result);
  return t;
}

}  // namespace detail
}  // namespace tandem

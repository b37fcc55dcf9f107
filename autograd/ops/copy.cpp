// Copies and conversions: to(dtype/device), clone, contiguous, copy_. Their gradients are the identity moved
// back to the input's dtype and device; conversion to an integer or bool dtype ends the graph.
#include "autograd/ops/common.h"

namespace tandem {

using autograd::make_node;
using autograd::Node;
using autograd::set_history;
using autograd::variable_list;

namespace {

struct ToBackward final : Node {
  ScalarType dtype = kFloat32;
  Device device;
  variable_list apply(variable_list&& g) override { return {g[0].to(device, dtype)}; }
  std::string name() const override { return "ToCopyBackward"; }
};

struct CloneBackward final : Node {
  variable_list apply(variable_list&& g) override { return {g[0]}; }
  std::string name() const override { return "CloneBackward"; }
};

/// Copies src's values into dst (same shape; any dtype; possibly different devices).
void copy_values(const Tensor& src, const Tensor& dst) {
  if (src.device() == dst.device()) {
    detail::backend_of(dst).copy(detail::strided(src), detail::strided(dst));
    return;
  }
  // Across devices: convert on the source device into a contiguous buffer, move bytes, then place.
  Tensor staged = detail::make_tensor(src.sizes(), dst.dtype(), src.device());
  detail::backend_of(src).copy(detail::strided(src), detail::strided(staged));
  Tensor landed = dst.is_contiguous() ? dst : detail::make_tensor(dst.sizes(), dst.dtype(), dst.device());
  const size_t nbytes = static_cast<size_t>(staged.numel()) * element_size(dst.dtype());
  if (src.device().is_cpu()) detail::backend_of(landed).copy_from_host(landed.data_ptr(), staged.data_ptr(), nbytes);
  else if (dst.device().is_cpu()) detail::backend_of(staged).copy_to_host(landed.data_ptr(), staged.data_ptr(), nbytes);
  else throw Error(detail::concat("copy: transfers between ", src.device(), " and ", dst.device(), " are not supported"));
  if (!landed.is_same(dst)) detail::backend_of(dst).copy(detail::strided(landed), detail::strided(dst));
}

}  // namespace

Tensor Tensor::to(Device device, ScalarType dtype) const {
  detail::check_defined(*this, "to");
  if (device == this->device() && dtype == this->dtype()) return *this;
  if (device != this->device()) {
    try {
      (void)backend_for(device);  // CUDA built and present, and a valid device index
    } catch (const Error& e) {
      throw Error(detail::concat("to: cannot move a tensor of shape ", sizes(), " to ", device, ": ", e.what()));
    }
  }
  Tensor out = detail::make_tensor(sizes(), dtype, device);
  copy_values(*this, out);
  if (is_floating(dtype)) {
    if (auto node = make_node<ToBackward>(*this)) {
      node->dtype = this->dtype();
      node->device = this->device();
      set_history(out, node);
    }
  }
  return out;
}
Tensor Tensor::to(ScalarType dtype) const { return to(device(), dtype); }
Tensor Tensor::to(Device device) const { return to(device, dtype()); }

Tensor Tensor::clone() const {
  detail::check_defined(*this, "clone");
  Tensor out = detail::make_tensor(sizes(), dtype(), device());
  detail::backend_of(out).copy(detail::strided(*this), detail::strided(out));
  if (auto node = make_node<CloneBackward>(*this)) set_history(out, node);
  return out;
}

Tensor Tensor::contiguous() const {
  detail::check_defined(*this, "contiguous");
  return is_contiguous() ? *this : clone();
}

Tensor& Tensor::copy_(const Tensor& src) {
  detail::check_defined(*this, "copy_");
  detail::check_defined(src, "copy_", "source");
  const Dims shape = broadcast_shapes(sizes(), src.sizes(), "copy_");
  TD_CHECK(shape == sizes(), "copy_: source of shape ", src.sizes(), " cannot be broadcast to the destination shape ",
           sizes());
  if (GradMode::is_enabled() && src.requires_grad()) {
    return detail::assign_inplace(*this, src.to(device(), dtype()).expand(sizes()), "copy_");
  }
  detail::check_inplace(*this, "copy_");
  Tensor from = src;
  if (src.device() != device()) from = src.to(device());
  detail::backend_of(*this).copy(detail::strided(from, sizes(), detail::broadcast_strides(from, sizes())),
                                 detail::strided(*this));
  detail::bump_version(*this);
  if (GradMode::is_enabled() && grad_fn()) {  // the old values, and so their history, are gone
    impl()->grad_fn = nullptr;
    impl()->requires_grad = false;
  }
  return *this;
}

}  // namespace tandem

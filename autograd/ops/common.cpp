// Forward helpers shared by the op files: dtype promotion, broadcasting and output allocation around one
// backend call. They never record graph: the op that calls them attaches its own backward node to the
// original (un-promoted) inputs, and the engine casts gradients back to each input's dtype.
#include "autograd/ops/common.h"

#include <cmath>

namespace tandem::ops {

ScalarType scalar_result_type(const Tensor& t, double scalar) {
  if (is_floating(t.dtype())) return t.dtype();
  if (scalar == std::floor(scalar) && std::isfinite(scalar)) return t.dtype() == kBool ? kInt64 : t.dtype();
  return kFloat32;
}

Tensor unary_forward(UnaryOp op, const Tensor& x, const char* name, double p0, double p1, bool floating) {
  detail::check_defined(x, name);
  Tensor in = x;
  if (floating && !is_floating(x.dtype())) {
    AutoGradMode no_grad(false);
    in = x.to(kFloat32);
  }
  const ScalarType out_dtype = unary_op_is_comparison(op) ? kBool : in.dtype();
  Tensor out = detail::make_tensor(in.sizes(), out_dtype, in.device());
  detail::backend_of(in).unary(op, detail::strided(in), detail::strided(out), p0, p1);
  return out;
}

Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  detail::check_defined(a, name, "first operand");
  detail::check_defined(b, name, "second operand");
  detail::check_same_device(a, b, name);
  ScalarType common = promote_types(a.dtype(), b.dtype());
  if (op == BinaryOp::Div && !is_floating(common)) common = kFloat32;  // true division
  if (op == BinaryOp::Pow && common == kBool) common = kInt64;
  const Dims shape = broadcast_shapes(a.sizes(), b.sizes(), name);
  Tensor ca = a, cb = b;
  if (a.dtype() != common || b.dtype() != common) {
    AutoGradMode no_grad(false);
    if (a.dtype() != common) ca = a.to(common);
    if (b.dtype() != common) cb = b.to(common);
  }
  const ScalarType out_dtype = binary_op_is_comparison(op) ? kBool : common;
  Tensor out = detail::make_tensor(shape, out_dtype, a.device());
  detail::backend_of(out).binary(op, detail::strided(ca, shape, detail::broadcast_strides(ca, shape)),
                                 detail::strided(cb, shape, detail::broadcast_strides(cb, shape)),
                                 detail::strided(out));
  return out;
}

}  // namespace tandem::ops

// Shared pieces of the op files in autograd/ops/: forward helpers that handle dtype promotion, broadcasting
// and output allocation before calling the backend, so that each op's definition is its shape rule, one
// dispatch call and its backward rule.
#pragma once

#include "autograd/node.h"
#include "tensor/dispatch.h"
#include "tensor/functions.h"

namespace tandem::ops {

/// out = op(x) with params; integer/bool inputs of floating functions are promoted to float32 first when
/// `floating` is set. Comparisons produce bool.
Tensor unary_forward(UnaryOp op, const Tensor& x, const char* name, double p0 = 0, double p1 = 0,
                     bool floating = true);
/// out = op(a, b) with dtype promotion and broadcasting; comparisons/logical ops produce bool.
Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, const char* name);
/// The result dtype of a binary op between a tensor and a Python-style scalar: float scalars make integer
/// tensors float32; otherwise the tensor's dtype wins.
ScalarType scalar_result_type(const Tensor& t, double scalar);

}  // namespace tandem::ops

// Internal helpers shared by the op files: how a Tensor becomes a backend operand, how outputs and views are
// made, and the checks every op repeats (dims, devices, dtypes). Not part of the public API.
#pragma once

#include <string>

#include "backends/backend.h"
#include "tensor/tensor.h"

namespace tandem::detail {

/// The backend that runs kernels for t's device.
Backend& backend_of(const Tensor& t);
/// t as a backend operand (data pointer already offset).
Strided strided(const Tensor& t);
/// t's operand with sizes/strides replaced (for broadcast-expanded or reinterpreted views).
Strided strided(const Tensor& t, const Dims& sizes, const Dims& strides);
/// A new contiguous tensor with uninitialised contents (no autograd history).
Tensor make_tensor(const Dims& sizes, ScalarType dtype, Device device);
/// A view of base's storage with the given geometry (no autograd history; marks is_view).
Tensor make_view(const Tensor& base, const Dims& sizes, const Dims& strides, int64_t offset);
/// Strides to read `t` as if it had shape `target` (t's shape must broadcast to it): 0 on broadcast dims.
Dims broadcast_strides(const Tensor& t, const Dims& target);
/// Wraps a possibly negative dim into [0, ndim); throws "<op>: dim d out of range for a tensor of rank r".
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
/// Throws unless a and b are on the same device, naming op and both devices.
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
/// Throws unless t is defined.
void check_defined(const Tensor& t, const char* op, const char* what = "input");
/// Throws unless t has a floating dtype.
void check_floating(const Tensor& t, const char* op);
/// "[2, 3]"-style text of a shape.
inline std::string shape_str(const Tensor& t) { return t.sizes().str(); }
/// Bumps the version counter of t's storage (after an in-place write).
void bump_version(const Tensor& t);
/// Rejects an in-place write to t when autograd would be broken by it (a leaf requiring grad, or a view of
/// a tensor in the graph), naming the op.
void check_inplace(const Tensor& t, const char* op);
/// Makes t's autograd history that of `result` after an in-place op was computed out of place as `result`
/// (t's storage already holds result's values).
void rebase_history(Tensor& t, const Tensor& result);
/// Copies result's values into t (same shape) and, when grad is being recorded, rebases t's history on
/// result's. The common ending of in-place ops.
Tensor& assign_inplace(Tensor& t, const Tensor& result, const char* op);

}  // namespace tandem::detail

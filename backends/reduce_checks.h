// The argument checks of Backend::reduce, shared by every backend so that a misuse gives the same tandem::Error
// on every device: the output keeps the input's rank with reduced dims of size 1, has the dtype the op writes
// (int64 for argmax/argmin, bool for any/all, the input's otherwise), and argmax/argmin reduce one dim.
#pragma once

#include <cstddef>

#include "backends/backend.h"

namespace tandem::reduce_checks {

inline const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Prod: return "prod";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
    case ReduceOp::ArgMax: return "argmax";
    case ReduceOp::ArgMin: return "argmin";
    case ReduceOp::Any: return "any";
    case ReduceOp::All: return "all";
  }
  return "reduce";
}

/// Throws a tandem::Error naming the op unless `src` and `dst` are valid operands of reduce(op, ...).
inline void check_reduce_args(ReduceOp op, const Strided& src, const Strided& dst) {
  const char* name = reduce_op_name(op);
  TD_CHECK(src.ndim() == dst.ndim(), name, ": output rank ", dst.ndim(), " differs from input rank ", src.ndim(),
           " (input ", src.sizes, ", output ", dst.sizes, ")");
  for (size_t d = 0; d < src.ndim(); ++d)
    TD_CHECK(dst.sizes[d] == src.sizes[d] || dst.sizes[d] == 1, name, ": output shape ", dst.sizes,
             " does not match input shape ", src.sizes, " with reduced dims of size 1 (dim ", d, ")");
  switch (op) {
    case ReduceOp::ArgMax:
    case ReduceOp::ArgMin:
      TD_CHECK(dst.dtype == ScalarType::Int64, name, ": output must be int64, got ", dst.dtype);
      break;
    case ReduceOp::Any:
    case ReduceOp::All:
      TD_CHECK(dst.dtype == ScalarType::Bool, name, ": output must be bool, got ", dst.dtype);
      break;
    default:
      TD_CHECK(dst.dtype == src.dtype, name, ": output dtype ", dst.dtype, " differs from input dtype ", src.dtype);
  }
  if (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) {
    int reduced = 0;
    for (size_t d = 0; d < src.ndim(); ++d) reduced += dst.sizes[d] == 1 && src.sizes[d] != 1;
    TD_CHECK(reduced <= 1, name, ": reduces exactly one dim, but the output shape ", dst.sizes,
             " reduces several dims of input shape ", src.sizes);
  }
}

}  // namespace tandem::reduce_checks

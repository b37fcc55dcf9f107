// Argument checks shared by every backend's index kernels (index_select, index_add, gather, scatter_add): the
// same misuse gives the same tandem::Error, word for word, on every device.
#pragma once

#include <cstdint>

#include "backends/backend.h"

namespace tandem::index_checks {

inline void check_index_dtype(const char* op, const Strided& index) {
  TD_CHECK(index.dtype == ScalarType::Int64, op, ": index must be int64, got ", index.dtype);
}

inline void check_dim(const char* op, int64_t dim, const Strided& s) {
  TD_CHECK(dim >= 0 && dim < static_cast<int64_t>(s.ndim()), op, ": dim ", dim,
           " is out of range for an operand of rank ", s.ndim());
}

/// The error for an index `value` outside [0, size) along `dim`.
[[noreturn]] inline void throw_bad_index(const char* op, int64_t value, int64_t dim, int64_t size) {
  if (size == 0)
    throw Error(::tandem::detail::concat(op, ": index ", value, " is out of bounds for dim ", dim,
                                         " of size 0 (no index is valid in an empty dimension)"));
  throw Error(::tandem::detail::concat(op, ": index ", value, " is out of bounds for dim ", dim, " of size ", size,
                                       " (valid range [0, ", size - 1, "])"));
}

/// Checks that `a` and `b` have the same sizes outside `dim` (and the same rank).
inline void check_same_outside(const char* op, const Strided& a, const char* a_name, const Strided& b,
                               const char* b_name, int64_t dim) {
  TD_CHECK(a.ndim() == b.ndim(), op, ": ", a_name, " has rank ", a.ndim(), " but ", b_name, " has rank ", b.ndim());
  for (size_t d = 0; d < a.ndim(); ++d)
    TD_CHECK(static_cast<int64_t>(d) == dim || a.sizes[d] == b.sizes[d], op, ": ", a_name, " of shape ", a.sizes,
             " and ", b_name, " of shape ", b.sizes, " differ outside dim ", dim);
}

/// Checks index.size(d) <= limit.size(d) for every d (except `skip_dim` when it is >= 0).
inline void check_index_fits(const char* op, const Strided& index, const Strided& limit, const char* limit_name,
                             int64_t skip_dim) {
  TD_CHECK(index.ndim() == limit.ndim(), op, ": index has rank ", index.ndim(), " but ", limit_name, " has rank ",
           limit.ndim());
  for (size_t d = 0; d < index.ndim(); ++d)
    TD_CHECK(static_cast<int64_t>(d) == skip_dim || index.sizes[d] <= limit.sizes[d], op, ": index of shape ",
             index.sizes, " is larger than ", limit_name, " of shape ", limit.sizes, " in dim ", d);
}

}  // namespace tandem::index_checks

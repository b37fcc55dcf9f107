// Numerical checks of gradients: gradcheck compares the analytic Jacobian (one backward per output element)
// with central finite differences in float64; gradgradcheck does the same for the gradient function itself,
// which checks double backward. Inputs must be float64; those with requires_grad are checked. Inputs may be
// non-contiguous views but must not overlap themselves (no stride-0 expanded dims).
#pragma once

#include <functional>
#include <type_traits>

#include "autograd/node.h"

namespace tandem::autograd {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  bool raise_exception = true;  ///< throw tandem::Error with the mismatch instead of returning false
};

using MultiFn = std::function<variable_list(const variable_list&)>;

bool gradcheck_impl(const MultiFn& fn, const variable_list& inputs, const GradcheckOptions& options);
bool gradgradcheck_impl(const MultiFn& fn, const variable_list& inputs, const GradcheckOptions& options);

namespace detail {
template <typename F>
MultiFn as_multi(F&& fn) {
  return [fn = std::forward<F>(fn)](const variable_list& in) -> variable_list {
    if constexpr (std::is_same_v<std::decay_t<decltype(fn(in))>, Tensor>) return {fn(in)};
    else return fn(in);
  };
}
}  // namespace detail

/// fn maps the inputs to a Tensor or a variable_list. Returns true when every entry of the Jacobian agrees.
template <typename F>
bool gradcheck(F&& fn, const variable_list& inputs, const GradcheckOptions& options = {}) {
  return gradcheck_impl(detail::as_multi(std::forward<F>(fn)), inputs, options);
}
/// Checks the second derivatives of fn (the gradient of fn's vector-Jacobian product, with random weights).
template <typename F>
bool gradgradcheck(F&& fn, const variable_list& inputs, const GradcheckOptions& options = {}) {
  return gradgradcheck_impl(detail::as_multi(std::forward<F>(fn)), inputs, options);
}

}  // namespace tandem::autograd

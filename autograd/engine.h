// The backward engine: runs the graph below some roots in reverse topological order, accumulating gradients
// with `+=`, and either adds them into the leaves' .grad (backward) or returns them (grad).
#pragma once

#include <optional>

#include "autograd/node.h"

namespace tandem::autograd {

/// Backpropagates from `tensors` with the given output gradients (undefined entries mean ones for a
/// one-element tensor) into every leaf's .grad.
void backward(const variable_list& tensors, const variable_list& grad_tensors = {}, bool retain_graph = false,
              bool create_graph = false);

/// The gradients of `outputs` (weighted by `grad_outputs`) with respect to `inputs`, without touching .grad.
/// retain_graph defaults to create_graph. An input the outputs do not depend on is an error unless
/// allow_unused, in which case its gradient is an undefined tensor.
variable_list grad(const variable_list& outputs, const variable_list& inputs, const variable_list& grad_outputs = {},
                   std::optional<bool> retain_graph = std::nullopt, bool create_graph = false,
                   bool allow_unused = false);

}  // namespace tandem::autograd

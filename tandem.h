// The umbrella header: everything a tandem user needs. Link against tandem::tandem.
#pragma once

#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "backends/cpu/parallel.h"
#include "backends/cuda/runtime.h"
#include "mtl/mtl.h"
#include "nn/nn.h"
#include "tensor/functions.h"
#include "tensor/tensor.h"

namespace tandem {
/// Threads used by CPU kernels (defaults to the number of cores).
inline int get_num_threads() { return cpu::get_num_threads(); }
inline void set_num_threads(int n) { cpu::set_num_threads(n); }
}  // namespace tandem

// Per-task gradients into one reused T x D buffer, the Gramian, and the combined direction.
#include "mtl/task_gradients.h"

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

void accumulate_grad(Tensor& t, const Tensor& g) {
  NoGradGuard no_grad;
  Tensor value = g.detach();
  if (value.sizes() != t.sizes()) value = value.reshape(t.sizes());
  Tensor current = t.grad();
  t.set_grad(current.defined() ? current + value : value.clone());
}

void TaskGradients::compute(const std::vector<Tensor>& losses, const std::vector<Tensor>& shared,
                            const ExtraInputs& extra) {
  TD_CHECK(!losses.empty(), "TaskGradients::compute: no losses");
  TD_CHECK(!shared.empty(), "TaskGradients::compute: no shared inputs to differentiate");
  const auto T = static_cast<int64_t>(losses.size());
  offsets_.assign(1, 0);
  for (const Tensor& s : shared) {
    TD_CHECK(s.defined() && s.requires_grad(), "TaskGradients::compute: shared input of shape ",
             s.defined() ? s.sizes() : Dims{}, " does not require grad");
    TD_CHECK(s.dtype() == shared[0].dtype() && s.device() == shared[0].device(),
             "TaskGradients::compute: shared inputs mix dtypes/devices (", dtype_name(s.dtype()), " vs ",
             dtype_name(shared[0].dtype()), ")");
    offsets_.push_back(offsets_.back() + s.numel());
  }
  inputs_ = shared;
  const int64_t D = offsets_.back();
  if (!matrix_.defined() || matrix_.size(0) != T || matrix_.size(1) != D || matrix_.dtype() != shared[0].dtype() ||
      matrix_.device() != shared[0].device())
    matrix_ = zeros({T, D}, TensorOptions(shared[0].dtype()).device(shared[0].device()));

  for (int64_t t = 0; t < T; ++t) {
    std::vector<Tensor> inputs = shared;
    std::vector<Tensor> own = extra ? extra(static_cast<size_t>(t)) : std::vector<Tensor>{};
    for (const Tensor& p : own)
      if (p.requires_grad()) inputs.push_back(p);
    // The graph is retained: the tasks share it, and the caller may still back-propagate through it (the
    // encoder below a representation leaf, a regularization term). It is freed with the losses.
    auto grads = autograd::grad({losses[t]}, inputs, {}, /*retain_graph=*/true, /*create_graph=*/false,
                                /*allow_unused=*/true);
    NoGradGuard no_grad;
    Tensor row = matrix_.select(0, t);
    for (size_t i = 0; i < shared.size(); ++i) {
      Tensor block = row.narrow(0, offsets_[i], offsets_[i + 1] - offsets_[i]);
      if (grads[i].defined()) block.copy_(grads[i].reshape({-1}));
      else block.zero_();
    }
    size_t k = shared.size();
    for (Tensor& p : own)
      if (p.requires_grad()) {
        if (grads[k].defined()) accumulate_grad(p, grads[k]);
        ++k;
      }
  }
}

size_t TaskGradients::num_tasks() const { return matrix_.defined() ? static_cast<size_t>(matrix_.size(0)) : 0; }
int64_t TaskGradients::dim() const { return matrix_.defined() ? matrix_.size(1) : 0; }

Tensor TaskGradients::gramian() const { return gramian(0, dim()); }

Tensor TaskGradients::gramian(int64_t begin, int64_t end) const {
  TD_CHECK(matrix_.defined(), "TaskGradients::gramian: compute() has not run");
  TD_CHECK(0 <= begin && begin <= end && end <= dim(), "TaskGradients::gramian: columns [", begin, ", ", end,
           ") out of range for D = ", dim());
  NoGradGuard no_grad;
  Tensor G = matrix_.narrow(1, begin, end - begin).to(kFloat64);
  return G.matmul(G.t()).to(kCPU);
}

Tensor TaskGradients::combine(const std::vector<double>& weights) const {
  TD_CHECK(matrix_.defined(), "TaskGradients::combine: compute() has not run");
  TD_CHECK(static_cast<int64_t>(weights.size()) == matrix_.size(0), "TaskGradients::combine: ", weights.size(),
           " weights for ", matrix_.size(0), " tasks");
  NoGradGuard no_grad;
  Tensor alpha = tensor(weights, TensorOptions(kFloat64)).to(matrix_.device(), matrix_.dtype());
  return alpha.unsqueeze(0).matmul(matrix_).reshape({dim()});
}

void TaskGradients::write_to(const std::vector<Tensor>& shared, const Tensor& direction) const {
  TD_CHECK(shared.size() + 1 == offsets_.size(), "TaskGradients::write_to: ", shared.size(),
           " shared inputs but the gradients were computed for ", offsets_.size() - 1);
  TD_CHECK(direction.dim() == 1 && direction.size(0) == dim(), "TaskGradients::write_to: direction of shape ",
           direction.sizes(), " for D = ", dim());
  for (size_t i = 0; i < shared.size(); ++i) {
    Tensor p = shared[i];
    accumulate_grad(p, direction.narrow(0, offsets_[i], offsets_[i + 1] - offsets_[i]).contiguous());
  }
}

}  // namespace tandem::mtl

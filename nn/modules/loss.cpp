// Loss modules over the loss ops. Weights given in the options are registered as buffers (so to(device) and
// to(dtype) move them); forward passes the buffers, not the options' tensors, to the op.
#include "nn/modules/loss.h"

namespace tandem::nn {

namespace {
/// Registers a copy of `value` (so that moving the module leaves the caller's tensor alone) as a buffer when
/// it is defined; returns the buffer's handle, or an undefined tensor.
Tensor register_optional_buffer(Module& module, const char* name, const Tensor& value) {
  if (!value.defined()) return Tensor();
  return module.register_buffer(name, value.detach().clone());
}

void print_weight(std::ostream& os, const char* name, const Tensor& t) {
  if (t.defined()) os << ", " << name << "=" << t.sizes();
}
}  // namespace

Tensor MSELossImpl::forward(const Tensor& input, const Tensor& target) {
  return mse_loss(input, target, options.reduction());
}
void MSELossImpl::pretty_print(std::ostream& os) const {
  os << "MSELoss(reduction=" << reduction_name(options.reduction()) << ")";
}

Tensor L1LossImpl::forward(const Tensor& input, const Tensor& target) {
  return l1_loss(input, target, options.reduction());
}
void L1LossImpl::pretty_print(std::ostream& os) const {
  os << "L1Loss(reduction=" << reduction_name(options.reduction()) << ")";
}

SmoothL1LossImpl::SmoothL1LossImpl(const SmoothL1LossOptions& options) : options(options) { reset(); }
void SmoothL1LossImpl::reset() {
  TD_CHECK(options.beta() >= 0, "SmoothL1Loss: beta must be non-negative, got ", options.beta());
}
Tensor SmoothL1LossImpl::forward(const Tensor& input, const Tensor& target) {
  return smooth_l1_loss(input, target, options.beta(), options.reduction());
}
void SmoothL1LossImpl::pretty_print(std::ostream& os) const {
  os << "SmoothL1Loss(beta=" << options.beta() << ", reduction=" << reduction_name(options.reduction()) << ")";
}

HuberLossImpl::HuberLossImpl(const HuberLossOptions& options) : options(options) { reset(); }
void HuberLossImpl::reset() {
  TD_CHECK(options.delta() > 0, "HuberLoss: delta must be positive, got ", options.delta());
}
Tensor HuberLossImpl::forward(const Tensor& input, const Tensor& target) {
  return huber_loss(input, target, options.delta(), options.reduction());
}
void HuberLossImpl::pretty_print(std::ostream& os) const {
  os << "HuberLoss(delta=" << options.delta() << ", reduction=" << reduction_name(options.reduction()) << ")";
}

CrossEntropyLossImpl::CrossEntropyLossImpl(const CrossEntropyLossOptions& options) : options(options) { reset(); }
void CrossEntropyLossImpl::reset() {
  TD_CHECK(options.label_smoothing() >= 0 && options.label_smoothing() <= 1,
           "CrossEntropyLoss: label_smoothing must be in [0, 1], got ", options.label_smoothing());
  TD_CHECK(!options.weight().defined() || options.weight().dim() == 1,
           "CrossEntropyLoss: weight must be a 1-D tensor [C], got shape ", options.weight().sizes());
  weight = register_optional_buffer(*this, "weight", options.weight());
}
Tensor CrossEntropyLossImpl::forward(const Tensor& input, const Tensor& target) {
  return cross_entropy(input, target, weight, options.ignore_index(), options.label_smoothing(), options.reduction());
}
void CrossEntropyLossImpl::pretty_print(std::ostream& os) const {
  os << "CrossEntropyLoss(ignore_index=" << options.ignore_index() << ", label_smoothing=" << options.label_smoothing()
     << ", reduction=" << reduction_name(options.reduction());
  print_weight(os, "weight", weight);
  os << ")";
}

NLLLossImpl::NLLLossImpl(const NLLLossOptions& options) : options(options) { reset(); }
void NLLLossImpl::reset() {
  TD_CHECK(!options.weight().defined() || options.weight().dim() == 1,
           "NLLLoss: weight must be a 1-D tensor [C], got shape ", options.weight().sizes());
  weight = register_optional_buffer(*this, "weight", options.weight());
}
Tensor NLLLossImpl::forward(const Tensor& input, const Tensor& target) {
  return nll_loss(input, target, weight, options.ignore_index(), options.reduction());
}
void NLLLossImpl::pretty_print(std::ostream& os) const {
  os << "NLLLoss(ignore_index=" << options.ignore_index() << ", reduction=" << reduction_name(options.reduction());
  print_weight(os, "weight", weight);
  os << ")";
}

BCEWithLogitsLossImpl::BCEWithLogitsLossImpl(const BCEWithLogitsLossOptions& options) : options(options) { reset(); }
void BCEWithLogitsLossImpl::reset() {
  weight = register_optional_buffer(*this, "weight", options.weight());
  pos_weight = register_optional_buffer(*this, "pos_weight", options.pos_weight());
}
Tensor BCEWithLogitsLossImpl::forward(const Tensor& input, const Tensor& target) {
  return binary_cross_entropy_with_logits(input, target, weight, pos_weight, options.reduction());
}
void BCEWithLogitsLossImpl::pretty_print(std::ostream& os) const {
  os << "BCEWithLogitsLoss(reduction=" << reduction_name(options.reduction());
  print_weight(os, "weight", weight);
  print_weight(os, "pos_weight", pos_weight);
  os << ")";
}

Tensor KLDivLossImpl::forward(const Tensor& input, const Tensor& target) {
  return kl_div(input, target, options.reduction(), options.log_target());
}
void KLDivLossImpl::pretty_print(std::ostream& os) const {
  os << "KLDivLoss(reduction=" << reduction_name(options.reduction())
     << ", log_target=" << (options.log_target() ? "true" : "false") << ")";
}

}  // namespace tandem::nn

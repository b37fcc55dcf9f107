// Loss functions: cross_entropy, nll_loss, mse_loss, l1_loss, huber_loss, smooth_l1_loss,
// binary_cross_entropy_with_logits and kl_div, each with the reductions None / Mean / Sum.
//
// Every loss is a composite of differentiable ops, so gradients of every order come from those ops' rules:
// cross_entropy is log_softmax followed by the NLL below; the NLL picks each target's log-probability with
// gather. Semantics follow libtorch:
//   - ignore_index: targets equal to it contribute 0 and are left out of the mean's denominator;
//   - class weights: element i is weighted by weight[target_i], and Mean divides by the sum of those weights;
//   - label smoothing eps: (1 - eps) * nll + eps / C * smooth, where smooth_i = -sum_c weight_c * logp_ic is
//     reduced with the same denominator as the NLL;
//   - floating targets of the logits' shape are class probabilities (cross_entropy only);
//   - binary_cross_entropy_with_logits uses the stable form (1 - y) x + (1 + (pos_weight - 1) y) softplus(-x),
//     with softplus(-x) = max(-x, 0) + log1p(exp(-|x|));
//   - kl_div computes target * (log(target) - input) (0 where target == 0), or exp(target) * (target - input)
//     with log_target.
// Target class values outside [0, C) that are not ignore_index are rejected with a tandem::Error naming them.
#include <vector>

#include "autograd/ops/common.h"

namespace tandem {

namespace {

Tensor reduce_loss(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return loss;
    case Reduction::Mean: return loss.mean();
    case Reduction::Sum: return loss.sum();
  }
  throw Error("loss: unknown reduction");
}

void check_floating_input(const Tensor& t, const char* op, const char* what) {
  detail::check_defined(t, op, what);
  TD_CHECK(is_floating(t.dtype()), op, ": ", what, " must be float32 or float64, got ", t.dtype());
}

/// Input and target of an element-wise loss: defined, floating, same shape, same device.
void check_pair(const Tensor& input, const Tensor& target, const char* op) {
  check_floating_input(input, op, "input");
  check_floating_input(target, op, "target");
  TD_CHECK(input.sizes() == target.sizes(), op, ": input of shape ", input.sizes(), " and target of shape ",
           target.sizes(), " must have the same shape");
  detail::check_same_device(input, target, op);
}

/// Throws unless `t` (if defined) broadcasts to exactly `shape`.
void check_broadcasts_to(const Tensor& t, const Tensor& input, const char* op, const char* what) {
  if (!t.defined()) return;
  TD_CHECK(is_floating(t.dtype()), op, ": ", what, " must be float32 or float64, got ", t.dtype());
  detail::check_same_device(input, t, op);
  bool ok = t.dim() <= input.dim();
  for (int64_t i = 1; ok && i <= t.dim(); ++i) ok = t.size(-i) == 1 || t.size(-i) == input.size(-i);
  TD_CHECK(ok, op, ": ", what, " of shape ", t.sizes(), " does not broadcast to input of shape ", input.sizes());
}

/// View of a [C] tensor that broadcasts along dim 1 of a rank-`rank` tensor.
Tensor along_class_dim(const Tensor& per_class, int64_t rank) {
  Dims shape(static_cast<size_t>(rank), 1);
  shape[1] = per_class.size(0);
  return per_class.reshape(shape);
}

/// Negative log-likelihood (plus label smoothing) of batched log-probabilities [N, C, d...] and int64 class
/// targets [N, d...]; the shared body of nll_loss and cross_entropy.
Tensor class_index_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                        double label_smoothing, Reduction reduction, const char* op) {
  const int64_t C = log_probs.size(1);
  Dims expected = log_probs.sizes();
  expected.erase(1);
  TD_CHECK(target.sizes() == expected, op, ": expected target of shape ", expected, " for input of shape ",
           log_probs.sizes(), ", got ", target.sizes());
  detail::check_same_device(log_probs, target, op);
  if (weight.defined()) {
    TD_CHECK(weight.dim() == 1 && weight.size(0) == C, op, ": expected class weights of shape [", C, "], got ",
             weight.sizes());
    TD_CHECK(is_floating(weight.dtype()), op, ": class weights must be float32 or float64, got ", weight.dtype());
    detail::check_same_device(log_probs, weight, op);
  }

  // Validate the class values on the host and note whether any target is ignored.
  bool any_ignored = false;
  for (int64_t value : target.to_vector<int64_t>()) {
    if (value == ignore_index) {
      any_ignored = true;
      continue;
    }
    TD_CHECK(value >= 0 && value < C, op, ": target value ", value, " is out of range [0, ", C, ") for input of shape ",
             log_probs.sizes(), " (ignore_index = ", ignore_index, ")");
  }

  Tensor ignored, safe_target = target;
  if (any_ignored) {
    ignored = target.eq(static_cast<double>(ignore_index));
    safe_target = target.masked_fill(ignored, 0);  // any in-range class; its entry is masked out below
  }
  auto drop_ignored = [&](const Tensor& t) { return any_ignored ? t.masked_fill(ignored, 0) : t; };

  // Per-element weights w_i = weight[target_i] (0 where ignored); undefined means all ones.
  Tensor element_weight;
  if (weight.defined()) {
    element_weight = weight.to(log_probs.dtype()).index_select(0, safe_target.reshape({-1})).view(target.sizes());
    element_weight = drop_ignored(element_weight);
  } else if (any_ignored) {
    element_weight = logical_not(ignored).to(log_probs.dtype());
  }

  Tensor picked = log_probs.gather(1, safe_target.unsqueeze(1)).squeeze(1);  // log p of each target class
  Tensor nll = element_weight.defined() ? -(picked * element_weight) : -picked;
  nll = drop_ignored(nll);
  Tensor denominator;  // Mean divides by the total weight of the non-ignored elements
  auto reduce = [&](const Tensor& loss) -> Tensor {
    if (reduction != Reduction::Mean) return reduce_loss(loss, reduction);
    if (!element_weight.defined()) return loss.mean();
    if (!denominator.defined()) denominator = element_weight.sum();
    return loss.sum() / denominator;
  };
  Tensor result = reduce(nll);
  if (label_smoothing > 0) {
    Tensor smooth = weight.defined()
                        ? -(log_probs * along_class_dim(weight.to(log_probs.dtype()), log_probs.dim())).sum(1)
                        : -log_probs.sum(1);
    smooth = drop_ignored(smooth);
    result = result * (1 - label_smoothing) + reduce(smooth) * (label_smoothing / static_cast<double>(C));
  }
  return result;
}

/// Cross-entropy with class-probability targets of the logits' shape.
Tensor probability_target_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight,
                               double label_smoothing, Reduction reduction, const char* op) {
  const int64_t C = log_probs.size(1);
  TD_CHECK(target.sizes() == log_probs.sizes(), op, ": class-probability target of shape ", target.sizes(),
           " must have the input's shape ", log_probs.sizes());
  detail::check_same_device(log_probs, target, op);
  Tensor probs = label_smoothing > 0 ? target * (1 - label_smoothing) + label_smoothing / static_cast<double>(C)
                                     : target;
  Tensor terms = log_probs * probs;
  if (weight.defined()) {
    TD_CHECK(weight.dim() == 1 && weight.size(0) == C, op, ": expected class weights of shape [", C, "], got ",
             weight.sizes());
    terms = terms * along_class_dim(weight.to(log_probs.dtype()), log_probs.dim());
  }
  Tensor loss = -terms.sum(1);
  if (reduction == Reduction::Mean) return loss.sum() / static_cast<double>(C == 0 ? 0 : log_probs.numel() / C);
  return reduce_loss(loss, reduction);
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     double label_smoothing, Reduction reduction) {
  check_floating_input(logits, "cross_entropy", "input");
  detail::check_defined(target, "cross_entropy", "target");
  TD_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ",
           label_smoothing);
  TD_CHECK(logits.dim() >= 1, "cross_entropy: expected input [N, C, d...] or [C], got a scalar");
  const bool probabilities = is_floating(target.dtype());
  TD_CHECK(probabilities || target.dtype() == kInt64, "cross_entropy: target must be int64 class indices or "
           "floating class probabilities, got ", target.dtype());
  if (logits.dim() == 1) {  // unbatched: [C] with a scalar class index (or [C] probabilities)
    Tensor t = target.unsqueeze(0);
    Tensor loss = cross_entropy(logits.unsqueeze(0), t, weight, ignore_index, label_smoothing, reduction);
    return reduction == Reduction::None ? loss.squeeze(0) : loss;
  }
  Tensor log_probs = log_softmax(logits, 1);
  if (probabilities) {
    return probability_target_loss(log_probs, target.to(logits.dtype()), weight, label_smoothing, reduction,
                                   "cross_entropy");
  }
  return class_index_loss(log_probs, target, weight, ignore_index, label_smoothing, reduction, "cross_entropy");
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                Reduction reduction) {
  check_floating_input(log_probs, "nll_loss", "input");
  detail::check_defined(target, "nll_loss", "target");
  TD_CHECK(target.dtype() == kInt64, "nll_loss: target must be int64 class indices, got ", target.dtype());
  TD_CHECK(log_probs.dim() >= 1, "nll_loss: expected input [N, C, d...] or [C], got a scalar");
  if (log_probs.dim() == 1) {
    Tensor loss = nll_loss(log_probs.unsqueeze(0), target.unsqueeze(0), weight, ignore_index, reduction);
    return reduction == Reduction::None ? loss.squeeze(0) : loss;
  }
  return class_index_loss(log_probs, target, weight, ignore_index, 0.0, reduction, "nll_loss");
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_pair(input, target, "mse_loss");
  Tensor diff = input - target;
  return reduce_loss(diff * diff, reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_pair(input, target, "l1_loss");
  return reduce_loss((input - target).abs(), reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, double delta, Reduction reduction) {
  check_pair(input, target, "huber_loss");
  TD_CHECK(delta > 0, "huber_loss: delta must be positive, got ", delta);
  Tensor diff = input - target;
  Tensor size = diff.abs();
  return reduce_loss(where(size < delta, diff * diff * 0.5, (size - 0.5 * delta) * delta), reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, double beta, Reduction reduction) {
  check_pair(input, target, "smooth_l1_loss");
  TD_CHECK(beta >= 0, "smooth_l1_loss: beta must be non-negative, got ", beta);
  if (beta == 0) return l1_loss(input, target, reduction);
  Tensor diff = input - target;
  Tensor size = diff.abs();
  return reduce_loss(where(size < beta, diff * diff * (0.5 / beta), size - 0.5 * beta), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_pair(logits, target, op);
  check_broadcasts_to(weight, logits, op, "weight");
  check_broadcasts_to(pos_weight, logits, op, "pos_weight");
  Tensor softplus_neg = (-logits).relu() + (-logits.abs()).exp().log1p();  // log(1 + exp(-x)), stable
  Tensor loss = (1 - target) * logits;
  loss = pos_weight.defined() ? loss + ((pos_weight - 1) * target + 1) * softplus_neg : loss + softplus_neg;
  if (weight.defined()) loss = loss * weight;
  return reduce_loss(loss, reduction);
}

Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction, bool log_target) {
  check_pair(input, target, "kl_div");
  Tensor loss;
  if (log_target) {
    loss = target.exp() * (target - input);
  } else {
    // target * log(target) with the convention 0 * log 0 = 0 (and a finite gradient there).
    Tensor is_zero = target.eq(0.0);
    Tensor x_log_x = where(is_zero, 0.0, target * where(is_zero, 1.0, target).log());
    loss = x_log_x - target * input;
  }
  return reduce_loss(loss, reduction);
}

}  // namespace tandem

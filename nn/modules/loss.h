// Loss modules: MSELoss, L1Loss, SmoothL1Loss, HuberLoss, CrossEntropyLoss, NLLLoss, BCEWithLogitsLoss and
// KLDivLoss. Each is a thin module over the loss op of the same name (tensor/functions.h), configured by the
// options struct it shares with the functional form (nn/functional.h). Class weights are registered as buffers,
// so they move with the module in to(device) / to(dtype).
//
//   nn::CrossEntropyLoss criterion(nn::CrossEntropyLossOptions().ignore_index(0).label_smoothing(0.1));
//   Tensor loss = criterion(logits, labels);
#pragma once

#include <ostream>

#include "nn/functional.h"
#include "nn/module.h"

namespace tandem::nn {

/// mean/sum/none of (input - target)^2.
class MSELossImpl : public Cloneable<MSELossImpl> {
 public:
  explicit MSELossImpl(const MSELossOptions& options = {}) : options(options) {}
  void reset() override {}
  Tensor forward(const Tensor& input, const Tensor& target);
  /// "MSELoss(reduction=mean)".
  void pretty_print(std::ostream& os) const override;
  MSELossOptions options;
};
TANDEM_MODULE(MSELoss);

/// mean/sum/none of |input - target|.
class L1LossImpl : public Cloneable<L1LossImpl> {
 public:
  explicit L1LossImpl(const L1LossOptions& options = {}) : options(options) {}
  void reset() override {}
  Tensor forward(const Tensor& input, const Tensor& target);
  void pretty_print(std::ostream& os) const override;
  L1LossOptions options;
};
TANDEM_MODULE(L1Loss);

/// 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = input - target).
class SmoothL1LossImpl : public Cloneable<SmoothL1LossImpl> {
 public:
  explicit SmoothL1LossImpl(const SmoothL1LossOptions& options = {});
  void reset() override;
  Tensor forward(const Tensor& input, const Tensor& target);
  void pretty_print(std::ostream& os) const override;
  SmoothL1LossOptions options;
};
TANDEM_MODULE(SmoothL1Loss);

/// 0.5 d^2 where |d| <= delta, delta (|d| - 0.5 delta) elsewhere.
class HuberLossImpl : public Cloneable<HuberLossImpl> {
 public:
  explicit HuberLossImpl(const HuberLossOptions& options = {});
  void reset() override;
  Tensor forward(const Tensor& input, const Tensor& target);
  void pretty_print(std::ostream& os) const override;
  HuberLossOptions options;
};
TANDEM_MODULE(HuberLoss);

/// log_softmax over dim 1 of logits [N, C] (or [N, C, d...]) followed by the negative log-likelihood of int64
/// class targets (or of class probabilities, a floating target of the logits' shape).
class CrossEntropyLossImpl : public Cloneable<CrossEntropyLossImpl> {
 public:
  explicit CrossEntropyLossImpl(const CrossEntropyLossOptions& options = {});
  void reset() override;
  Tensor forward(const Tensor& input, const Tensor& target);
  /// "CrossEntropyLoss(ignore_index=-100, label_smoothing=0, reduction=mean)", plus "weight=[C]" when weighted.
  void pretty_print(std::ostream& os) const override;
  CrossEntropyLossOptions options;
  Tensor weight;  ///< [C] buffer, undefined when unweighted
};
TANDEM_MODULE(CrossEntropyLoss);

/// Negative log-likelihood of int64 class targets given log-probabilities [N, C] (or [N, C, d...]).
class NLLLossImpl : public Cloneable<NLLLossImpl> {
 public:
  explicit NLLLossImpl(const NLLLossOptions& options = {});
  void reset() override;
  Tensor forward(const Tensor& input, const Tensor& target);
  void pretty_print(std::ostream& os) const override;
  NLLLossOptions options;
  Tensor weight;  ///< [C] buffer, undefined when unweighted
};
TANDEM_MODULE(NLLLoss);

/// Binary cross-entropy of sigmoid(input) against targets in [0, 1], computed stably from the logits.
class BCEWithLogitsLossImpl : public Cloneable<BCEWithLogitsLossImpl> {
 public:
  explicit BCEWithLogitsLossImpl(const BCEWithLogitsLossOptions& options = {});
  void reset() override;
  Tensor forward(const Tensor& input, const Tensor& target);
  void pretty_print(std::ostream& os) const override;
  BCEWithLogitsLossOptions options;
  Tensor weight;      ///< buffer, undefined when unweighted
  Tensor pos_weight;  ///< buffer, undefined when unweighted
};
TANDEM_MODULE(BCEWithLogitsLoss);

/// KL(target || exp(input)) element-wise: target (log target - input), reduced.
class KLDivLossImpl : public Cloneable<KLDivLossImpl> {
 public:
  explicit KLDivLossImpl(const KLDivLossOptions& options = {}) : options(options) {}
  void reset() override {}
  Tensor forward(const Tensor& input, const Tensor& target);
  void pretty_print(std::ostream& os) const override;
  KLDivLossOptions options;
};
TANDEM_MODULE(KLDivLoss);

}  // namespace tandem::nn

// Dynamic weight average (dwa, Liu et al. 2019): the weight of a task follows how fast its loss went down over
// the last two epochs. With r_k = L̄_k(e−1) / L̄_k(e−2), the ratio of its last two epoch-mean training losses,
// λ_k = T · softmax_k(r_k / τ); a task whose loss falls slowly (r near 1 or above) gets more weight. During the
// first two epochs there is no history yet and every λ_k is 1.
#pragma once

#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// dwa: option `temperature` τ (> 0, default 2). State (buffers, so a checkpoint resumes it exactly):
/// "loss_history" [2, T] float64 — row 0 the epoch-mean losses of epoch e−2, row 1 those of e−1 — and
/// "epochs_seen" (int64 scalar), the number of end_epoch() calls so far.
class DWA : public LossWeighting {
 public:
  DWA(size_t num_tasks, const WeightingOptions& options = {});
  double temperature() const { return temperature_; }
  /// The weights the next step will use (T ones until two epochs have ended).
  std::vector<double> current_weights() const;
  /// Records the epoch-mean training loss of each task (each finite and > 0).
  void end_epoch(const std::vector<double>& mean_losses) override;

 protected:
  Tensor combine(StepContext& context, std::vector<double>& weights) override;

 private:
  double temperature_;
  Tensor loss_history_;
  Tensor epochs_seen_;
};

}  // namespace tandem::mtl

// graddrop: the sign-purity mask over the representation's features.
#include "mtl/weighting/graddrop.h"

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace {
SharedScope checked_scope(const WeightingOptions& options) {
  options.check_known("graddrop", {"leak", "scope"});
  const std::string scope = options.text("scope", "rep");
  TD_CHECK(parse_scope(scope) == SharedScope::kRepresentation, "graddrop: works on the shared representation only ",
           "(scope=rep), got scope=", scope);
  return SharedScope::kRepresentation;
}
}  // namespace

GradDrop::GradDrop(size_t num_tasks, const WeightingOptions& options)
    : GradientWeighting("graddrop", num_tasks, checked_scope(options)), leak_(options.number("graddrop", "leak", 0.0)) {
  TD_CHECK(leak_ >= 0.0 && leak_ <= 1.0, "graddrop: leak must be in [0, 1], got ", leak_);
}

GradientCombination GradDrop::combine(const GradientInputs& inputs) {
  NoGradGuard no_grad;
  const Tensor& z = inputs.representation;
  const Tensor& g = inputs.gradients.matrix();
  TD_CHECK(z.defined(), "graddrop: needs the representation z (run the forward with mtl::forward_for)");
  TD_CHECK(z.dim() >= 1 && z.numel() == g.size(1) && z.numel() > 0, "graddrop: the representation of shape ",
           z.sizes(), " does not match task gradients of ", g.size(1), " elements");
  const int64_t T = g.size(0), batch = z.size(0), features = z.numel() / batch;
  const Tensor per_task = g.view({T, batch, features});
  const Tensor signs = z.detach().reshape({1, batch, features}).sign().to(g.dtype());
  const Tensor s = (per_task * signs).sum({1});  // [T, features]
  const Tensor total = s.sum({0}), magnitude = s.abs().sum({0});
  // P = ½ (1 + Σ s / Σ |s|); a feature no task touches (Σ |s| = 0) has P = ½.
  const Tensor safe_magnitude = where(magnitude.gt(0.0), magnitude, 1.0);
  const Tensor purity = (total / safe_magnitude + 1.0) * 0.5;
  const Tensor u = rand({features}, TensorOptions(g.dtype()).device(g.device()));
  const Tensor keep_positive = purity.gt(u).unsqueeze(0).logical_and(s.gt(0.0));
  const Tensor keep_negative = purity.lt(u).unsqueeze(0).logical_and(s.lt(0.0));
  const Tensor mask = keep_positive.logical_or(keep_negative).to(g.dtype());  // [T, features]
  const Tensor kept = mask * (1.0 - leak_) + leak_;
  GradientCombination result;
  result.weights = kept.to(kFloat64).mean({1}).to(kCPU).to_vector<double>();
  result.direction = (per_task * kept.unsqueeze(1)).sum({0}).reshape({g.size(1)});
  return result;
}

}  // namespace tandem::mtl

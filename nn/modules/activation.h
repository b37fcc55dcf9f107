// Activation layers: ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid, Softmax and LogSoftmax. They hold no
// parameters; the ones with options share them with the functional forms (nn/functional.h).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "nn/functional.h"
#include "nn/module.h"

namespace tandem::nn {

/// max(x, 0).
class ReLUImpl : public Cloneable<ReLUImpl> {
 public:
  ReLUImpl() = default;
  void reset() override {}
  Tensor forward(const Tensor& input);
  void pretty_print(std::ostream& os) const override { os << "ReLU()"; }
};
TANDEM_MODULE(ReLU);

/// x for x >= 0, negative_slope * x otherwise.
class LeakyReLUImpl : public Cloneable<LeakyReLUImpl> {
 public:
  explicit LeakyReLUImpl(const LeakyReLUOptions& options = {}) : options(options) {}
  void reset() override {}
  Tensor forward(const Tensor& input);
  /// "LeakyReLU(negative_slope=0.01)".
  void pretty_print(std::ostream& os) const override;
  LeakyReLUOptions options;
};
TANDEM_MODULE(LeakyReLU);

/// x * Phi(x), exact (approximate = "none") or with the tanh approximation ("tanh").
class GELUImpl : public Cloneable<GELUImpl> {
 public:
  explicit GELUImpl(const GELUOptions& options = {});
  explicit GELUImpl(std::string approximate) : GELUImpl(GELUOptions(std::move(approximate))) {}
  void reset() override;
  Tensor forward(const Tensor& input);
  /// "GELU(approximate=none)".
  void pretty_print(std::ostream& os) const override;
  GELUOptions options;
};
TANDEM_MODULE(GELU);

/// x * sigmoid(x).
class SiLUImpl : public Cloneable<SiLUImpl> {
 public:
  SiLUImpl() = default;
  void reset() override {}
  Tensor forward(const Tensor& input);
  void pretty_print(std::ostream& os) const override { os << "SiLU()"; }
};
TANDEM_MODULE(SiLU);

class TanhImpl : public Cloneable<TanhImpl> {
 public:
  TanhImpl() = default;
  void reset() override {}
  Tensor forward(const Tensor& input);
  void pretty_print(std::ostream& os) const override { os << "Tanh()"; }
};
TANDEM_MODULE(Tanh);

class SigmoidImpl : public Cloneable<SigmoidImpl> {
 public:
  SigmoidImpl() = default;
  void reset() override {}
  Tensor forward(const Tensor& input);
  void pretty_print(std::ostream& os) const override { os << "Sigmoid()"; }
};
TANDEM_MODULE(Sigmoid);

/// exp(x) / sum(exp(x)) along options.dim().
class SoftmaxImpl : public Cloneable<SoftmaxImpl> {
 public:
  explicit SoftmaxImpl(int64_t dim) : options(dim) {}
  explicit SoftmaxImpl(const SoftmaxOptions& options) : options(options) {}
  void reset() override {}
  Tensor forward(const Tensor& input);
  /// "Softmax(dim=1)".
  void pretty_print(std::ostream& os) const override;
  SoftmaxOptions options;
};
TANDEM_MODULE(Softmax);

/// log(softmax(x)) along options.dim(), computed stably.
class LogSoftmaxImpl : public Cloneable<LogSoftmaxImpl> {
 public:
  explicit LogSoftmaxImpl(int64_t dim) : options(dim) {}
  explicit LogSoftmaxImpl(const LogSoftmaxOptions& options) : options(options) {}
  void reset() override {}
  Tensor forward(const Tensor& input);
  /// "LogSoftmax(dim=1)".
  void pretty_print(std::ostream& os) const override;
  LogSoftmaxOptions options;
};
TANDEM_MODULE(LogSoftmax);

}  // namespace tandem::nn

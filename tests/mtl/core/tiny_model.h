// A two-task model small enough to check by hand: a shared Linear(3, 4) + tanh encoder and one Linear(4, 1)
// head per task, with encode/decode, used by the mtl core tests.
#pragma once

#include <tandem.h>

namespace tandem::mtl::testing {

class TinyModelImpl : public MultiTaskModel {
 public:
  explicit TinyModelImpl(ScalarType dtype = kFloat64) : MultiTaskModel({"a", "b"}) {
    encoder = register_module("encoder", nn::Linear(3, 4));
    head_a = register_module("head_a", nn::Linear(4, 1));
    head_b = register_module("head_b", nn::Linear(4, 1));
    to(dtype);
  }
  bool has_representation() const override { return true; }
  Tensor encode(const Tensor& x) override { return encoder(x).tanh(); }
  std::vector<Tensor> decode(const Tensor& z, const Tensor&) override { return {head_a(z), head_b(z)}; }
  std::vector<Tensor> task_parameters(size_t t) const override {
    return t == 0 ? head_a->parameters() : head_b->parameters();
  }
  nn::Linear encoder{nullptr}, head_a{nullptr}, head_b{nullptr};
};
TANDEM_MODULE(TinyModel);

}  // namespace tandem::mtl::testing

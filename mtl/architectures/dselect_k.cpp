// DSelect-k: the smooth-step function, the per-example DSelect-k gate and the mixture of experts built on it.
#include "mtl/architectures/dselect_k.h"

#include "tensor/functions.h"

namespace tandem::mtl {

Tensor smooth_step(const Tensor& t, double gamma) {
  TD_CHECK(gamma > 0, "smooth_step: gamma must be > 0, got ", gamma);
  const double half = gamma / 2;
  Tensor c = t.clamp(-half, half);
  Tensor cubic = c.pow(3) * (-2.0 / (gamma * gamma * gamma)) + c * (3.0 / (2.0 * gamma)) + 0.5;
  // Exactly 0 and 1 outside the cubic part (the cubic meets them there, up to rounding).
  return where(t.ge(half), 1.0, where(t.le(-half), 0.0, cubic));
}

// ---- DSelectKGate ---------------------------------------------------------------------------------------------

DSelectKGateImpl::DSelectKGateImpl(int64_t features, int64_t experts, int64_t selectors, double step_width)
    : input_features(features), num_experts(experts), k(selectors), num_bits(0), gamma(step_width) {
  TD_CHECK(input_features >= 1, "DSelectKGate: input_features must be >= 1, got ", input_features);
  TD_CHECK(num_experts >= 2, "DSelectKGate: needs at least 2 experts, got ", num_experts);
  TD_CHECK(k >= 1, "DSelectKGate: k must be >= 1, got ", k);
  TD_CHECK(gamma > 0, "DSelectKGate: gamma must be > 0, got ", gamma);
  while ((int64_t{1} << num_bits) < num_experts) ++num_bits;
  reset();
}

void DSelectKGateImpl::reset() {
  selector_logits = register_module("selector_logits", nn::Linear(input_features, k * num_bits));
  selector_weights = register_module("selector_weights", nn::Linear(input_features, k));
  const int64_t num_codes = int64_t{1} << num_bits;
  std::vector<float> bits(static_cast<size_t>(num_codes * num_bits));
  for (int64_t c = 0; c < num_codes; ++c)
    for (int64_t b = 0; b < num_bits; ++b) bits[static_cast<size_t>(c * num_bits + b)] = (c >> b) & 1 ? 1.f : 0.f;
  codes = register_buffer("codes", tensor(bits, kFloat32).reshape({num_codes, num_bits}));
}

DSelectKGateImpl::Output DSelectKGateImpl::evaluate(const Tensor& gate_input) {
  TD_CHECK(gate_input.defined() && gate_input.dim() == 2 && gate_input.size(1) == input_features,
           "DSelectKGate: the input must be [N, ", input_features, "], got ",
           gate_input.defined() ? gate_input.sizes() : Dims{});
  const int64_t n = gate_input.size(0);
  const int64_t num_codes = codes.size(0);
  Tensor s = smooth_step(selector_logits->forward(gate_input).reshape({n, k, num_bits}), gamma);  // [N, k, m]
  // term[n, i, c, b] = S(z_ib) when bit b of code c is 1, else 1 − S(z_ib).
  Tensor term = (1.0 - s).unsqueeze(2) + codes.to(s.dtype()) * (s * 2.0 - 1.0).unsqueeze(2);  // [N, k, C, m]
  Tensor r = term.select(3, 0);
  for (int64_t b = 1; b < num_bits; ++b) r = r * term.select(3, b);  // [N, k, C]
  if (num_codes > num_experts) {
    const int64_t extra = num_codes - num_experts;  // codes E .. C−1 stand for experts 0 .. extra−1
    r = cat({r.narrow(2, 0, extra) + r.narrow(2, num_experts, extra), r.narrow(2, extra, num_experts - extra)}, 2);
  }
  Tensor alpha = selector_weights->forward(gate_input).softmax(-1);  // [N, k]
  Output out;
  out.selections = r;
  out.selector_weights = alpha;
  out.weights = (alpha.unsqueeze(2) * r).sum(1);  // [N, E]
  return out;
}

Tensor DSelectKGateImpl::forward(const Tensor& gate_input) { return evaluate(gate_input).weights; }

void DSelectKGateImpl::pretty_print(std::ostream& os) const {
  os << "DSelectKGate(input_features=" << input_features << ", experts=" << num_experts << ", k=" << k
     << ", gamma=" << gamma << ")";
}

// ---- DSelectK -------------------------------------------------------------------------------------------------

DSelectKImpl::DSelectKImpl(std::vector<std::string> task_names, const ModuleFactory& expert_factory,
                           const TaskModuleFactory& tower_factory, const DSelectKOptions& opts)
    : ExpertMixtureModel("DSelectK", std::move(task_names), opts.input_features(), opts.num_experts(),
                         expert_factory),
      options(opts) {
  TD_CHECK(options.num_experts() >= 2, "DSelectK: needs at least 2 experts, got ", options.num_experts());
  TD_CHECK(options.k() >= 1, "DSelectK: k must be >= 1, got ", options.k());
  TD_CHECK(options.gamma() > 0, "DSelectK: gamma must be > 0, got ", options.gamma());
  TD_CHECK(options.entropy_regularization() >= 0, "DSelectK: entropy_regularization must be >= 0, got ",
           options.entropy_regularization());
  for (const auto& name : task_names_) {
    DSelectKGate gate(options.input_features(), options.num_experts(), options.k(), options.gamma());
    gates->insert(name, gate);
    gate_list_.push_back(gate);
  }
  register_module("gates", gates);
  entropies_.resize(num_tasks());
  build_towers(tower_factory);
}

Tensor DSelectKImpl::compute_gate(size_t task, const Tensor& gate_input) {
  DSelectKGateImpl::Output out = gate_list_[task]->evaluate(gate_input);
  if (options.entropy_regularization() > 0) {
    const Tensor& r = out.selections;  // [N, k, E]
    entropies_[task] = (r * (r + 1e-12).log()).sum(2).neg().mean(0).sum();
  }
  return out.weights;
}

std::vector<Tensor> DSelectKImpl::gate_parameters(size_t task) const { return gate_list_[task]->parameters(); }

Tensor DSelectKImpl::regularization() {
  if (options.entropy_regularization() == 0) return {};
  Tensor total;
  for (Tensor& entropy : entropies_) {
    if (!entropy.defined()) continue;
    total = total.defined() ? total + entropy : entropy;
    entropy = Tensor();
  }
  return total.defined() ? total * options.entropy_regularization() : total;
}

void DSelectKImpl::pretty_print(std::ostream& os) const {
  os << "DSelectK(tasks=" << detail::join_names(task_names_) << ", experts=" << options.num_experts()
     << ", k=" << options.k() << ", gamma=" << options.gamma() << ", input_features=" << options.input_features()
     << ")";
}

}  // namespace tandem::mtl

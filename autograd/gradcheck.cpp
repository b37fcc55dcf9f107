// gradcheck: builds the analytic Jacobian row by row (one autograd::grad call per output element, one-hot
// grad_outputs) and the numerical one column by column (central differences, each input element nudged by
// ±eps in place), then compares them entry by entry with |a - n| <= atol + rtol |n|.
// gradgradcheck: runs gradcheck on the function (inputs, v) -> grad(fn(inputs), inputs, v, create_graph).
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/engine.h"
#include "tensor/functions.h"

namespace tandem::autograd {
namespace {

/// Address of the n-th element (row-major logical order) of a float64 CPU tensor.
double* element_address(const Tensor& t, int64_t n) {
  double* base = static_cast<double*>(t.data_ptr());
  int64_t offset = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    offset += (n % t.sizes()[d]) * t.strides()[d];
    n /= t.sizes()[d];
  }
  return base + offset;
}

std::vector<double> flatten_outputs(const variable_list& outputs) {
  std::vector<double> flat;
  for (const Tensor& o : outputs) {
    if (!o.defined() || !is_floating(o.dtype())) continue;
    std::vector<double> v = o.detach().to_vector<double>();
    flat.insert(flat.end(), v.begin(), v.end());
  }
  return flat;
}

bool fail(const GradcheckOptions& options, const std::string& message) {
  if (options.raise_exception) throw Error(message);
  return false;
}

}  // namespace

bool gradcheck_impl(const MultiFn& fn, const variable_list& inputs, const GradcheckOptions& options) {
  std::vector<size_t> wrt;  // indices of the inputs whose gradient is checked
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    TD_CHECK(x.dtype() == kFloat64, "gradcheck: input ", i, " has dtype ", x.dtype(),
             "; finite differences need float64 inputs");
    TD_CHECK(x.device().is_cpu(), "gradcheck: input ", i, " must be on the CPU");
    for (int64_t d = 0; d < x.dim(); ++d)
      TD_CHECK(x.strides()[d] != 0 || x.sizes()[d] <= 1, "gradcheck: input ", i, " of shape ", x.sizes(),
               " overlaps itself (stride 0); pass a tensor that owns each element once");
    wrt.push_back(i);
  }
  TD_CHECK(!wrt.empty(), "gradcheck: no input requires grad");

  // ---- analytic Jacobian: rows = output elements, columns = input elements ----
  variable_list outputs = fn(inputs);
  std::vector<size_t> float_outputs;
  for (size_t k = 0; k < outputs.size(); ++k)
    if (outputs[k].defined() && is_floating(outputs[k].dtype())) float_outputs.push_back(k);
  int64_t total_out = 0;
  for (size_t k : float_outputs) total_out += outputs[k].numel();
  variable_list diff_outputs, wrt_inputs;
  std::vector<size_t> diff_index;
  for (size_t k : float_outputs)
    if (outputs[k].requires_grad()) diff_outputs.push_back(outputs[k]), diff_index.push_back(k);
  for (size_t i : wrt) wrt_inputs.push_back(inputs[i]);

  std::vector<int64_t> in_numel;
  int64_t total_in = 0;
  for (size_t i : wrt) in_numel.push_back(inputs[i].numel()), total_in += inputs[i].numel();
  std::vector<double> analytic(static_cast<size_t>(total_out * total_in), 0.0);
  int64_t row = 0;
  for (size_t k : float_outputs) {
    const Tensor& out = outputs[k];
    for (int64_t m = 0; m < out.numel(); ++m, ++row) {
      if (!out.requires_grad()) continue;
      variable_list grad_outputs;  // one-hot at element m of output k
      for (size_t j = 0; j < diff_outputs.size(); ++j) {
        Tensor g = zeros(diff_outputs[j].sizes(), TensorOptions(kFloat64));
        if (diff_index[j] == k) *element_address(g, m) = 1.0;
        grad_outputs.push_back(g.to(diff_outputs[j].dtype()));
      }
      variable_list grads = grad(diff_outputs, wrt_inputs, grad_outputs, /*retain_graph=*/true,
                                 /*create_graph=*/false, /*allow_unused=*/true);
      int64_t col = 0;
      for (size_t w = 0; w < wrt.size(); ++w) {
        if (grads[w].defined()) {
          TD_CHECK(grads[w].sizes() == inputs[wrt[w]].sizes(), "gradcheck: gradient of input ", wrt[w], " has shape ",
                   grads[w].sizes(), " but the input has shape ", inputs[wrt[w]].sizes());
          std::vector<double> gv = grads[w].to_vector<double>();
          for (size_t e = 0; e < gv.size(); ++e) analytic[static_cast<size_t>(row * total_in + col) + e] = gv[e];
        }
        col += in_numel[w];
      }
    }
  }

  // ---- numerical Jacobian ----
  std::vector<double> numerical(analytic.size(), 0.0);
  {
    NoGradGuard no_grad;
    int64_t col = 0;
    for (size_t w = 0; w < wrt.size(); ++w) {
      const Tensor& x = inputs[wrt[w]];
      for (int64_t e = 0; e < x.numel(); ++e, ++col) {
        double* p = element_address(x, e);
        const double original = *p;
        *p = original + options.eps;
        std::vector<double> plus = flatten_outputs(fn(inputs));
        *p = original - options.eps;
        std::vector<double> minus = flatten_outputs(fn(inputs));
        *p = original;
        TD_CHECK(static_cast<int64_t>(plus.size()) == total_out && minus.size() == plus.size(),
                 "gradcheck: the function's outputs change size when an input is perturbed");
        for (int64_t r = 0; r < total_out; ++r)
          numerical[static_cast<size_t>(r * total_in + col)] =
              (plus[static_cast<size_t>(r)] - minus[static_cast<size_t>(r)]) / (2 * options.eps);
      }
    }
  }

  // ---- compare ----
  for (int64_t r = 0; r < total_out; ++r) {
    for (int64_t c = 0; c < total_in; ++c) {
      const double a = analytic[static_cast<size_t>(r * total_in + c)];
      const double n = numerical[static_cast<size_t>(r * total_in + c)];
      if (std::abs(a - n) <= options.atol + options.rtol * std::abs(n) && !std::isnan(a) == !std::isnan(n)) continue;
      size_t w = 0;
      int64_t local = c;
      while (local >= in_numel[w]) local -= in_numel[w++];
      std::ostringstream msg;
      msg << "gradcheck: Jacobian mismatch for output element " << r << " with respect to input " << wrt[w]
          << " (shape " << inputs[wrt[w]].sizes() << "), element " << local << ": analytic " << a << " vs numerical "
          << n << " (atol " << options.atol << ", rtol " << options.rtol << ")";
      return fail(options, msg.str());
    }
  }
  return true;
}

bool gradgradcheck_impl(const MultiFn& fn, const variable_list& inputs, const GradcheckOptions& options) {
  variable_list outputs = fn(inputs);
  variable_list vs;  // random weights for the vector-Jacobian product, checked as inputs too
  std::vector<size_t> diff;
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (!outputs[k].defined() || !outputs[k].requires_grad()) continue;
    diff.push_back(k);
    vs.push_back(randn(outputs[k].sizes(), TensorOptions(kFloat64).requires_grad(true)));
  }
  TD_CHECK(!diff.empty(), "gradgradcheck: no output requires grad");
  const size_t n_in = inputs.size();
  auto first_derivative = [fn, n_in, diff](const variable_list& all) -> variable_list {
    variable_list xs(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n_in));
    variable_list v(all.begin() + static_cast<std::ptrdiff_t>(n_in), all.end());
    variable_list outs = fn(xs);
    variable_list picked, wrt;
    for (size_t k : diff) picked.push_back(outs[k]);
    for (const Tensor& x : xs)
      if (x.defined() && x.requires_grad()) wrt.push_back(x);
    if (!GradMode::is_enabled()) {  // numerical pass: still need first derivatives, computed with grad on
      AutoGradMode on(true);
      variable_list fresh(xs.size());
      for (size_t i = 0; i < xs.size(); ++i)
        fresh[i] = xs[i].defined() && xs[i].requires_grad() ? xs[i].detach().requires_grad_(true) : xs[i];
      variable_list outs2 = fn(fresh);
      variable_list picked2, wrt2;
      for (size_t k : diff) picked2.push_back(outs2[k]);
      for (const Tensor& x : fresh)
        if (x.defined() && x.requires_grad()) wrt2.push_back(x);
      variable_list g = grad(picked2, wrt2, v, false, false, true);
      for (size_t i = 0; i < g.size(); ++i)
        if (!g[i].defined()) g[i] = zeros_like(wrt2[i]);
      return g;
    }
    variable_list g = grad(picked, wrt, v, true, true, true);
    for (size_t i = 0; i < g.size(); ++i)
      if (!g[i].defined()) g[i] = zeros_like(wrt[i]);
    return g;
  };
  variable_list all = inputs;
  all.insert(all.end(), vs.begin(), vs.end());
  return gradcheck_impl(first_derivative, all, options);
}

}  // namespace tandem::autograd

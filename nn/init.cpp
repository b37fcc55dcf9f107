// nn::init: the parameter initialisers. Random ones draw from the global generator (manual_seed) through the
// tensor's own uniform_/normal_; orthogonal_ runs a Householder QR of its own on the CPU.
#include "nn/init.h"

#include <cmath>
#include <vector>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::nn::init {

namespace {

void check_defined(const Tensor& tensor, const char* op) {
  TD_CHECK(tensor.defined(), "nn::init::", op, ": the tensor is undefined");
}

void check_floating(const Tensor& tensor, const char* op) {
  check_defined(tensor, op);
  TD_CHECK(tensor.is_floating_point(), "nn::init::", op, ": expected a float32 or float64 tensor, got ", tensor.dtype(),
           " of shape ", tensor.sizes());
}

int64_t fan_for(const Tensor& tensor, FanMode mode) {
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  return mode == FanMode::FanIn ? fan_in : fan_out;
}

/// The orthonormal columns Q (m x n, m >= n, row-major) of the QR factorisation of `a` (m x n, row-major),
/// with each column's sign chosen so that R's diagonal is non-negative.
std::vector<double> householder_q(std::vector<double> a, int64_t m, int64_t n) {
  auto at = [&](std::vector<double>& mat, int64_t i, int64_t j) -> double& { return mat[i * n + j]; };
  std::vector<std::vector<double>> reflectors(static_cast<size_t>(n));
  std::vector<double> r_diagonal(static_cast<size_t>(n), 0.0);
  for (int64_t k = 0; k < n; ++k) {
    double norm = 0;
    for (int64_t i = k; i < m; ++i) norm += at(a, i, k) * at(a, i, k);
    norm = std::sqrt(norm);
    std::vector<double>& v = reflectors[static_cast<size_t>(k)];
    v.assign(static_cast<size_t>(m - k), 0.0);
    if (norm == 0) continue;  // a zero column: nothing to reflect, R's diagonal entry is 0
    // H = I - 2 v v^T maps the column x to alpha e_1, with alpha of the opposite sign to x_0 (no cancellation).
    const double alpha = at(a, k, k) > 0 ? -norm : norm;
    for (int64_t i = k; i < m; ++i) v[static_cast<size_t>(i - k)] = at(a, i, k);
    v[0] -= alpha;
    double v_norm = 0;
    for (double e : v) v_norm += e * e;
    v_norm = std::sqrt(v_norm);
    for (double& e : v) e /= v_norm;
    for (int64_t j = k; j < n; ++j) {
      double dot = 0;
      for (int64_t i = k; i < m; ++i) dot += v[static_cast<size_t>(i - k)] * at(a, i, j);
      for (int64_t i = k; i < m; ++i) at(a, i, j) -= 2 * v[static_cast<size_t>(i - k)] * dot;
    }
    r_diagonal[static_cast<size_t>(k)] = at(a, k, k);
  }
  // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of the identity, last reflector first.
  std::vector<double> q(static_cast<size_t>(m * n), 0.0);
  for (int64_t j = 0; j < n; ++j) at(q, j, j) = 1;
  for (int64_t k = n - 1; k >= 0; --k) {
    const std::vector<double>& v = reflectors[static_cast<size_t>(k)];
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0;
      for (int64_t i = k; i < m; ++i) dot += v[static_cast<size_t>(i - k)] * at(q, i, j);
      for (int64_t i = k; i < m; ++i) at(q, i, j) -= 2 * v[static_cast<size_t>(i - k)] * dot;
    }
  }
  for (int64_t j = 0; j < n; ++j)
    if (r_diagonal[static_cast<size_t>(j)] < 0)
      for (int64_t i = 0; i < m; ++i) at(q, i, j) = -at(q, i, j);
  return q;
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double param) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Conv1D:
    case Nonlinearity::Conv2D:
    case Nonlinearity::Sigmoid:
      return 1.0;
    case Nonlinearity::Tanh:
      return 5.0 / 3.0;
    case Nonlinearity::ReLU:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU:
      return std::sqrt(2.0 / (1.0 + param * param));
    case Nonlinearity::SELU:
      return 3.0 / 4.0;
  }
  throw Error("nn::init::calculate_gain: unknown nonlinearity");
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
  check_defined(tensor, "calculate_fan_in_and_fan_out");
  TD_CHECK(tensor.dim() >= 2,
           "nn::init: fan in and fan out cannot be computed for a tensor with fewer than 2 "
           "dimensions (shape ",
           tensor.sizes(), ")");
  int64_t receptive_field = 1;
  for (int64_t d = 2; d < tensor.dim(); ++d) receptive_field *= tensor.size(d);
  return {tensor.size(1) * receptive_field, tensor.size(0) * receptive_field};
}

Tensor constant_(Tensor tensor, double value) {
  check_defined(tensor, "constant_");
  NoGradGuard no_grad;
  tensor.fill_(value);
  return tensor;
}

Tensor zeros_(Tensor tensor) { return constant_(std::move(tensor), 0.0); }
Tensor ones_(Tensor tensor) { return constant_(std::move(tensor), 1.0); }

Tensor normal_(Tensor tensor, double mean, double stddev) {
  check_floating(tensor, "normal_");
  TD_CHECK(stddev >= 0, "nn::init::normal_: std must be non-negative, got ", stddev);
  NoGradGuard no_grad;
  tensor.normal_(mean, stddev);
  return tensor;
}

Tensor uniform_(Tensor tensor, double low, double high) {
  check_floating(tensor, "uniform_");
  TD_CHECK(low <= high, "nn::init::uniform_: low (", low, ") must not exceed high (", high, ")");
  NoGradGuard no_grad;
  tensor.uniform_(low, high);
  return tensor;
}

Tensor eye_(Tensor tensor) {
  check_defined(tensor, "eye_");
  TD_CHECK(tensor.dim() == 2, "nn::init::eye_: expected a 2-D tensor, got shape ", tensor.sizes());
  NoGradGuard no_grad;
  tensor.copy_(eye(tensor.size(0), tensor.size(1), TensorOptions(tensor.dtype())));
  return tensor;
}

Tensor xavier_uniform_(Tensor tensor, double gain) {
  check_floating(tensor, "xavier_uniform_");
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const double stddev = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  const double bound = std::sqrt(3.0) * stddev;
  return uniform_(std::move(tensor), -bound, bound);
}

Tensor xavier_normal_(Tensor tensor, double gain) {
  check_floating(tensor, "xavier_normal_");
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const double stddev = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return normal_(std::move(tensor), 0.0, stddev);
}

Tensor kaiming_uniform_(Tensor tensor, double a, FanMode mode, Nonlinearity nonlinearity) {
  check_floating(tensor, "kaiming_uniform_");
  const int64_t fan = fan_for(tensor, mode);
  TD_CHECK(fan > 0, "nn::init::kaiming_uniform_: the fan of a tensor of shape ", tensor.sizes(), " is zero");
  const double stddev = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
  const double bound = std::sqrt(3.0) * stddev;
  return uniform_(std::move(tensor), -bound, bound);
}

Tensor kaiming_normal_(Tensor tensor, double a, FanMode mode, Nonlinearity nonlinearity) {
  check_floating(tensor, "kaiming_normal_");
  const int64_t fan = fan_for(tensor, mode);
  TD_CHECK(fan > 0, "nn::init::kaiming_normal_: the fan of a tensor of shape ", tensor.sizes(), " is zero");
  const double stddev = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
  return normal_(std::move(tensor), 0.0, stddev);
}

Tensor orthogonal_(Tensor tensor, double gain) {
  check_floating(tensor, "orthogonal_");
  TD_CHECK(tensor.dim() >= 2, "nn::init::orthogonal_: only tensors with 2 or more dimensions are supported, got shape ",
           tensor.sizes());
  if (tensor.numel() == 0) return tensor;
  const int64_t rows = tensor.size(0), cols = tensor.numel() / rows;
  const bool wide = rows < cols;  // factor the transpose so that the factored matrix is tall
  const int64_t m = wide ? cols : rows, n = wide ? rows : cols;
  std::vector<double> gaussian = randn({m, n}, kFloat64).to_vector<double>();
  std::vector<double> q = householder_q(std::move(gaussian), m, n);  // m x n, orthonormal columns
  std::vector<double> values(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      values[static_cast<size_t>(i * cols + j)] = gain * (wide ? q[j * n + i] : q[i * n + j]);
  NoGradGuard no_grad;
  tensor.copy_(tandem::tensor(values).reshape(tensor.sizes()));
  return tensor;
}

}  // namespace tandem::nn::init

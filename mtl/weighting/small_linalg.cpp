// The small dense solvers of the gradient-level methods (see small_linalg.h): plain loops on doubles.
#include "mtl/weighting/small_linalg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl::linalg {

// ---- Matrix -------------------------------------------------------------------------------------------------

Matrix::Matrix(size_t rows, size_t cols, double fill) : rows_(rows), cols_(cols), values_(rows * cols, fill) {}

Matrix::Matrix(std::initializer_list<std::initializer_list<double>> rows) {
  rows_ = rows.size();
  cols_ = rows_ == 0 ? 0 : rows.begin()->size();
  for (const auto& row : rows) {
    TD_CHECK(row.size() == cols_, "linalg::Matrix: rows of different lengths (", row.size(), " vs ", cols_, ")");
    values_.insert(values_.end(), row.begin(), row.end());
  }
}

Matrix Matrix::identity(size_t n) {
  Matrix m(n, n);
  for (size_t i = 0; i < n; ++i) m(i, i) = 1.0;
  return m;
}

Matrix Matrix::from_tensor(const Tensor& t) {
  TD_CHECK(t.defined() && t.dim() == 2, "linalg::Matrix::from_tensor: expected a 2-D tensor, got shape ",
           t.defined() ? t.sizes() : Dims{});
  TD_CHECK(t.is_floating_point(), "linalg::Matrix::from_tensor: expected a floating tensor, got ",
           dtype_name(t.dtype()));
  NoGradGuard no_grad;
  Matrix m(static_cast<size_t>(t.size(0)), static_cast<size_t>(t.size(1)));
  m.values_ = t.detach().to(kCPU).to(kFloat64).contiguous().to_vector<double>();
  return m;
}

Tensor Matrix::to_tensor() const {
  return tensor(values_, TensorOptions(kFloat64)).reshape({static_cast<int64_t>(rows_), static_cast<int64_t>(cols_)});
}

Matrix transpose(const Matrix& a) {
  Matrix t(a.cols(), a.rows());
  for (size_t i = 0; i < a.rows(); ++i)
    for (size_t j = 0; j < a.cols(); ++j) t(j, i) = a(i, j);
  return t;
}

Matrix matmul(const Matrix& a, const Matrix& b) {
  TD_CHECK(a.cols() == b.rows(), "linalg::matmul: [", a.rows(), ", ", a.cols(), "] times [", b.rows(), ", ",
           b.cols(), "]");
  Matrix c(a.rows(), b.cols());
  for (size_t i = 0; i < a.rows(); ++i)
    for (size_t k = 0; k < a.cols(); ++k)
      for (size_t j = 0; j < b.cols(); ++j) c(i, j) += a(i, k) * b(k, j);
  return c;
}

Vector matvec(const Matrix& a, const Vector& x) {
  TD_CHECK(a.cols() == x.size(), "linalg::matvec: [", a.rows(), ", ", a.cols(), "] times a vector of ", x.size());
  Vector y(a.rows(), 0.0);
  for (size_t i = 0; i < a.rows(); ++i)
    for (size_t j = 0; j < a.cols(); ++j) y[i] += a(i, j) * x[j];
  return y;
}

double dot(const Vector& a, const Vector& b) {
  TD_CHECK(a.size() == b.size(), "linalg::dot: vectors of ", a.size(), " and ", b.size(), " elements");
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

double quadratic_form(const Matrix& a, const Vector& x) { return dot(x, matvec(a, x)); }

double trace(const Matrix& a) {
  double s = 0.0;
  for (size_t i = 0; i < std::min(a.rows(), a.cols()); ++i) s += a(i, i);
  return s;
}

double max_abs(const Matrix& a) { return max_abs(a.values()); }

double max_abs(const Vector& x) {
  double m = 0.0;
  for (double v : x) m = std::max(m, std::abs(v));
  return m;
}

Matrix scale_symmetric(const Matrix& a, const Vector& scale) {
  TD_CHECK(a.rows() == scale.size() && a.cols() == scale.size(), "linalg::scale_symmetric: [", a.rows(), ", ",
           a.cols(), "] with ", scale.size(), " scales");
  Matrix s = a;
  for (size_t i = 0; i < a.rows(); ++i)
    for (size_t j = 0; j < a.cols(); ++j) s(i, j) *= scale[i] * scale[j];
  return s;
}

namespace {
void check_square(const Matrix& a, const char* what) {
  TD_CHECK(a.rows() == a.cols(), what, ": expected a square matrix, got [", a.rows(), ", ", a.cols(), "]");
}
void check_symmetric(const Matrix& a, const char* what) {
  check_square(a, what);
  const double tol = 1e-9 * std::max(max_abs(a), std::numeric_limits<double>::min());
  for (size_t i = 0; i < a.rows(); ++i)
    for (size_t j = i + 1; j < a.cols(); ++j)
      TD_CHECK(std::abs(a(i, j) - a(j, i)) <= tol, what, ": matrix is not symmetric (entry (", i, ", ", j, ") = ",
               a(i, j), " but (", j, ", ", i, ") = ", a(j, i), ")");
}
}  // namespace

// ---- the simplex --------------------------------------------------------------------------------------------

Vector project_onto_simplex(const Vector& v) {
  TD_CHECK(!v.empty(), "linalg::project_onto_simplex: empty vector");
  for (double x : v) TD_CHECK(std::isfinite(x), "linalg::project_onto_simplex: non-finite entry ", x);
  Vector sorted = v;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  // The largest k with sorted[k-1] - (Σ_{i<k} sorted[i] - 1)/k > 0 sets the threshold τ.
  double prefix = 0.0, tau = 0.0;
  for (size_t k = 1; k <= sorted.size(); ++k) {
    prefix += sorted[k - 1];
    const double candidate = (prefix - 1.0) / static_cast<double>(k);
    if (sorted[k - 1] - candidate > 0.0) tau = candidate;
  }
  Vector x(v.size());
  for (size_t i = 0; i < v.size(); ++i) x[i] = std::max(v[i] - tau, 0.0);
  return x;
}

double min_norm_two(double k11, double k12, double k22) {
  const double denominator = k11 + k22 - 2.0 * k12;  // ‖g1 − g2‖²
  if (!(denominator > 1e-14 * std::max(k11 + k22, std::numeric_limits<double>::min()))) return 0.5;
  return std::clamp((k22 - k12) / denominator, 0.0, 1.0);
}

namespace {

/// Step length along d from x, in [0, max_step].
using LineSearch = std::function<double(const Vector& x, const Vector& d, double max_step)>;

// Frank-Wolfe with away steps (Lacoste-Julien & Jaggi 2015) on the simplex, whose vertices are the unit
// vectors: the toward step moves to the vertex of smallest gradient, the away step moves away from the active
// vertex of largest gradient, whichever promises more.
Vector frank_wolfe(const std::function<Vector(const Vector&)>& gradient, const LineSearch& line_search, Vector x,
                   const SolverOptions& options) {
  const size_t n = x.size();
  Vector d(n);
  for (int iteration = 0; iteration < options.max_iterations; ++iteration) {
    const Vector g = gradient(x);
    const double gx = dot(g, x);
    size_t toward = 0, away = n;
    for (size_t i = 0; i < n; ++i) {
      if (g[i] < g[toward]) toward = i;
      if (x[i] > 0.0 && (away == n || g[i] > g[away])) away = i;
    }
    const double toward_gap = gx - g[toward];  // the Frank-Wolfe duality gap: f(x) − f* ≤ it
    if (toward_gap <= options.tolerance) break;
    const double away_gap = g[away] - gx;
    const bool away_step = away_gap > toward_gap && x[away] < 1.0;
    double max_step = 1.0;
    if (away_step) {
      for (size_t i = 0; i < n; ++i) d[i] = x[i];
      d[away] -= 1.0;
      max_step = x[away] / (1.0 - x[away]);
    } else {
      for (size_t i = 0; i < n; ++i) d[i] = -x[i];
      d[toward] += 1.0;
    }
    const double step = line_search(x, d, max_step);
    if (!(step > 0.0)) break;  // rounding: no descent left along the best direction
    for (size_t i = 0; i < n; ++i) x[i] = std::max(x[i] + step * d[i], 0.0);
    if (away_step && step >= max_step) x[away] = 0.0;  // the away vertex leaves the active set
    const double total = std::accumulate(x.begin(), x.end(), 0.0);
    for (double& v : x) v /= total;
  }
  return x;
}

}  // namespace

Vector min_quadratic_on_simplex(const Matrix& k, const SolverOptions& options) {
  check_symmetric(k, "linalg::min_quadratic_on_simplex");
  const size_t n = k.rows();
  TD_CHECK(n >= 1, "linalg::min_quadratic_on_simplex: empty matrix");
  if (n == 1) return {1.0};
  if (n == 2) {
    const double gamma = min_norm_two(k(0, 0), k(0, 1), k(1, 1));
    return {gamma, 1.0 - gamma};
  }
  // Start at the vertex of smallest norm.
  size_t best = 0;
  for (size_t i = 1; i < n; ++i)
    if (k(i, i) < k(best, best)) best = i;
  Vector start(n, 0.0);
  start[best] = 1.0;
  auto gradient = [&](const Vector& x) {
    Vector g = matvec(k, x);
    for (double& v : g) v *= 2.0;
    return g;
  };
  // (x + γd)ᵀK(x + γd) is minimised at γ = −xᵀKd / dᵀKd.
  auto line_search = [&](const Vector& x, const Vector& d, double max_step) {
    const Vector kd = matvec(k, d);
    const double slope = dot(x, kd), curvature = dot(d, kd);
    if (!(curvature > 0.0)) return slope < 0.0 ? max_step : 0.0;
    return std::clamp(-slope / curvature, 0.0, max_step);
  };
  return frank_wolfe(gradient, line_search, start, options);
}

Vector minimize_on_simplex(const SimplexObjective& objective, Vector start, const SolverOptions& options) {
  TD_CHECK(objective.value && objective.gradient, "linalg::minimize_on_simplex: value and gradient are required");
  TD_CHECK(!start.empty(), "linalg::minimize_on_simplex: empty start point");
  double total = 0.0;
  for (double v : start) {
    TD_CHECK(v >= 0.0 && std::isfinite(v), "linalg::minimize_on_simplex: start point has entry ", v);
    total += v;
  }
  TD_CHECK(std::abs(total - 1.0) <= 1e-9, "linalg::minimize_on_simplex: start point sums to ", total, ", not 1");
  auto line_search = [&](const Vector& x, const Vector& d, double max_step) {
    Vector point(x.size());
    auto along = [&](double step) {
      for (size_t i = 0; i < x.size(); ++i) point[i] = x[i] + step * d[i];
      return objective.value(point);
    };
    // Golden-section search on [0, max_step]; the function is convex along the segment.
    const double ratio = (std::sqrt(5.0) - 1.0) / 2.0;
    double lo = 0.0, hi = max_step;
    double a = hi - ratio * (hi - lo), b = lo + ratio * (hi - lo);
    double fa = along(a), fb = along(b);
    for (int i = 0; i < 100 && hi - lo > 1e-15 * max_step; ++i) {
      if (fa <= fb) {
        hi = b;
        b = a;
        fb = fa;
        a = hi - ratio * (hi - lo);
        fa = along(a);
      } else {
        lo = a;
        a = b;
        fa = fb;
        b = lo + ratio * (hi - lo);
        fb = along(b);
      }
    }
    double step = 0.5 * (lo + hi), best = along(step);
    const double at_end = along(max_step);
    if (at_end <= best) step = max_step, best = at_end;
    return best < objective.value(x) ? step : 0.0;
  };
  return frank_wolfe(objective.gradient, line_search, std::move(start), options);
}

// ---- eigendecomposition -------------------------------------------------------------------------------------

SymmetricEigen symmetric_eigen(const Matrix& a_in, const SolverOptions& options) {
  check_symmetric(a_in, "linalg::symmetric_eigen");
  const size_t n = a_in.rows();
  Matrix a = a_in;
  Matrix v = Matrix::identity(n);
  double frobenius = 0.0;
  for (double x : a.values()) frobenius += x * x;
  frobenius = std::sqrt(frobenius);
  for (int sweep = 0; sweep < options.max_iterations; ++sweep) {
    double off = 0.0;
    for (size_t p = 0; p < n; ++p)
      for (size_t q = p + 1; q < n; ++q) off += 2.0 * a(p, q) * a(p, q);
    if (std::sqrt(off) <= options.tolerance * frobenius || off == 0.0) break;
    for (size_t p = 0; p < n; ++p)
      for (size_t q = p + 1; q < n; ++q) {
        const double apq = a(p, q);
        if (apq == 0.0) continue;
        // The rotation J in the (p, q) plane that zeroes the (p, q) entry of JᵀAJ: t = tan of its angle, the
        // smaller root of t² + 2θt − 1 = 0.
        const double theta = (a(q, q) - a(p, p)) / (2.0 * apq);
        const double t = (theta >= 0.0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (size_t k = 0; k < n; ++k) {  // A ← A J
          const double akp = a(k, p), akq = a(k, q);
          a(k, p) = c * akp - s * akq;
          a(k, q) = s * akp + c * akq;
        }
        for (size_t k = 0; k < n; ++k) {  // A ← Jᵀ A
          const double apk = a(p, k), aqk = a(q, k);
          a(p, k) = c * apk - s * aqk;
          a(q, k) = s * apk + c * aqk;
        }
        a(p, q) = a(q, p) = 0.0;
        for (size_t k = 0; k < n; ++k) {  // V ← V J
          const double vkp = v(k, p), vkq = v(k, q);
          v(k, p) = c * vkp - s * vkq;
          v(k, q) = s * vkp + c * vkq;
        }
      }
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t i, size_t j) { return a(i, i) < a(j, j); });
  SymmetricEigen result{Vector(n), Matrix(n, n)};
  for (size_t k = 0; k < n; ++k) {
    result.values[k] = a(order[k], order[k]);
    for (size_t i = 0; i < n; ++i) result.vectors(i, k) = v(i, order[k]);
  }
  return result;
}

// ---- linear systems -----------------------------------------------------------------------------------------

std::optional<Vector> try_solve(const Matrix& a_in, const Vector& b, double relative_pivot) {
  check_square(a_in, "linalg::solve");
  const size_t n = a_in.rows();
  TD_CHECK(b.size() == n, "linalg::solve: [", n, ", ", n, "] system with a right-hand side of ", b.size());
  Matrix a = a_in;
  Vector x = b;
  const double threshold = relative_pivot * max_abs(a_in);
  for (size_t col = 0; col < n; ++col) {
    size_t pivot = col;
    for (size_t r = col + 1; r < n; ++r)
      if (std::abs(a(r, col)) > std::abs(a(pivot, col))) pivot = r;
    if (!(std::abs(a(pivot, col)) > threshold)) return std::nullopt;
    if (pivot != col) {
      for (size_t j = 0; j < n; ++j) std::swap(a(col, j), a(pivot, j));
      std::swap(x[col], x[pivot]);
    }
    for (size_t r = col + 1; r < n; ++r) {
      const double factor = a(r, col) / a(col, col);
      if (factor == 0.0) continue;
      for (size_t j = col; j < n; ++j) a(r, j) -= factor * a(col, j);
      x[r] -= factor * x[col];
    }
  }
  for (size_t i = n; i-- > 0;) {
    double s = x[i];
    for (size_t j = i + 1; j < n; ++j) s -= a(i, j) * x[j];
    x[i] = s / a(i, i);
  }
  return x;
}

Vector solve(const Matrix& a, const Vector& b, const char* what) {
  auto x = try_solve(a, b);
  TD_CHECK(x.has_value(), what, ": the [", a.rows(), ", ", a.cols(), "] system is singular");
  return *x;
}

Vector solve_least_squares(const Matrix& a, const Vector& b, double relative_cutoff) {
  TD_CHECK(b.size() == a.rows(), "linalg::solve_least_squares: [", a.rows(), ", ", a.cols(),
           "] system with a right-hand side of ", b.size());
  const Matrix at = transpose(a);
  const SymmetricEigen eigen = symmetric_eigen(matmul(at, a));
  const Vector atb = matvec(at, b);
  const double largest = eigen.values.empty() ? 0.0 : eigen.values.back();
  Vector x(a.cols(), 0.0);
  for (size_t k = 0; k < eigen.values.size(); ++k) {
    const double lambda = eigen.values[k];
    if (!(lambda > relative_cutoff * largest) || lambda <= 0.0) continue;
    double coefficient = 0.0;
    for (size_t i = 0; i < a.cols(); ++i) coefficient += eigen.vectors(i, k) * atb[i];
    coefficient /= lambda;
    for (size_t i = 0; i < a.cols(); ++i) x[i] += coefficient * eigen.vectors(i, k);
  }
  return x;
}

// ---- bound-constrained quadratic program --------------------------------------------------------------------

Vector minimize_quadratic_above(const Matrix& q, const Vector& c, const Vector& lower, const SolverOptions& options) {
  check_symmetric(q, "linalg::minimize_quadratic_above");
  const size_t n = q.rows();
  TD_CHECK(c.size() == n && lower.size() == n, "linalg::minimize_quadratic_above: Q is [", n, ", ", n, "] but c has ",
           c.size(), " and lower ", lower.size(), " elements");
  Vector x = lower;
  // at_bound[i]: the constraint x_i ≥ lower_i is in the working set (x_i held at its bound).
  std::vector<bool> at_bound(n, true);
  const double scale = std::max({max_abs(q), max_abs(c), std::numeric_limits<double>::min()});
  for (int iteration = 0; iteration < options.max_iterations; ++iteration) {
    // Minimise over the free coordinates with the others held: Q_FF p_F = −(Qx + c)_F.
    std::vector<size_t> free;
    for (size_t i = 0; i < n; ++i)
      if (!at_bound[i]) free.push_back(i);
    Vector g = matvec(q, x);
    for (size_t i = 0; i < n; ++i) g[i] += c[i];
    bool blocked = false;
    if (!free.empty()) {
      Matrix qff(free.size(), free.size());
      Vector rhs(free.size());
      for (size_t i = 0; i < free.size(); ++i) {
        rhs[i] = -g[free[i]];
        for (size_t j = 0; j < free.size(); ++j) qff(i, j) = q(free[i], free[j]);
      }
      auto p = try_solve(qff, rhs, 1e-15);
      TD_CHECK(p.has_value(), "linalg::minimize_quadratic_above: Q is not positive definite (a [", free.size(), ", ",
               free.size(), "] principal block is singular)");
      // The longest step ≤ 1 that keeps every free coordinate above its bound.
      double step = 1.0;
      size_t blocking = n;
      for (size_t i = 0; i < free.size(); ++i) {
        const double pi = (*p)[i];
        if (pi < 0.0) {
          const double room = (lower[free[i]] - x[free[i]]) / pi;
          if (room < step) step = std::max(room, 0.0), blocking = free[i];
        }
      }
      for (size_t i = 0; i < free.size(); ++i) x[free[i]] += step * (*p)[i];
      if (blocking != n) {
        x[blocking] = lower[blocking];
        at_bound[blocking] = true;
        blocked = true;
      }
    }
    if (blocked) continue;
    // x minimises over the current face: release the bound with the most negative multiplier, if any.
    g = matvec(q, x);
    for (size_t i = 0; i < n; ++i) g[i] += c[i];
    size_t release = n;
    for (size_t i = 0; i < n; ++i)
      if (at_bound[i] && g[i] < -options.tolerance * scale && (release == n || g[i] < g[release])) release = i;
    if (release == n) break;
    at_bound[release] = false;
  }
  return x;
}

// ---- K α = 1/α ----------------------------------------------------------------------------------------------

Vector solve_reciprocal_system(const Matrix& k_in, double ridge, const SolverOptions& options) {
  check_symmetric(k_in, "linalg::solve_reciprocal_system");
  const size_t n = k_in.rows();
  TD_CHECK(n >= 1, "linalg::solve_reciprocal_system: empty matrix");
  TD_CHECK(ridge >= 0.0, "linalg::solve_reciprocal_system: negative ridge ", ridge);
  // Solve on K / s (mean diagonal 1) and scale back: if (K/s) β = 1/β then K (β/√s) = 1/(β/√s).
  const double s = trace(k_in) / static_cast<double>(n);
  TD_CHECK(s > 0.0 && std::isfinite(s), "linalg::solve_reciprocal_system: K has a zero or non-finite diagonal "
           "(mean ", s, ")");
  for (size_t i = 0; i < n; ++i)
    TD_CHECK(k_in(i, i) > 0.0 || (ridge > 0.0 && k_in(i, i) == 0.0), "linalg::solve_reciprocal_system: K(", i,
             ", ", i, ") = ", k_in(i, i), " (without a ridge every task needs a non-zero gradient)");
  Matrix k = k_in;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) k(i, j) /= s;
    k(i, i) += ridge;
  }
  // Start on the ray α = t·𝟙 at the minimiser of the potential along it.
  const double along_ones = quadratic_form(k, Vector(n, 1.0));
  Vector alpha(n, along_ones > 0.0 ? std::sqrt(static_cast<double>(n) / along_ones) : 1.0);
  // f is self-concordant (a convex quadratic plus a logarithmic barrier), so with λ² the squared Newton
  // decrement the damped step 1/(1 + λ) always decreases f and stays inside α > 0, and once λ² < 0.1 full
  // Newton steps converge quadratically.
  double previous = std::numeric_limits<double>::infinity();
  for (int iteration = 0; iteration < options.max_iterations; ++iteration) {
    Vector gradient = matvec(k, alpha);
    Matrix hessian = k;
    for (size_t i = 0; i < n; ++i) {
      gradient[i] -= 1.0 / alpha[i];
      hessian(i, i) += 1.0 / (alpha[i] * alpha[i]);
    }
    Vector direction = solve(hessian, gradient, "linalg::solve_reciprocal_system");
    const double decrement = dot(gradient, direction);  // λ² = gᵀH⁻¹g
    const bool quadratic_phase = decrement < 0.1;
    if (quadratic_phase && decrement >= previous) break;  // rounding: no further progress
    previous = quadratic_phase ? decrement : std::numeric_limits<double>::infinity();
    double step = quadratic_phase ? 1.0 : 1.0 / (1.0 + std::sqrt(decrement));
    Vector trial(n);
    bool positive = false;
    for (int halving = 0; halving < 60 && !positive; ++halving, step *= 0.5) {
      positive = true;
      for (size_t i = 0; i < n; ++i) {
        trial[i] = alpha[i] - step * direction[i];
        positive = positive && trial[i] > 0.0;
      }
    }
    if (!positive) break;  // (cannot happen in exact arithmetic)
    alpha = trial;
    if (decrement <= options.tolerance) break;  // that was the last, full step
  }
  for (double& v : alpha) v /= std::sqrt(s);
  return alpha;
}

}  // namespace tandem::mtl::linalg

// Small dense linear algebra for the gradient-level weighting methods. Their problems live in "task space":
// T x T Gramians and T-vectors of task weights with T of a few tasks (≤ ~20), so plain double-precision loops
// on the CPU are both the simplest and the fastest choice — no tensor dispatch, no autograd.
//
//   linalg::Matrix K = linalg::Matrix::from_tensor(inputs.gramian);
//   std::vector<double> alpha = linalg::min_quadratic_on_simplex(K);   // MGDA's min-norm weights
//
// What is here, each used by at least one method:
//  - Euclidean projection onto the probability simplex;
//  - min αᵀKα over the simplex: the two-task closed form and Frank-Wolfe with away steps and exact line search
//    (MGDA), and the same Frank-Wolfe for any convex objective, with a golden-section line search (CAGrad's
//    dual);
//  - the symmetric eigendecomposition by cyclic Jacobi rotations (Aligned-MTL);
//  - linear solves with partial pivoting and a minimum-norm least-squares fallback (IMTL-G);
//  - the bound-constrained quadratic program min ½xᵀQx + cᵀx s.t. x ≥ lower by a primal active-set method
//    (UPGrad);
//  - the positive solution of Kα = 1/α by damped Newton on a convex potential (Nash-MTL).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "tensor/tensor.h"

namespace tandem::mtl::linalg {

using Vector = std::vector<double>;

/// A small dense row-major matrix of doubles.
class Matrix {
 public:
  Matrix() = default;
  Matrix(size_t rows, size_t cols, double fill = 0.0);
  /// A square matrix from its rows (all of the same length).
  Matrix(std::initializer_list<std::initializer_list<double>> rows);
  static Matrix identity(size_t n);
  /// From a 2-D tensor of any floating dtype on any device (copied to float64 on the CPU).
  static Matrix from_tensor(const Tensor& t);
  /// The matrix as a [rows, cols] float64 CPU tensor.
  Tensor to_tensor() const;

  size_t rows() const { return rows_; }
  size_t cols() const { return cols_; }
  double& operator()(size_t i, size_t j) { return values_[i * cols_ + j]; }
  double operator()(size_t i, size_t j) const { return values_[i * cols_ + j]; }
  const Vector& values() const { return values_; }

 private:
  size_t rows_ = 0, cols_ = 0;
  Vector values_;
};

Matrix transpose(const Matrix& a);
Matrix matmul(const Matrix& a, const Matrix& b);
Vector matvec(const Matrix& a, const Vector& x);
double dot(const Vector& a, const Vector& b);
/// xᵀ A x.
double quadratic_form(const Matrix& a, const Vector& x);
double trace(const Matrix& a);
/// The largest absolute entry.
double max_abs(const Matrix& a);
double max_abs(const Vector& x);
/// diag(scale) A diag(scale): the Gramian of G's rows once row t is multiplied by scale[t].
Matrix scale_symmetric(const Matrix& a, const Vector& scale);

/// Stopping rule and iteration cap of the iterative solvers. The tolerance is absolute: callers normalise
/// their problem first (e.g. a Gramian by its trace).
struct SolverOptions {
  double tolerance = 1e-12;
  int max_iterations = 5000;
};

/// The Euclidean projection of v onto {x : x ≥ 0, Σ x = 1} (sort-based, exact).
Vector project_onto_simplex(const Vector& v);

/// The γ ∈ [0, 1] minimising ‖γ g1 + (1 − γ) g2‖² given K11 = ‖g1‖², K12 = g1·g2, K22 = ‖g2‖²:
/// (K22 − K12) / (K11 + K22 − 2 K12) clipped to [0, 1]; 0.5 when g1 = g2.
double min_norm_two(double k11, double k12, double k22);

/// argmin αᵀKα over the simplex, K symmetric positive semi-definite: the closed form for T ≤ 2, otherwise
/// Frank-Wolfe with away steps and exact line search until the duality gap falls below options.tolerance.
Vector min_quadratic_on_simplex(const Matrix& k, const SolverOptions& options = {});

/// A convex function on the simplex: its value and its gradient.
struct SimplexObjective {
  std::function<double(const Vector&)> value;
  std::function<Vector(const Vector&)> gradient;
};
/// argmin of a convex function over the simplex: Frank-Wolfe with away steps, each step's length found by
/// golden-section search along the step (the function is convex along it), from `start` (a point of the
/// simplex) until the duality gap falls below options.tolerance.
Vector minimize_on_simplex(const SimplexObjective& objective, Vector start, const SolverOptions& options = {});

/// A = V diag(values) Vᵀ for symmetric A; values ascending, column k of `vectors` the unit eigenvector of
/// values[k].
struct SymmetricEigen {
  Vector values;
  Matrix vectors;
};
/// Cyclic Jacobi rotations until the off-diagonal mass is below options.tolerance relative to ‖A‖_F (a
/// tandem::Error when A is not square and symmetric).
SymmetricEigen symmetric_eigen(const Matrix& a, const SolverOptions& options = {});

/// x with A x = b by Gaussian elimination with partial pivoting, or nothing when a pivot falls below
/// `relative_pivot` times the largest entry of A (A numerically singular).
std::optional<Vector> try_solve(const Matrix& a, const Vector& b, double relative_pivot = 1e-12);
/// As try_solve, throwing a tandem::Error that names `what` when A is singular.
Vector solve(const Matrix& a, const Vector& b, const char* what = "linalg::solve");
/// The minimum-norm least-squares solution of A x = b (via the eigendecomposition of AᵀA, dropping
/// eigenvalues below `relative_cutoff` times the largest): A⁺ b.
Vector solve_least_squares(const Matrix& a, const Vector& b, double relative_cutoff = 1e-12);

/// argmin ½ xᵀQx + cᵀx subject to x ≥ lower, for symmetric positive definite Q: a primal active-set method
/// started from x = lower, exact up to rounding (finite termination).
Vector minimize_quadratic_above(const Matrix& q, const Vector& c, const Vector& lower,
                                const SolverOptions& options = {});

/// The α > 0 with K α = 1/α (element-wise), K symmetric positive semi-definite: the minimiser of the strictly
/// convex f(α) = ½ αᵀKα − Σ log α_t, by damped Newton (steps 1/(1 + λ) for a Newton decrement λ, which keep α
/// positive, then full steps near the solution) until λ² falls below options.tolerance. `ridge` (relative to the
/// mean diagonal of K) is added to K so that the problem keeps a solution when K has a non-negative null vector
/// (e.g. two opposite gradients, or a zero gradient), where the exact equation has none; without a ridge every
/// diagonal entry must be positive.
Vector solve_reciprocal_system(const Matrix& k, double ridge = 0.0, const SolverOptions& options = {});

}  // namespace tandem::mtl::linalg

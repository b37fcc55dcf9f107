// The small dense solvers of the gradient methods, each against a hand-computed or brute-force answer.
#include <gtest/gtest.h>
#include <tandem.h>

#include <cmath>
#include <numeric>
#include <random>

#include "mtl/weighting/small_linalg.h"

namespace {

using namespace tandem;
using namespace tandem::mtl::linalg;

/// A random PSD Gramian of `n` gradients in R^dim.
Matrix random_gramian(size_t n, size_t dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  Matrix g(n, dim);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < dim; ++j) g(i, j) = normal(rng);
  return matmul(g, transpose(g));
}

double objective_on_simplex(const Matrix& k, const Vector& x) { return quadratic_form(k, x); }

TEST(SmallLinalg, MatrixRoundTripsThroughTensors) {
  Matrix m{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  Tensor t = m.to_tensor();
  EXPECT_EQ(t.sizes(), Dims({2, 3}));
  EXPECT_EQ(t.dtype(), kFloat64);
  Matrix back = Matrix::from_tensor(t.to(kFloat32));
  EXPECT_EQ(back.values(), m.values());
  EXPECT_THROW(Matrix::from_tensor(ones({3})), Error);
  EXPECT_THROW(Matrix::from_tensor(ones({2, 2}, kInt64)), Error);
  EXPECT_THROW((Matrix{{1.0, 2.0}, {3.0}}), Error);
  EXPECT_THROW(matmul(Matrix(2, 3), Matrix(2, 3)), Error);
  EXPECT_THROW(matvec(Matrix(2, 3), Vector(2)), Error);
}

TEST(SmallLinalg, SimplexProjection) {
  // Already on the simplex: unchanged.
  Vector p = project_onto_simplex({0.2, 0.3, 0.5});
  EXPECT_NEAR(p[0], 0.2, 1e-15);
  EXPECT_NEAR(p[2], 0.5, 1e-15);
  // (1, 1) → (0.5, 0.5); (2, 0) → (1, 0); (0.5, 0.5, -1) shifts equally: τ = 0 → (0.5, 0.5, 0).
  EXPECT_EQ(project_onto_simplex({1.0, 1.0}), Vector({0.5, 0.5}));
  EXPECT_EQ(project_onto_simplex({2.0, 0.0}), Vector({1.0, 0.0}));
  p = project_onto_simplex({0.5, 0.5, -1.0});
  EXPECT_NEAR(p[0], 0.5, 1e-15);
  EXPECT_NEAR(p[2], 0.0, 1e-15);
  // (3, 1, 0): Σ (v − τ)+ = 1 at τ = 2 → (1, 0, 0).
  p = project_onto_simplex({3.0, 1.0, 0.0});
  EXPECT_NEAR(p[0], 1.0, 1e-15);
  EXPECT_NEAR(p[1], 0.0, 1e-15);
  // Random points: the projection is the closest simplex point (checked against random simplex points).
  std::mt19937 rng(4);
  std::normal_distribution<double> normal;
  for (int trial = 0; trial < 20; ++trial) {
    Vector v(4);
    for (double& x : v) x = 2.0 * normal(rng);
    const Vector q = project_onto_simplex(v);
    double sum = 0.0, distance = 0.0;
    for (size_t i = 0; i < 4; ++i) {
      EXPECT_GE(q[i], 0.0);
      sum += q[i];
      distance += (q[i] - v[i]) * (q[i] - v[i]);
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    for (int other = 0; other < 50; ++other) {
      Vector r(4);
      for (double& x : r) x = std::abs(normal(rng));
      double total = 0.0;
      for (double x : r) total += x;
      double d = 0.0;
      for (size_t i = 0; i < 4; ++i) d += (r[i] / total - v[i]) * (r[i] / total - v[i]);
      EXPECT_LE(distance, d + 1e-12);
    }
  }
  EXPECT_THROW(project_onto_simplex({}), Error);
  EXPECT_THROW(project_onto_simplex({1.0, NAN}), Error);
}

TEST(SmallLinalg, TwoTaskMinNormClosedForm) {
  // γ = (K22 − K12)/(K11 + K22 − 2K12), clipped.
  EXPECT_NEAR(min_norm_two(1.0, 0.0, 4.0), 0.8, 1e-15);     // orthogonal, norms 1 and 2
  EXPECT_NEAR(min_norm_two(1.0, -1.0, 1.0), 0.5, 1e-15);    // opposite, equal norms
  EXPECT_NEAR(min_norm_two(1.0, 2.0, 9.0), 1.0, 1e-15);     // K12 ≥ K11: g1 itself (clipped at 1)
  EXPECT_NEAR(min_norm_two(9.0, 2.0, 1.0), 0.0, 1e-15);     // K12 ≥ K22: g2 itself (clipped at 0)
  EXPECT_NEAR(min_norm_two(5.0, 5.0, 5.0), 0.5, 1e-15);     // identical: any γ; 0.5 by convention
  const double gamma = min_norm_two(2.0, 0.5, 3.0);
  EXPECT_NEAR(gamma, (3.0 - 0.5) / (2.0 + 3.0 - 1.0), 1e-15);
}

TEST(SmallLinalg, MinQuadraticOnSimplexMatchesClosedFormAndBruteForce) {
  const Vector two = min_quadratic_on_simplex(Matrix{{1.0, 0.0}, {0.0, 4.0}});
  EXPECT_NEAR(two[0], 0.8, 1e-15);
  EXPECT_NEAR(two[1], 0.2, 1e-15);
  EXPECT_EQ(min_quadratic_on_simplex(Matrix{{3.0}}), Vector({1.0}));
  // Three orthogonal gradients of norms 1, 2, 3: α ∝ 1/K_tt = (1, 1/4, 1/9)/(49/36).
  const Vector three = min_quadratic_on_simplex(Matrix{{1.0, 0.0, 0.0}, {0.0, 4.0, 0.0}, {0.0, 0.0, 9.0}});
  EXPECT_NEAR(three[0], 36.0 / 49.0, 1e-9);
  EXPECT_NEAR(three[1], 9.0 / 49.0, 1e-9);
  EXPECT_NEAR(three[2], 4.0 / 49.0, 1e-9);
  // Random problems (some singular: more tasks than dimensions): optimality conditions and brute force.
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (unsigned seed = 0; seed < 12; ++seed) {
    const size_t n = 3 + seed % 4, dim = seed % 3 == 0 ? 2 : 6;
    const Matrix k = random_gramian(n, dim, seed);
    const Vector a = min_quadratic_on_simplex(k);
    double sum = 0.0;
    for (double v : a) {
      EXPECT_GE(v, 0.0);
      sum += v;
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    // KKT: (Kα)_t ≥ αᵀKα for every t (equality on the support), up to the solver's tolerance.
    const Vector ka = matvec(k, a);
    const double value = dot(a, ka);
    for (size_t t = 0; t < n; ++t) EXPECT_GE(ka[t], value - 1e-6 * trace(k)) << "seed " << seed;
    for (int trial = 0; trial < 300; ++trial) {
      Vector r(n);
      double total = 0.0;
      for (double& x : r) total += (x = -std::log(uniform(rng) + 1e-300));
      for (double& x : r) x /= total;
      EXPECT_LE(value, objective_on_simplex(k, r) + 1e-9 * trace(k)) << "seed " << seed;
    }
  }
  EXPECT_THROW(min_quadratic_on_simplex(Matrix{{1.0, 2.0}, {0.0, 1.0}}), Error);  // not symmetric
  EXPECT_THROW(min_quadratic_on_simplex(Matrix(2, 3)), Error);
}

TEST(SmallLinalg, MinimizeOnSimplexGeneralConvexObjective) {
  // f(x) = ‖x − c‖² for c inside the simplex has its minimum at c; outside, at the projection of c.
  for (const Vector& c : {Vector{0.2, 0.5, 0.3}, Vector{1.5, -0.2, 0.4}}) {
    SimplexObjective f;
    f.value = [&](const Vector& x) {
      double s = 0.0;
      for (size_t i = 0; i < x.size(); ++i) s += (x[i] - c[i]) * (x[i] - c[i]);
      return s;
    };
    f.gradient = [&](const Vector& x) {
      Vector g(x.size());
      for (size_t i = 0; i < x.size(); ++i) g[i] = 2.0 * (x[i] - c[i]);
      return g;
    };
    const Vector x = minimize_on_simplex(f, {1.0 / 3, 1.0 / 3, 1.0 / 3}, {1e-12, 5000});
    const Vector expected = project_onto_simplex(c);
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(x[i], expected[i], 1e-6);
  }
  SimplexObjective empty;
  EXPECT_THROW(minimize_on_simplex(empty, {1.0}), Error);
  SimplexObjective constant{[](const Vector&) { return 0.0; }, [](const Vector& x) { return Vector(x.size(), 0.0); }};
  EXPECT_THROW(minimize_on_simplex(constant, {0.5, 0.6}), Error);   // not on the simplex
  EXPECT_THROW(minimize_on_simplex(constant, {1.5, -0.5}), Error);  // negative entry
}

TEST(SmallLinalg, SymmetricEigenReconstructsTheMatrix) {
  // [[2, 1], [1, 2]]: eigenvalues 1 and 3 with vectors (1, −1)/√2 and (1, 1)/√2.
  SymmetricEigen e = symmetric_eigen(Matrix{{2.0, 1.0}, {1.0, 2.0}});
  EXPECT_NEAR(e.values[0], 1.0, 1e-14);
  EXPECT_NEAR(e.values[1], 3.0, 1e-14);
  EXPECT_NEAR(std::abs(e.vectors(0, 1)), 1.0 / std::sqrt(2.0), 1e-14);
  EXPECT_NEAR(e.vectors(0, 1), e.vectors(1, 1), 1e-14);
  EXPECT_NEAR(e.vectors(0, 0), -e.vectors(1, 0), 1e-14);
  for (unsigned seed = 0; seed < 6; ++seed) {
    const size_t n = 2 + 3 * seed;
    const Matrix a = random_gramian(n, seed % 2 ? n : n / 2 + 1, 100 + seed);  // some rank-deficient
    const SymmetricEigen eig = symmetric_eigen(a);
    for (size_t k = 1; k < n; ++k) EXPECT_LE(eig.values[k - 1], eig.values[k]);
    // V diag(λ) Vᵀ = A and VᵀV = I.
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) {
        double rebuilt = 0.0, gram = 0.0;
        for (size_t k = 0; k < n; ++k) {
          rebuilt += eig.vectors(i, k) * eig.values[k] * eig.vectors(j, k);
          gram += eig.vectors(k, i) * eig.vectors(k, j);
        }
        EXPECT_NEAR(rebuilt, a(i, j), 1e-10 * (1.0 + max_abs(a)));
        EXPECT_NEAR(gram, i == j ? 1.0 : 0.0, 1e-12);
      }
    EXPECT_NEAR(std::accumulate(eig.values.begin(), eig.values.end(), 0.0), trace(a), 1e-9 * trace(a));
  }
  EXPECT_THROW(symmetric_eigen(Matrix{{1.0, 2.0}, {3.0, 1.0}}), Error);
  EXPECT_THROW(symmetric_eigen(Matrix(2, 3)), Error);
}

TEST(SmallLinalg, LinearSolveWithPartialPivoting) {
  // A zero in the top-left corner needs a row swap; the solution is (1, 2, 3).
  const Vector x = solve(Matrix{{0.0, 2.0, 1.0}, {1.0, 1.0, 0.0}, {3.0, 0.0, 1.0}}, {7.0, 3.0, 6.0});
  EXPECT_NEAR(x[0], 1.0, 1e-14);
  EXPECT_NEAR(x[1], 2.0, 1e-14);
  EXPECT_NEAR(x[2], 3.0, 1e-14);
  EXPECT_FALSE(try_solve(Matrix{{1.0, 2.0}, {2.0, 4.0}}, {1.0, 2.0}).has_value());
  EXPECT_THROW(solve(Matrix{{1.0, 2.0}, {2.0, 4.0}}, {1.0, 2.0}, "test"), Error);
  EXPECT_THROW(solve(Matrix{{1.0, 2.0}, {2.0, 4.0}}, {1.0}), Error);
  EXPECT_THROW(solve(Matrix(2, 3), {1.0, 2.0}), Error);
}

TEST(SmallLinalg, LeastSquaresGivesTheMinimumNormSolution) {
  // Singular [[1, 1], [1, 1]] x = (2, 2): the minimum-norm solution is (1, 1).
  Vector x = solve_least_squares(Matrix{{1.0, 1.0}, {1.0, 1.0}}, {2.0, 2.0});
  EXPECT_NEAR(x[0], 1.0, 1e-12);
  EXPECT_NEAR(x[1], 1.0, 1e-12);
  // Overdetermined: fit y = a + b t through (0, 1), (1, 3), (2, 5) exactly: a = 1, b = 2.
  x = solve_least_squares(Matrix{{1.0, 0.0}, {1.0, 1.0}, {1.0, 2.0}}, {1.0, 3.0, 5.0});
  EXPECT_NEAR(x[0], 1.0, 1e-10);
  EXPECT_NEAR(x[1], 2.0, 1e-10);
  // The zero matrix: x = 0.
  x = solve_least_squares(Matrix(2, 2), {1.0, 1.0});
  EXPECT_EQ(x, Vector({0.0, 0.0}));
  EXPECT_THROW(solve_least_squares(Matrix(2, 2), {1.0}), Error);
}

TEST(SmallLinalg, BoundConstrainedQuadraticProgram) {
  // min ½ xᵀx − (1, −1)ᵀx s.t. x ≥ 0 → x = (1, 0).
  Vector x = minimize_quadratic_above(Matrix::identity(2), {-1.0, 1.0}, {0.0, 0.0});
  EXPECT_NEAR(x[0], 1.0, 1e-14);
  EXPECT_NEAR(x[1], 0.0, 1e-14);
  // Unconstrained minimum feasible: Q x = −c.
  x = minimize_quadratic_above(Matrix{{2.0, 1.0}, {1.0, 2.0}}, {-3.0, -3.0}, {-5.0, -5.0});
  EXPECT_NEAR(x[0], 1.0, 1e-13);
  EXPECT_NEAR(x[1], 1.0, 1e-13);
  // Random strictly convex problems: KKT (g = Qx + c ≥ 0 at the bound, = 0 off it) and brute force.
  std::mt19937 rng(21);
  std::normal_distribution<double> normal;
  for (unsigned seed = 0; seed < 10; ++seed) {
    const size_t n = 2 + seed % 6;
    Matrix q = random_gramian(n, n + 1, 300 + seed);
    for (size_t i = 0; i < n; ++i) q(i, i) += 0.1;
    Vector c(n), lower(n);
    for (size_t i = 0; i < n; ++i) c[i] = 3.0 * normal(rng), lower[i] = normal(rng);
    x = minimize_quadratic_above(q, c, lower);
    Vector g = matvec(q, x);
    for (size_t i = 0; i < n; ++i) g[i] += c[i];
    auto value = [&](const Vector& v) { return 0.5 * quadratic_form(q, v) + dot(c, v); };
    for (size_t i = 0; i < n; ++i) {
      EXPECT_GE(x[i], lower[i] - 1e-14);
      if (x[i] > lower[i] + 1e-9) EXPECT_NEAR(g[i], 0.0, 1e-9) << "seed " << seed;
      else EXPECT_GE(g[i], -1e-9) << "seed " << seed;
    }
    for (int trial = 0; trial < 200; ++trial) {
      Vector v = x;
      for (size_t i = 0; i < n; ++i) v[i] = std::max(lower[i], x[i] + 0.3 * normal(rng));
      EXPECT_LE(value(x), value(v) + 1e-12);
    }
  }
  // A singular block met on the way (here Q = 0): rejected with a message.
  EXPECT_THROW(minimize_quadratic_above(Matrix(2, 2), {-1.0, -1.0}, {0.0, 0.0}), Error);
  EXPECT_THROW(minimize_quadratic_above(Matrix::identity(2), {0.0}, {0.0, 0.0}), Error);
}

TEST(SmallLinalg, ReciprocalSystem) {
  // Diagonal K: α_t = 1/√K_tt.
  Vector a = solve_reciprocal_system(Matrix{{1.0, 0.0}, {0.0, 4.0}});
  EXPECT_NEAR(a[0], 1.0, 1e-12);
  EXPECT_NEAR(a[1], 0.5, 1e-12);
  // Identical gradients K = [[5, 5], [5, 5]]: α = 1/√10 each.
  a = solve_reciprocal_system(Matrix{{5.0, 5.0}, {5.0, 5.0}});
  EXPECT_NEAR(a[0], 1.0 / std::sqrt(10.0), 1e-10);
  EXPECT_NEAR(a[1], 1.0 / std::sqrt(10.0), 1e-10);
  for (unsigned seed = 0; seed < 10; ++seed) {
    const size_t n = 2 + seed % 5;
    // Gradients with a common component so that no non-negative combination vanishes.
    Matrix k = random_gramian(n, n + 2, 500 + seed);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) k(i, j) += 2.0 * (1.0 + 0.1 * static_cast<double>(seed));
    a = solve_reciprocal_system(k);
    const Vector ka = matvec(k, a);
    for (size_t t = 0; t < n; ++t) {
      EXPECT_GT(a[t], 0.0);
      EXPECT_NEAR(ka[t] * a[t], 1.0, 1e-9) << "seed " << seed;
    }
  }
  // Opposite gradients have no solution; the ridge gives a large, finite, symmetric one.
  a = solve_reciprocal_system(Matrix{{1.0, -1.0}, {-1.0, 1.0}}, 1e-8);
  EXPECT_TRUE(std::isfinite(a[0]) && a[0] > 1e3);
  EXPECT_NEAR(a[0], a[1], 1e-9 * a[0]);
  EXPECT_THROW(solve_reciprocal_system(Matrix{{0.0, 0.0}, {0.0, 1.0}}), Error);
  EXPECT_THROW(solve_reciprocal_system(Matrix(0, 0)), Error);
  EXPECT_THROW(solve_reciprocal_system(Matrix::identity(2), -1.0), Error);
}

}  // namespace

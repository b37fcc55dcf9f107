// Tests of the CPU GEMM (backends/cpu/gemm.h) and of CpuBackend::matmul built on it. Every result is compared
// with a plain triple loop in long double on random inputs, for every micro-kernel this CPU can run, with 1 and 2
// threads, over sizes that hit every edge of the register tiles and cache blocks, over transposed, padded and
// strided operands, and over alpha/beta combinations (beta == 0 must ignore NaNs already in C).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/parallel.h"

namespace {

using tandem::cpu::gemm;

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

/// How a test matrix is laid out in its buffer.
enum class Layout {
  RowMajor,   ///< rs = cols, cs = 1
  ColMajor,   ///< rs = 1, cs = rows (a transposed matrix)
  RowPadded,  ///< rs = cols + 3, cs = 1 (leading dimension larger than the row)
  ColPadded,  ///< rs = 1, cs = rows + 5
  Strided,    ///< rs = 2 * cols + 1, cs = 2 (neither stride is 1)
};

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::RowMajor: return "row-major";
    case Layout::ColMajor: return "col-major";
    case Layout::RowPadded: return "row-padded";
    case Layout::ColPadded: return "col-padded";
    case Layout::Strided: return "strided";
  }
  return "?";
}

/// A rows x cols matrix inside a buffer whose unused slots (padding) hold `padding`.
template <typename T>
struct Matrix {
  int64_t rows = 0, cols = 0, rs = 0, cs = 0;
  std::vector<T> buffer;

  Matrix(int64_t r, int64_t c, Layout layout, T padding) : rows(r), cols(c) {
    switch (layout) {
      case Layout::RowMajor: rs = c, cs = 1; break;
      case Layout::ColMajor: rs = 1, cs = r; break;
      case Layout::RowPadded: rs = c + 3, cs = 1; break;
      case Layout::ColPadded: rs = 1, cs = r + 5; break;
      case Layout::Strided: rs = 2 * c + 1, cs = 2; break;
    }
    const int64_t extent = r == 0 || c == 0 ? 1 : (r - 1) * rs + (c - 1) * cs + 1 + 8;
    buffer.assign(static_cast<size_t>(extent), padding);
  }
  T& at(int64_t i, int64_t j) { return buffer[static_cast<size_t>(i * rs + j * cs)]; }
  T at(int64_t i, int64_t j) const { return buffer[static_cast<size_t>(i * rs + j * cs)]; }
  T* data() { return buffer.data(); }
  const T* data() const { return buffer.data(); }

  void fill_random(std::mt19937& rng) {
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) at(i, j) = static_cast<T>(dist(rng));
  }
  void fill(T value) {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) at(i, j) = value;
  }
  /// True when every slot outside the matrix still holds `padding` (NaN-aware).
  bool padding_intact(T padding) const {
    std::vector<bool> inside(buffer.size(), false);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) inside[static_cast<size_t>(i * rs + j * cs)] = true;
    for (size_t p = 0; p < buffer.size(); ++p) {
      if (inside[p]) continue;
      const bool same = std::isnan(padding) ? std::isnan(buffer[p]) : buffer[p] == padding;
      if (!same) return false;
    }
    return true;
  }
};

template <typename T>
double tolerance(int64_t K) {
  if constexpr (std::is_same_v<T, float>) return 1e-4 * std::sqrt(static_cast<double>(std::max<int64_t>(K, 1)));
  return 1e-12 * std::sqrt(static_cast<double>(std::max<int64_t>(K, 1)));
}

/// Checks C_out == alpha * A @ B + beta * C_in (C_in ignored when beta == 0) within a tolerance relative to the
/// size of the terms: |error| <= tol * (|alpha| * sum_k |a_ik b_kj| + |beta c_ij| + tiny).
template <typename T>
::testing::AssertionResult matches_reference(const Matrix<T>& A, const Matrix<T>& B, const Matrix<T>& C_in,
                                             const Matrix<T>& C_out, T alpha, T beta) {
  const int64_t M = A.rows, K = A.cols, N = B.cols;
  const double tol = tolerance<T>(K);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      long double sum = 0, magnitude = 0;
      for (int64_t k = 0; k < K; ++k) {
        const long double term = static_cast<long double>(A.at(i, k)) * B.at(k, j);
        sum += term;
        magnitude += std::fabs(term);
      }
      long double expected = static_cast<long double>(alpha) * sum;
      magnitude *= std::fabs(static_cast<long double>(alpha));
      if (beta != T(0)) {
        expected += static_cast<long double>(beta) * C_in.at(i, j);
        magnitude += std::fabs(static_cast<long double>(beta) * C_in.at(i, j));
      }
      const T got = C_out.at(i, j);
      const long double error = std::fabs(static_cast<long double>(got) - expected);
      if (!(error <= tol * (magnitude + 1e-30L))) {
        return ::testing::AssertionFailure() << "C(" << i << ", " << j << ") = " << got << ", expected "
                                             << static_cast<double>(expected) << " (M=" << M << " N=" << N
                                             << " K=" << K << ", tolerance " << tol << " x "
                                             << static_cast<double>(magnitude) << ")";
      }
    }
  return ::testing::AssertionSuccess();
}

/// One gemm case: random A, B and C in the given layouts, C = alpha A B + beta C, checked against the reference
/// and for untouched padding in C.
template <typename T>
::testing::AssertionResult run_gemm_case(int64_t M, int64_t N, int64_t K, Layout la, Layout lb, Layout lc, T alpha,
                                         T beta, bool nan_in_c = false, uint32_t seed = 1) {
  std::mt19937 rng(seed + static_cast<uint32_t>(M * 7919 + N * 104729 + K * 31));
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T c_padding = T(12345);
  Matrix<T> A(M, K, la, nan), B(K, N, lb, nan), C(M, N, lc, c_padding);
  A.fill_random(rng);
  B.fill_random(rng);
  if (nan_in_c) C.fill(nan);
  else C.fill_random(rng);
  const Matrix<T> C_in = C;
  gemm(M, N, K, alpha, A.data(), A.rs, A.cs, B.data(), B.rs, B.cs, beta, C.data(), C.rs, C.cs);
  auto result = matches_reference(A, B, C_in, C, alpha, beta);
  if (!result) {
    return result << " [layouts A " << layout_name(la) << ", B " << layout_name(lb) << ", C " << layout_name(lc)
                  << ", alpha " << alpha << ", beta " << beta << ", kernel " << tandem::cpu::gemm_kernel_name()
                  << ", threads " << tandem::cpu::get_num_threads() << "]";
  }
  if (!C.padding_intact(c_padding)) return ::testing::AssertionFailure() << "gemm wrote outside C";
  return ::testing::AssertionSuccess();
}

/// The micro-kernels this CPU can run.
std::vector<std::string> supported_kernels() {
  std::vector<std::string> names;
  for (const char* name : {"avx512", "avx2", "scalar"}) {
    if (tandem::cpu::set_gemm_kernel(name)) names.emplace_back(name);
  }
  tandem::cpu::set_gemm_kernel(nullptr);
  return names;
}

/// Restores the best kernel and the default thread count when a test ends.
class GemmTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_threads_ = tandem::cpu::get_num_threads(); }
  void TearDown() override {
    tandem::cpu::set_gemm_kernel(nullptr);
    tandem::cpu::set_num_threads(saved_threads_);
  }

 private:
  int saved_threads_ = 1;
};

struct Size3 {
  int64_t M, N, K;
};
const std::vector<Size3> kOddSizes = {{1, 1, 1},     {7, 13, 5},     {33, 65, 17},  {127, 129, 257},
                                      {300, 200, 100}, {12, 32, 384}, {13, 33, 385}, {5, 1, 9},
                                      {1, 77, 3},    {64, 64, 64}};

// ---------------------------------------------------------------------------------------------------------------
// gemm
// ---------------------------------------------------------------------------------------------------------------

TEST_F(GemmTest, KernelNameIsOneOfTheKnownOnes) {
  const std::string name = tandem::cpu::gemm_kernel_name();
  EXPECT_TRUE(name == "avx512" || name == "avx2" || name == "scalar") << name;
  EXPECT_FALSE(tandem::cpu::set_gemm_kernel("sse9"));
  EXPECT_EQ(std::string(tandem::cpu::gemm_kernel_name()), name);
  ASSERT_TRUE(tandem::cpu::set_gemm_kernel("scalar"));
  EXPECT_EQ(std::string(tandem::cpu::gemm_kernel_name()), "scalar");
  ASSERT_TRUE(tandem::cpu::set_gemm_kernel(nullptr));
  EXPECT_EQ(std::string(tandem::cpu::gemm_kernel_name()), name);
}

TEST_F(GemmTest, ZeroSizesDoNothingOrScaleC) {
  for (const auto& kernel : supported_kernels()) {
    ASSERT_TRUE(tandem::cpu::set_gemm_kernel(kernel.c_str()));
    // M or N == 0: nothing to write (null pointers must be fine).
    gemm(0, 5, 3, 1.f, nullptr, 3, 1, nullptr, 5, 1, 0.f, nullptr, 5, 1);
    gemm(4, 0, 3, 1.0, nullptr, 3, 1, nullptr, 0, 1, 0.0, nullptr, 0, 1);
    // K == 0: C = beta * C, and beta == 0 gives zeros even where C held NaN.
    for (Layout lc : {Layout::RowMajor, Layout::ColMajor, Layout::Strided}) {
      EXPECT_TRUE(run_gemm_case<float>(6, 7, 0, Layout::RowMajor, Layout::RowMajor, lc, 1.f, 2.f));
      EXPECT_TRUE(run_gemm_case<float>(6, 7, 0, Layout::RowMajor, Layout::RowMajor, lc, 1.f, 0.f, true));
      EXPECT_TRUE(run_gemm_case<double>(6, 7, 0, Layout::RowMajor, Layout::RowMajor, lc, 1.0, -0.5));
      EXPECT_TRUE(run_gemm_case<double>(6, 7, 0, Layout::RowMajor, Layout::RowMajor, lc, 1.0, 0.0, true));
    }
  }
}

TEST_F(GemmTest, OddSizesEveryKernelOneAndTwoThreads) {
  for (const auto& kernel : supported_kernels()) {
    ASSERT_TRUE(tandem::cpu::set_gemm_kernel(kernel.c_str()));
    for (int threads : {1, 2}) {
      tandem::cpu::set_num_threads(threads);
      for (const auto& s : kOddSizes) {
        EXPECT_TRUE(run_gemm_case<float>(s.M, s.N, s.K, Layout::RowMajor, Layout::RowMajor, Layout::RowMajor, 1.f,
                                         0.f));
        EXPECT_TRUE(run_gemm_case<double>(s.M, s.N, s.K, Layout::RowMajor, Layout::RowMajor, Layout::RowMajor,
                                          1.0, 0.0));
      }
    }
  }
}

TEST_F(GemmTest, EveryRowAndColumnRemainderOfTheTiles) {
  // M from 1 to 25 reaches every partial-row kernel (tiles of 4, 6 and 12 rows); N from 1 to 65 every column
  // remainder (tiles of 8, 16 and 32 columns).
  for (const auto& kernel : supported_kernels()) {
    ASSERT_TRUE(tandem::cpu::set_gemm_kernel(kernel.c_str()));
    for (int64_t M = 1; M <= 25; ++M) {
      EXPECT_TRUE(run_gemm_case<float>(M, 64, 19, Layout::RowMajor, Layout::RowMajor, Layout::RowPadded, 1.f, 0.f));
      EXPECT_TRUE(run_gemm_case<float>(M, 96, 7, Layout::RowMajor, Layout::RowMajor, Layout::RowMajor, 1.f, 0.5f));
      EXPECT_TRUE(run_gemm_case<double>(M, 48, 19, Layout::RowMajor, Layout::RowMajor, Layout::RowPadded, 1.0, 0.0));
      EXPECT_TRUE(run_gemm_case<double>(M, 32, 7, Layout::RowMajor, Layout::RowMajor, Layout::RowMajor, 1.0, -2.0));
    }
    for (int64_t N = 1; N <= 65; ++N) {
      EXPECT_TRUE(run_gemm_case<float>(14, N, 11, Layout::RowMajor, Layout::RowMajor, Layout::RowMajor, 1.f, 0.f));
      EXPECT_TRUE(run_gemm_case<double>(14, N, 11, Layout::RowMajor, Layout::RowMajor, Layout::RowMajor, 1.0, 1.0));
    }
  }
}

TEST_F(GemmTest, TransposedPaddedAndStridedOperands) {
  const Layout layouts[] = {Layout::RowMajor, Layout::ColMajor, Layout::RowPadded, Layout::ColPadded,
                            Layout::Strided};
  for (const auto& kernel : supported_kernels()) {
    ASSERT_TRUE(tandem::cpu::set_gemm_kernel(kernel.c_str()));
    for (int threads : {1, 2}) {
      tandem::cpu::set_num_threads(threads);
      for (Layout la : layouts)
        for (Layout lb : layouts)
          for (Layout lc : layouts) {
            EXPECT_TRUE(run_gemm_case<float>(33, 65, 17, la, lb, lc, 0.75f, -0.5f));
            EXPECT_TRUE(run_gemm_case<double>(29, 31, 70, la, lb, lc, -1.25, 0.5));
          }
      // A larger case that uses both threads and several tiles, for each layout of C (row- and column-major C
      // take different paths) with transposed A and B.
      for (Layout lc : layouts) {
        EXPECT_TRUE(run_gemm_case<float>(127, 129, 257, Layout::ColMajor, Layout::ColPadded, lc, 1.f, 1.f));
        EXPECT_TRUE(run_gemm_case<double>(127, 129, 257, Layout::RowPadded, Layout::ColMajor, lc, 1.0, 0.0));
      }
    }
  }
}

TEST_F(GemmTest, AlphaBetaCombinations) {
  const float alphas[] = {1.f, -0.5f, 2.f, 0.f};
  const float betas[] = {0.f, 1.f, -1.5f};
  for (const auto& kernel : supported_kernels()) {
    ASSERT_TRUE(tandem::cpu::set_gemm_kernel(kernel.c_str()));
    for (int threads : {1, 2}) {
      tandem::cpu::set_num_threads(threads);
      for (float alpha : alphas)
        for (float beta : betas) {
          EXPECT_TRUE(run_gemm_case<float>(45, 70, 33, Layout::RowMajor, Layout::RowMajor, Layout::RowPadded, alpha,
                                           beta));
          EXPECT_TRUE(run_gemm_case<float>(100, 90, 80, Layout::RowMajor, Layout::ColMajor, Layout::RowMajor, alpha,
                                           beta));
          EXPECT_TRUE(run_gemm_case<double>(45, 70, 33, Layout::ColMajor, Layout::RowMajor, Layout::RowMajor,
                                            double(alpha), double(beta)));
          EXPECT_TRUE(run_gemm_case<double>(100, 90, 80, Layout::RowMajor, Layout::RowMajor, Layout::ColPadded,
                                            double(alpha), double(beta)));
        }
    }
  }
}

TEST_F(GemmTest, BetaZeroIgnoresNaNInC) {
  for (const auto& kernel : supported_kernels()) {
    ASSERT_TRUE(tandem::cpu::set_gemm_kernel(kernel.c_str()));
    for (int threads : {1, 2}) {
      tandem::cpu::set_num_threads(threads);
      for (Layout lc : {Layout::RowMajor, Layout::ColMajor, Layout::Strided}) {
        for (const auto& s : kOddSizes) {
          EXPECT_TRUE(run_gemm_case<float>(s.M, s.N, s.K, Layout::RowMajor, Layout::RowMajor, lc, 1.5f, 0.f, true));
          EXPECT_TRUE(run_gemm_case<double>(s.M, s.N, s.K, Layout::RowMajor, Layout::RowMajor, lc, 1.0, 0.0, true));
        }
        // alpha == 0 and beta == 0: zeros, whatever C held.
        EXPECT_TRUE(run_gemm_case<float>(9, 10, 11, Layout::RowMajor, Layout::RowMajor, lc, 0.f, 0.f, true));
      }
    }
  }
}

TEST_F(GemmTest, ShapesSpanningSeveralCacheBlocks) {
  // Large enough in each dimension to cross the mc, kc and nc blocks of every kernel (and to be split between
  // threads along M for the tall case, along N for the wide one).
  for (int threads : {1, 2}) {
    tandem::cpu::set_num_threads(threads);
    EXPECT_TRUE(run_gemm_case<float>(2500, 20, 30, Layout::RowMajor, Layout::RowMajor, Layout::RowMajor, 1.f, 0.5f));
    EXPECT_TRUE(run_gemm_case<double>(1300, 20, 30, Layout::RowMajor, Layout::RowMajor, Layout::RowMajor, 1.0, 0.5));
    EXPECT_TRUE(run_gemm_case<float>(30, 1100, 50, Layout::RowMajor, Layout::ColMajor, Layout::RowMajor, 1.f, 0.f));
    EXPECT_TRUE(run_gemm_case<float>(40, 50, 1000, Layout::ColMajor, Layout::RowMajor, Layout::RowMajor, 1.f, 0.f));
    EXPECT_TRUE(run_gemm_case<double>(40, 600, 800, Layout::RowMajor, Layout::RowMajor, Layout::ColMajor, 1.0, 1.0));
  }
}

TEST_F(GemmTest, CallsFromInsideAParallelRegionStayCorrect) {
  // gemm must not try to open a nested team in a broken way; each thread's product must be right.
  const int64_t M = 70, N = 90, K = 110;
  std::mt19937 rng(7);
  Matrix<float> A(M, K, Layout::RowMajor, 0.f), B(K, N, Layout::RowMajor, 0.f);
  A.fill_random(rng);
  B.fill_random(rng);
  std::vector<Matrix<float>> outputs(4, Matrix<float>(M, N, Layout::RowMajor, 0.f));
#pragma omp parallel for num_threads(2)
  for (int t = 0; t < 4; ++t) {
    gemm(M, N, K, 1.f, A.data(), A.rs, A.cs, B.data(), B.rs, B.cs, 0.f, outputs[t].data(), outputs[t].rs,
         outputs[t].cs);
  }
  for (const auto& C : outputs) EXPECT_TRUE(matches_reference(A, B, C, C, 1.f, 0.f));
}

TEST_F(GemmTest, NumThreadsSetting) {
  EXPECT_GE(tandem::cpu::get_num_threads(), 1);
  tandem::cpu::set_num_threads(1);
  EXPECT_EQ(tandem::cpu::get_num_threads(), 1);
  tandem::cpu::set_num_threads(2);
  EXPECT_EQ(tandem::cpu::get_num_threads(), 2);
  EXPECT_THROW(tandem::cpu::set_num_threads(0), tandem::Error);
  EXPECT_THROW(tandem::cpu::set_num_threads(-3), tandem::Error);
  EXPECT_EQ(tandem::cpu::get_num_threads(), 2);
}

// ---------------------------------------------------------------------------------------------------------------
// The optimisation ladder
// ---------------------------------------------------------------------------------------------------------------

using LadderFn = void (*)(int64_t, int64_t, int64_t, const float*, const float*, float*);

TEST_F(GemmTest, EveryLadderStepComputesTheProduct) {
  const std::pair<const char*, LadderFn> steps[] = {
      {"naive", &tandem::cpu::ladder::sgemm_naive},
      {"blocked", &tandem::cpu::ladder::sgemm_blocked},
      {"packed", &tandem::cpu::ladder::sgemm_packed},
      {"threaded", &tandem::cpu::ladder::sgemm_threaded},
  };
  std::vector<Size3> sizes = kOddSizes;
  sizes.push_back({0, 4, 4});
  sizes.push_back({3, 4, 0});
  for (int threads : {1, 2}) {
    tandem::cpu::set_num_threads(threads);
    for (const auto& [name, step] : steps)
      for (const auto& s : sizes) {
        std::mt19937 rng(static_cast<uint32_t>(s.M + s.N + s.K));
        Matrix<float> A(s.M, s.K, Layout::RowMajor, 0.f), B(s.K, s.N, Layout::RowMajor, 0.f);
        Matrix<float> C(s.M, s.N, Layout::RowMajor, 0.f);
        A.fill_random(rng);
        B.fill_random(rng);
        C.fill(std::numeric_limits<float>::quiet_NaN());  // every step must overwrite C, not accumulate into it
        step(s.M, s.N, s.K, A.data(), B.data(), C.data());
        EXPECT_TRUE(matches_reference(A, B, C, C, 1.f, 0.f)) << "ladder step " << name << ", threads " << threads;
      }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CpuBackend::matmul
// ---------------------------------------------------------------------------------------------------------------

template <typename T>
tandem::Strided make_strided(T* data, std::initializer_list<int64_t> sizes, std::initializer_list<int64_t> strides) {
  tandem::Strided s;
  s.data = data;
  s.dtype = tandem::dtype_of<T>::value;
  s.sizes = tandem::Dims(sizes);
  s.strides = tandem::Dims(strides);
  return s;
}

/// Batched product with a broadcast A (batch stride 0), a transposed B and a padded output, against the
/// reference per batch entry.
template <typename T>
void check_batched_matmul(int64_t batch, int64_t M, int64_t N, int64_t K) {
  std::mt19937 rng(static_cast<uint32_t>(batch * 1000 + M + N + K));
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  // A: one [M, K] row-major matrix shared by every batch entry.
  std::vector<T> a(static_cast<size_t>(M * K));
  for (auto& x : a) x = static_cast<T>(dist(rng));
  // B: batch of [K, N] stored transposed ([N, K] row-major per entry).
  std::vector<T> b(static_cast<size_t>(batch * N * K));
  for (auto& x : b) x = static_cast<T>(dist(rng));
  // dst: [batch, M, N] with each row padded by 2 elements, NaN-filled beforehand.
  const int64_t ld = N + 2;
  std::vector<T> out(static_cast<size_t>(batch * M * ld), std::numeric_limits<T>::quiet_NaN());

  tandem::cpu::cpu_backend().matmul(make_strided(a.data(), {batch, M, K}, {0, K, 1}),
                                    make_strided(b.data(), {batch, K, N}, {N * K, 1, K}),
                                    make_strided(out.data(), {batch, M, N}, {M * ld, ld, 1}));
  for (int64_t e = 0; e < batch; ++e) {
    Matrix<T> A(M, K, Layout::RowMajor, T(0)), B(K, N, Layout::ColMajor, T(0)), C(M, N, Layout::RowMajor, T(0));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t k = 0; k < K; ++k) A.at(i, k) = a[static_cast<size_t>(i * K + k)];
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) B.at(k, j) = b[static_cast<size_t>(e * N * K + j * K + k)];
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C.at(i, j) = out[static_cast<size_t>(e * M * ld + i * ld + j)];
    EXPECT_TRUE(matches_reference(A, B, C, C, T(1), T(0))) << "batch entry " << e;
  }
}

TEST_F(GemmTest, BackendMatmulBroadcastTransposedAndPadded) {
  for (int threads : {1, 2}) {
    tandem::cpu::set_num_threads(threads);
    check_batched_matmul<float>(3, 17, 23, 9);      // a few small entries
    check_batched_matmul<double>(3, 17, 23, 9);
    check_batched_matmul<float>(200, 5, 6, 7);      // many tiny entries: threaded over the batch
    check_batched_matmul<double>(64, 8, 3, 12);
    check_batched_matmul<float>(2, 130, 70, 90);    // large entries: threaded inside gemm
    check_batched_matmul<float>(1, 4, 5, 0);        // K == 0 gives zeros
  }
}

TEST_F(GemmTest, BackendMatmulBatchOfSizeOneBroadcasts) {
  // b given with batch size 1 (and any batch stride) is shared by every entry of a.
  std::vector<float> a = {1, 2, 3, 4, 5, 6, 7, 8};  // two [2, 2]
  std::vector<float> b = {1, 0, 0, 2};              // one [2, 2]: diag(1, 2)
  std::vector<float> out(8, -1.f);
  tandem::cpu::cpu_backend().matmul(make_strided(a.data(), {2, 2, 2}, {4, 2, 1}),
                                    make_strided(b.data(), {1, 2, 2}, {4, 2, 1}),
                                    make_strided(out.data(), {2, 2, 2}, {4, 2, 1}));
  EXPECT_EQ(out, (std::vector<float>{1, 4, 3, 8, 5, 12, 7, 16}));
}

TEST_F(GemmTest, BackendMatmulRejectsBadInput) {
  std::vector<int64_t> ints(8, 1);
  auto& cpu = tandem::cpu::cpu_backend();
  try {
    cpu.matmul(make_strided(ints.data(), {1, 2, 2}, {4, 2, 1}), make_strided(ints.data(), {1, 2, 2}, {4, 2, 1}),
               make_strided(ints.data(), {1, 2, 2}, {4, 2, 1}));
    FAIL() << "int64 matmul did not throw";
  } catch (const tandem::Error& e) {
    EXPECT_NE(std::string(e.what()).find("int64"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("matmul"), std::string::npos) << e.what();
  }
  std::vector<float> f(64, 0.f);
  std::vector<double> d(64, 0.0);
  // inner dimensions differ
  EXPECT_THROW(cpu.matmul(make_strided(f.data(), {1, 2, 3}, {6, 3, 1}), make_strided(f.data(), {1, 4, 2}, {8, 2, 1}),
                          make_strided(f.data(), {1, 2, 2}, {4, 2, 1})),
               tandem::Error);
  // mixed dtypes
  EXPECT_THROW(cpu.matmul(make_strided(f.data(), {1, 2, 2}, {4, 2, 1}), make_strided(d.data(), {1, 2, 2}, {4, 2, 1}),
                          make_strided(f.data(), {1, 2, 2}, {4, 2, 1})),
               tandem::Error);
  // not 3-D
  EXPECT_THROW(cpu.matmul(make_strided(f.data(), {2, 2}, {2, 1}), make_strided(f.data(), {2, 2}, {2, 1}),
                          make_strided(f.data(), {2, 2}, {2, 1})),
               tandem::Error);
  // batch sizes that do not match
  EXPECT_THROW(cpu.matmul(make_strided(f.data(), {3, 2, 2}, {4, 2, 1}), make_strided(f.data(), {2, 2, 2}, {4, 2, 1}),
                          make_strided(f.data(), {2, 2, 2}, {4, 2, 1})),
               tandem::Error);
}

}  // namespace

// CudaBackend::matmul: batched matrix products [B,M,K] x [B,K,N] -> [B,M,N] through cuBLAS, one
// strided-batched call for the whole batch (cublasGemmStridedBatchedEx for float32, cublasDgemmStridedBatched
// for float64).
//
// cuBLAS is column-major and tandem row-major. A matrix with a unit stride along one dim and a leading stride
// along the other is a column-major matrix either as it is (unit stride down the rows) or transposed (unit
// stride along the rows), so every such operand is passed in place with the matching transpose flag. The
// output decides the frame: a row-major C is computed as C^T = B^T A^T (C's memory is C^T in column-major),
// a column-major C directly as C = A B. Operands with no unit stride (e.g. a broadcast inside the matrix, or
// both strides > 1) are first copied into a contiguous buffer, and an output with no unit stride is computed
// into one and copied back. A batch dim of size 1 is broadcast with batch stride 0.
//
// float32 products use full float32 arithmetic unless tandem::cuda::set_allow_tf32(true) lets cuBLAS use TF32
// tensor cores (inputs rounded to 10 mantissa bits; ~1e-3 relative error). int64 products are rejected, as on
// the CPU.
#include <algorithm>
#include <climits>
#include <memory>
#include <mutex>
#include <type_traits>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"
#include "backends/cuda/runtime.h"

namespace tandem::cuda {
namespace {

/// The process-wide cuBLAS handle (created on first use, bound to the backend's stream) and the lock that
/// serialises its use.
struct Cublas {
  std::mutex mutex;
  cublasHandle_t handle = nullptr;
};

Cublas& cublas() {
  static auto* c = [] {
    auto* created = new Cublas();  // never destroyed: the CUDA context may already be gone at exit
    TD_CUBLAS_CHECK(cublasCreate(&created->handle));
    TD_CUBLAS_CHECK(cublasSetStream(created->handle, detail::stream()));
    return created;
  }();
  return *c;
}

/// How a logical [rows, cols] operand with strides (row_stride, col_stride) is passed to cuBLAS as a
/// column-major [rows, cols] matrix: in place with op N (unit row stride) or op T (unit column stride).
struct Operand {
  bool usable = false;
  cublasOperation_t op = CUBLAS_OP_N;
  int64_t ld = 1;
};

Operand describe(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  Operand o;
  // Column-major as it is: element (i, j) at i + j * ld. A dim of size 1 may have any stride.
  if (rows == 1 || row_stride == 1) {
    const int64_t ld = cols == 1 ? std::max<int64_t>(1, rows) : col_stride;
    if (ld >= std::max<int64_t>(1, rows) && ld <= INT_MAX) return Operand{true, CUBLAS_OP_N, ld};
  }
  // Row-major: its memory is the column-major transpose with ld = row stride; op T turns it back.
  if (cols == 1 || col_stride == 1) {
    const int64_t ld = rows == 1 ? std::max<int64_t>(1, cols) : row_stride;
    if (ld >= std::max<int64_t>(1, cols) && ld <= INT_MAX) return Operand{true, CUBLAS_OP_T, ld};
  }
  return o;
}

/// A matrix [R, C] of a batched operand [B, R, C], or (when `transposed`) its transpose [C, R], as cuBLAS sees it.
Operand describe_matrix(const Strided& s, bool transposed) {
  const int64_t r = s.sizes[1], c = s.sizes[2], sr = s.strides[1], sc = s.strides[2];
  return transposed ? describe(c, r, sc, sr) : describe(r, c, sr, sc);
}

/// s laid out contiguously in `buffer` (same sizes), for operands cuBLAS cannot read in place.
Strided contiguous_copy(CudaBackend& backend, const Strided& s, detail::DeviceBuffer& buffer) {
  Strided c = s;
  c.data = buffer.as<void>();
  c.strides = contiguous_strides(s.sizes);
  backend.copy(s, c);
  return c;
}

template <typename T>
void gemm_strided_batched(cublasOperation_t op_a, cublasOperation_t op_b, int64_t m, int64_t n, int64_t k,
                          const T* a, int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T* c,
                          int64_t ldc, int64_t stride_c, int64_t batch) {
  Cublas& blas = cublas();
  std::lock_guard<std::mutex> lock(blas.mutex);
  const T one = 1, zero = 0;
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  const int ilda = static_cast<int>(lda), ildb = static_cast<int>(ldb), ildc = static_cast<int>(ldc);
  const int ibatch = static_cast<int>(batch);
  if constexpr (std::is_same_v<T, double>) {
    TD_CUBLAS_CHECK(cublasDgemmStridedBatched(blas.handle, op_a, op_b, im, in, ik, &one, a, ilda, stride_a, b, ildb,
                                              stride_b, &zero, c, ildc, stride_c, ibatch));
  } else {
    const cublasComputeType_t compute = allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    TD_CUBLAS_CHECK(cublasGemmStridedBatchedEx(blas.handle, op_a, op_b, im, in, ik, &one, a, CUDA_R_32F, ilda,
                                               stride_a, b, CUDA_R_32F, ildb, stride_b, &zero, c, CUDA_R_32F, ildc,
                                               stride_c, ibatch, compute, CUBLAS_GEMM_DEFAULT));
  }
}

template <typename T>
void batched_matmul(CudaBackend& backend, const Strided& a_in, const Strided& b_in, const Strided& dst) {
  const int64_t batch = dst.sizes[0], M = dst.sizes[1], N = dst.sizes[2], K = a_in.sizes[2];
  Strided a = a_in, b = b_in;

  // The frame: C^T = B^T A^T when C is row-major, C = A B when it is column-major, else a contiguous buffer.
  Operand c_rows = describe(N, M, dst.strides[2], dst.strides[1]);  // C^T as a column-major [N, M] in place
  Operand c_cols = describe(M, N, dst.strides[1], dst.strides[2]);  // C as a column-major [M, N] in place
  const bool row_frame = c_rows.usable && c_rows.op == CUBLAS_OP_N;
  const bool col_frame = !row_frame && c_cols.usable && c_cols.op == CUBLAS_OP_N;
  std::unique_ptr<detail::DeviceBuffer> c_buffer;
  Strided c = dst;
  if (!row_frame && !col_frame) {
    c_buffer = std::make_unique<detail::DeviceBuffer>(static_cast<size_t>(dst.numel()) * sizeof(T));
    c.data = c_buffer->as<void>();
    c.strides = contiguous_strides(dst.sizes);
    c_rows = describe(N, M, c.strides[2], c.strides[1]);
  }
  const bool rows = row_frame || !col_frame;

  // In the row frame the first cuBLAS operand is B^T [N, K] and the second A^T [K, M]; in the column frame
  // A [M, K] and B [K, N].
  Operand first = rows ? describe_matrix(b, true) : describe_matrix(a, false);
  Operand second = rows ? describe_matrix(a, true) : describe_matrix(b, false);
  std::unique_ptr<detail::DeviceBuffer> a_buffer, b_buffer;
  auto make_usable = [&](Strided& s, std::unique_ptr<detail::DeviceBuffer>& buffer) {
    buffer = std::make_unique<detail::DeviceBuffer>(static_cast<size_t>(s.numel()) * sizeof(T));
    s = contiguous_copy(backend, s, *buffer);
  };
  if (!(rows ? second : first).usable) {
    make_usable(a, a_buffer);
    (rows ? second : first) = describe_matrix(a, rows);
  }
  if (!(rows ? first : second).usable) {
    make_usable(b, b_buffer);
    (rows ? first : second) = describe_matrix(b, rows);
  }
  const int64_t a_batch_stride = a.sizes[0] == 1 ? 0 : a.strides[0];
  const int64_t b_batch_stride = b.sizes[0] == 1 ? 0 : b.strides[0];
  const int64_t c_batch_stride = batch == 1 ? M * N : c.strides[0];
  if (rows) {
    gemm_strided_batched<T>(first.op, second.op, N, M, K, b.ptr<const T>(), first.ld, b_batch_stride,
                            a.ptr<const T>(), second.ld, a_batch_stride, c.ptr<T>(), c_rows.ld, c_batch_stride, batch);
  } else {
    gemm_strided_batched<T>(first.op, second.op, M, N, K, a.ptr<const T>(), first.ld, a_batch_stride,
                            b.ptr<const T>(), second.ld, b_batch_stride, c.ptr<T>(), c_cols.ld, c_batch_stride, batch);
  }
  if (c_buffer) backend.copy(c, dst);
}

}  // namespace

void CudaBackend::matmul(const Strided& a, const Strided& b, const Strided& dst) {
  TD_CHECK(a.ndim() == 3 && b.ndim() == 3 && dst.ndim() == 3,
           "matmul: expected 3-D operands [B, M, K] x [B, K, N] -> [B, M, N], got ", a.sizes, " x ", b.sizes,
           " -> ", dst.sizes);
  TD_CHECK(a.dtype == b.dtype && a.dtype == dst.dtype, "matmul: operands must share one dtype, got ", a.dtype,
           " x ", b.dtype, " -> ", dst.dtype);
  TD_CHECK(a.dtype == ScalarType::Float32 || a.dtype == ScalarType::Float64, "matmul: dtype ", a.dtype,
           " not supported (float32 and float64 only)");
  const int64_t batch = dst.sizes[0];
  TD_CHECK((a.sizes[0] == batch || a.sizes[0] == 1) && (b.sizes[0] == batch || b.sizes[0] == 1) &&
               a.sizes[1] == dst.sizes[1] && b.sizes[2] == dst.sizes[2] && a.sizes[2] == b.sizes[1],
           "matmul: shapes ", a.sizes, " and ", b.sizes, " cannot be multiplied into ", dst.sizes);
  TD_CHECK(batch <= 1 || dst.strides[0] != 0 || dst.sizes[1] * dst.sizes[2] == 0,
           "matmul: the output's batch dimension cannot have stride 0 (shape ", dst.sizes, ")");
  TD_CHECK(batch <= INT_MAX && dst.sizes[1] <= INT_MAX && dst.sizes[2] <= INT_MAX && a.sizes[2] <= INT_MAX,
           "matmul: sizes ", a.sizes, " x ", b.sizes, " exceed what cuBLAS accepts (2^31 - 1 per dim)");
  detail::check_device_operand(a, "matmul", "first operand");
  detail::check_device_operand(b, "matmul", "second operand");
  detail::check_device_operand(dst, "matmul", "output");
  if (dst.numel() == 0) return;
  if (a.sizes[2] == 0) {  // an empty sum: zeros
    fill(dst, 0);
    return;
  }
  if (a.dtype == ScalarType::Float32)
    batched_matmul<float>(*this, a, b, dst);
  else
    batched_matmul<double>(*this, a, b, dst);
}

}  // namespace tandem::cuda

// CpuBackend::matmul: batched matrix products [B,M,K] x [B,K,N] -> [B,M,N] on strided operands, one gemm call
// per batch entry. Large products are threaded inside gemm; many small ones are spread over threads by batch
// entry instead, each gemm then running on its own thread.
#include <algorithm>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/parallel.h"

namespace tandem::cpu {
namespace {

// Products smaller than this many multiply-adds are not worth threading inside gemm (see gemm.cpp).
constexpr int64_t kSmallProductWork = 64 * 64 * 64;

template <typename T>
void batched_gemm(const Strided& a, const Strided& b, const Strided& dst) {
  const int64_t batch = dst.sizes[0], M = dst.sizes[1], N = dst.sizes[2], K = a.sizes[2];
  // A batch dimension of size 1 is broadcast like one of stride 0.
  const int64_t a_batch_stride = a.sizes[0] == 1 ? 0 : a.strides[0];
  const int64_t b_batch_stride = b.sizes[0] == 1 ? 0 : b.strides[0];
  const T* A = a.ptr<T>();
  const T* B = b.ptr<T>();
  T* C = dst.ptr<T>();
  auto multiply = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      gemm(M, N, K, T(1), A + i * a_batch_stride, a.strides[1], a.strides[2], B + i * b_batch_stride, b.strides[1],
           b.strides[2], T(0), C + i * dst.strides[0], dst.strides[1], dst.strides[2]);
  };
  const int64_t work = M * N * std::max<int64_t>(K, 1);
  if (batch > 1 && work < kSmallProductWork) {
    // Enough entries per thread that each thread gets about one "large" product's worth of work.
    parallel_for(batch, std::max<int64_t>(1, kSmallProductWork / work), multiply);
  } else {
    multiply(0, batch);
  }
}

}  // namespace

void CpuBackend::matmul(const Strided& a, const Strided& b, const Strided& dst) {
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
  if (dst.numel() == 0) return;
  if (a.dtype == ScalarType::Float32) {
    batched_gemm<float>(a, b, dst);
  } else {
    batched_gemm<double>(a, b, dst);
  }
}

}  // namespace tandem::cpu

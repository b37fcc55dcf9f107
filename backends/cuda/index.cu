// CUDA indexing kernels: index_select, index_add, gather and scatter_add, for every dtype and any strides.
//
// Bounds: before anything is written, a check kernel looks at every index value and records, with an atomic
// minimum in a device flag, the position of the first one (in row-major order) outside [0, size). The host
// reads the flag back after the kernel and, if it was set, throws tandem::Error naming the op, the bad value,
// the dim and the valid range, with the CPU backend's wording. This costs one synchronisation per call.
//
// Each kernel runs one thread per element of the walked operand (the output for index_select and gather, the
// source for index_add and scatter_add) through detail::OffsetCalculator. The indexed operand is read through
// the walked shape with stride 0 along `dim`, and the index value supplies the offset along it. For
// index_select/index_add a third "coordinate" operand (stride 1 along `dim`, 0 elsewhere) yields the position
// along `dim`, i.e. which entry of the 1-D index applies. The accumulating kernels use atomicAdd (float32,
// float64 and int64 natively on sm_90; bool accumulates as a logical or), so repeated indices add up; the order
// of the float additions, and so the last bits of such sums, may vary from run to run.
#include <climits>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"
#include "backends/index_checks.h"

namespace tandem::cuda {
namespace {

using namespace ::tandem::index_checks;

using detail::kBlockSize;
using detail::OffsetCalculator;

// ---------------------------------------------------------------------------------------------------------------
// Shapes and checks (the CPU backend's rules and messages)
// ---------------------------------------------------------------------------------------------------------------
/// A 0-d operand read as the 1-D operand of its single element (so that dim 0 can be indexed).
Strided at_least_1d(const Strided& s) {
  if (s.ndim() > 0) return s;
  Strided out = s;
  out.sizes = Dims{1};
  out.strides = Dims{1};
  return out;
}

/// The 0-D or 1-D index of index_select / index_add as a 1-D operand.
Strided vector_index(const char* op, const Strided& index) {
  check_index_dtype(op, index);
  TD_CHECK(index.ndim() <= 1, op, ": index must be 0-D or 1-D, got shape ", index.sizes);
  return at_least_1d(index);
}

// ---------------------------------------------------------------------------------------------------------------
// Bounds check
// ---------------------------------------------------------------------------------------------------------------
__global__ void __launch_bounds__(kBlockSize)
    find_bad_index_kernel(const int64_t* __restrict__ index, int64_t n, OffsetCalculator<1> calc, int64_t size,
                          unsigned long long* first_bad) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[1];
    calc.get(i, off);
    const int64_t v = index[off[0]];
    if (v < 0 || v >= size) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

/// Throws (CPU wording) for the first value of `index` (row-major order) outside [0, size).
void check_index_values(const char* op, const Strided& index, int64_t dim, int64_t size) {
  const int64_t n = index.numel();
  if (n == 0) return;
  const cudaStream_t stream = detail::stream();
  detail::DeviceBuffer flag(sizeof(unsigned long long));
  TD_CUDA_CHECK(cudaMemsetAsync(flag.as<void>(), 0xFF, sizeof(unsigned long long), stream));  // "none yet"
  const auto calc = detail::make_offset_calculator<1>(index.sizes, {&index.strides}, op);
  find_bad_index_kernel<<<detail::grid_for(n, kBlockSize), kBlockSize, 0, stream>>>(
      index.ptr<const int64_t>(), n, calc, size, flag.as<unsigned long long>());
  TD_CUDA_CHECK_LAUNCH("find_bad_index_kernel");
  unsigned long long first = 0;
  TD_CUDA_CHECK(cudaMemcpyAsync(&first, flag.as<void>(), sizeof(first), cudaMemcpyDeviceToHost, stream));
  TD_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (first == ULLONG_MAX) return;
  // Offset of the bad element from its row-major position, then its value.
  int64_t rest = static_cast<int64_t>(first), offset = 0;
  for (size_t d = index.ndim(); d-- > 0;) {
    offset += (rest % index.sizes[d]) * index.strides[d];
    rest /= index.sizes[d];
  }
  int64_t value = 0;
  TD_CUDA_CHECK(cudaMemcpy(&value, index.ptr<const int64_t>() + offset, sizeof(value), cudaMemcpyDeviceToHost));
  throw_bad_index(op, value, dim, size);
}

// ---------------------------------------------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------------------------------------------
/// dst += v, safe against other threads adding to the same element.
template <typename T>
__device__ __forceinline__ void atomic_accumulate(T* dst, T v) {
  if constexpr (std::is_same_v<T, bool>) {
    if (v) *dst = true;  // logical or: every writer writes the same value
  } else if constexpr (std::is_same_v<T, int64_t>) {
    atomicAdd(reinterpret_cast<unsigned long long*>(dst), static_cast<unsigned long long>(v));  // wraps
  } else {
    atomicAdd(dst, v);  // float, double
  }
}

/// Operands (via calc): 0 the walked operand, 1 the indexed one (stride 0 along dim), 2 the coordinate along dim.
/// kAdd false: walked = indexed[index[k]] (index_select); true: indexed[index[k]] += walked (index_add).
template <typename T, bool kAdd>
__global__ void __launch_bounds__(kBlockSize)
    index_vector_kernel(T* walked, T* indexed, const int64_t* __restrict__ index, int64_t index_stride,
                        int64_t indexed_dim_stride, int64_t n, OffsetCalculator<3> calc) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[3];
    calc.get(i, off);
    T* target = indexed + off[1] + index[off[2] * index_stride] * indexed_dim_stride;
    if constexpr (kAdd) atomic_accumulate(target, walked[off[0]]);
    else walked[off[0]] = *target;
  }
}

/// Operands (via calc, over the index's shape): 0 the walked operand, 1 the index, 2 the indexed one (stride 0
/// along dim). kAdd false: walked = indexed[index] (gather); true: indexed[index] += walked (scatter_add).
template <typename T, bool kAdd>
__global__ void __launch_bounds__(kBlockSize)
    index_tensor_kernel(T* walked, T* indexed, const int64_t* __restrict__ index, int64_t indexed_dim_stride,
                        int64_t n, OffsetCalculator<3> calc) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[3];
    calc.get(i, off);
    T* target = indexed + off[2] + index[off[1]] * indexed_dim_stride;
    if constexpr (kAdd) atomic_accumulate(target, walked[off[0]]);
    else walked[off[0]] = *target;
  }
}

/// strides with the entry of `dim` replaced by `value`.
Dims with_stride(const Dims& strides, int64_t dim, int64_t value) {
  Dims s = strides;
  s[static_cast<size_t>(dim)] = value;
  return s;
}

/// Shared by index_select (kAdd false) and index_add (kAdd true): `walked` runs over the index positions along
/// dim, `indexed` is addressed through the index; both have the same sizes outside dim.
template <bool kAdd>
void run_index_vector(const char* op, const Strided& walked, const Strided& indexed, const Strided& index,
                      int64_t dim) {
  const int64_t n = walked.numel();
  if (n == 0) return;
  const Dims indexed_strides = with_stride(indexed.strides, dim, 0);
  Dims coordinate(walked.ndim(), 0);
  coordinate[static_cast<size_t>(dim)] = 1;
  const auto calc = detail::make_offset_calculator<3>(walked.sizes, {&walked.strides, &indexed_strides, &coordinate}, op);
  const int64_t indexed_dim_stride = indexed.strides[static_cast<size_t>(dim)];
  visit_dtype(walked.dtype, [&](auto tag) {
    using T = decltype(tag);
    index_vector_kernel<T, kAdd><<<detail::grid_for(n, kBlockSize), kBlockSize, 0, detail::stream()>>>(
        walked.ptr<T>(), indexed.ptr<T>(), index.ptr<const int64_t>(), index.strides[0], indexed_dim_stride, n,
        calc);
    TD_CUDA_CHECK_LAUNCH("index_vector_kernel");
  });
}

/// Shared by gather (kAdd false) and scatter_add (kAdd true), over the index's shape.
template <bool kAdd>
void run_index_tensor(const char* op, const Strided& walked, const Strided& indexed, const Strided& index,
                      int64_t dim) {
  const int64_t n = index.numel();
  if (n == 0) return;
  const Dims indexed_strides = with_stride(indexed.strides, dim, 0);
  const auto calc =
      detail::make_offset_calculator<3>(index.sizes, {&walked.strides, &index.strides, &indexed_strides}, op);
  const int64_t indexed_dim_stride = indexed.strides[static_cast<size_t>(dim)];
  visit_dtype(walked.dtype, [&](auto tag) {
    using T = decltype(tag);
    index_tensor_kernel<T, kAdd><<<detail::grid_for(n, kBlockSize), kBlockSize, 0, detail::stream()>>>(
        walked.ptr<T>(), indexed.ptr<T>(), index.ptr<const int64_t>(), indexed_dim_stride, n, calc);
    TD_CUDA_CHECK_LAUNCH("index_tensor_kernel");
  });
}

}  // namespace

void CudaBackend::index_select(const Strided& src_in, int64_t dim, const Strided& index_in, const Strided& dst_in) {
  const char* op = "index_select";
  const Strided src = at_least_1d(src_in), dst = at_least_1d(dst_in);
  check_dim(op, dim, src);
  TD_CHECK(src.dtype == dst.dtype, op, ": output dtype ", dst.dtype, " differs from input dtype ", src.dtype);
  check_same_outside(op, src, "input", dst, "output", dim);
  TD_CHECK(dst.sizes[static_cast<size_t>(dim)] == index_in.numel(), op, ": output has size ",
           dst.sizes[static_cast<size_t>(dim)], " in dim ", dim, " but index has ", index_in.numel(), " elements");
  const Strided index = vector_index(op, index_in);
  detail::check_device_operand(src, op, "input");
  detail::check_device_operand(index, op, "index");
  detail::check_device_operand(dst, op, "output");
  check_index_values(op, index, dim, src.sizes[static_cast<size_t>(dim)]);
  run_index_vector<false>(op, dst, src, index, dim);
}

void CudaBackend::index_add(const Strided& dst_in, int64_t dim, const Strided& index_in, const Strided& src_in) {
  const char* op = "index_add";
  const Strided dst = at_least_1d(dst_in), src = at_least_1d(src_in);
  check_dim(op, dim, dst);
  TD_CHECK(src.dtype == dst.dtype, op, ": source dtype ", src.dtype, " differs from destination dtype ", dst.dtype);
  check_same_outside(op, dst, "destination", src, "source", dim);
  TD_CHECK(src.sizes[static_cast<size_t>(dim)] == index_in.numel(), op, ": source has size ",
           src.sizes[static_cast<size_t>(dim)], " in dim ", dim, " but index has ", index_in.numel(), " elements");
  const Strided index = vector_index(op, index_in);
  detail::check_device_operand(dst, op, "destination");
  detail::check_device_operand(index, op, "index");
  detail::check_device_operand(src, op, "source");
  check_index_values(op, index, dim, dst.sizes[static_cast<size_t>(dim)]);
  run_index_vector<true>(op, src, dst, index, dim);
}

void CudaBackend::gather(const Strided& src_in, int64_t dim, const Strided& index_in, const Strided& dst_in) {
  const char* op = "gather";
  const Strided src = at_least_1d(src_in), index = at_least_1d(index_in), dst = at_least_1d(dst_in);
  check_dim(op, dim, src);
  check_index_dtype(op, index);
  TD_CHECK(src.dtype == dst.dtype, op, ": output dtype ", dst.dtype, " differs from input dtype ", src.dtype);
  check_index_fits(op, index, src, "input", dim);
  TD_CHECK(dst.sizes == index.sizes, op, ": output of shape ", dst.sizes, " must have the index's shape ", index.sizes);
  detail::check_device_operand(src, op, "input");
  detail::check_device_operand(index, op, "index");
  detail::check_device_operand(dst, op, "output");
  check_index_values(op, index, dim, src.sizes[static_cast<size_t>(dim)]);
  // src is read through the index's shape (it may be larger outside dim).
  Strided src_view = src;
  src_view.sizes = index.sizes;
  run_index_tensor<false>(op, dst, src_view, index, dim);
}

void CudaBackend::scatter_add(const Strided& dst_in, int64_t dim, const Strided& index_in, const Strided& src_in) {
  const char* op = "scatter_add";
  const Strided dst = at_least_1d(dst_in), index = at_least_1d(index_in), src = at_least_1d(src_in);
  check_dim(op, dim, dst);
  check_index_dtype(op, index);
  TD_CHECK(src.dtype == dst.dtype, op, ": source dtype ", src.dtype, " differs from destination dtype ", dst.dtype);
  check_index_fits(op, index, src, "source", -1);
  check_index_fits(op, index, dst, "destination", dim);
  detail::check_device_operand(dst, op, "destination");
  detail::check_device_operand(index, op, "index");
  detail::check_device_operand(src, op, "source");
  check_index_values(op, index, dim, dst.sizes[static_cast<size_t>(dim)]);
  Strided src_view = src, dst_view = dst;  // both read through the index's shape
  src_view.sizes = index.sizes;
  dst_view.sizes = index.sizes;
  run_index_tensor<true>(op, src_view, dst_view, index, dim);
}

}  // namespace tandem::cuda

// CUDA reductions: sum, prod, max, min, argmax, argmin, any, all over any set of dims of a strided tensor.
//
// Plan (as the CPU's backends/cpu/reduce.cpp): size-1 dims are dropped, the rest ordered by decreasing input
// stride and neighbours of the same kind (kept or reduced) that are contiguous in memory merged. Each output
// reduces `reduced` elements; the innermost dim decides the kernel:
//   * inner reduction (the smallest-stride dim is reduced, e.g. summing the last dim of [N, D]): a group of
//     lanes per output, a warp (32) for short rows or a block (256) for long ones, strides through the row so
//     that neighbouring lanes read neighbouring elements, then combines its lanes with warp shuffles and, for a
//     block, through shared memory;
//   * outer reduction (the smallest-stride dim is kept, e.g. summing dim 0 of [N, D]): a thread per output
//     walks its elements while its neighbours walk the neighbouring columns, so every load is coalesced. Rows
//     shorter than a warp ([N, 4] summed over the last dim) are also reduced by one thread each.
// When there are too few outputs to fill the device (a sum of everything, a few long columns), the reduced
// elements of each output are cut into `splits` chunks reduced independently into a partial buffer, which a
// second kernel combines in chunk order. Results are deterministic for a given shape.
//
// Accuracy: float32 sums and products accumulate in double (so they track the CPU's, which carries its partial
// sums in double too); float64 in double; int64 wraps. NaN: max/min (and argmax/argmin) propagate NaN, the
// first NaN winning for arg-reductions; any/all treat NaN as true. argmax/argmin return the first occurrence of
// the extremum: partial results are (value, index) pairs whose combination prefers the smaller index on ties,
// which makes the answer independent of the order of combination.
#include <math_constants.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <type_traits>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"
#include "backends/reduce_checks.h"

namespace tandem::cuda {
namespace {

using detail::kMaxDims;

constexpr int kReduceBlock = 256;
constexpr unsigned kFullMask = 0xffffffffu;

// ---------------------------------------------------------------------------------------------------------------
// Plan
// ---------------------------------------------------------------------------------------------------------------
struct ReducePlan {
  // Kept dims, outermost first: size, input stride, output stride (elements).
  int nk = 0;
  int64_t ksize[kMaxDims] = {}, ksrc[kMaxDims] = {}, kdst[kMaxDims] = {};
  // Reduced dims, outermost first: size, input stride.
  int nr = 0;
  int64_t rsize[kMaxDims] = {}, rsrc[kMaxDims] = {};
  bool inner_reduced = false;  // the innermost dim (smallest input stride) is a reduced one
  int64_t outputs = 1;
  int64_t reduced = 1;  // elements reduced into each output
};

ReducePlan make_plan(const Strided& src, const Strided& dst, const char* op) {
  struct DimInfo {
    int64_t size, src_stride, dst_stride;
    bool reduced;
  };
  std::vector<DimInfo> dims;
  for (size_t d = 0; d < src.ndim(); ++d) {
    if (src.sizes[d] == 1) continue;
    const bool reduced = dst.sizes[d] != src.sizes[d];
    dims.push_back(DimInfo{src.sizes[d], src.strides[d], reduced ? 0 : dst.strides[d], reduced});
  }
  // Largest stride outermost; broadcast (stride 0) dims count as outermost so that they never end up inner.
  auto key = [](const DimInfo& d) {
    return d.src_stride == 0 ? std::numeric_limits<int64_t>::max() : std::abs(d.src_stride);
  };
  std::stable_sort(dims.begin(), dims.end(), [&](const DimInfo& a, const DimInfo& b) { return key(a) > key(b); });
  std::vector<DimInfo> merged;
  for (const DimInfo& cur : dims) {
    if (!merged.empty()) {
      DimInfo& prev = merged.back();
      if (prev.reduced == cur.reduced && prev.src_stride == cur.src_stride * cur.size &&
          (cur.reduced || prev.dst_stride == cur.dst_stride * cur.size)) {
        prev.size *= cur.size;
        prev.src_stride = cur.src_stride;
        prev.dst_stride = cur.dst_stride;
        continue;
      }
    }
    merged.push_back(cur);
  }
  if (merged.empty()) merged.push_back(DimInfo{1, 1, 1, false});  // a single element: one kept dim of size 1

  ReducePlan p;
  for (const DimInfo& d : merged) {
    if (d.reduced) {
      TD_CHECK(p.nr < kMaxDims, op, ": too many non-mergeable reduced dims (input shape ", src.sizes, ")");
      p.rsize[p.nr] = d.size;
      p.rsrc[p.nr++] = d.src_stride;
      p.reduced *= d.size;
    } else {
      TD_CHECK(p.nk < kMaxDims, op, ": too many non-mergeable kept dims (input shape ", src.sizes, ")");
      p.ksize[p.nk] = d.size;
      p.ksrc[p.nk] = d.src_stride;
      p.kdst[p.nk++] = d.dst_stride;
      p.outputs *= d.size;
    }
  }
  p.inner_reduced = merged.back().reduced;
  return p;
}

/// Input and output offsets of output number o (kept dims in plan order, row-major).
__device__ __forceinline__ void output_offsets(const ReducePlan& p, int64_t o, int64_t& src_off, int64_t& dst_off) {
  src_off = 0;
  dst_off = 0;
  for (int d = p.nk - 1; d >= 0; --d) {
    const int64_t q = o / p.ksize[d];
    const int64_t i = o - q * p.ksize[d];
    src_off += i * p.ksrc[d];
    dst_off += i * p.kdst[d];
    o = q;
  }
}

/// Input offset (relative to the output's first element) of reduced element number r.
__device__ __forceinline__ int64_t reduced_offset(const ReducePlan& p, int64_t r) {
  if (p.nr == 1) return r * p.rsrc[0];
  int64_t off = 0;
  for (int d = p.nr - 1; d >= 0; --d) {
    const int64_t q = r / p.rsize[d];
    off += (r - q * p.rsize[d]) * p.rsrc[d];
    r = q;
  }
  return off;
}

// ---------------------------------------------------------------------------------------------------------------
// Reduction ops: identity, step (one element, with its index along the reduced dim), combine (two partial
// results), project (the output value).
// ---------------------------------------------------------------------------------------------------------------
template <typename T>
__device__ __forceinline__ bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>) return x != x;
  else return false;
}

__device__ __forceinline__ int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
__device__ __forceinline__ int64_t wrap_mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

template <typename T>
struct SumOp {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
  using Out = T;
  __device__ static Acc identity() { return Acc(0); }
  __device__ static Acc combine(Acc a, Acc b) {
    if constexpr (std::is_same_v<T, bool>) return a || b;  // bool sums saturate, like bool addition
    else if constexpr (std::is_same_v<T, int64_t>) return wrap_add(a, b);
    else return a + b;
  }
  __device__ static Acc step(Acc a, T x, int64_t) { return combine(a, static_cast<Acc>(x)); }
  __device__ static Out project(Acc a) { return static_cast<Out>(a); }
};

template <typename T>
struct ProdOp {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
  using Out = T;
  __device__ static Acc identity() { return Acc(1); }
  __device__ static Acc combine(Acc a, Acc b) {
    if constexpr (std::is_same_v<T, bool>) return a && b;
    else if constexpr (std::is_same_v<T, int64_t>) return wrap_mul(a, b);
    else return a * b;
  }
  __device__ static Acc step(Acc a, T x, int64_t) { return combine(a, static_cast<Acc>(x)); }
  __device__ static Out project(Acc a) { return static_cast<Out>(a); }
};

/// Max (kMax) or min; NaN propagates because a NaN accumulator never loses to a number.
template <typename T, bool kMax>
struct ExtremumOp {
  using Acc = T;
  using Out = T;
  __device__ static T identity() {
    if constexpr (std::is_same_v<T, bool>) return !kMax;
    else if constexpr (std::is_same_v<T, float>) return kMax ? -CUDART_INF_F : CUDART_INF_F;
    else if constexpr (std::is_same_v<T, double>) return kMax ? -CUDART_INF : CUDART_INF;
    else return kMax ? INT64_MIN : INT64_MAX;
  }
  __device__ static T combine(T a, T x) {
    const bool better = kMax ? x > a : x < a;
    return (better || is_nan(x)) ? x : a;
  }
  __device__ static T step(T a, T x, int64_t) { return combine(a, x); }
  __device__ static Out project(T a) { return a; }
};

/// any (kAny) or all, on any dtype: an element counts as true when it is not zero (NaN is true).
template <typename T, bool kAny>
struct LogicalOp {
  using Acc = int;
  using Out = bool;
  __device__ static int identity() { return kAny ? 0 : 1; }
  __device__ static int combine(int a, int b) { return kAny ? (a | b) : (a & b); }
  __device__ static int step(int a, T x, int64_t) { return combine(a, x != T(0) ? 1 : 0); }
  __device__ static Out project(int a) { return a != 0; }
};

/// A candidate of an arg-reduction; index -1 marks "no element yet".
template <typename T>
struct ArgAcc {
  T value;
  int64_t index;
};

template <typename T, bool kMax>
struct ArgOp {
  using Acc = ArgAcc<T>;
  using Out = int64_t;
  __device__ static Acc identity() { return Acc{T(0), -1}; }
  /// True when a is the better candidate: a NaN beats every number, then the larger (smaller) value, and on
  /// equal values (or two NaNs) the smaller index.
  __device__ static bool first_wins(const Acc& a, const Acc& b) {
    const bool a_nan = is_nan(a.value), b_nan = is_nan(b.value);
    if (a_nan || b_nan) return a_nan && b_nan ? a.index < b.index : a_nan;
    if (a.value == b.value) return a.index < b.index;
    return kMax ? a.value > b.value : a.value < b.value;
  }
  __device__ static Acc combine(Acc a, Acc b) {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    return first_wins(a, b) ? a : b;
  }
  __device__ static Acc step(Acc a, T x, int64_t index) { return combine(a, Acc{x, index}); }
  __device__ static Out project(Acc a) { return a.index < 0 ? 0 : a.index; }
};

// ---------------------------------------------------------------------------------------------------------------
// Warp and block combination
// ---------------------------------------------------------------------------------------------------------------
template <typename A>
__device__ __forceinline__ A shuffle_down(A v, int delta) {
  if constexpr (std::is_same_v<A, bool>) {
    return __shfl_down_sync(kFullMask, static_cast<int>(v), delta) != 0;
  } else if constexpr (std::is_same_v<A, int64_t>) {
    return static_cast<int64_t>(__shfl_down_sync(kFullMask, static_cast<long long>(v), delta));
  } else if constexpr (std::is_arithmetic_v<A>) {
    return __shfl_down_sync(kFullMask, v, delta);  // int, float, double
  } else {
    A r;
    r.value = shuffle_down(v.value, delta);
    r.index = shuffle_down(v.index, delta);
    return r;
  }
}

/// Combines the accumulators of a warp; lane 0 ends with the result. Every lane must call it.
template <typename Op>
__device__ __forceinline__ typename Op::Acc warp_combine(typename Op::Acc acc) {
#pragma unroll
  for (int delta = 16; delta > 0; delta >>= 1) acc = Op::combine(acc, shuffle_down(acc, delta));
  return acc;
}

/// Combines the accumulators of a group of G lanes (32: a warp; kReduceBlock: the whole block); the group's
/// first lane ends with the result. Every thread of the block must call it.
template <typename Op, int G>
__device__ __forceinline__ typename Op::Acc group_combine(typename Op::Acc acc) {
  using Acc = typename Op::Acc;
  acc = warp_combine<Op>(acc);
  if constexpr (G > 32) {
    static_assert(G == kReduceBlock, "a group is a warp or the whole block");
    __shared__ Acc warp_results[kReduceBlock / 32];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) warp_results[warp] = acc;
    __syncthreads();
    acc = lane < kReduceBlock / 32 ? warp_results[lane] : Op::identity();
    if (warp == 0) acc = warp_combine<Op>(acc);
  }
  return acc;
}

// ---------------------------------------------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------------------------------------------
/// Inner reduction: a group of G lanes per (output, chunk). With one chunk it writes the output, otherwise the
/// chunk's partial result at partial[chunk * outputs + output].
template <typename Op, typename T, int G>
__global__ void __launch_bounds__(kReduceBlock)
    reduce_inner_kernel(const T* __restrict__ src, typename Op::Out* __restrict__ dst, typename Op::Acc* partial,
                        ReducePlan p, int64_t splits, int64_t chunk) {
  constexpr int kGroups = kReduceBlock / G;
  const int64_t group = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / G;
  const int lane = threadIdx.x % G;
  const bool active = group < p.outputs * splits;
  typename Op::Acc acc = Op::identity();
  int64_t o = 0, s = 0, src_off = 0, dst_off = 0;
  if (active) {
    o = group / splits;
    s = group - o * splits;
    output_offsets(p, o, src_off, dst_off);
    const T* base = src + src_off;
    const int64_t begin = s * chunk, end = min(p.reduced, begin + chunk);
    for (int64_t r = begin + lane; r < end; r += G) acc = Op::step(acc, base[reduced_offset(p, r)], r);
  }
  acc = group_combine<Op, G>(acc);
  if (active && lane == 0) {
    if (splits == 1) dst[dst_off] = Op::project(acc);
    else partial[s * p.outputs + o] = acc;
  }
}

/// Outer reduction: a thread per (output, chunk); x runs over outputs (coalesced), y over chunks.
template <typename Op, typename T>
__global__ void __launch_bounds__(kReduceBlock)
    reduce_outer_kernel(const T* __restrict__ src, typename Op::Out* __restrict__ dst, typename Op::Acc* partial,
                        ReducePlan p, int64_t splits, int64_t chunk) {
  const int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t s = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  if (o >= p.outputs || s >= splits) return;
  int64_t src_off, dst_off;
  output_offsets(p, o, src_off, dst_off);
  const T* base = src + src_off;
  const int64_t begin = s * chunk, end = min(p.reduced, begin + chunk);
  typename Op::Acc acc = Op::identity();
  for (int64_t r = begin; r < end; ++r) acc = Op::step(acc, base[reduced_offset(p, r)], r);
  if (splits == 1) dst[dst_off] = Op::project(acc);
  else partial[s * p.outputs + o] = acc;
}

/// Combines the chunks' partial results of each output, in chunk order.
template <typename Op>
__global__ void __launch_bounds__(kReduceBlock)
    reduce_finalize_kernel(const typename Op::Acc* __restrict__ partial, typename Op::Out* __restrict__ dst,
                           ReducePlan p, int64_t splits) {
  const int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= p.outputs) return;
  typename Op::Acc acc = Op::identity();
  for (int64_t s = 0; s < splits; ++s) acc = Op::combine(acc, partial[s * p.outputs + o]);
  int64_t src_off, dst_off;
  output_offsets(p, o, src_off, dst_off);
  dst[dst_off] = Op::project(acc);
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <typename Op, typename T>
void run_reduction(const ReducePlan& p, const Strided& src, const Strided& dst) {
  using Acc = typename Op::Acc;
  using Out = typename Op::Out;
  const T* in = src.ptr<const T>();
  Out* out = static_cast<Out*>(dst.data);
  const int64_t sms = detail::multiprocessor_count();
  const cudaStream_t stream = detail::stream();
  // Rows of at least a warp's width are reduced by groups of lanes; shorter ones (and columns) by one thread.
  const bool grouped = p.inner_reduced && p.reduced >= 32;
  int64_t splits = 1;
  if (grouped) {
    // Cut long rows when there are too few outputs for the device: chunks of at least 4096 elements.
    if (p.reduced >= 16384 && p.outputs < 2 * sms)
      splits = std::max<int64_t>(1, std::min(ceil_div(p.reduced, 4096), ceil_div(4 * sms, p.outputs)));
  } else {
    // Aim at ~2048 threads per multiprocessor, each chunk at least 32 elements long, at most kMaxSplits chunks
    // (the finishing kernel combines them one after the other).
    constexpr int64_t kMaxSplits = 4096;
    const int64_t target = sms * 2048;
    if (p.outputs < target && p.reduced >= 64)
      splits = std::max<int64_t>(
          1, std::min({ceil_div(target, p.outputs), ceil_div(p.reduced, 32), kMaxSplits}));
  }
  const int64_t chunk = ceil_div(p.reduced, splits);
  splits = ceil_div(p.reduced, chunk);  // no empty chunk
  const bool partials = splits > 1;
  detail::DeviceBuffer partial(partials ? static_cast<size_t>(splits * p.outputs) * sizeof(Acc) : 1);
  Acc* partial_ptr = partials ? partial.as<Acc>() : nullptr;

  if (grouped) {
    const int64_t groups = p.outputs * splits;
    if (p.reduced >= 1024) {
      const auto blocks = static_cast<unsigned>(groups);
      reduce_inner_kernel<Op, T, kReduceBlock><<<blocks, kReduceBlock, 0, stream>>>(in, out, partial_ptr, p, splits, chunk);
    } else {
      const auto blocks = static_cast<unsigned>(ceil_div(groups, kReduceBlock / 32));
      reduce_inner_kernel<Op, T, 32><<<blocks, kReduceBlock, 0, stream>>>(in, out, partial_ptr, p, splits, chunk);
    }
    TD_CUDA_CHECK_LAUNCH("reduce_inner_kernel");
  } else {
    int bx = 32;
    while (bx < kReduceBlock && bx < p.outputs) bx *= 2;
    const int by = kReduceBlock / bx;
    const dim3 block(bx, by);
    const dim3 grid(static_cast<unsigned>(ceil_div(p.outputs, bx)), static_cast<unsigned>(ceil_div(splits, by)));
    reduce_outer_kernel<Op, T><<<grid, block, 0, stream>>>(in, out, partial_ptr, p, splits, chunk);
    TD_CUDA_CHECK_LAUNCH("reduce_outer_kernel");
  }
  if (partials) {
    const auto blocks = static_cast<unsigned>(ceil_div(p.outputs, kReduceBlock));
    reduce_finalize_kernel<Op><<<blocks, kReduceBlock, 0, stream>>>(partial_ptr, out, p, splits);
    TD_CUDA_CHECK_LAUNCH("reduce_finalize_kernel");
  }
}

}  // namespace

void CudaBackend::reduce(ReduceOp op, const Strided& src, const Strided& dst) {
  reduce_checks::check_reduce_args(op, src, dst);
  const char* name = reduce_checks::reduce_op_name(op);
  detail::check_device_operand(src, name, "input");
  detail::check_device_operand(dst, name, "output");
  if (dst.numel() == 0) return;
  if (src.numel() == 0) {  // every output reduces an empty set
    switch (op) {
      case ReduceOp::Sum:
      case ReduceOp::Any:
        return fill(dst, 0);
      case ReduceOp::Prod:
      case ReduceOp::All:
        return fill(dst, 1);
      default:
        throw Error(::tandem::detail::concat(name, ": cannot reduce over an empty dimension (input shape ", src.sizes,
                                             "); the operation has no identity"));
    }
  }
  const ReducePlan plan = make_plan(src, dst, name);
  visit_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
      case ReduceOp::Sum: return run_reduction<SumOp<T>, T>(plan, src, dst);
      case ReduceOp::Prod: return run_reduction<ProdOp<T>, T>(plan, src, dst);
      case ReduceOp::Max: return run_reduction<ExtremumOp<T, true>, T>(plan, src, dst);
      case ReduceOp::Min: return run_reduction<ExtremumOp<T, false>, T>(plan, src, dst);
      case ReduceOp::Any: return run_reduction<LogicalOp<T, true>, T>(plan, src, dst);
      case ReduceOp::All: return run_reduction<LogicalOp<T, false>, T>(plan, src, dst);
      case ReduceOp::ArgMax: return run_reduction<ArgOp<T, true>, T>(plan, src, dst);
      case ReduceOp::ArgMin: return run_reduction<ArgOp<T, false>, T>(plan, src, dst);
    }
  });
}

}  // namespace tandem::cuda

// CUDA element-wise kernels: fill, copy (with dtype conversion), unary and binary functions, where.
//
// Every one of them is a map dst[i] = f(src_0[i], ..., src_k[i]) over operands of one shape, run by one of two
// generic kernels:
//  - contiguous: when every operand is a single contiguous run after coalescing (the usual case), each thread
//    takes kVec consecutive elements per tile and, when every pointer is aligned for it, loads and stores them
//    as one vector (float4 for float32, two 16-byte accesses for 8-byte types);
//  - strided: any strides (0 for broadcast dims), through detail::OffsetCalculator, which turns the linear
//    index into per-operand offsets over the coalesced dims (32-bit divisions when the sizes allow).
// The element functions follow the CPU backend (backends/cpu/elementwise.cpp) case by case: the same special
// cases (NaN propagation of maximum/minimum, relu keeping NaN, sign keeping +-0, round half to even, integer
// inputs of floating functions computed in double and truncated, wrapping integer arithmetic, the same errors
// for integer division by zero and negative integer powers). float32 functions use CUDA's single-precision
// math library (within 2 ulp of the exact result), except gelu, which is computed in double and rounded.
#include <cuda/std/tuple>
#include <math_constants.h>

#include <cstring>
#include <type_traits>
#include <utility>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"

namespace tandem::cuda {
namespace {

using detail::kBlockSize;
using detail::OffsetCalculator;
using detail::Vec;

/// Elements per thread and tile step of the contiguous kernel.
constexpr int kVec = 4;

// =============================================================================================================
// Generic map kernels
// =============================================================================================================

/// The input pointers of a map (at least one slot, so that fills have a valid array).
template <int K>
struct Inputs {
  const void* p[K > 0 ? K : 1];
};

template <typename... In, typename F, size_t... I>
__device__ __forceinline__ auto element_at(const F& f, const Inputs<sizeof...(In)>& in, int64_t i,
                                           std::index_sequence<I...>) {
  return f(static_cast<const In*>(in.p[I])[i]...);
}

template <typename... In, typename F, typename Off, size_t... I>
__device__ __forceinline__ auto element_strided(const F& f, const Inputs<sizeof...(In)>& in, const Off& off,
                                                std::index_sequence<I...>) {
  return f(static_cast<const In*>(in.p[I])[off[I + 1]]...);
}

template <typename Out, typename... In, typename F, size_t... I>
__device__ __forceinline__ void vector_step(const F& f, Out* out, const Inputs<sizeof...(In)>& in, int64_t i,
                                            std::index_sequence<I...>) {
  const ::cuda::std::tuple<Vec<In, kVec>...> v{
      *reinterpret_cast<const Vec<In, kVec>*>(static_cast<const In*>(in.p[I]) + i)...};
  Vec<Out, kVec> o;
#pragma unroll
  for (int j = 0; j < kVec; ++j) o.v[j] = f(::cuda::std::get<I>(v).v[j]...);
  *reinterpret_cast<Vec<Out, kVec>*>(out + i) = o;
}

template <typename Out, typename F, typename... In>
__global__ void __launch_bounds__(kBlockSize)
    contiguous_map_kernel(int64_t n, F f, Out* out, Inputs<sizeof...(In)> in, bool vectorized) {
  using Seq = std::index_sequence_for<In...>;
  constexpr int64_t kTile = static_cast<int64_t>(kBlockSize) * kVec;
  for (int64_t tile = static_cast<int64_t>(blockIdx.x) * kTile; tile < n;
       tile += static_cast<int64_t>(gridDim.x) * kTile) {
    if (vectorized && tile + kTile <= n) {
      vector_step<Out, In...>(f, out, in, tile + static_cast<int64_t>(threadIdx.x) * kVec, Seq{});
    } else {
#pragma unroll
      for (int j = 0; j < kVec; ++j) {
        const int64_t i = tile + threadIdx.x + static_cast<int64_t>(j) * kBlockSize;
        if (i < n) out[i] = element_at<In...>(f, in, i, Seq{});
      }
    }
  }
}

template <typename Out, typename F, typename... In>
__global__ void __launch_bounds__(kBlockSize)
    strided_map_kernel(int64_t n, F f, Out* out, Inputs<sizeof...(In)> in,
                       OffsetCalculator<sizeof...(In) + 1> calc) {
  using Seq = std::index_sequence_for<In...>;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[sizeof...(In) + 1];
    calc.get(i, off);
    out[off[0]] = element_strided<In...>(f, in, off, Seq{});
  }
}

/// dst = f(src...) element by element; Out and In... are the element types of dst and the sources, which all
/// have dst's shape (broadcast dims have stride 0). dst may be one of the sources (in-place ops): every element
/// is read and written by the same thread.
template <typename Out, typename... In, typename F>
void launch_map(const char* op, const F& f, const Strided& dst, const std::array<const Strided*, sizeof...(In)>& src) {
  constexpr int K = sizeof...(In);
  const int64_t n = dst.numel();
  if (n == 0) return;
  std::array<const Dims*, K + 1> strides;
  strides[0] = &dst.strides;
  Inputs<K> in{};
  for (int k = 0; k < K; ++k) {
    strides[k + 1] = &src[k]->strides;
    in.p[k] = src[k]->data;
  }
  const OffsetCalculator<K + 1> calc = detail::make_offset_calculator<K + 1>(dst.sizes, strides, op);
  Out* out = static_cast<Out*>(dst.data);
  if (calc.contiguous()) {
    constexpr size_t kInputBytes[K + 1] = {sizeof(In)..., 0};
    bool vectorized = detail::aligned_for_vec<Out, kVec>(out);
    for (int k = 0; k < K; ++k)
      vectorized = vectorized && reinterpret_cast<uintptr_t>(in.p[k]) % (kInputBytes[k] * kVec) == 0;
    contiguous_map_kernel<Out, F, In...>
        <<<detail::grid_for(n, kBlockSize * kVec), kBlockSize, 0, detail::stream()>>>(n, f, out, in, vectorized);
    TD_CUDA_CHECK_LAUNCH("contiguous_map_kernel");
  } else {
    strided_map_kernel<Out, F, In...>
        <<<detail::grid_for(n, kBlockSize), kBlockSize, 0, detail::stream()>>>(n, f, out, in, calc);
    TD_CUDA_CHECK_LAUNCH("strided_map_kernel");
  }
}

/// A device flag that integer kernels raise on an invalid value (division by zero, negative power); read back
/// after the kernel, where throwing is safe.
class KernelFlag {
 public:
  KernelFlag() : buffer_(sizeof(int)) { TD_CUDA_CHECK(cudaMemsetAsync(ptr(), 0, sizeof(int), detail::stream())); }
  int* ptr() const { return buffer_.as<int>(); }
  bool raised() const {
    int value = 0;
    TD_CUDA_CHECK(cudaMemcpyAsync(&value, ptr(), sizeof(int), cudaMemcpyDeviceToHost, detail::stream()));
    TD_CUDA_CHECK(cudaStreamSynchronize(detail::stream()));
    return value != 0;
  }

 private:
  detail::DeviceBuffer buffer_;
};

// =============================================================================================================
// Device math
// =============================================================================================================
template <typename T>
constexpr bool kIsFloat = std::is_same_v<T, float>;

// Single- or double-precision library functions by argument type (no std:: functions in device code).
template <typename T> __device__ __forceinline__ T d_exp(T x) { if constexpr (kIsFloat<T>) return expf(x); else return exp(x); }
template <typename T> __device__ __forceinline__ T d_log(T x) { if constexpr (kIsFloat<T>) return logf(x); else return log(x); }
template <typename T> __device__ __forceinline__ T d_sqrt(T x) { if constexpr (kIsFloat<T>) return sqrtf(x); else return sqrt(x); }
template <typename T> __device__ __forceinline__ T d_tanh(T x) { if constexpr (kIsFloat<T>) return tanhf(x); else return tanh(x); }
template <typename T> __device__ __forceinline__ T d_erf(T x) { if constexpr (kIsFloat<T>) return erff(x); else return erf(x); }
template <typename T> __device__ __forceinline__ T d_sin(T x) { if constexpr (kIsFloat<T>) return sinf(x); else return sin(x); }
template <typename T> __device__ __forceinline__ T d_cos(T x) { if constexpr (kIsFloat<T>) return cosf(x); else return cos(x); }
template <typename T> __device__ __forceinline__ T d_log1p(T x) { if constexpr (kIsFloat<T>) return log1pf(x); else return log1p(x); }
template <typename T> __device__ __forceinline__ T d_expm1(T x) { if constexpr (kIsFloat<T>) return expm1f(x); else return expm1(x); }
template <typename T> __device__ __forceinline__ T d_floor(T x) { if constexpr (kIsFloat<T>) return floorf(x); else return floor(x); }
template <typename T> __device__ __forceinline__ T d_ceil(T x) { if constexpr (kIsFloat<T>) return ceilf(x); else return ceil(x); }
template <typename T> __device__ __forceinline__ T d_rint(T x) { if constexpr (kIsFloat<T>) return rintf(x); else return rint(x); }
template <typename T> __device__ __forceinline__ T d_abs(T x) { if constexpr (kIsFloat<T>) return fabsf(x); else return fabs(x); }
template <typename T> __device__ __forceinline__ T d_pow(T x, T y) { if constexpr (kIsFloat<T>) return powf(x, y); else return pow(x, y); }
template <typename T> __device__ __forceinline__ bool d_isnan(T x) { return x != x; }
template <typename T> __device__ __forceinline__ T d_nan() { if constexpr (kIsFloat<T>) return CUDART_NAN_F; else return CUDART_NAN; }

/// base^exp for integers (exp >= 0), wrapping on overflow like every other int64 op.
__device__ __forceinline__ int64_t int_pow(int64_t base, int64_t exp) {
  uint64_t result = 1, b = static_cast<uint64_t>(base);
  for (; exp > 0; exp >>= 1) {
    if (exp & 1) result *= b;
    b *= b;
  }
  return static_cast<int64_t>(result);
}

/// Wrapping int64 arithmetic (computed on the unsigned type, which is defined to wrap).
__device__ __forceinline__ int64_t wrap_add(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }
__device__ __forceinline__ int64_t wrap_sub(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
__device__ __forceinline__ int64_t wrap_mul(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)); }

/// The value of dtype To for v, as a C++ conversion (bool: v != 0).
template <typename To, typename From>
__host__ __device__ __forceinline__ To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) return v != From(0);
  else return static_cast<To>(v);
}

// =============================================================================================================
// Element functions
// =============================================================================================================

/// Parameters of a unary op as the element function sees them.
template <typename T>
struct UnaryParams {
  using C = std::conditional_t<std::is_floating_point_v<T>, T, double>;  // compute type (double for int64)
  C c0{}, c1{};
  int64_t i0 = 0;        // p0 as an integer: integer add/mul/rsub operand, integer power, integer base
  bool exact = true;     // gelu: erf form (p0 == 0) or the tanh approximation
  int* flag = nullptr;   // raised by integer ops on an invalid value
};

template <UnaryOp kOp, typename T>
struct UnaryFn {
  using C = typename UnaryParams<T>::C;
  UnaryParams<T> p;

  __device__ __forceinline__ T cast(C v) const { return convert<T>(v); }

  __device__ T operator()(T x) const {
    constexpr bool kInt = std::is_same_v<T, int64_t>;
    if constexpr (kOp == UnaryOp::Neg) {
      if constexpr (kInt) return wrap_sub(0, x);
      else return -x;
    } else if constexpr (kOp == UnaryOp::Abs) {
      if constexpr (kInt) return x < 0 ? wrap_sub(0, x) : x;
      else return x < T(0) ? -x : x;
    } else if constexpr (kOp == UnaryOp::Sign) {
      if constexpr (kInt) return static_cast<T>((T(0) < x) - (x < T(0)));
      else return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x);  // keeps +-0 and NaN
    } else if constexpr (kOp == UnaryOp::Square) {
      if constexpr (kInt) return wrap_mul(x, x);
      else return x * x;
    } else if constexpr (kOp == UnaryOp::Relu) {
      return x < T(0) ? T(0) : x;  // NaN stays NaN
    } else if constexpr (kOp == UnaryOp::Exp) {
      return cast(d_exp(C(x)));
    } else if constexpr (kOp == UnaryOp::Log) {
      return cast(d_log(C(x)));
    } else if constexpr (kOp == UnaryOp::Tanh) {
      return cast(d_tanh(C(x)));
    } else if constexpr (kOp == UnaryOp::Erf) {
      return cast(d_erf(C(x)));
    } else if constexpr (kOp == UnaryOp::Sin) {
      return cast(d_sin(C(x)));
    } else if constexpr (kOp == UnaryOp::Cos) {
      return cast(d_cos(C(x)));
    } else if constexpr (kOp == UnaryOp::Log1p) {
      return cast(d_log1p(C(x)));
    } else if constexpr (kOp == UnaryOp::Expm1) {
      return cast(d_expm1(C(x)));
    } else if constexpr (kOp == UnaryOp::Sigmoid) {  // from e = e^{-|x|} <= 1, so that nothing overflows
      const C v = C(x), e = d_exp(-d_abs(v));
      return cast((v >= C(0) ? C(1) : e) / (C(1) + e));
    } else if constexpr (kOp == UnaryOp::Silu) {
      const C v = C(x), e = d_exp(-d_abs(v));
      return cast((v >= C(0) ? v : v * e) / (C(1) + e));
    } else if constexpr (kOp == UnaryOp::Gelu) {  // computed in double for every dtype
      const double v = static_cast<double>(x);
      if (p.exact) return convert<T>(0.5 * v * erfc(-v * 0.70710678118654752440));
      const double u2 = (2 * 1.12837916709551257390 * 0.70710678118654752440) * (v + 0.044715 * v * v * v);
      const double e = exp(-fabs(u2));  // x sigmoid(2u) from e^{-|2u|}: no overflow, no cancellation
      return convert<T>((u2 >= 0 ? v : v * e) / (1.0 + e));
    } else if constexpr (kOp == UnaryOp::Sqrt) {
      return cast(d_sqrt(C(x)));
    } else if constexpr (kOp == UnaryOp::Rsqrt) {
      return cast(C(1) / d_sqrt(C(x)));
    } else if constexpr (kOp == UnaryOp::Reciprocal) {
      return cast(C(1) / C(x));
    } else if constexpr (kOp == UnaryOp::Floor) {
      if constexpr (kInt) return x;
      else return d_floor(x);
    } else if constexpr (kOp == UnaryOp::Ceil) {
      if constexpr (kInt) return x;
      else return d_ceil(x);
    } else if constexpr (kOp == UnaryOp::Round) {  // half to even
      if constexpr (kInt) return x;
      else return d_rint(x);
    } else if constexpr (kOp == UnaryOp::AddScalar) {
      if constexpr (kInt) return wrap_add(x, p.i0);
      else return static_cast<T>(x + p.c0);
    } else if constexpr (kOp == UnaryOp::MulScalar) {
      if constexpr (kInt) return wrap_mul(x, p.i0);
      else return static_cast<T>(x * p.c0);
    } else if constexpr (kOp == UnaryOp::RSubScalar) {
      if constexpr (kInt) return wrap_sub(p.i0, x);
      else return static_cast<T>(p.c0 - x);
    } else if constexpr (kOp == UnaryOp::DivScalar) {
      return cast(C(x) / p.c0);
    } else if constexpr (kOp == UnaryOp::RDivScalar) {
      return cast(p.c0 / C(x));
    } else if constexpr (kOp == UnaryOp::PowScalar) {
      if constexpr (kInt) {
        return p.i0 == 2 ? wrap_mul(x, x) : int_pow(x, p.i0);  // negative exponents are rejected before launch
      } else {
        // The CPU's special cases, so that the common powers give the same bits.
        const C e = p.c0;
        if (e == C(1)) return x;
        if (e == C(2)) return x * x;
        if (e == C(3)) return x * x * x;
        if (e == C(-1)) return T(1) / x;
        if (e == C(-2)) return T(1) / (x * x);
        if (e == C(0.5)) return d_sqrt(x);
        if (e == C(-0.5)) return T(1) / d_sqrt(x);
        return d_pow(x, e);
      }
    } else if constexpr (kOp == UnaryOp::RPowScalar) {
      if constexpr (kInt) {
        if (x < 0) {
          *p.flag = 1;
          return T(0);
        }
        return int_pow(p.i0, x);
      } else {
        return d_pow(p.c0, x);
      }
    } else if constexpr (kOp == UnaryOp::Clamp) {  // min(max(x, p0), p1): p1 when p0 > p1; NaN stays NaN
      const C v = C(x);
      if (v < p.c0) return cast(p.c0 > p.c1 ? p.c1 : p.c0);
      if (v > p.c1) return cast(p.c1);
      return x;
    } else if constexpr (kOp == UnaryOp::LeakyRelu) {
      return x < T(0) ? cast(p.c0 * C(x)) : x;
    } else if constexpr (kOp == UnaryOp::Softplus) {  // (1/beta) log(1 + e^{beta x}), linear above the threshold
      const C bx = p.c0 * C(x);
      return bx > p.c1 ? x : cast(d_log1p(d_exp(bx)) / p.c0);
    } else {
      static_assert(kOp == UnaryOp::Neg, "not an arithmetic unary op");
      return x;
    }
  }
};

template <UnaryOp kOp, typename T>
struct CompareScalarFn {
  using C = std::conditional_t<std::is_same_v<T, float>, float, double>;
  C v;
  __device__ bool operator()(T x) const {
    if constexpr (kOp == UnaryOp::EqScalar) return C(x) == v;
    else if constexpr (kOp == UnaryOp::NeScalar) return C(x) != v;
    else if constexpr (kOp == UnaryOp::LtScalar) return C(x) < v;
    else if constexpr (kOp == UnaryOp::LeScalar) return C(x) <= v;
    else if constexpr (kOp == UnaryOp::GtScalar) return C(x) > v;
    else if constexpr (kOp == UnaryOp::GeScalar) return C(x) >= v;
    else return x == T(0);  // LogicalNot
  }
};

template <BinaryOp kOp, typename T>
struct BinaryFn {
  int* flag = nullptr;  // raised by integer division by zero and negative integer powers
  __device__ T operator()(T a, T b) const {
    constexpr bool kInt = std::is_same_v<T, int64_t>;
    if constexpr (kOp == BinaryOp::Add) {
      if constexpr (kInt) return wrap_add(a, b);
      else return a + b;
    } else if constexpr (kOp == BinaryOp::Sub) {
      if constexpr (kInt) return wrap_sub(a, b);
      else return a - b;
    } else if constexpr (kOp == BinaryOp::Mul) {
      if constexpr (kInt) return wrap_mul(a, b);
      else return a * b;
    } else if constexpr (kOp == BinaryOp::Div) {
      if constexpr (kInt) {  // truncating; the tensor layer promotes integer true division to float
        if (b == 0) {
          *flag = 1;
          return T(0);
        }
        return b == -1 ? wrap_sub(0, a) : a / b;
      } else {
        return a / b;
      }
    } else if constexpr (kOp == BinaryOp::Pow) {
      if constexpr (kInt) {
        if (b < 0) {
          *flag = 1;
          return T(0);
        }
        return int_pow(a, b);
      } else {
        return d_pow(a, b);
      }
    } else if constexpr (kOp == BinaryOp::Maximum) {
      if constexpr (!kInt)
        if (d_isnan(a) || d_isnan(b)) return d_nan<T>();
      return a > b ? a : b;
    } else {
      static_assert(kOp == BinaryOp::Minimum, "not an arithmetic binary op");
      if constexpr (!kInt)
        if (d_isnan(a) || d_isnan(b)) return d_nan<T>();
      return a < b ? a : b;
    }
  }
};

/// bool arithmetic: computed on 0/1 integers and saturated back to bool (add = or, mul = and), like the CPU.
template <BinaryOp kOp>
struct BoolArithmeticFn {
  BinaryFn<kOp, int64_t> f;
  __device__ bool operator()(bool a, bool b) const { return f(int64_t(a), int64_t(b)) != 0; }
};

template <BinaryOp kOp, typename T>
struct CompareFn {
  __device__ bool operator()(T a, T b) const {
    if constexpr (kOp == BinaryOp::Eq) return a == b;
    else if constexpr (kOp == BinaryOp::Ne) return a != b;
    else if constexpr (kOp == BinaryOp::Lt) return a < b;
    else if constexpr (kOp == BinaryOp::Le) return a <= b;
    else if constexpr (kOp == BinaryOp::Gt) return a > b;
    else if constexpr (kOp == BinaryOp::Ge) return a >= b;
    else if constexpr (kOp == BinaryOp::LogicalAnd) return a != T(0) && b != T(0);
    else return a != T(0) || b != T(0);  // LogicalOr
  }
};

template <typename In, typename Out>
struct ConvertFn {
  __device__ Out operator()(In x) const { return convert<Out>(x); }
};

template <typename T>
struct FillFn {
  T value;
  __device__ T operator()() const { return value; }
};

template <typename T>
struct WhereFn {
  __device__ T operator()(bool c, T a, T b) const { return c ? a : b; }
};

// =============================================================================================================
// Dispatch
// =============================================================================================================

template <typename T>
void run_unary(UnaryOp op, const Strided& src, const Strided& dst, const UnaryParams<T>& p) {
  auto run = [&](auto fn) { launch_map<T, T>("unary", fn, dst, {&src}); };
  switch (op) {
#define TD_UNARY_CASE(OP) \
  case UnaryOp::OP: return run(UnaryFn<UnaryOp::OP, T>{p});
    TD_UNARY_CASE(Neg) TD_UNARY_CASE(Abs) TD_UNARY_CASE(Sign) TD_UNARY_CASE(Exp) TD_UNARY_CASE(Log)
    TD_UNARY_CASE(Sqrt) TD_UNARY_CASE(Rsqrt) TD_UNARY_CASE(Tanh) TD_UNARY_CASE(Sigmoid) TD_UNARY_CASE(Relu)
    TD_UNARY_CASE(Erf) TD_UNARY_CASE(Sin) TD_UNARY_CASE(Cos) TD_UNARY_CASE(Log1p) TD_UNARY_CASE(Expm1)
    TD_UNARY_CASE(Reciprocal) TD_UNARY_CASE(Square) TD_UNARY_CASE(Floor) TD_UNARY_CASE(Ceil) TD_UNARY_CASE(Round)
    TD_UNARY_CASE(Gelu) TD_UNARY_CASE(Silu) TD_UNARY_CASE(AddScalar) TD_UNARY_CASE(MulScalar)
    TD_UNARY_CASE(RSubScalar) TD_UNARY_CASE(DivScalar) TD_UNARY_CASE(RDivScalar) TD_UNARY_CASE(PowScalar)
    TD_UNARY_CASE(RPowScalar) TD_UNARY_CASE(Clamp) TD_UNARY_CASE(LeakyRelu) TD_UNARY_CASE(Softplus)
#undef TD_UNARY_CASE
    default: throw Error(::tandem::detail::concat("cuda unary: op ", static_cast<int>(op), " is not an arithmetic op"));
  }
}

template <typename T>
void run_compare_scalar(UnaryOp op, const Strided& src, const Strided& dst, double p0) {
  using C = typename CompareScalarFn<UnaryOp::EqScalar, T>::C;
  const C v = static_cast<C>(p0);
  auto run = [&](auto fn) { launch_map<bool, T>("unary", fn, dst, {&src}); };
  switch (op) {
    case UnaryOp::EqScalar: return run(CompareScalarFn<UnaryOp::EqScalar, T>{v});
    case UnaryOp::NeScalar: return run(CompareScalarFn<UnaryOp::NeScalar, T>{v});
    case UnaryOp::LtScalar: return run(CompareScalarFn<UnaryOp::LtScalar, T>{v});
    case UnaryOp::LeScalar: return run(CompareScalarFn<UnaryOp::LeScalar, T>{v});
    case UnaryOp::GtScalar: return run(CompareScalarFn<UnaryOp::GtScalar, T>{v});
    case UnaryOp::GeScalar: return run(CompareScalarFn<UnaryOp::GeScalar, T>{v});
    case UnaryOp::LogicalNot: return run(CompareScalarFn<UnaryOp::LogicalNot, T>{v});
    default: throw Error("cuda unary: not a comparison");
  }
}

/// Arithmetic binary op on T (Out == T), or on bool through BoolArithmeticFn.
template <typename T>
void run_binary(BinaryOp op, const Strided& a, const Strided& b, const Strided& dst, int* flag) {
  auto run = [&](auto fn) { launch_map<T, T, T>("binary", fn, dst, {&a, &b}); };
  if constexpr (std::is_same_v<T, bool>) {
    switch (op) {
      case BinaryOp::Add: return run(BoolArithmeticFn<BinaryOp::Add>{{flag}});
      case BinaryOp::Sub: return run(BoolArithmeticFn<BinaryOp::Sub>{{flag}});
      case BinaryOp::Mul: return run(BoolArithmeticFn<BinaryOp::Mul>{{flag}});
      case BinaryOp::Div: return run(BoolArithmeticFn<BinaryOp::Div>{{flag}});
      case BinaryOp::Pow: return run(BoolArithmeticFn<BinaryOp::Pow>{{flag}});
      case BinaryOp::Maximum: return run(BoolArithmeticFn<BinaryOp::Maximum>{{flag}});
      case BinaryOp::Minimum: return run(BoolArithmeticFn<BinaryOp::Minimum>{{flag}});
      default: throw Error("cuda binary: not an arithmetic op");
    }
  } else {
    switch (op) {
      case BinaryOp::Add: return run(BinaryFn<BinaryOp::Add, T>{flag});
      case BinaryOp::Sub: return run(BinaryFn<BinaryOp::Sub, T>{flag});
      case BinaryOp::Mul: return run(BinaryFn<BinaryOp::Mul, T>{flag});
      case BinaryOp::Div: return run(BinaryFn<BinaryOp::Div, T>{flag});
      case BinaryOp::Pow: return run(BinaryFn<BinaryOp::Pow, T>{flag});
      case BinaryOp::Maximum: return run(BinaryFn<BinaryOp::Maximum, T>{flag});
      case BinaryOp::Minimum: return run(BinaryFn<BinaryOp::Minimum, T>{flag});
      default: throw Error("cuda binary: not an arithmetic op");
    }
  }
}

template <typename T>
void run_compare(BinaryOp op, const Strided& a, const Strided& b, const Strided& dst) {
  auto run = [&](auto fn) { launch_map<bool, T, T>("binary", fn, dst, {&a, &b}); };
  switch (op) {
    case BinaryOp::Eq: return run(CompareFn<BinaryOp::Eq, T>{});
    case BinaryOp::Ne: return run(CompareFn<BinaryOp::Ne, T>{});
    case BinaryOp::Lt: return run(CompareFn<BinaryOp::Lt, T>{});
    case BinaryOp::Le: return run(CompareFn<BinaryOp::Le, T>{});
    case BinaryOp::Gt: return run(CompareFn<BinaryOp::Gt, T>{});
    case BinaryOp::Ge: return run(CompareFn<BinaryOp::Ge, T>{});
    case BinaryOp::LogicalAnd: return run(CompareFn<BinaryOp::LogicalAnd, T>{});
    case BinaryOp::LogicalOr: return run(CompareFn<BinaryOp::LogicalOr, T>{});
    default: throw Error("cuda binary: not a comparison");
  }
}

/// Integer binary ops that can meet an invalid value and so need a flag read back after the kernel.
bool binary_needs_flag(BinaryOp op, ScalarType dtype) {
  return (dtype == ScalarType::Int64 || dtype == ScalarType::Bool) && (op == BinaryOp::Div || op == BinaryOp::Pow);
}

}  // namespace

void CudaBackend::fill(const Strided& dst, double value) {
  detail::check_device_operand(dst, "fill", "output");
  if (dst.numel() == 0) return;
  visit_dtype(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T v = convert<T>(value);
    const T zero{};
    if (dst.is_contiguous() && std::memcmp(&v, &zero, sizeof(T)) == 0) {  // all-zero bytes: a memset
      TD_CUDA_CHECK(cudaMemsetAsync(dst.data, 0, static_cast<size_t>(dst.numel()) * sizeof(T), detail::stream()));
      return;
    }
    launch_map<T>("fill", FillFn<T>{v}, dst, {});
  });
}

void CudaBackend::copy(const Strided& src, const Strided& dst) {
  TD_CHECK(src.sizes == dst.sizes, "copy: shapes ", src.sizes, " and ", dst.sizes, " differ");
  detail::check_device_operand(src, "copy", "source");
  detail::check_device_operand(dst, "copy", "destination");
  if (dst.numel() == 0) return;
  if (src.dtype == dst.dtype && src.is_contiguous() && dst.is_contiguous()) {  // a plain byte copy
    if (src.data == dst.data) return;
    TD_CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, static_cast<size_t>(src.numel()) * element_size(src.dtype),
                                  cudaMemcpyDeviceToDevice, detail::stream()));
    return;
  }
  visit_dtype(src.dtype, [&](auto in_tag) {
    using In = decltype(in_tag);
    visit_dtype(dst.dtype, [&](auto out_tag) {
      using Out = decltype(out_tag);
      launch_map<Out, In>("copy", ConvertFn<In, Out>{}, dst, {&src});
    });
  });
}

void CudaBackend::unary(UnaryOp op, const Strided& src, const Strided& dst, double p0, double p1) {
  TD_CHECK(src.sizes == dst.sizes, "cuda unary: shapes ", src.sizes, " and ", dst.sizes, " differ");
  detail::check_device_operand(src, "unary", "input");
  detail::check_device_operand(dst, "unary", "output");
  visit_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (unary_op_is_comparison(op)) {
      TD_CHECK(dst.dtype == ScalarType::Bool, "cuda unary: comparison output must be bool, got ", dst.dtype);
      run_compare_scalar<T>(op, src, dst, p0);
      return;
    }
    TD_CHECK(dst.dtype == src.dtype, "cuda unary: output dtype ", dst.dtype, " differs from input ", src.dtype);
    if constexpr (std::is_same_v<T, bool>) {
      throw Error(::tandem::detail::concat("cuda unary: op ", static_cast<int>(op), " is not defined for bool"));
    } else {
      const char* pow_error = "pow: integers to negative integer powers are not allowed";
      UnaryParams<T> p;
      p.c0 = static_cast<typename UnaryParams<T>::C>(p0);
      p.c1 = static_cast<typename UnaryParams<T>::C>(p1);
      p.i0 = static_cast<int64_t>(p0);
      p.exact = p0 == 0;
      if constexpr (std::is_same_v<T, int64_t>) {
        TD_CHECK(!(op == UnaryOp::PowScalar && p0 < 0), pow_error);
        if (op == UnaryOp::RPowScalar) {
          if (dst.numel() == 0) return;
          KernelFlag flag;
          p.flag = flag.ptr();
          run_unary<T>(op, src, dst, p);
          TD_CHECK(!flag.raised(), pow_error);
          return;
        }
      }
      run_unary<T>(op, src, dst, p);
    }
  });
}

void CudaBackend::binary(BinaryOp op, const Strided& a, const Strided& b, const Strided& dst) {
  TD_CHECK(a.dtype == b.dtype, "cuda binary: operand dtypes ", a.dtype, " and ", b.dtype, " differ");
  TD_CHECK(a.sizes == dst.sizes && b.sizes == dst.sizes, "cuda binary: operand shapes ", a.sizes, " and ", b.sizes,
           " differ from the output shape ", dst.sizes);
  detail::check_device_operand(a, "binary", "first operand");
  detail::check_device_operand(b, "binary", "second operand");
  detail::check_device_operand(dst, "binary", "output");
  visit_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (binary_op_is_comparison(op)) {
      TD_CHECK(dst.dtype == ScalarType::Bool, "cuda binary: comparison output must be bool, got ", dst.dtype);
      run_compare<T>(op, a, b, dst);
      return;
    }
    TD_CHECK(dst.dtype == a.dtype, "cuda binary: output dtype ", dst.dtype, " differs from inputs ", a.dtype);
    if (binary_needs_flag(op, a.dtype) && dst.numel() > 0) {
      KernelFlag flag;
      run_binary<T>(op, a, b, dst, flag.ptr());
      TD_CHECK(!flag.raised(), op == BinaryOp::Div ? "div: integer division by zero"
                                                   : "pow: integers to negative integer powers are not allowed");
      return;
    }
    run_binary<T>(op, a, b, dst, nullptr);
  });
}

void CudaBackend::where(const Strided& cond, const Strided& a, const Strided& b, const Strided& dst) {
  TD_CHECK(cond.dtype == ScalarType::Bool, "where: condition must be bool, got ", cond.dtype);
  TD_CHECK(a.dtype == dst.dtype && b.dtype == dst.dtype, "where: operand dtypes ", a.dtype, " and ", b.dtype,
           " must match the output dtype ", dst.dtype);
  TD_CHECK(cond.sizes == dst.sizes && a.sizes == dst.sizes && b.sizes == dst.sizes, "where: operand shapes ",
           cond.sizes, ", ", a.sizes, " and ", b.sizes, " differ from the output shape ", dst.sizes);
  detail::check_device_operand(cond, "where", "condition");
  detail::check_device_operand(a, "where", "first operand");
  detail::check_device_operand(b, "where", "second operand");
  detail::check_device_operand(dst, "where", "output");
  visit_dtype(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch_map<T, bool, T, T>("where", WhereFn<T>{}, dst, {&cond, &a, &b});
  });
}

}  // namespace tandem::cuda

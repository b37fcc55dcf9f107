// The one small interface every backend implements (CPU now, CUDA later). Tensor knows nothing about how a
// kernel runs: it describes its operands as `Strided` views (pointer to the first element, dtype, sizes,
// strides in elements), allocates the output, checks shapes, and calls one of the methods below. A backend never
// sees Tensor, autograd or broadcasting rules: binary/where operands arrive already expanded to the output
// shape (stride 0 where broadcast), so the kernels only walk strided memory.
//
// Contract for every kernel: inputs may be non-contiguous; outputs are written in place (they may be
// non-contiguous too unless stated); index tensors are int64 and are bounds-checked by the backend, which throws
// tandem::Error naming the op and the bad index (never an out-of-bounds access).
#pragma once

#include <cstdint>
#include <memory>

#include "backends/types.h"

namespace tandem {

/// A backend's view of one operand.
struct Strided {
  void* data = nullptr;  ///< address of element [0, ..., 0]
  ScalarType dtype = ScalarType::Float32;
  Dims sizes;
  Dims strides;  ///< in elements, not bytes
  int64_t numel() const { return sizes.product(); }
  size_t ndim() const { return sizes.size(); }
  bool is_contiguous() const {
    if (numel() == 0) return true;  // an empty operand has nothing to lay out
    int64_t expected = 1;
    for (size_t i = sizes.size(); i-- > 0;) {
      if (sizes[i] != 1 && strides[i] != expected) return false;
      expected *= sizes[i];
    }
    return true;
  }
  template <typename T> T* ptr() const { return static_cast<T*>(data); }
};

/// Element-wise functions of one tensor; p0/p1 are the parameters noted beside each.
enum class UnaryOp : int8_t {
  Neg, Abs, Sign, Exp, Log, Sqrt, Rsqrt, Tanh, Sigmoid, Relu, Erf, Sin, Cos, Log1p, Expm1, Reciprocal, Square,
  Floor, Ceil, Round, LogicalNot, Gelu, Silu,
  AddScalar,   ///< x + p0
  MulScalar,   ///< x * p0
  RSubScalar,  ///< p0 - x
  DivScalar,   ///< x / p0
  RDivScalar,  ///< p0 / x
  PowScalar,   ///< x ^ p0
  RPowScalar,  ///< p0 ^ x
  Clamp,       ///< min(max(x, p0), p1); pass -inf / +inf for a missing bound
  LeakyRelu,   ///< x > 0 ? x : p0 * x
  Softplus,    ///< (1/p0) log(1 + exp(p0 x)), linear above x * p0 > p1
  // comparisons with a scalar; the output is bool
  EqScalar, NeScalar, LtScalar, LeScalar, GtScalar, GeScalar,
};
/// True for the UnaryOps whose output is bool.
inline bool unary_op_is_comparison(UnaryOp op) { return op >= UnaryOp::EqScalar || op == UnaryOp::LogicalNot; }

/// Element-wise functions of two tensors of the same dtype. Comparisons and logical ops write bool.
enum class BinaryOp : int8_t { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr };
inline bool binary_op_is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

/// Reductions. ArgMax/ArgMin write int64 and reduce exactly one dimension (the first occurrence wins).
enum class ReduceOp : int8_t { Sum, Prod, Max, Min, ArgMax, ArgMin, Any, All };

enum class RandomKind : int8_t {
  Uniform,  ///< U[p0, p1)
  Normal,   ///< N(p0, p1^2)
  Integer,  ///< integers uniform in [p0, p1)
};

/// Geometry of a 2-D sliding window (convolution or pooling).
struct Window2d {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t out_h(int64_t in_h) const { return (in_h + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int64_t out_w(int64_t in_w) const { return (in_w + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceType type() const = 0;

  // ---- memory --------------------------------------------------------------------------------------------
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  /// Plain byte copies between this device and the host (for the CPU backend both are host memory).
  virtual void copy_from_host(void* dst, const void* src, size_t nbytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t nbytes) = 0;

  // ---- element-wise --------------------------------------------------------------------------------------
  /// dst = value, converted to dst's dtype.
  virtual void fill(const Strided& dst, double value) = 0;
  /// dst = src (same shape), converting the dtype if they differ.
  virtual void copy(const Strided& src, const Strided& dst) = 0;
  /// dst = op(src). dst has src's shape; its dtype is src's, or bool for comparisons.
  virtual void unary(UnaryOp op, const Strided& src, const Strided& dst, double p0, double p1) = 0;
  /// dst = op(a, b). a and b have dst's shape (broadcast already expanded) and the same dtype.
  virtual void binary(BinaryOp op, const Strided& a, const Strided& b, const Strided& dst) = 0;
  /// dst = cond ? a : b; cond is bool; all have dst's shape.
  virtual void where(const Strided& cond, const Strided& a, const Strided& b, const Strided& dst) = 0;

  // ---- reductions ----------------------------------------------------------------------------------------
  /// dst has src's rank; every dim where dst has size 1 and src does not is reduced. dst is contiguous.
  virtual void reduce(ReduceOp op, const Strided& src, const Strided& dst) = 0;
  /// Softmax (or log-softmax) of src along `dim` into dst (same shape, contiguous).
  virtual void softmax(const Strided& src, const Strided& dst, int64_t dim, bool log) = 0;

  // ---- linear algebra ------------------------------------------------------------------------------------
  /// dst[b] = a[b] @ b[b] for 3-D operands [B,M,K] x [B,K,N] -> [B,M,N] with any strides (0 = broadcast).
  virtual void matmul(const Strided& a, const Strided& b, const Strided& dst) = 0;

  // ---- random --------------------------------------------------------------------------------------------
  /// Fills contiguous dst from the Philox4x32-10 stream (seed, offset); see tensor/random.h for the layout.
  virtual void random(RandomKind kind, const Strided& dst, uint64_t seed, uint64_t offset, double p0, double p1) = 0;

  // ---- indexing ------------------------------------------------------------------------------------------
  /// dst = src.index_select(dim, index); index is 1-D int64.
  virtual void index_select(const Strided& src, int64_t dim, const Strided& index, const Strided& dst) = 0;
  /// dst.index_select(dim, index) += src (accumulates; repeated indices add up).
  virtual void index_add(const Strided& dst, int64_t dim, const Strided& index, const Strided& src) = 0;
  /// dst[i][j] = src[index[i][j]][j] (for dim 0; likewise for other dims); dst has index's shape.
  virtual void gather(const Strided& src, int64_t dim, const Strided& index, const Strided& dst) = 0;
  /// dst[index[i][j]][j] += src[i][j] (for dim 0); src has index's shape.
  virtual void scatter_add(const Strided& dst, int64_t dim, const Strided& index, const Strided& src) = 0;

  // ---- convolution and pooling helpers (NCHW) ------------------------------------------------------------
  /// src [N, C, H, W] -> dst [N, C*kh*kw, out_h*out_w] (contiguous), zeros where the window hits padding.
  virtual void im2col(const Strided& src, const Strided& dst, const Window2d& w) = 0;
  /// The adjoint of im2col: dst [N, C, H, W] (contiguous, zeroed by the caller) += columns of src.
  virtual void col2im(const Strided& src, const Strided& dst, const Window2d& w) = 0;
  /// dst [N, C, oh, ow] = window maxima of src [N, C, H, W] (padding never wins); indices (int64) hold the flat
  /// position h * W + w of each maximum inside its [H, W] plane.
  virtual void max_pool2d(const Strided& src, const Strided& dst, const Strided& indices, const Window2d& w) = 0;
};

/// The backend for a device type. Throws tandem::Error when that backend is not built or no device is present.
Backend& backend_for(DeviceType type);
/// The backend for one device. Besides backend_for(device.type), checks the index: the CPU is device 0, and the
/// CUDA backend runs on CUDA device 0 (one device, one stream); any other index is a tandem::Error naming the
/// device and how many CUDA devices there are. Every tensor's storage is created through this check.
Backend& backend_for(Device device);
bool backend_available(DeviceType type);

}  // namespace tandem

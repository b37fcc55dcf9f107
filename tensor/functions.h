// The free functions of the tensor API, in libtorch's spelling: creation (defined in tensor/creation.cpp) and
// every differentiable op (defined in autograd/ops/<family>.cpp beside its backward rule). Tensor methods of
// the same name are thin forwards to these.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "tensor/tensor.h"

namespace tandem {

// =============================================================================================================
// Creation (tensor/creation.cpp)
// =============================================================================================================
Tensor empty(const Dims& sizes, TensorOptions options = {});
Tensor zeros(const Dims& sizes, TensorOptions options = {});
Tensor ones(const Dims& sizes, TensorOptions options = {});
Tensor full(const Dims& sizes, double value, TensorOptions options = {});
Tensor scalar_tensor(double value, TensorOptions options = {});
/// [0, end) with step 1. Integral arguments with no dtype given make int64, like libtorch.
Tensor arange(double end, TensorOptions options = {});
Tensor arange(double start, double end, double step = 1, TensorOptions options = {});
Tensor linspace(double start, double end, int64_t steps, TensorOptions options = {});
Tensor eye(int64_t n, TensorOptions options = {});
Tensor eye(int64_t n, int64_t m, TensorOptions options = {});
/// Uniform on [0, 1), from the global Philox generator (see manual_seed).
Tensor rand(const Dims& sizes, TensorOptions options = {});
/// Standard normal, from the global Philox generator.
Tensor randn(const Dims& sizes, TensorOptions options = {});
/// Integers uniform in [low, high); int64 unless options say otherwise.
Tensor randint(int64_t low, int64_t high, const Dims& sizes, TensorOptions options = kInt64);
/// Bernoulli(p) samples as 0/1 in the requested dtype (float32 by default).
Tensor bernoulli(const Dims& sizes, double p, TensorOptions options = {});
Tensor randperm(int64_t n, TensorOptions options = kInt64);

/// A 1-D tensor from values: float -> float32, double -> float64, integers -> int64, bool -> bool
/// (or the dtype in options).
template <typename T>
Tensor tensor(const std::vector<T>& values, TensorOptions options = {});
template <typename T>
Tensor tensor(std::initializer_list<T> values, TensorOptions options = {}) {
  return tensor(std::vector<T>(values), options);
}
/// Wraps existing host memory without copying; the caller keeps it alive (or passes a deleter).
Tensor from_blob(void* data, const Dims& sizes, TensorOptions options = {});
Tensor from_blob(void* data, const Dims& sizes, const Dims& strides, std::function<void(void*)> deleter,
                 TensorOptions options = {});

Tensor empty_like(const Tensor& t, TensorOptions options = {});
Tensor zeros_like(const Tensor& t, TensorOptions options = {});
Tensor ones_like(const Tensor& t, TensorOptions options = {});
Tensor full_like(const Tensor& t, double value, TensorOptions options = {});
Tensor rand_like(const Tensor& t, TensorOptions options = {});
Tensor randn_like(const Tensor& t, TensorOptions options = {});

/// Seeds the global generator; every random op then draws a fresh, reproducible slice of the Philox stream.
void manual_seed(uint64_t seed);

/// The dtype two operands combine to: bool < int64 < float32 < float64.
ScalarType promote_types(ScalarType a, ScalarType b);
/// The shape that a and b broadcast to; throws naming `op` and both shapes when they do not.
Dims broadcast_shapes(const Dims& a, const Dims& b, const char* op = "broadcast");

// =============================================================================================================
// Element-wise (autograd/ops/elementwise.cpp)
// =============================================================================================================
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1);
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor pow(const Tensor& base, double exponent);
Tensor pow(double base, const Tensor& exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
/// approximate: "none" (exact, with erf) or "tanh".
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor silu(const Tensor& x);
Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20);
Tensor square(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
/// cond ? a : b, broadcasting all three.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, double b);
Tensor where(const Tensor& cond, double a, const Tensor& b);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& x);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
/// True where |a - b| <= atol + rtol * |b| for every element (shapes must broadcast).
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

// =============================================================================================================
// Reductions (autograd/ops/reduce.cpp)
// =============================================================================================================
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor prod(const Tensor& x);
Tensor prod(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);
std::tuple<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor min(const Tensor& x);
std::tuple<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor amax(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor amin(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor argmax(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor var(const Tensor& x, int64_t correction = 1);
Tensor var(const Tensor& x, const Dims& dims, int64_t correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, int64_t correction = 1);
Tensor std(const Tensor& x, const Dims& dims, int64_t correction = 1, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor norm(const Tensor& x, double p = 2);
Tensor any(const Tensor& x);
Tensor all(const Tensor& x);
/// Sums x down to `shape`, which x's shape must be a broadcast of: the adjoint of expand.
Tensor sum_to(const Tensor& x, const Dims& shape);

// =============================================================================================================
// Linear algebra and softmax (autograd/ops/linalg.cpp)
// =============================================================================================================
/// 1-D/2-D/batched products with broadcasting of the batch dims, as numpy.matmul.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);
Tensor dot(const Tensor& a, const Tensor& b);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// =============================================================================================================
// Joining, splitting and indexing (autograd/ops/indexing.cpp; views in autograd/ops/views.cpp)
// =============================================================================================================
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split_with_sizes(const Tensor& x, const Dims& split_sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
/// Rows of `weight` [num_embeddings, dim] picked by int64 `indices` (any shape); padding_idx rows get no grad.
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx = -1);
/// One-hot int64 labels -> int64 [..., num_classes] (num_classes = -1: max + 1).
Tensor one_hot(const Tensor& labels, int64_t num_classes = -1);

// =============================================================================================================
// Convolution, pooling, normalisation, dropout (autograd/ops/conv.cpp, pool.cpp, norm.cpp)
// Size arguments take one value (used for both spatial dims) or two.
// =============================================================================================================
/// im2col: [N, C, H, W] -> [N, C*kh*kw, L] sliding-window columns (as torch.nn.functional.unfold).
Tensor unfold(const Tensor& x, const Dims& kernel_size, const Dims& dilation = {1}, const Dims& padding = {0},
              const Dims& stride = {1});
/// col2im, the adjoint of unfold: [N, C*kh*kw, L] -> [N, C, H, W] summing overlaps.
Tensor fold(const Tensor& cols, const Dims& output_size, const Dims& kernel_size, const Dims& dilation = {1},
            const Dims& padding = {0}, const Dims& stride = {1});
/// x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, const Dims& stride = {1},
              const Dims& padding = {0}, const Dims& dilation = {1}, int64_t groups = 1);
/// x [N, C, L], weight [O, C/groups, k], bias [O] or undefined.
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
/// stride defaults to kernel_size when empty.
Tensor max_pool2d(const Tensor& x, const Dims& kernel_size, const Dims& stride = {}, const Dims& padding = {0},
                  const Dims& dilation = {1});
Tensor avg_pool2d(const Tensor& x, const Dims& kernel_size, const Dims& stride = {}, const Dims& padding = {0});
/// Zeroes each element with probability p and scales the rest by 1/(1-p) when `train`; identity otherwise.
Tensor dropout(const Tensor& x, double p = 0.5, bool train = true);
/// Normalises over the trailing dims `normalized_shape`; weight/bias of that shape or undefined.
Tensor layer_norm(const Tensor& x, const Dims& normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
/// x [N, C, ...]. In training, normalises with batch statistics and updates running_mean/running_var in place
/// (if defined) with `momentum`; in evaluation, uses the running statistics.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);

// =============================================================================================================
// Losses (autograd/ops/loss.cpp)
// =============================================================================================================
enum class Reduction { None, Mean, Sum };
/// Fused log-softmax + negative log-likelihood over dim 1 of logits [N, C] (or [N, C, d...]) with int64
/// targets; targets equal to ignore_index contribute nothing (the mean is over the others); label_smoothing
/// mixes the one-hot target with the uniform distribution; class weights [C] optional.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = {},
                     int64_t ignore_index = -100, double label_smoothing = 0.0, Reduction reduction = Reduction::Mean);
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight = {}, int64_t ignore_index = -100,
                Reduction reduction = Reduction::Mean);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor huber_loss(const Tensor& input, const Tensor& target, double delta = 1.0, Reduction reduction = Reduction::Mean);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, double beta = 1.0,
                      Reduction reduction = Reduction::Mean);
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, const Tensor& weight = {},
                                        const Tensor& pos_weight = {}, Reduction reduction = Reduction::Mean);
/// KL(target || input) with input given as log-probabilities (as torch's kl_div); log_target if target is too.
Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
              bool log_target = false);

}  // namespace tandem

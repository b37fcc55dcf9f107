// Linear algebra and softmax: matmul in every numpy case (1-D and 2-D operands, batched with broadcast batch
// dims, the folded [B, T, K] @ [K, N] path, transposed operands) against loops written here, mm/bmm/dot, the
// exact shape error messages, dtype errors, and gradcheck/gradgradcheck in float64; softmax and log_softmax
// values, stability, any dim, non-contiguous inputs and their first and second derivatives.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/functions.h"

namespace tandem {
namespace {

using autograd::gradcheck;
using autograd::gradgradcheck;
using autograd::variable_list;

Tensor leaf(const Dims& sizes, uint64_t seed) {
  manual_seed(seed);
  return randn(sizes, TensorOptions(kFloat64).requires_grad(true));
}

/// Element `index` (row-major multi-index) of t's values.
double at(const std::vector<double>& values, const Dims& sizes, const std::vector<int64_t>& index) {
  int64_t off = 0;
  for (size_t d = 0; d < sizes.size(); ++d) off = off * sizes[d] + index[d];
  return values[static_cast<size_t>(off)];
}

/// numpy.matmul by loops: promote 1-D operands, broadcast the batch dims, multiply, drop the promoted dims.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b, Dims& out_shape) {
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  Dims sa = a.sizes(), sb = b.sizes();
  if (sa.size() == 1) sa.insert(0, 1);
  if (sb.size() == 1) sb.push_back(1);
  const int64_t M = sa[sa.size() - 2], K = sa[sa.size() - 1], N = sb[sb.size() - 1];
  const size_t nb = std::max(sa.size(), sb.size()) - 2;
  Dims batch(nb, 1);
  for (size_t i = 0; i < nb; ++i) {
    const int64_t ia = static_cast<int64_t>(i) - static_cast<int64_t>(nb - (sa.size() - 2));
    const int64_t ib = static_cast<int64_t>(i) - static_cast<int64_t>(nb - (sb.size() - 2));
    const int64_t da = ia >= 0 ? sa[static_cast<size_t>(ia)] : 1, db = ib >= 0 ? sb[static_cast<size_t>(ib)] : 1;
    batch[i] = std::max(da, db);
  }
  std::vector<double> out(static_cast<size_t>(batch.product() * M * N));
  std::vector<int64_t> bi(nb, 0);
  for (int64_t flat = 0; flat < batch.product(); ++flat) {
    int64_t r = flat;
    for (size_t i = nb; i-- > 0;) {
      bi[i] = r % batch[i];
      r /= batch[i];
    }
    auto index_of = [&](const Dims& s, int64_t row, int64_t col) {
      std::vector<int64_t> idx;
      const size_t own = s.size() - 2;
      for (size_t i = 0; i < own; ++i) idx.push_back(s[i] == 1 ? 0 : bi[nb - own + i]);
      idx.push_back(row);
      idx.push_back(col);
      return idx;
    };
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += at(va, sa, index_of(sa, m, k)) * at(vb, sb, index_of(sb, k, n));
        out[static_cast<size_t>((flat * M + m) * N + n)] = acc;
      }
  }
  out_shape = batch;
  if (a.dim() > 1) out_shape.push_back(M);
  if (b.dim() > 1) out_shape.push_back(N);
  return out;
}

void check_matmul(const Tensor& a, const Tensor& b, bool second_order = true) {
  Dims want_shape;
  const std::vector<double> want = naive_matmul(a.detach(), b.detach(), want_shape);
  Tensor out = matmul(a, b);
  ASSERT_EQ(out.sizes(), want_shape) << a.sizes() << " @ " << b.sizes();
  const std::vector<double> got = out.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << a.sizes() << " @ " << b.sizes();
  auto fn = [](const variable_list& in) { return matmul(in[0], in[1]); };
  EXPECT_NO_THROW(EXPECT_TRUE(gradcheck(fn, {a, b}))) << a.sizes() << " @ " << b.sizes();
  if (second_order) {
    EXPECT_NO_THROW(EXPECT_TRUE(gradgradcheck(fn, {a, b}))) << a.sizes() << " @ " << b.sizes();
  }
}

template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

/// A float64 leaf of `sizes` stored transposed in memory (last two dims swapped).
Tensor transposed_leaf(const Dims& sizes, uint64_t seed) {
  Dims swapped = sizes;
  std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
  manual_seed(seed);
  Tensor t = randn(swapped, TensorOptions(kFloat64)).transpose(-1, -2).detach();
  t.requires_grad_(true);
  return t;
}

// ---------------------------------------------------------------------------------------------------------------
// matmul
// ---------------------------------------------------------------------------------------------------------------
TEST(Linalg, MatmulOneAndTwoDimensional) {
  check_matmul(leaf({4}, 1), leaf({4}, 2));        // dot
  check_matmul(leaf({3, 4}, 3), leaf({4, 2}, 4));  // mm
  check_matmul(leaf({3, 4}, 5), leaf({4}, 6));     // matrix-vector
  check_matmul(leaf({4}, 7), leaf({4, 2}, 8));     // vector-matrix
}

TEST(Linalg, MatmulBatchedAndBroadcast) {
  check_matmul(leaf({2, 1, 3, 4}, 9), leaf({5, 4, 2}, 10));
  check_matmul(leaf({2, 3, 4}, 11), leaf({4, 2}, 12));     // folded into one [6, 4] @ [4, 2]
  check_matmul(leaf({3, 4}, 13), leaf({2, 4, 5}, 14));     // 2-D left operand broadcast over the batch
  check_matmul(leaf({2, 3, 4}, 15), leaf({2, 4, 2}, 16));  // same batch
  check_matmul(leaf({4}, 17), leaf({2, 4, 3}, 18));        // 1-D left operand with a batch
  check_matmul(leaf({2, 3, 4}, 19), leaf({4}, 20));        // 1-D right operand with a batch
  check_matmul(leaf({1, 2, 3}, 21), leaf({3, 1, 3, 2}, 22));
}

TEST(Linalg, MatmulLargeBroadcastForward) {
  // Batch dims that cannot share one stride: [2, 1] x [5] -> [2, 5], looped over the outer batch dim.
  manual_seed(23);
  Tensor a = randn({2, 1, 6, 7}, kFloat64);
  Tensor b = randn({5, 7, 3}, kFloat64);
  Dims shape;
  const std::vector<double> want = naive_matmul(a, b, shape);
  Tensor out = a.matmul(b);
  ASSERT_EQ(out.sizes(), Dims({2, 5, 6, 3}));
  const std::vector<double> got = out.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12);
  // float32 products agree with the double loops to float precision.
  Tensor af = a.to(kFloat32), bf = b.to(kFloat32);
  const std::vector<double> gf = af.matmul(bf).to_vector<double>();
  for (size_t i = 0; i < gf.size(); ++i) EXPECT_NEAR(gf[i], want[i], 1e-4);
}

TEST(Linalg, MatmulNonContiguousOperands) {
  check_matmul(transposed_leaf({3, 4}, 24), transposed_leaf({4, 2}, 25));
  check_matmul(transposed_leaf({2, 3, 4}, 26), leaf({4, 5}, 27));  // not foldable: per-batch products
  check_matmul(leaf({2, 3, 4}, 28), transposed_leaf({2, 4, 2}, 29));
  // A strided slice as the left operand.
  manual_seed(30);
  Tensor base = randn({3, 8}, kFloat64);
  Tensor a = base.slice(1, 0, 8, 2).detach();  // [3, 4] with column stride 2
  a.requires_grad_(true);
  check_matmul(a, leaf({4, 3}, 31));
}

TEST(Linalg, MatmulGradientShapes) {
  Tensor a = leaf({2, 1, 3, 4}, 32), b = leaf({5, 4, 2}, 33);
  matmul(a, b).sum().backward();
  EXPECT_EQ(a.grad().sizes(), a.sizes());
  EXPECT_EQ(b.grad().sizes(), b.sizes());
  Tensor v = leaf({4}, 34), m = leaf({2, 4, 3}, 35);
  matmul(v, m).sum().backward();
  EXPECT_EQ(v.grad().sizes(), Dims({4}));
  EXPECT_EQ(m.grad().sizes(), Dims({2, 4, 3}));
  Tensor x = leaf({2, 3, 4}, 36), w = leaf({4}, 37);
  matmul(x, w).sum().backward();
  EXPECT_EQ(w.grad().sizes(), Dims({4}));
  // grad of w for [2, 3, 4] @ [4] is the sum of all rows of x.
  const std::vector<double> gw = w.grad().to_vector<double>();
  const std::vector<double> xs = x.detach().sum({0, 1}).to_vector<double>();
  for (size_t i = 0; i < gw.size(); ++i) EXPECT_NEAR(gw[i], xs[i], 1e-12);
}

TEST(Linalg, MatmulErrors) {
  Tensor a = zeros({64, 784}), b = zeros({100, 10});
  EXPECT_EQ(error_of([&] { matmul(a, b); }),
            "matmul: shapes [64, 784] and [100, 10] cannot be multiplied (784 != 100)");
  EXPECT_THROW(matmul(zeros({3}), zeros({4})), Error);
  EXPECT_THROW(matmul(zeros({2, 3, 4}), zeros({3, 5, 2})), Error);  // K mismatch
  EXPECT_THROW(matmul(zeros({2, 3, 4}), zeros({3, 4, 2})), Error);  // batch 2 vs 3 do not broadcast
  EXPECT_THROW(matmul(scalar_tensor(1.0), zeros({3})), Error);
  const std::string int_msg = error_of([] { matmul(zeros({2, 2}, kInt64), zeros({2, 2}, kInt64)); });
  EXPECT_NE(int_msg.find("int64"), std::string::npos) << int_msg;
  EXPECT_THROW(matmul(zeros({2, 2}), zeros({2, 2}, kFloat64)), Error);
  EXPECT_THROW(mm(zeros({2, 3}), zeros({4, 2})), Error);
  EXPECT_THROW(mm(zeros({2, 3, 1}), zeros({1, 2})), Error);
  EXPECT_THROW(bmm(zeros({2, 3, 4}), zeros({3, 4, 2})), Error);
  EXPECT_THROW(bmm(zeros({3, 4}), zeros({4, 2})), Error);
  EXPECT_THROW(dot(zeros({3}), zeros({4})), Error);
  EXPECT_THROW(dot(zeros({3, 1}), zeros({3})), Error);
  const std::string mm_msg = error_of([] { mm(zeros({2, 3}), zeros({4, 2})); });
  EXPECT_EQ(mm_msg, "mm: shapes [2, 3] and [4, 2] cannot be multiplied (3 != 4)");
}

TEST(Linalg, MmBmmDot) {
  Tensor a = leaf({3, 4}, 40), b = leaf({4, 2}, 41);
  Dims shape;
  std::vector<double> want = naive_matmul(a.detach(), b.detach(), shape);
  std::vector<double> got = a.mm(b).to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12);
  EXPECT_NO_THROW(EXPECT_TRUE(gradcheck([](const variable_list& in) { return mm(in[0], in[1]); }, {a, b})));
  EXPECT_NO_THROW(EXPECT_TRUE(gradgradcheck([](const variable_list& in) { return mm(in[0], in[1]); }, {a, b})));

  Tensor p = leaf({2, 3, 4}, 42), q = transposed_leaf({2, 4, 2}, 43);
  want = naive_matmul(p.detach(), q.detach(), shape);
  got = p.bmm(q).to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12);
  EXPECT_NO_THROW(EXPECT_TRUE(gradcheck([](const variable_list& in) { return bmm(in[0], in[1]); }, {p, q})));
  EXPECT_NO_THROW(EXPECT_TRUE(gradgradcheck([](const variable_list& in) { return bmm(in[0], in[1]); }, {p, q})));

  Tensor u = leaf({5}, 44), v = leaf({5}, 45);
  const std::vector<double> uv = u.detach().to_vector<double>(), vv = v.detach().to_vector<double>();
  double d = 0;
  for (size_t i = 0; i < uv.size(); ++i) d += uv[i] * vv[i];
  EXPECT_EQ(u.dot(v).dim(), 0);
  EXPECT_NEAR(u.dot(v).item<double>(), d, 1e-12);
  EXPECT_NO_THROW(EXPECT_TRUE(gradcheck([](const variable_list& in) { return dot(in[0], in[1]); }, {u, v})));
  EXPECT_NO_THROW(EXPECT_TRUE(gradgradcheck([](const variable_list& in) { return dot(in[0], in[1]); }, {u, v})));
  // A strided 1-D operand.
  manual_seed(46);
  Tensor w = randn({10}, kFloat64).slice(0, 0, 10, 2);
  const std::vector<double> wv = w.to_vector<double>();
  double dw = 0;
  for (size_t i = 0; i < wv.size(); ++i) dw += uv[i] * wv[i];
  EXPECT_NEAR(u.detach().dot(w).item<double>(), dw, 1e-12);
}

TEST(Linalg, EmptyInnerDimension) {
  Tensor out = matmul(zeros({2, 0}), zeros({0, 3}));
  EXPECT_EQ(out.sizes(), Dims({2, 3}));
  for (float v : out.to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

// ---------------------------------------------------------------------------------------------------------------
// softmax / log_softmax
// ---------------------------------------------------------------------------------------------------------------
TEST(Linalg, SoftmaxValues) {
  Tensor x = leaf({2, 3, 4}, 50).detach();
  const std::vector<double> v = x.to_vector<double>();
  const Dims s = x.sizes();
  for (int64_t dim : {0, 1, 2, -1}) {
    const int64_t d = dim < 0 ? dim + 3 : dim;
    const std::vector<double> y = x.softmax(dim).to_vector<double>();
    const std::vector<double> ly = log_softmax(x, dim).to_vector<double>();
    for (int64_t i = 0; i < s[0]; ++i)
      for (int64_t j = 0; j < s[1]; ++j)
        for (int64_t k = 0; k < s[2]; ++k) {
          std::vector<int64_t> idx = {i, j, k};
          double total = 0;
          for (int64_t r = 0; r < s[d]; ++r) {
            std::vector<int64_t> other = idx;
            other[static_cast<size_t>(d)] = r;
            total += std::exp(at(v, s, other));
          }
          const double want = std::exp(at(v, s, idx)) / total;
          EXPECT_NEAR(at(y, s, idx), want, 1e-12);
          EXPECT_NEAR(at(ly, s, idx), std::log(want), 1e-12);
        }
  }
  // float32, rows summing to one, large logits stay finite.
  Tensor big = tensor<float>({1000.f, 1001.f, 1002.f});
  const std::vector<float> p = big.softmax(0).to_vector<float>();
  EXPECT_NEAR(p[0] + p[1] + p[2], 1.0f, 1e-6);
  EXPECT_NEAR(p[2], 1.0 / (1.0 + std::exp(-1.0) + std::exp(-2.0)), 1e-6);
  EXPECT_NEAR(big.log_softmax(0).to_vector<float>()[0], -2.0 - std::log(1.0 + std::exp(-1.0) + std::exp(-2.0)), 1e-5);
  // Non-contiguous input.
  Tensor t = x.transpose(0, 2);  // [4, 3, 2]
  const std::vector<double> yt = t.softmax(1).to_vector<double>();
  const std::vector<double> yc = t.contiguous().softmax(1).to_vector<double>();
  for (size_t i = 0; i < yt.size(); ++i) EXPECT_NEAR(yt[i], yc[i], 1e-15);
}

TEST(Linalg, SoftmaxGradients) {
  Tensor x = leaf({3, 4}, 51);
  for (int64_t dim : {0, 1, -1}) {
    auto sm = [dim](const variable_list& in) { return softmax(in[0], dim); };
    auto lsm = [dim](const variable_list& in) { return log_softmax(in[0], dim); };
    EXPECT_NO_THROW(EXPECT_TRUE(gradcheck(sm, {x}))) << dim;
    EXPECT_NO_THROW(EXPECT_TRUE(gradgradcheck(sm, {x}))) << dim;
    EXPECT_NO_THROW(EXPECT_TRUE(gradcheck(lsm, {x}))) << dim;
    EXPECT_NO_THROW(EXPECT_TRUE(gradgradcheck(lsm, {x}))) << dim;
  }
  Tensor nc = transposed_leaf({2, 4, 3}, 52);
  ASSERT_FALSE(nc.is_contiguous());
  auto sm1 = [](const variable_list& in) { return in[0].softmax(1); };
  auto lsm0 = [](const variable_list& in) { return in[0].log_softmax(0); };
  EXPECT_NO_THROW(EXPECT_TRUE(gradcheck(sm1, {nc})));
  EXPECT_NO_THROW(EXPECT_TRUE(gradgradcheck(sm1, {nc})));
  EXPECT_NO_THROW(EXPECT_TRUE(gradcheck(lsm0, {nc})));
  EXPECT_NO_THROW(EXPECT_TRUE(gradgradcheck(lsm0, {nc})));
}

TEST(Linalg, SoftmaxErrors) {
  const std::string msg = error_of([] { softmax(zeros({3}, kInt64), 0); });
  EXPECT_NE(msg.find("softmax"), std::string::npos) << msg;
  EXPECT_NE(msg.find("int64"), std::string::npos) << msg;
  EXPECT_THROW(log_softmax(zeros({3}, kBool), 0), Error);
  EXPECT_THROW(softmax(zeros({3, 2}), 2), Error);
  EXPECT_THROW(log_softmax(zeros({3, 2}), -3), Error);
}

}  // namespace
}  // namespace tandem

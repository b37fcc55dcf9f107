// Tests of broadcasting and dtype promotion: the shape rule (align trailing dims; a dim of size 1 stretches),
// errors that name the op and both shapes, values of broadcast element-wise ops, in-place ops that may only
// broadcast their right-hand side, and gradients summed back to each input's shape by the engine.
#include <gtest/gtest.h>
#include <tandem.h>

#include <functional>
#include <string>

namespace {

using namespace tandem;

/// Fails the test (showing both strings) unless `text` contains `part`.
#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "\"" << (text) << "\" does not contain \"" << (part) << '"'

/// The message of the tandem::Error that f throws.
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no tandem::Error thrown>";
}

TEST(Broadcasting, ShapeRule) {
  EXPECT_EQ(broadcast_shapes({3, 1}, {1, 4}), Dims({3, 4}));
  EXPECT_EQ(broadcast_shapes({5, 1, 4}, {3, 1}), Dims({5, 3, 4}));
  EXPECT_EQ(broadcast_shapes({}, {2, 3}), Dims({2, 3}));
  EXPECT_EQ(broadcast_shapes({2, 3}, {}), Dims({2, 3}));
  EXPECT_EQ(broadcast_shapes({4}, {2, 1}), Dims({2, 4}));
  EXPECT_EQ(broadcast_shapes({0}, {1}), Dims({0}));
  EXPECT_EQ(broadcast_shapes({1, 0}, {3, 1}), Dims({3, 0}));
  EXPECT_EQ(broadcast_shapes({2, 3}, {2, 3}), Dims({2, 3}));
}

TEST(Broadcasting, IncompatibleShapesNameTheOpAndBothShapes) {
  const std::string msg = message_of([] { broadcast_shapes({2, 3}, {3, 2}, "myop"); });
  EXPECT_CONTAINS(msg, "myop");
  EXPECT_CONTAINS(msg, "[2, 3]");
  EXPECT_CONTAINS(msg, "[3, 2]");
  EXPECT_THROW(broadcast_shapes({3}, {4}), Error);
  EXPECT_THROW(broadcast_shapes({2, 0}, {2, 3}), Error);

  const std::string add_msg = message_of([] { (void)(zeros({2, 3}) + zeros({4, 3})); });
  EXPECT_CONTAINS(add_msg, "add");
  EXPECT_CONTAINS(add_msg, "[2, 3]");
  EXPECT_CONTAINS(add_msg, "[4, 3]");
  const std::string mul_msg = message_of([] { (void)(zeros({5}) * zeros({2})); });
  EXPECT_CONTAINS(mul_msg, "mul");
  EXPECT_CONTAINS(mul_msg, "[5]");
  EXPECT_CONTAINS(mul_msg, "[2]");
}

TEST(Broadcasting, ColumnPlusRow) {
  Tensor col = tensor({0.f, 10.f, 20.f}).reshape({3, 1});
  Tensor row = tensor({1.f, 2.f, 3.f, 4.f});
  Tensor sum = col + row;
  EXPECT_EQ(sum.sizes(), Dims({3, 4}));
  EXPECT_EQ(sum.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24}));
  Tensor prod = row * col;
  EXPECT_EQ(prod.sizes(), Dims({3, 4}));
  EXPECT_EQ(prod.to_vector<float>()[5], 20.f);
}

TEST(Broadcasting, ZeroDimensionalOperands) {
  Tensor m = tensor({1.0, 2.0, 3.0, 4.0}).reshape({2, 2});
  Tensor s = scalar_tensor(10, kFloat64);
  EXPECT_EQ((m * s).to_vector<double>(), (std::vector<double>{10, 20, 30, 40}));
  EXPECT_EQ((s - m).to_vector<double>(), (std::vector<double>{9, 8, 7, 6}));
  EXPECT_EQ((m * s).sizes(), Dims({2, 2}));
}

TEST(Broadcasting, NonContiguousOperands) {
  Tensor a = arange(6, kFloat32).reshape({2, 3}).t();  // [3, 2]: [[0, 3], [1, 4], [2, 5]]
  Tensor b = tensor({100.f, 200.f});
  EXPECT_EQ((a + b).to_vector<float>(), (std::vector<float>{100, 203, 101, 204, 102, 205}));
}

TEST(Broadcasting, InPlaceOpsBroadcastOnlyTheirArgument) {
  Tensor a = zeros({2, 3});
  a += tensor({1.f, 2.f, 3.f});
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  Tensor small = zeros({3});
  EXPECT_THROW(small += zeros({2, 3}), Error);
}

TEST(Broadcasting, CopyBroadcastsTheSource) {
  Tensor dst = zeros({2, 3});
  dst.copy_(tensor({1.f, 2.f, 3.f}));
  EXPECT_EQ(dst.to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  const std::string msg = message_of([] { zeros({2, 3}).copy_(zeros({2})); });
  EXPECT_CONTAINS(msg, "copy_");
  EXPECT_CONTAINS(msg, "[2]");
  EXPECT_THROW(zeros({3}).copy_(zeros({2, 3})), Error);
}

TEST(Broadcasting, ExpandFollowsTheSameRule) {
  EXPECT_EQ(zeros({3, 1}).expand({2, 3, 4}).sizes(), Dims({2, 3, 4}));
  const std::string msg = message_of([] { zeros({3, 2}).expand({3, 4}); });
  EXPECT_CONTAINS(msg, "expand");
  EXPECT_CONTAINS(msg, "[3, 2]");
  EXPECT_CONTAINS(msg, "[3, 4]");
}

TEST(Broadcasting, GradientsAreSummedBackToEachInputShape) {
  Tensor col = randn({3, 1}, TensorOptions(kFloat64).requires_grad(true));
  Tensor row = randn({4}, TensorOptions(kFloat64).requires_grad(true));
  (col * row).sum().backward();
  ASSERT_EQ(col.grad().sizes(), Dims({3, 1}));
  ASSERT_EQ(row.grad().sizes(), Dims({4}));
  const double row_sum = row.sum().item<double>(), col_sum = col.sum().item<double>();
  for (double g : col.grad().to_vector<double>()) EXPECT_NEAR(g, row_sum, 1e-12);
  for (double g : row.grad().to_vector<double>()) EXPECT_NEAR(g, col_sum, 1e-12);
}

TEST(Promotion, TypeLattice) {
  EXPECT_EQ(promote_types(kBool, kInt64), kInt64);
  EXPECT_EQ(promote_types(kInt64, kFloat32), kFloat32);
  EXPECT_EQ(promote_types(kFloat32, kFloat64), kFloat64);
  EXPECT_EQ(promote_types(kFloat64, kBool), kFloat64);
  EXPECT_EQ(promote_types(kInt64, kInt64), kInt64);
  EXPECT_EQ(promote_types(kBool, kBool), kBool);
}

TEST(Promotion, BinaryOpsPromote) {
  Tensor i = tensor({1, 2});
  Tensor f = tensor({0.5f, 0.5f});
  Tensor d = tensor({0.25, 0.25});
  EXPECT_EQ((i + f).dtype(), kFloat32);
  EXPECT_EQ((f + d).dtype(), kFloat64);
  EXPECT_EQ((i * i).dtype(), kInt64);
  EXPECT_EQ((i / i).dtype(), kFloat32) << "division of integers is true division";
  EXPECT_EQ((i / i).to_vector<float>(), (std::vector<float>{1.f, 1.f}));
  EXPECT_EQ((i + f).to_vector<float>(), (std::vector<float>{1.5f, 2.5f}));
  EXPECT_EQ((i < f).dtype(), kBool);
}

TEST(Promotion, ScalarsDoNotWidenFloatTensors) {
  Tensor i = tensor({1, 2});
  EXPECT_EQ((i + 2).dtype(), kInt64);
  EXPECT_EQ((i * 2.5).dtype(), kFloat32);
  EXPECT_EQ((i * 2.5).to_vector<float>(), (std::vector<float>{2.5f, 5.f}));
  EXPECT_EQ((tensor({1.f}) * 2.0).dtype(), kFloat32);
  EXPECT_EQ((tensor({1.0}) * 2).dtype(), kFloat64);
}

TEST(Promotion, GradientsArriveInTheInputsDtype) {
  Tensor x = randn({3}, requires_grad());                                      // float32
  Tensor y = randn({3}, TensorOptions(kFloat64).requires_grad(true));          // float64
  Tensor z = (x * y).sum();
  EXPECT_EQ(z.dtype(), kFloat64);
  z.backward();
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  EXPECT_EQ(y.grad().dtype(), kFloat64);
}

}  // namespace

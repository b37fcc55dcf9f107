// Tests of the error philosophy: every misuse throws tandem::Error (never aborts) and the message names the op
// and the offending shapes, dtypes, devices or values. One test per class of misuse.
#include <gtest/gtest.h>
#include <tandem.h>

#include <functional>
#include <regex>
#include <string>

namespace {

using namespace tandem;

/// Fails the test (showing both strings) unless `text` contains `part`.
#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "\"" << (text) << "\" does not contain \"" << (part) << '"'

/// The message of the tandem::Error that f throws ("<no tandem::Error thrown>" if it returns normally).
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no tandem::Error thrown>";
}

TEST(Errors, ErrorIsARuntimeError) {
  try {
    zeros({2}).view({3});
    FAIL() << "view to a wrong size did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_CONTAINS(e.what(), "view");
  }
}

TEST(Errors, ShapeMismatch) {
  const std::string view_msg = message_of([] { zeros({2, 3}).view({4}); });
  EXPECT_CONTAINS(view_msg, "view");
  EXPECT_CONTAINS(view_msg, "[4]");
  EXPECT_CONTAINS(view_msg, "[2, 3]");

  const std::string matmul_msg = message_of([] { zeros({2, 3}).matmul(zeros({4, 5})); });
  EXPECT_CONTAINS(matmul_msg, "matmul");
  EXPECT_CONTAINS(matmul_msg, "[2, 3]");
  EXPECT_CONTAINS(matmul_msg, "[4, 5]");

  const std::string sub_msg = message_of([] { (void)(zeros({3}) - zeros({4})); });
  EXPECT_CONTAINS(sub_msg, "sub");
  EXPECT_CONTAINS(sub_msg, "[3]");
  EXPECT_CONTAINS(sub_msg, "[4]");

  const std::string permute_msg = message_of([] { zeros({2, 3}).permute({0}); });
  EXPECT_CONTAINS(permute_msg, "permute");
}

TEST(Errors, DtypeMismatch) {
  const std::string ptr_msg = message_of([] { zeros({2}).data_ptr<double>(); });
  EXPECT_CONTAINS(ptr_msg, "data_ptr");
  EXPECT_CONTAINS(ptr_msg, "float32");
  EXPECT_CONTAINS(ptr_msg, "float64");

  const std::string randn_msg = message_of([] { randn({2}, kInt64); });
  EXPECT_CONTAINS(randn_msg, "randn");
  EXPECT_CONTAINS(randn_msg, "int64");

  const std::string index_msg = message_of([] { zeros({3}).index_select(0, zeros({2})); });
  EXPECT_CONTAINS(index_msg, "index_select");
  EXPECT_CONTAINS(index_msg, "float32");
}

TEST(Errors, DeviceWithoutCuda) {
  if (cuda::is_available()) GTEST_SKIP() << "a CUDA device is present; this misuse needs a machine without one";
  const std::string msg = message_of([] { zeros({2}).to(kCUDA); });
  EXPECT_CONTAINS(msg, "cuda");
  EXPECT_TRUE(std::regex_search(msg, std::regex("\\bto\\b")))
      << "the message should name the op (to): \"" << msg << '"';
  EXPECT_THROW(zeros({2}).cuda(), Error);
  EXPECT_EQ(cuda::device_count(), 0);
}

TEST(Errors, DeviceIndexOutOfRange) {
  // The CPU is device 0; any other index is refused wherever a tensor is made or moved.
  const std::string made = message_of([] { zeros({2}, TensorOptions().device(Device(kCPU, 1))); });
  EXPECT_CONTAINS(made, "cpu:1");
  const std::string moved = message_of([] { zeros({2, 3}).to(Device(kCPU, 1)); });
  EXPECT_CONTAINS(moved, "to: cannot move a tensor of shape [2, 3]");
  EXPECT_CONTAINS(moved, "cpu:1");
  float buffer[2] = {1, 2};
  EXPECT_THROW(from_blob(buffer, {2}, TensorOptions().device(Device(kCPU, 2))), Error);
  EXPECT_THROW(zeros({2}).to(Device(kCUDA, -1)), Error);
}

TEST(Errors, DimOutOfRange) {
  const std::string t_msg = message_of([] { zeros({2, 3}).transpose(0, 2); });
  EXPECT_CONTAINS(t_msg, "transpose");
  EXPECT_CONTAINS(t_msg, "dim 2");
  EXPECT_CONTAINS(t_msg, "rank 2");
  EXPECT_CONTAINS(message_of([] { zeros({2, 3}).size(-3); }), "size");
  EXPECT_CONTAINS(message_of([] { zeros({2, 3}).sum(5); }), "sum");
  EXPECT_CONTAINS(message_of([] { zeros({2, 3}).unsqueeze(4); }), "unsqueeze");
  EXPECT_CONTAINS(message_of([] { zeros({2, 3}).softmax(2); }), "softmax");
  EXPECT_CONTAINS(message_of([] { zeros({2, 3}).flatten(1, 0); }), "flatten");
}

TEST(Errors, IndexOutOfRange) {
  const std::string select_msg = message_of([] { zeros({2, 3}).select(1, 3); });
  EXPECT_CONTAINS(select_msg, "select");
  EXPECT_CONTAINS(select_msg, "index 3");
  EXPECT_CONTAINS(select_msg, "size 3");
  EXPECT_CONTAINS(message_of([] { zeros({4}).narrow(0, 2, 3); }), "narrow");
  EXPECT_CONTAINS(message_of([] { zeros({4}).as_strided({3}, {2}, 0); }), "as_strided");

  const std::string gather_msg = message_of([] { zeros({2, 3}).index_select(1, tensor({0, 7})); });
  EXPECT_CONTAINS(gather_msg, "index_select");
  EXPECT_CONTAINS(gather_msg, "7");
  EXPECT_CONTAINS(message_of([] { zeros({2}).item<float>(); }), "item");
}

TEST(Errors, BackwardThroughAFreedGraph) {
  Tensor x = randn({3}, requires_grad());
  Tensor y = (x * x).sum();
  y.backward();
  const std::string msg = message_of([&] { y.backward(); });
  EXPECT_CONTAINS(msg, "MulBackward");
  EXPECT_CONTAINS(msg, "second time");
  EXPECT_CONTAINS(msg, "retain_graph");
}

TEST(Errors, BackwardOfANonScalarNeedsAGradient) {
  Tensor x = randn({3}, requires_grad());
  const std::string msg = message_of([&] { (x * 2).backward(); });
  EXPECT_CONTAINS(msg, "backward");
  EXPECT_CONTAINS(msg, "[3]");
  const std::string shape_msg = message_of([&] { (x * 2).backward(ones({4})); });
  EXPECT_CONTAINS(shape_msg, "backward");
  EXPECT_CONTAINS(shape_msg, "[4]");
  EXPECT_CONTAINS(message_of([] { zeros({1}).backward(); }), "backward");  // does not require grad
}

TEST(Errors, RequiresGradOnAnIntegerTensor) {
  const std::string msg = message_of([] { zeros({2}, kInt64).requires_grad_(); });
  EXPECT_CONTAINS(msg, "requires_grad_");
  EXPECT_CONTAINS(msg, "int64");
  const std::string option_msg = message_of([] { ones({2}, TensorOptions(kBool).requires_grad(true)); });
  EXPECT_CONTAINS(option_msg, "ones");
  EXPECT_CONTAINS(option_msg, "bool");
}

TEST(Errors, RequiresGradOnANonLeaf) {
  Tensor x = randn({2}, requires_grad());
  const std::string msg = message_of([&] { (x * 2).requires_grad_(false); });
  EXPECT_CONTAINS(msg, "requires_grad_");
  EXPECT_CONTAINS(msg, "leaf");
}

TEST(Errors, InPlaceOnALeafThatRequiresGrad) {
  Tensor x = randn({2}, requires_grad());
  const std::string msg = message_of([&] { x.add_(1.0); });
  EXPECT_CONTAINS(msg, "add_");
  EXPECT_CONTAINS(msg, "leaf");
  EXPECT_CONTAINS(message_of([&] { x.mul_(x); }), "mul_");
  EXPECT_CONTAINS(message_of([&] { x.copy_(zeros({2})); }), "copy_");
  {
    NoGradGuard no_grad;  // allowed without grad recording (optimizer updates)
    EXPECT_NO_THROW(x.add_(1.0));
  }
}

TEST(Errors, ModifiedSavedTensor) {
  Tensor x = randn({3}, TensorOptions(kFloat64).requires_grad(true));
  Tensor a = x.clone();
  Tensor b = a * a;  // saves a
  a.add_(1.0);       // ... which is then overwritten
  const std::string msg = message_of([&] { b.sum().backward(); });
  EXPECT_CONTAINS(msg, "MulBackward");
  EXPECT_CONTAINS(msg, "in-place");
  EXPECT_CONTAINS(msg, "version");
}

TEST(Errors, UndefinedTensor) {
  Tensor undefined;
  EXPECT_CONTAINS(message_of([&] { undefined.sizes(); }), "undefined");
  EXPECT_CONTAINS(message_of([&] { undefined.view({1}); }), "view");
  EXPECT_CONTAINS(message_of([&] { (void)(undefined + zeros({1})); }), "add");
}

TEST(Errors, AutogradMisuse) {
  Tensor x = randn({2}, requires_grad());
  Tensor w = randn({2}, requires_grad());
  const std::string unused = message_of([&] { autograd::grad({(x * 2).sum()}, {w}); });
  EXPECT_CONTAINS(unused, "grad");
  EXPECT_CONTAINS(unused, "allow_unused");
  EXPECT_CONTAINS(message_of([] { zeros({2}).register_hook([](const Tensor& g) { return g; }); }), "register_hook");
  EXPECT_CONTAINS(message_of([&] { x.set_grad(zeros({3})); }), "set_grad");
  EXPECT_CONTAINS(message_of([] { zeros({2}).retain_grad(); }), "retain_grad");
}

TEST(Errors, CreationArguments) {
  EXPECT_CONTAINS(message_of([] { arange(0, 5, 0); }), "arange");
  EXPECT_CONTAINS(message_of([] { arange(0, 5, -1); }), "arange");
  EXPECT_CONTAINS(message_of([] { linspace(0, 1, -2); }), "linspace");
  EXPECT_CONTAINS(message_of([] { eye(-1); }), "eye");
  EXPECT_CONTAINS(message_of([] { randint(3, 3, {2}); }), "randint");
  EXPECT_CONTAINS(message_of([] { bernoulli({2}, 1.5); }), "bernoulli");
  EXPECT_CONTAINS(message_of([] { randperm(-1); }), "randperm");
  EXPECT_CONTAINS(message_of([] { from_blob(nullptr, {2}); }), "from_blob");
  EXPECT_CONTAINS(message_of([] { zeros({2, -1}); }), "-1");
}

}  // namespace

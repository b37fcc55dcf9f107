// Misuse of CUDA tensors raises tandem::Error with a message that says what is wrong: ops mixing a CPU and a
// CUDA tensor name both devices, out-of-range indices name the op and the bad index (checked on the device,
// before anything is written), integer errors found inside kernels, CPU memory handed to a CUDA kernel, and
// an allocation larger than the device. After each error the device keeps working.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cuda_test_util.h"
#include "tensor/dispatch.h"

namespace tandem {
namespace {

using cuda_test::expect_error_mentioning;

const Device kCuda(kCUDA);

Tensor on_cuda(const Tensor& t) { return t.to(kCuda); }

/// The device still computes correctly after an error.
void expect_device_usable() {
  const Tensor x = arange(10, TensorOptions(kFloat32).device(kCuda));
  EXPECT_EQ(x.sum().item<float>(), 45.0f);
  EXPECT_NO_THROW(cuda::synchronize());
}

TEST(CudaErrors, DeviceIndexBeyondCuda0IsRefused) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  // The backend runs on cuda:0; a tensor asked for on another index is an error, never silently on cuda:0.
  const Device past_the_end(kCUDA, cuda::device_count());
  expect_error_mentioning([&] { (void)zeros({2}, TensorOptions().device(past_the_end)); },
                          {past_the_end.str(), "CUDA device(s)"});
  expect_error_mentioning([&] { (void)randn({2, 3}).to(past_the_end); }, {"to: cannot move", "[2, 3]"});
  if (cuda::device_count() > 1) {
    expect_error_mentioning([] { (void)zeros({2}).to(Device(kCUDA, 1)); }, {"cuda:1", "cuda:0 only"});
  }
  expect_device_usable();
}

TEST(CudaErrors, MixingDevicesNamesBothDevices) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(1);
  const Tensor a = randn({3, 3}), b = on_cuda(randn({3, 3}));
  const Tensor index = tensor(std::vector<int64_t>{0, 2});
  const Tensor targets = tensor(std::vector<int64_t>{0, 1, 2});
  const std::vector<std::pair<std::string, std::function<void()>>> cases = {
      {"add", [&] { (void)(a + b); }},
      {"mul", [&] { (void)(b * a); }},
      {"matmul", [&] { (void)a.matmul(b); }},
      {"where", [&] { (void)where(a.gt(0), b, b); }},
      {"cat", [&] { (void)cat({a, b}); }},
      {"index_select", [&] { (void)b.index_select(0, index); }},
      {"gather", [&] { (void)b.gather(1, index.reshape({1, 2})); }},
      {"scatter_add", [&] { (void)b.scatter_add(0, on_cuda(index.reshape({1, 2})), a.narrow(0, 0, 1).narrow(1, 0, 2)); }},
      {"embedding", [&] { (void)embedding(b, index); }},
      {"masked_fill", [&] { (void)b.masked_fill(a.gt(0), 1.0); }},
      {"cross_entropy", [&] { (void)cross_entropy(b, targets); }},
      {"mse_loss", [&] { (void)mse_loss(a, b); }},
      {"conv2d", [&] { (void)conv2d(on_cuda(randn({1, 2, 4, 4})), randn({3, 2, 2, 2})); }},
      {"layer_norm", [&] { (void)layer_norm(b, {3}, ones({3})); }},
  };
  for (const auto& [name, fn] : cases) {
    SCOPED_TRACE(name);
    expect_error_mentioning(fn, {"cpu", "cuda:0"});
  }
  expect_error_mentioning([&] { (void)(a + b); }, {"add"});
  expect_error_mentioning([&] { (void)a.matmul(b); }, {"matmul"});
  expect_device_usable();
}

TEST(CudaErrors, OutOfRangeIndicesNameTheOpAndTheIndex) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(2);
  const Tensor x = on_cuda(randn({5, 4}));
  const TensorOptions cuda_long = TensorOptions(kInt64).device(kCuda);
  expect_error_mentioning([&] { (void)x.index_select(0, tensor(std::vector<int64_t>{1, 7, 2}, cuda_long)); },
                          {"index_select", "index 7", "size 5"});
  expect_error_mentioning([&] { (void)x.index_select(1, tensor(std::vector<int64_t>{-1}, cuda_long)); },
                          {"index_select", "index -1", "size 4"});
  // The first bad index in row-major order is the one reported, as on the CPU.
  const Tensor bad = tensor(std::vector<int64_t>{0, 9, 7, 1}, cuda_long).reshape({2, 2});
  expect_error_mentioning([&] { (void)x.gather(1, bad); }, {"gather", "index 9", "size 4"});
  expect_error_mentioning([&] { (void)x.gather(1, bad.t()); }, {"gather", "index 7", "size 4"});
  expect_error_mentioning([&] { (void)x.scatter_add(0, bad, on_cuda(ones({2, 2}))); }, {"scatter_add", "index 9"});
  expect_error_mentioning(
      [&] { (void)x.index_add(0, tensor(std::vector<int64_t>{0, 5}, cuda_long), on_cuda(ones({2, 4}))); },
      {"index_add", "index 5", "size 5"});
  expect_error_mentioning([&] { (void)embedding(x, tensor(std::vector<int64_t>{3, 12}, cuda_long)); }, {"12"});
  // Nothing was written by the failing accumulation.
  Tensor target = on_cuda(zeros({5, 4}));
  EXPECT_THROW((void)target.index_add(0, tensor(std::vector<int64_t>{1, 8}, cuda_long), on_cuda(ones({2, 4}))), Error);
  EXPECT_EQ(target.abs().sum().item<float>(), 0.0f);
  expect_device_usable();
}

TEST(CudaErrors, IntegerErrorsFoundByKernels) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const TensorOptions cuda_long = TensorOptions(kInt64).device(kCuda);
  const Tensor x = tensor(std::vector<int64_t>{4, -3, 9}, cuda_long);
  const Tensor exponents = tensor(std::vector<int64_t>{1, -2, 0}, cuda_long);
  expect_error_mentioning([&] { (void)pow(x, exponents); }, {"pow", "negative"});
  expect_error_mentioning([&] { (void)x.pow(-1); }, {"pow", "negative"});
  expect_error_mentioning([&] { (void)pow(2.0, exponents); }, {"pow", "negative"});
  // Integer division is reached through the backend (the tensor layer promotes `/` to floating point).
  const Tensor zero_somewhere = tensor(std::vector<int64_t>{2, 0, 5}, cuda_long);
  const Tensor out = empty({3}, cuda_long);
  expect_error_mentioning([&] {
    backend_for(kCUDA).binary(BinaryOp::Div, detail::strided(x), detail::strided(zero_somewhere), detail::strided(out));
  }, {"div", "division by zero"});
  expect_device_usable();
}

TEST(CudaErrors, CpuMemoryGivenToTheCudaBackend) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const Tensor host = randn({4});
  const Tensor device_out = empty({4}, TensorOptions(kFloat32).device(kCuda));
  expect_error_mentioning([&] {
    backend_for(kCUDA).unary(UnaryOp::Neg, detail::strided(host), detail::strided(device_out), 0, 0);
  }, {"not in CUDA device memory"});
  expect_error_mentioning([&] {
    backend_for(kCUDA).reduce(ReduceOp::Sum, detail::strided(host), detail::strided(device_out.narrow(0, 0, 1)));
  }, {"sum", "not in CUDA device memory"});
  expect_device_usable();
}

TEST(CudaErrors, AllocationLargerThanTheDevice) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  // 2^45 float32 elements = 128 TiB.
  expect_error_mentioning([] { (void)empty({int64_t{1} << 45}, TensorOptions(kFloat32).device(kCuda)); },
                          {"cuda allocator", "cannot allocate"});
  expect_device_usable();
}

TEST(CudaErrors, MisuseChecksMatchTheCpu) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const Tensor x = on_cuda(randn({2, 3}));
  expect_error_mentioning([&] { (void)x.matmul(on_cuda(randn({4, 2}))); }, {"matmul", "[2, 3]", "[4, 2]"});
  expect_error_mentioning([&] { (void)x.to(kInt64).matmul(on_cuda(randint(0, 3, {3, 2}))); }, {"matmul", "int64"});
  expect_error_mentioning([&] { (void)x.to(kInt64).softmax(0); }, {"softmax"});
  expect_error_mentioning([&] { (void)x.sum(3); }, {"sum"});
  expect_device_usable();
}

}  // namespace
}  // namespace tandem

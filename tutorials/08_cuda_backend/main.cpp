// Tutorial 08: the CUDA backend. Where a tensor lives and how it moves (to(kCUDA), to(kCPU)), what the caching
// allocator counts, the TF32 switch, a model moved to the GPU and trained there, and that CUDA and CPU results
// agree. On a machine without a GPU (or a build without CUDA) the same program shows the CPU fallback and the
// errors that name the reason, and exits 0. Every claim in README.md is checked here.
//
//   tutorial_08_cuda_backend            the whole walk-through (a few seconds)
#include <tandem.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace td = tandem;
namespace nn = tandem::nn;
namespace optim = tandem::optim;

namespace {

int failures = 0;

void check(bool ok, const std::string& claim) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", claim.c_str());
  if (!ok) ++failures;
}

std::string device_name(const td::Tensor& t) {
  std::ostringstream os;
  os << t.device();
  return os.str();
}

/// The message of the tandem::Error that fn throws ("" when it throws none).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const td::Error& e) {
    return e.what();
  }
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Largest |a - b| relative to max(|b|, 1e-6), over the elements (a and b on any device).
double max_relative_difference(const td::Tensor& a, const td::Tensor& b) {
  const auto x = a.to(td::kCPU).to_vector<double>(), y = b.to(td::kCPU).to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]) / std::max(std::abs(y[i]), 1e-6));
  return worst;
}

// ---- 1. is there a device? ----------------------------------------------------------------------------------

void devices() {
  std::printf("\n1. Is there a CUDA device?\n");
  std::printf("  cuda::is_available() = %s, cuda::device_count() = %d\n", td::cuda::is_available() ? "true" : "false",
              td::cuda::device_count());
  check(td::cuda::is_available() == (td::cuda::device_count() > 0),
        "is_available() is true exactly when device_count() > 0");
  const td::Tensor x = td::randn({2, 3});
  check(!x.is_cuda() && device_name(x) == "cpu", "tensors are made on the CPU unless their options say otherwise");
#ifdef TANDEM_HAS_CUDA
  std::printf("  this build has the CUDA backend\n");
#else
  std::printf("  this build has no CUDA backend (configured with TANDEM_WITH_CUDA=OFF or without nvcc)\n");
  check(!td::cuda::is_available(), "a build without CUDA never reports a device");
#endif
}

// ---- 2. moving tensors --------------------------------------------------------------------------------------

void moving_tensors() {
  std::printf("\n2. Moving tensors: to(kCUDA) and back\n");
  td::manual_seed(8);
  const td::Tensor a = td::randn({64, 32}), b = td::randn({32, 16});
  if (!td::cuda::is_available()) {
    const std::string error = error_of([&] { (void)a.to(td::kCUDA); });
    std::printf("  a.to(kCUDA) throws: %s\n", error.c_str());
#ifdef TANDEM_HAS_CUDA
    const char* reason = "no CUDA device is present";
#else
    const char* reason = "built without CUDA";
#endif
    check(contains(error, "cuda") && contains(error, reason),
          std::string("without a device, to(kCUDA) throws tandem::Error naming the reason: \"") + reason + "\"");
    check(!error_of([] { (void)td::zeros({4}, td::TensorOptions().device(td::kCUDA)); }).empty(),
          "so does making a tensor directly on the device");
    // The fallback every program uses: pick the device once, put everything there.
    const td::Device device = td::cuda::is_available() ? td::Device(td::kCUDA) : td::Device(td::kCPU);
    const td::Tensor c = a.to(device).matmul(b.to(device));
    check(!c.is_cuda() && max_relative_difference(c, a.matmul(b)) == 0,
          "the fallback `cuda::is_available() ? kCUDA : kCPU` runs the same code on the CPU");
    return;
  }
  const td::Tensor ga = a.to(td::kCUDA), gb = b.to(td::kCUDA);
  std::printf("  a lives on %s, a.to(kCUDA) on %s\n", device_name(a).c_str(), device_name(ga).c_str());
  check(ga.is_cuda() && device_name(ga) == "cuda:0" && ga.sizes() == a.sizes() && ga.dtype() == a.dtype(),
        "to(kCUDA) makes a copy on device cuda:0 with the same shape and dtype");
  const td::Tensor gc = td::relu(ga.matmul(gb)) + 1;
  check(gc.is_cuda(), "ops on CUDA tensors run on the GPU and return CUDA tensors");
  const td::Tensor c = td::relu(a.matmul(b)) + 1;
  const double difference = max_relative_difference(gc, c);
  std::printf("  largest relative difference GPU vs CPU: %.2e\n", difference);
  check(difference < 1e-5, "CUDA and CPU results agree to float32 rounding (< 1e-5 relative)");
  const td::Tensor back = gc.to(td::kCPU);
  check(!back.is_cuda() && back.to_vector<float>() == gc.to_vector<float>(),
        "to(kCPU) copies back; to_vector() and item() copy to the host themselves");
  const std::string error = error_of([&] { (void)(a + ga); });
  std::printf("  a + a.to(kCUDA) throws: %s\n", error.c_str());
  check(contains(error, "cpu") && contains(error, "cuda:0"),
        "mixing a CPU and a CUDA tensor in one op is an error naming both devices (no silent copies)");
}

// ---- 3. the caching allocator -------------------------------------------------------------------------------

void caching_allocator() {
  std::printf("\n3. The caching allocator\n");
  if (!td::cuda::is_available()) {
    td::cuda::empty_cache();
    td::cuda::reset_peak_memory_stats();
    check(td::cuda::memory_allocated() == 0 && td::cuda::memory_reserved() == 0 &&
              td::cuda::max_memory_allocated() == 0,
          "without a device the memory statistics are 0 and empty_cache() / reset_peak_memory_stats() do nothing");
    return;
  }
  td::cuda::synchronize();
  td::cuda::empty_cache();
  const size_t base = td::cuda::memory_allocated();
  td::cuda::reset_peak_memory_stats();
  size_t reserved_while_held = 0;
  {
    const td::Tensor small = td::empty({1000}, td::TensorOptions().device(td::kCUDA));  // 4000 bytes
    std::printf("  after a 4000-byte tensor: allocated %zu, reserved %zu\n", td::cuda::memory_allocated() - base,
                td::cuda::memory_reserved());
    check(td::cuda::memory_allocated() - base == 4096,
          "a 4000-byte tensor takes a 4096-byte block (small requests round up to 512 bytes)");
    const td::Tensor big = td::empty({1 << 20}, td::TensorOptions().device(td::kCUDA));  // 4 MiB + 0
    check(td::cuda::memory_allocated() - base == 4096 + (size_t{4} << 20),
          "a 4 MiB tensor takes a 4 MiB block (large requests round up to 2 MiB)");
    reserved_while_held = td::cuda::memory_reserved();
  }
  std::printf("  after both are freed: allocated %zu, reserved %zu, peak %zu\n", td::cuda::memory_allocated() - base,
              td::cuda::memory_reserved(), td::cuda::max_memory_allocated() - base);
  check(td::cuda::memory_allocated() == base, "freeing the tensors gives the blocks back: allocated drops");
  check(td::cuda::memory_reserved() == reserved_while_held,
        "but reserved stays: the blocks are cached for the next tensor of that size, not returned to the driver");
  check(td::cuda::max_memory_allocated() - base == 4096 + (size_t{4} << 20),
        "max_memory_allocated() remembers the peak");
  {
    const td::Tensor again = td::empty({1 << 20}, td::TensorOptions().device(td::kCUDA));
    check(td::cuda::memory_reserved() == reserved_while_held,
          "a new tensor of a cached size reuses a cached block: reserved does not grow");
  }
  td::cuda::empty_cache();
  check(td::cuda::memory_reserved() == td::cuda::memory_allocated(),
        "empty_cache() returns every cached block: reserved falls to what live tensors hold");
}

// ---- 4. TF32 ------------------------------------------------------------------------------------------------

void tf32() {
  std::printf("\n4. The TF32 switch\n");
  check(!td::cuda::allow_tf32(), "TF32 is off by default, so float32 products on the GPU track the CPU");
  td::manual_seed(9);
  const td::Tensor a = td::randn({256, 256}), b = td::randn({256, 256});
  const td::Tensor cpu = a.matmul(b);
  td::cuda::set_allow_tf32(true);
  check(td::cuda::allow_tf32(), "cuda::set_allow_tf32(true) turns it on");
  if (td::cuda::is_available()) {
    const td::Tensor fast = a.to(td::kCUDA).matmul(b.to(td::kCUDA));
    // Each TF32 product keeps 10 mantissa bits: relative to the sum of |products| the error is below 2^-10.
    const double error = (fast.to(td::kCPU) - cpu).abs().max().item<double>() /
                         a.abs().matmul(b.abs()).max().item<double>();
    std::printf("  TF32 error relative to |A||B|: %.2e\n", error);
    check(error < 1e-3, "a TF32 product is close to the float32 one (error below 2^-10 of |A||B|)");
  } else {
    check(a.matmul(b).to_vector<float>() == cpu.to_vector<float>(),
          "the switch only concerns CUDA: CPU products are unchanged");
  }
  td::cuda::set_allow_tf32(false);
  check(!td::cuda::allow_tf32(), "set_allow_tf32(false) restores full float32");
}

// ---- 5. a model on the GPU ----------------------------------------------------------------------------------

/// A few Adam steps of `net` on `device`; returns the losses.
std::vector<double> train(nn::Sequential& net, const td::Device& device, const td::Tensor& x, const td::Tensor& y) {
  optim::Adam opt(net->parameters(), optim::AdamOptions(1e-2));
  const td::Tensor xd = x.to(device), yd = y.to(device);
  std::vector<double> losses;
  for (int step = 0; step < 10; ++step) {
    opt.zero_grad();
    const td::Tensor loss = td::cross_entropy(net->forward(xd), yd);
    loss.backward();
    opt.step();
    losses.push_back(loss.item<double>());
  }
  return losses;
}

void model_on_gpu() {
  std::printf("\n5. A model on the GPU\n");
  td::manual_seed(10);
  nn::Sequential cpu_net(nn::Linear(20, 64), nn::ReLU(), nn::Linear(64, 5));
  auto gpu_net = nn::Sequential(std::dynamic_pointer_cast<nn::SequentialImpl>(cpu_net->clone()));
  const td::Tensor x = td::randn({128, 20});
  const td::Tensor y = td::randint(0, 5, {128});
  if (!td::cuda::is_available()) {
    const std::string error = error_of([&] { gpu_net->to(td::kCUDA); });
    std::printf("  net->to(kCUDA) throws: %s\n", error.c_str());
    check(!error.empty() && !gpu_net->parameters()[0].is_cuda(),
          "without a device, Module::to(kCUDA) throws and the parameters stay on the CPU");
    const std::vector<double> losses = train(cpu_net, td::Device(td::kCPU), x, y);
    check(losses.back() < losses.front(), "training on the CPU fallback works: the loss falls");
    return;
  }
  gpu_net->to(td::kCUDA);
  check(gpu_net->parameters()[0].is_cuda(), "Module::to(kCUDA) moves every parameter to the GPU");
  const std::vector<double> cpu_losses = train(cpu_net, td::Device(td::kCPU), x, y);
  const std::vector<double> gpu_losses = train(gpu_net, td::Device(td::kCUDA), x, y);
  double worst = 0;
  for (size_t i = 0; i < cpu_losses.size(); ++i)
    worst = std::max(worst, std::abs(gpu_losses[i] - cpu_losses[i]) / std::abs(cpu_losses[i]));
  std::printf("  loss after 10 Adam steps: CPU %.6f, CUDA %.6f (largest relative step difference %.1e)\n",
              cpu_losses.back(), gpu_losses.back(), worst);
  check(gpu_losses.back() < gpu_losses.front(), "the loss falls on the GPU");
  check(worst < 1e-4, "the same model trained on the GPU and on the CPU gives the same losses (< 1e-4 relative)");
}

}  // namespace

int main() {
  std::printf("tandem tutorial 08: the CUDA backend\n");
  try {
    devices();
    moving_tensors();
    caching_allocator();
    tf32();
    model_on_gpu();
  } catch (const std::exception& e) {
    std::printf("unexpected error: %s\n", e.what());
    ++failures;
  }
  std::printf("\n%s (%d failed checks)\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED", failures);
  return failures == 0 ? 0 : 1;
}

// tandem's CUDA ops next to the libraries' kernels and the memory-bandwidth ceiling. Rows:
//   copy_d2d/n                  cudaMemcpyAsync device -> device of n floats: the bandwidth baseline
//   add/n, mul/n, exp/n         tandem's element-wise ops on CUDA tensors
//   sum_all_tandem/n            x.sum() over n floats; sum_all_cub/n (cub::DeviceReduce::Sum),
//                               sum_all_thrust/n (thrust::reduce)
//   sum_rows_tandem/r/c         x.sum({1}) of an [r, c] matrix; sum_rows_cub/r/c (cub::DeviceSegmentedReduce)
//   softmax_rows/r/c            softmax(x, 1)
//   layer_norm/r/c              layer_norm(x, {c}, weight, bias)
//   conv2d_tandem/<shape>       conv2d on CUDA (tandem lowers it to im2col + cuBLAS);
//   conv2d_im2col_cublas/<shape> the same convolution by an explicit im2col kernel + one strided-batched
//                               cuBLAS GEMM (the cuBLAS-only way)
// Counters: GB/s (bytes that must move: inputs read once, outputs written once, over the GPU time between
// CUDA events) and pct_of_copy (GB/s as a percentage of copy_d2d's at the same element count) for the
// memory-bound rows; GFLOP/s for the convolutions. The goal for bandwidth-bound ops is >= 85% of copy.
//
// Check before timing: every tandem row's result is compared with the CPU backend (the oracle) on the same data,
// and the library rows (CUB, Thrust, im2col + cuBLAS) with tandem's; relative tolerances are stated at each
// row. A mismatch stops that row with an error and the program exits 1.
#include <cub/device/device_reduce.cuh>
#include <cub/device/device_segmented_reduce.cuh>
#include <thrust/device_ptr.h>
#include <thrust/reduce.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cuda/cuda_timing.cuh"
#include "tandem.h"

namespace {

namespace td = tandem;
using tandem_bench::fail;

td::TensorOptions on_gpu() { return td::TensorOptions(td::kFloat32).device(td::kCUDA); }

/// Largest |actual - expected| over max(|expected|) (both copied to the host; any NaN fails).
double relative_error(const td::Tensor& actual, const td::Tensor& expected) {
  const auto a = actual.to(td::kCPU).to_vector<double>(), e = expected.to(td::kCPU).to_vector<double>();
  if (a.size() != e.size()) return INFINITY;
  double worst = 0, magnitude = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(a[i] - e[i]);
    if (!(d <= 1e30)) return INFINITY;
    worst = std::max(worst, d);
    magnitude = std::max(magnitude, std::abs(e[i]));
  }
  return worst / magnitude;
}

/// Checks `actual` against `expected` within `tolerance`; on a mismatch fails the benchmark and returns false.
bool verify(benchmark::State& state, const char* what, const td::Tensor& actual, const td::Tensor& expected,
            double tolerance) {
  const double error = relative_error(actual, expected);
  if (error <= tolerance) return true;
  fail(state, std::string("wrong result: ") + what + ": max |difference| / max |expected| = " +
                  std::to_string(error) + " exceeds " + std::to_string(tolerance));
  return false;
}

/// GB/s of copy_d2d for n floats in this run (recorded by that row, or measured here: median of 9).
std::map<int64_t, double>& copy_gbps_by_size() {
  static std::map<int64_t, double> known;
  return known;
}

double copy_seconds(const float* src, float* dst, int64_t n) {
  tandem_bench::EventTimer timer;
  auto copy = [&] {
    TD_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice, nullptr));
  };
  copy();
  std::vector<double> samples;
  for (int i = 0; i < 9; ++i) samples.push_back(timer.seconds(copy));
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

double copy_gbps(int64_t n) {
  auto& known = copy_gbps_by_size();
  if (auto it = known.find(n); it != known.end()) return it->second;
  const td::Tensor src = td::randn({n}, on_gpu()), dst = td::empty({n}, on_gpu());
  const double seconds = copy_seconds(src.data_ptr<float>(), dst.data_ptr<float>(), n);
  return known[n] = 2.0 * static_cast<double>(n) * sizeof(float) / seconds * 1e-9;
}

/// Times `queue_work` and sets GB/s from `bytes` moved per call, and pct_of_copy against copy_d2d of `n_floats`.
void report_bandwidth(benchmark::State& state, double bytes, int64_t n_floats, const std::function<void()>& queue_work) {
  const double seconds = tandem_bench::timed_loop(state, queue_work);
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (seconds > 0) state.counters["pct_of_copy"] = 100.0 * (bytes / seconds * 1e-9) / copy_gbps(n_floats);
}

/// Runs body(state), turning a tandem::Error (or any exception) into a failed row.
template <typename Body>
void guarded(benchmark::State& state, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    fail(state, e.what());
  }
}

constexpr double kFloatTolerance = 1e-5;

// ---- bandwidth baseline and element-wise ops ----------------------------------------------------------------

void copy_d2d(benchmark::State& state) {
  guarded(state, [&] {
    const int64_t n = state.range(0);
    const td::Tensor src = td::randn({n}, on_gpu()), dst = td::empty({n}, on_gpu());
    const float* s = src.data_ptr<float>();
    float* d = dst.data_ptr<float>();
    TD_CUDA_CHECK(cudaMemcpy(d, s, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice));
    if (!verify(state, "copy", dst, src, 0.0)) return;
    const double bytes = 2.0 * static_cast<double>(n) * sizeof(float);
    const double seconds = tandem_bench::timed_loop(state, [&] {
      TD_CUDA_CHECK(cudaMemcpyAsync(d, s, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice, nullptr));
    });
    state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    if (seconds > 0) copy_gbps_by_size()[n] = bytes / seconds * 1e-9;
    state.counters["pct_of_copy"] = 100.0;
  });
}

/// An element-wise op of `inputs` tensors of n floats: checked against the CPU, then timed.
void elementwise(benchmark::State& state, int inputs, const std::function<td::Tensor(const td::Tensor&, const td::Tensor&)>& op) {
  guarded(state, [&] {
    const int64_t n = state.range(0);
    td::manual_seed(1);
    const td::Tensor a_cpu = td::randn({n}), b_cpu = td::randn({n});
    const td::Tensor a = a_cpu.to(td::kCUDA), b = b_cpu.to(td::kCUDA);
    if (!verify(state, "CUDA vs CPU", op(a, b), op(a_cpu, b_cpu), kFloatTolerance)) return;
    td::Tensor out;
    report_bandwidth(state, static_cast<double>(inputs + 1) * static_cast<double>(n) * sizeof(float), n,
                     [&] { out = op(a, b); });
  });
}

void add(benchmark::State& state) { elementwise(state, 2, [](const td::Tensor& a, const td::Tensor& b) { return a + b; }); }
void mul(benchmark::State& state) { elementwise(state, 2, [](const td::Tensor& a, const td::Tensor& b) { return a * b; }); }
void exp_elementwise(benchmark::State& state) {
  elementwise(state, 1, [](const td::Tensor& a, const td::Tensor&) { return td::exp(a); });
}

// ---- reductions ---------------------------------------------------------------------------------------------

/// Sum of all n floats: tandem vs the CPU (relative to the sum of |x|, float32 summation order differs).
void sum_all_tandem(benchmark::State& state) {
  guarded(state, [&] {
    const int64_t n = state.range(0);
    td::manual_seed(2);
    const td::Tensor x_cpu = td::rand({n}), x = x_cpu.to(td::kCUDA);  // positive: sum == sum of |x|
    if (!verify(state, "sum CUDA vs CPU (float64)", x.sum(), x_cpu.to(td::kFloat64).sum().to(td::kFloat32), 1e-5))
      return;
    td::Tensor out;
    report_bandwidth(state, static_cast<double>(n) * sizeof(float), n, [&] { out = x.sum(); });
  });
}

void sum_all_cub(benchmark::State& state) {
  guarded(state, [&] {
    const int64_t n = state.range(0);
    td::manual_seed(2);
    const td::Tensor x = td::rand({n}).to(td::kCUDA), out = td::empty({1}, on_gpu());
    size_t temp_bytes = 0;
    TD_CUDA_CHECK(cub::DeviceReduce::Sum(nullptr, temp_bytes, x.data_ptr<float>(), out.data_ptr<float>(), n));
    const td::Tensor temp = td::empty({static_cast<int64_t>(temp_bytes / sizeof(float) + 1)}, on_gpu());
    auto reduce = [&] {
      TD_CUDA_CHECK(cub::DeviceReduce::Sum(temp.data_ptr<float>(), temp_bytes, x.data_ptr<float>(),
                                           out.data_ptr<float>(), n));
    };
    reduce();
    if (!verify(state, "CUB vs tandem", out.reshape({}), x.sum(), 1e-5)) return;
    report_bandwidth(state, static_cast<double>(n) * sizeof(float), n, reduce);
  });
}

void sum_all_thrust(benchmark::State& state) {
  guarded(state, [&] {
    const int64_t n = state.range(0);
    td::manual_seed(2);
    const td::Tensor x = td::rand({n}).to(td::kCUDA);
    const thrust::device_ptr<const float> begin(x.data_ptr<float>());
    float result = 0.f;
    auto reduce = [&] { result = thrust::reduce(begin, begin + n, 0.f); };
    reduce();
    if (!verify(state, "Thrust vs tandem", td::tensor(std::vector<float>{result}).reshape({}), x.sum(), 1e-5)) return;
    report_bandwidth(state, static_cast<double>(n) * sizeof(float), n, reduce);
  });
}

void sum_rows_tandem(benchmark::State& state) {
  guarded(state, [&] {
    const int64_t rows = state.range(0), cols = state.range(1);
    td::manual_seed(3);
    const td::Tensor x_cpu = td::randn({rows, cols}), x = x_cpu.to(td::kCUDA);
    if (!verify(state, "sum over rows CUDA vs CPU", x.sum({1}), x_cpu.sum({1}), 1e-4)) return;
    td::Tensor out;
    report_bandwidth(state, static_cast<double>(rows * (cols + 1)) * sizeof(float), rows * cols,
                     [&] { out = x.sum({1}); });
  });
}

void sum_rows_cub(benchmark::State& state) {
  guarded(state, [&] {
    const int64_t rows = state.range(0), cols = state.range(1);
    td::manual_seed(3);
    const td::Tensor x = td::randn({rows, cols}).to(td::kCUDA), out = td::empty({rows}, on_gpu());
    std::vector<int> offsets_host(static_cast<size_t>(rows + 1));
    for (int64_t r = 0; r <= rows; ++r) offsets_host[static_cast<size_t>(r)] = static_cast<int>(r * cols);
    int* offsets = nullptr;
    TD_CUDA_CHECK(cudaMalloc(&offsets, offsets_host.size() * sizeof(int)));
    TD_CUDA_CHECK(cudaMemcpy(offsets, offsets_host.data(), offsets_host.size() * sizeof(int), cudaMemcpyHostToDevice));
    size_t temp_bytes = 0;
    TD_CUDA_CHECK(cub::DeviceSegmentedReduce::Sum(nullptr, temp_bytes, x.data_ptr<float>(), out.data_ptr<float>(),
                                                  static_cast<int>(rows), offsets, offsets + 1));
    const td::Tensor temp = td::empty({static_cast<int64_t>(temp_bytes / sizeof(float) + 1)}, on_gpu());
    auto reduce = [&] {
      TD_CUDA_CHECK(cub::DeviceSegmentedReduce::Sum(temp.data_ptr<float>(), temp_bytes, x.data_ptr<float>(),
                                                    out.data_ptr<float>(), static_cast<int>(rows), offsets,
                                                    offsets + 1));
    };
    reduce();
    if (verify(state, "CUB segmented vs tandem", out, x.sum({1}), 1e-4))
      report_bandwidth(state, static_cast<double>(rows * (cols + 1)) * sizeof(float), rows * cols, reduce);
    TD_CUDA_CHECK(cudaFree(offsets));
  });
}

// ---- softmax and layer norm ---------------------------------------------------------------------------------

void softmax_rows(benchmark::State& state) {
  guarded(state, [&] {
    const int64_t rows = state.range(0), cols = state.range(1);
    td::manual_seed(4);
    const td::Tensor x_cpu = td::randn({rows, cols}), x = x_cpu.to(td::kCUDA);
    if (!verify(state, "softmax CUDA vs CPU", td::softmax(x, 1), td::softmax(x_cpu, 1), 1e-5)) return;
    td::Tensor out;
    report_bandwidth(state, 2.0 * static_cast<double>(rows * cols) * sizeof(float), rows * cols,
                     [&] { out = td::softmax(x, 1); });
  });
}

void layer_norm(benchmark::State& state) {
  guarded(state, [&] {
    const int64_t rows = state.range(0), cols = state.range(1);
    td::manual_seed(5);
    const td::Tensor x_cpu = td::randn({rows, cols}), w_cpu = td::randn({cols}), b_cpu = td::randn({cols});
    const td::Tensor x = x_cpu.to(td::kCUDA), w = w_cpu.to(td::kCUDA), b = b_cpu.to(td::kCUDA);
    if (!verify(state, "layer_norm CUDA vs CPU", td::layer_norm(x, {cols}, w, b), td::layer_norm(x_cpu, {cols}, w_cpu, b_cpu),
                1e-4))
      return;
    td::Tensor out;
    report_bandwidth(state, 2.0 * static_cast<double>(rows * cols) * sizeof(float), rows * cols,
                     [&] { out = td::layer_norm(x, {cols}, w, b); });
  });
}

// ---- convolution --------------------------------------------------------------------------------------------

/// cols[n][(c * KH + i) * KW + j][oy * OW + ox] = x[n][c][oy * stride - pad + i][ox * stride - pad + j] (0 outside).
__global__ void im2col_kernel(const float* __restrict__ x, float* __restrict__ cols, int N, int C, int H, int W,
                              int KH, int KW, int stride, int pad, int OH, int OW) {
  const long long total = static_cast<long long>(N) * C * KH * KW * OH * OW;
  for (long long idx = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<long long>(gridDim.x) * blockDim.x) {
    long long rest = idx;
    const int ox = static_cast<int>(rest % OW);
    rest /= OW;
    const int oy = static_cast<int>(rest % OH);
    rest /= OH;
    const int j = static_cast<int>(rest % KW);
    rest /= KW;
    const int i = static_cast<int>(rest % KH);
    rest /= KH;
    const int c = static_cast<int>(rest % C);
    const int n = static_cast<int>(rest / C);
    const int y = oy * stride - pad + i, xx = ox * stride - pad + j;
    cols[idx] = (y >= 0 && y < H && xx >= 0 && xx < W) ? x[((static_cast<long long>(n) * C + c) * H + y) * W + xx] : 0.f;
  }
}

/// The shapes measured: batch, channels in and out, square image and kernel, stride, padding.
struct ConvShape {
  const char* name;
  int n, c, h, oc, k, stride, pad;
  int out() const { return (h + 2 * pad - k) / stride + 1; }
  double flops() const { return 2.0 * n * oc * c * k * k * static_cast<double>(out() * out()); }
};

const std::vector<ConvShape>& conv_shapes() {
  static const std::vector<ConvShape> shapes = {
      {"lenet_conv1_b256_1x36x36_10k9", 256, 1, 36, 10, 9, 1, 0},
      {"lenet_conv2_b256_10x14x14_20k5", 256, 10, 14, 20, 5, 1, 0},
      {"resnet_b32_64x56x56_64k3", 32, 64, 56, 64, 3, 1, 1},
  };
  return shapes;
}

struct ConvData {
  td::Tensor x_cpu, w_cpu, x, w;
};

ConvData conv_data(const ConvShape& s) {
  td::manual_seed(6);
  ConvData d;
  d.x_cpu = td::randn({s.n, s.c, s.h, s.h});
  d.w_cpu = td::randn({s.oc, s.c, s.k, s.k});
  d.x = d.x_cpu.to(td::kCUDA);
  d.w = d.w_cpu.to(td::kCUDA);
  return d;
}

void conv2d_tandem(benchmark::State& state, const ConvShape& s) {
  guarded(state, [&] {
    const ConvData d = conv_data(s);
    auto conv = [&](const td::Tensor& x, const td::Tensor& w) { return td::conv2d(x, w, {}, {s.stride}, {s.pad}); };
    if (!verify(state, "conv2d CUDA vs CPU", conv(d.x, d.w), conv(d.x_cpu, d.w_cpu), 1e-4)) return;
    td::Tensor out;
    const double seconds = tandem_bench::timed_loop(state, [&] { out = conv(d.x, d.w); });
    (void)seconds;
    state.counters["GFLOP/s"] = benchmark::Counter(s.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  });
}

/// The cuBLAS-only convolution: im2col of the whole batch, then per image out[n] (OC x P) = W (OC x CKK) @
/// cols[n] (CKK x P) as one strided-batched GEMM (W shared: stride 0). Row-major products are passed to
/// column-major cuBLAS as out[n]^T = cols[n]^T @ W^T.
void conv2d_im2col_cublas(benchmark::State& state, const ConvShape& s) {
  guarded(state, [&] {
    const ConvData d = conv_data(s);
    const int out_hw = s.out(), p = out_hw * out_hw, ckk = s.c * s.k * s.k;
    const td::Tensor cols = td::empty({s.n, ckk, p}, on_gpu());
    const td::Tensor out = td::empty({s.n, s.oc, out_hw, out_hw}, on_gpu());
    cublasHandle_t handle = nullptr;
    TD_CUBLAS_CHECK(cublasCreate(&handle));
    struct HandleGuard {
      cublasHandle_t h;
      ~HandleGuard() { (void)cublasDestroy(h); }
    } guard{handle};
    const long long total = static_cast<long long>(s.n) * ckk * p;
    const int blocks = static_cast<int>(std::min<long long>((total + 255) / 256, 65535));
    auto conv = [&] {
      im2col_kernel<<<blocks, 256>>>(d.x.data_ptr<float>(), cols.data_ptr<float>(), s.n, s.c, s.h, s.h, s.k, s.k,
                                     s.stride, s.pad, out_hw, out_hw);
      TD_CUDA_CHECK_LAUNCH("im2col_kernel");
      const float one = 1.f, zero = 0.f;
      TD_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, p, s.oc, ckk, &one,
                                                cols.data_ptr<float>(), p, static_cast<long long>(ckk) * p,
                                                d.w.data_ptr<float>(), ckk, 0, &zero, out.data_ptr<float>(), p,
                                                static_cast<long long>(s.oc) * p, s.n));
    };
    conv();
    if (!verify(state, "im2col + cuBLAS vs tandem conv2d", out, td::conv2d(d.x, d.w, {}, {s.stride}, {s.pad}), 1e-4))
      return;
    tandem_bench::timed_loop(state, conv);
    state.counters["GFLOP/s"] = benchmark::Counter(s.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  });
}

void register_benchmarks() {
  auto configure = [](benchmark::internal::Benchmark* b) {
    b->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(0.2);
  };
  const std::vector<int64_t> sizes = {int64_t{1} << 20, int64_t{1} << 24, int64_t{1} << 26};
  for (auto [name, fn] : std::vector<std::pair<const char*, void (*)(benchmark::State&)>>{
           {"copy_d2d", copy_d2d}, {"add", add}, {"mul", mul}, {"exp", exp_elementwise},
           {"sum_all_tandem", sum_all_tandem}, {"sum_all_cub", sum_all_cub}, {"sum_all_thrust", sum_all_thrust}}) {
    auto* b = benchmark::RegisterBenchmark(name, fn);
    for (int64_t n : sizes) b->Args({n});
    b->ArgNames({"n"});
    configure(b);
  }
  const std::vector<std::pair<int64_t, int64_t>> matrices = {{4096, 1024}, {65536, 256}, {1024, 16384}};
  for (auto [name, fn] : std::vector<std::pair<const char*, void (*)(benchmark::State&)>>{
           {"sum_rows_tandem", sum_rows_tandem}, {"sum_rows_cub", sum_rows_cub},
           {"softmax_rows", softmax_rows}, {"layer_norm", layer_norm}}) {
    auto* b = benchmark::RegisterBenchmark(name, fn);
    for (auto [rows, cols] : matrices) b->Args({rows, cols});
    b->ArgNames({"rows", "cols"});
    configure(b);
  }
  for (const ConvShape& shape : conv_shapes()) {
    configure(benchmark::RegisterBenchmark((std::string("conv2d_tandem/") + shape.name).c_str(),
                                           [&shape](benchmark::State& state) { conv2d_tandem(state, shape); }));
    configure(benchmark::RegisterBenchmark((std::string("conv2d_im2col_cublas/") + shape.name).c_str(),
                                           [&shape](benchmark::State& state) { conv2d_im2col_cublas(state, shape); }));
  }
}

}  // namespace

int main(int argc, char** argv) {
  return tandem_bench::cuda_benchmark_main(argc, argv, "bench_kernels_cuda", register_benchmarks);
}

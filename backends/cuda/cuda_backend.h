// The CUDA backend: the Backend interface (backends/backend.h) implemented with CUDA kernels and cuBLAS, for
// the current CUDA device. Each group of kernels lives in its own file of this folder (elementwise.cu,
// reduce.cu, softmax.cu, matmul.cu, random.cu, index.cu, conv_pool.cu); cuda_backend.cu holds memory, copies
// and the shared launch helpers. Every kernel is checked against the CPU backend (the oracle) by
// tests/backends/cuda/test_cuda_vs_cpu.cpp and follows its contracts: bounds-checked indices that raise
// tandem::Error, bool comparison outputs, first-occurrence argmax/argmin, the Philox layout of
// backends/philox.h for random numbers.
//
// All work is queued on one stream (the legacy default stream); host copies wait for their data. This header
// has no CUDA types, so plain C++ files may include it.
#pragma once

#include "backends/backend.h"

namespace tandem::cuda {

class CudaBackend final : public Backend {
 public:
  DeviceType type() const override { return DeviceType::CUDA; }
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) override;
  void copy_from_host(void* dst, const void* src, size_t nbytes) override;
  void copy_to_host(void* dst, const void* src, size_t nbytes) override;

  void fill(const Strided& dst, double value) override;
  void copy(const Strided& src, const Strided& dst) override;
  void unary(UnaryOp op, const Strided& src, const Strided& dst, double p0, double p1) override;
  void binary(BinaryOp op, const Strided& a, const Strided& b, const Strided& dst) override;
  void where(const Strided& cond, const Strided& a, const Strided& b, const Strided& dst) override;

  void reduce(ReduceOp op, const Strided& src, const Strided& dst) override;
  void softmax(const Strided& src, const Strided& dst, int64_t dim, bool log) override;

  void matmul(const Strided& a, const Strided& b, const Strided& dst) override;

  void random(RandomKind kind, const Strided& dst, uint64_t seed, uint64_t offset, double p0, double p1) override;

  void index_select(const Strided& src, int64_t dim, const Strided& index, const Strided& dst) override;
  void index_add(const Strided& dst, int64_t dim, const Strided& index, const Strided& src) override;
  void gather(const Strided& src, int64_t dim, const Strided& index, const Strided& dst) override;
  void scatter_add(const Strided& dst, int64_t dim, const Strided& index, const Strided& src) override;

  void im2col(const Strided& src, const Strided& dst, const Window2d& w) override;
  void col2im(const Strided& src, const Strided& dst, const Window2d& w) override;
  void max_pool2d(const Strided& src, const Strided& dst, const Strided& indices, const Window2d& w) override;
};

/// The process-wide CUDA backend instance (the caller checks that a device is present).
CudaBackend& cuda_backend();

}  // namespace tandem::cuda

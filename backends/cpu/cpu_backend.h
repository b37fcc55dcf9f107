// The CPU backend: the reference every other backend is checked against, and fast enough to train small
// models. Each group of kernels lives in its own file of this folder (elementwise.cpp, reduce.cpp, matmul.cpp,
// random.cpp, index.cpp, conv_pool.cpp, softmax.cpp); this header only gathers their declarations.
#pragma once

#include "backends/backend.h"

namespace tandem::cpu {

class CpuBackend final : public Backend {
 public:
  DeviceType type() const override { return DeviceType::CPU; }
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

/// The process-wide CPU backend instance.
CpuBackend& cpu_backend();

/// Statistics of the CPU caching allocator (bytes).
struct AllocatorStats {
  size_t allocated = 0;  ///< bytes handed out and not yet returned
  size_t reserved = 0;   ///< bytes held from the system (handed out + cached)
  size_t peak = 0;       ///< maximum of `allocated`
};
AllocatorStats allocator_stats();
/// Returns all cached (unused) blocks to the system.
void empty_cache();

}  // namespace tandem::cpu

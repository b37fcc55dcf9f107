// The caching device allocator through tandem::cuda's statistics: bytes allocated go up and down with tensors,
// freed blocks are handed out again (same address, no new reservation), empty_cache() gives cached blocks back
// to the device, the peak is tracked and reset. Sizes are in rounded blocks (backends/cuda/allocator.h).
#include <gtest/gtest.h>

#include "backends/cuda/allocator.h"
#include "tandem.h"

namespace tandem {
namespace {

const Device kCuda(kCUDA);

/// A float32 CUDA tensor of `bytes` bytes.
Tensor device_bytes(int64_t bytes) { return empty({bytes / 4}, TensorOptions(kFloat32).device(kCuda)); }

TEST(CudaAllocator, StatsFollowTensors) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const size_t before = cuda::memory_allocated();
  {
    const Tensor t = device_bytes(4000);  // a small block: 4000 bytes rounded up to 4096
    EXPECT_EQ(cuda::memory_allocated(), before + cuda::rounded_block_size(4000));
    EXPECT_EQ(cuda::rounded_block_size(4000), 4096u);
    EXPECT_GE(cuda::memory_reserved(), cuda::memory_allocated());
    const Tensor u = device_bytes(3 << 20);  // a large block: 3 MiB rounded up to 4 MiB
    EXPECT_EQ(cuda::rounded_block_size(3 << 20), size_t{4} << 20);
    EXPECT_EQ(cuda::memory_allocated(), before + 4096 + (size_t{4} << 20));
  }
  EXPECT_EQ(cuda::memory_allocated(), before);
  EXPECT_GE(cuda::memory_reserved(), before + 4096 + (size_t{4} << 20));  // still cached
}

TEST(CudaAllocator, FreedBlocksAreReused) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (int64_t bytes : {int64_t{1024}, int64_t{5} << 20}) {
    SCOPED_TRACE(bytes);
    void* first = nullptr;
    {
      const Tensor t = device_bytes(bytes);
      first = t.data_ptr();
    }
    const size_t reserved = cuda::memory_reserved();
    const Tensor again = device_bytes(bytes);
    EXPECT_EQ(again.data_ptr(), first);
    EXPECT_EQ(cuda::memory_reserved(), reserved);  // no new memory taken from the device
  }
  // A large request may take a cached block less than twice its (rounded) size, not a larger one.
  cuda::empty_cache();
  void* big = nullptr;
  {
    const Tensor t = device_bytes(8 << 20);
    big = t.data_ptr();
  }
  {
    const Tensor fits = device_bytes(5 << 20);  // a 6 MiB block; the cached 8 MiB one is less than twice that
    EXPECT_EQ(fits.data_ptr(), big);
  }
  const Tensor too_small = device_bytes(2 << 20);
  EXPECT_NE(too_small.data_ptr(), big);
}

TEST(CudaAllocator, EmptyCacheReleasesReservedMemory) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const Tensor kept = device_bytes(1 << 20);
  { const Tensor dropped = device_bytes(16 << 20); }
  EXPECT_GT(cuda::memory_reserved(), cuda::memory_allocated());
  cuda::empty_cache();
  EXPECT_EQ(cuda::memory_reserved(), cuda::memory_allocated());  // only live blocks remain
  EXPECT_GE(cuda::memory_allocated(), cuda::rounded_block_size(1 << 20));
  // The live tensor is untouched.
  Tensor filled = kept;
  filled.fill_(2.5);
  EXPECT_EQ(filled.sum().item<float>(), 2.5f * static_cast<float>(filled.numel()));
}

TEST(CudaAllocator, PeakIsTrackedAndReset) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  cuda::reset_peak_memory_stats();
  const size_t base = cuda::memory_allocated();
  EXPECT_EQ(cuda::max_memory_allocated(), base);
  { const Tensor t = device_bytes(10 << 20); }
  EXPECT_EQ(cuda::max_memory_allocated(), base + cuda::rounded_block_size(10 << 20));
  EXPECT_EQ(cuda::memory_allocated(), base);
  cuda::reset_peak_memory_stats();
  EXPECT_EQ(cuda::max_memory_allocated(), base);
}

TEST(CudaAllocator, TemporariesOfOpsAreReturned) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const Tensor x = randn({512, 256}, TensorOptions(kFloat32).device(kCuda));
  const size_t before = cuda::memory_allocated();
  for (int i = 0; i < 3; ++i) {
    // Reductions with partial buffers, matmul, softmax, index checks: their scratch memory goes back.
    (void)x.sum().item<float>();
    (void)x.matmul(x.t()).softmax(1).sum().item<float>();
    (void)x.index_select(0, tensor(std::vector<int64_t>{3, 1}, TensorOptions(kInt64).device(kCuda))).sum().item<float>();
  }
  cuda::synchronize();
  EXPECT_EQ(cuda::memory_allocated(), before);
}

}  // namespace
}  // namespace tandem

// The kernels of the SGEMM ladder (see sgemm_ladder.h): C = A @ B for row-major float32 matrices, C [M, N],
// A [M, K], B [K, N]. Each rung keeps what the one before did and adds one idea:
//   1 naive              one thread per entry of C; the 32 threads of a warp take 32 rows of one column, so
//                        their loads of A and their stores of C are 32 separate memory transactions
//   2 coalesced          the warp takes 32 columns of one row instead: loads of B and stores of C become one
//                        128-byte transaction per warp, and the load of A is one broadcast
//   3 shared tiles       a block stages a 32x32 tile of A and of B in shared memory, so every element fetched
//                        from global memory is used 32 times
//   4 1-D register tile  each thread computes TM = 8 entries of a column of C: one value of B read from shared
//                        memory feeds 8 multiply-adds
//   5 2-D register tile  each thread computes an 8x8 block of C as a sum of outer products of an 8-vector of A
//                        and an 8-vector of B held in registers: 16 shared loads feed 64 multiply-adds
//   6 vectorised         global loads of 4 floats at a time (float4); the A tile is stored transposed so that the
//                        8-vector of A is contiguous in shared memory and also read as float4
//   7 warp tiles         the block tile is split into one tile per warp, and each warp's tile into 4x4 thread
//                        tiles laid out so that a warp's shared loads are conflict-free broadcasts
//   8 double buffering   two shared buffers: the next tile is read from global memory into registers while this
//                        one is multiplied, then stored in the other buffer (one barrier per tile, not two)
// Rungs 1-3 take any shape; from rung 4 on, M, N and K must be multiples of the tile sizes (the launcher in
// sgemm_ladder.cu checks them) and the float4 rungs need 16-byte aligned A, B and C.
//
// Only CUDA built-ins are used (threadIdx, blockIdx, __syncthreads, float4, __shared__), no library headers.
#pragma once

namespace tandem::cuda::ladder::kernels {

// ---- 1. naive -----------------------------------------------------------------------------------------------

/// Block 32x32 threads; threadIdx.x runs down the rows of C, so a warp's accesses to A and C are strided.
__global__ void sgemm_naive(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                            float* __restrict__ C) {
  const int row = blockIdx.x * blockDim.x + threadIdx.x;
  const int col = blockIdx.y * blockDim.y + threadIdx.y;
  if (row >= M || col >= N) return;
  float acc = 0.f;
  for (int k = 0; k < K; ++k) acc += A[row * K + k] * B[k * N + col];
  C[row * N + col] = acc;
}

// ---- 2. coalesced -------------------------------------------------------------------------------------------

/// Block 32x32 threads; threadIdx.x runs along the columns of C, so a warp reads 32 consecutive floats of B,
/// one float of A (broadcast) and writes 32 consecutive floats of C.
__global__ void sgemm_coalesced(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                                float* __restrict__ C) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  const int row = blockIdx.y * blockDim.y + threadIdx.y;
  if (row >= M || col >= N) return;
  float acc = 0.f;
  for (int k = 0; k < K; ++k) acc += A[row * K + k] * B[k * N + col];
  C[row * N + col] = acc;
}

// ---- 3. shared-memory tiles ---------------------------------------------------------------------------------

inline constexpr int kSharedTile = 32;

/// Block 32x32 threads, one per entry of a 32x32 tile of C. Out-of-range tile entries are loaded as zeros.
__global__ void sgemm_shared_tiled(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                                   float* __restrict__ C) {
  constexpr int T = kSharedTile;
  __shared__ float As[T][T];
  __shared__ float Bs[T][T];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * T + ty;
  const int col = blockIdx.x * T + tx;
  float acc = 0.f;
  for (int k0 = 0; k0 < K; k0 += T) {
    As[ty][tx] = (row < M && k0 + tx < K) ? A[row * K + k0 + tx] : 0.f;
    Bs[ty][tx] = (k0 + ty < K && col < N) ? B[(k0 + ty) * N + col] : 0.f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < T; ++k) acc += As[ty][k] * Bs[k][tx];  // As: broadcast in a warp; Bs: consecutive banks
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

// ---- 4. 1-D register tiling ---------------------------------------------------------------------------------

inline constexpr int k1dBM = 64, k1dBN = 64, k1dBK = 8, k1dTM = 8;
inline constexpr int k1dThreads = k1dBM * k1dBN / k1dTM;  // 512

/// Block tile BM x BN of C, BK columns of A / rows of B per step; thread t computes TM entries of one column.
/// The tiles hold BM*BK = BK*BN = 512 floats: one load per thread each.
__global__ void __launch_bounds__(k1dThreads)
    sgemm_register_tiled_1d(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                            float* __restrict__ C) {
  constexpr int BM = k1dBM, BN = k1dBN, BK = k1dBK, TM = k1dTM;
  __shared__ float As[BM * BK];
  __shared__ float Bs[BK * BN];
  (void)M;
  const int block_row = blockIdx.y, block_col = blockIdx.x;
  A += block_row * BM * K;
  B += block_col * BN;
  C += block_row * BM * N + block_col * BN;

  const int tid = threadIdx.x;
  const int thread_col = tid % BN, thread_row = tid / BN;  // thread_row in [0, BM / TM)
  const int a_row = tid / BK, a_col = tid % BK;
  const int b_row = tid / BN, b_col = tid % BN;

  float acc[TM] = {};
  for (int k0 = 0; k0 < K; k0 += BK) {
    As[a_row * BK + a_col] = A[a_row * K + a_col];
    Bs[b_row * BN + b_col] = B[b_row * N + b_col];
    __syncthreads();
    A += BK;
    B += BK * N;
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      const float b = Bs[k * BN + thread_col];
#pragma unroll
      for (int i = 0; i < TM; ++i) acc[i] += As[(thread_row * TM + i) * BK + k] * b;
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) C[(thread_row * TM + i) * N + thread_col] = acc[i];
}

// ---- 5. 2-D register tiling ---------------------------------------------------------------------------------

inline constexpr int k2dBM = 128, k2dBN = 128, k2dBK = 8, k2dTM = 8, k2dTN = 8;
inline constexpr int k2dThreads = k2dBM * k2dBN / (k2dTM * k2dTN);  // 256

/// Block tile 128x128, thread tile 8x8. The 128x8 A tile and the 8x128 B tile (1024 floats each) take four
/// loads per thread.
__global__ void __launch_bounds__(k2dThreads)
    sgemm_register_tiled_2d(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                            float* __restrict__ C) {
  constexpr int BM = k2dBM, BN = k2dBN, BK = k2dBK, TM = k2dTM, TN = k2dTN;
  constexpr int threads = k2dThreads;
  __shared__ float As[BM * BK];
  __shared__ float Bs[BK * BN];
  (void)M;
  const int block_row = blockIdx.y, block_col = blockIdx.x;
  A += block_row * BM * K;
  B += block_col * BN;
  C += block_row * BM * N + block_col * BN;

  const int tid = threadIdx.x;
  const int thread_row = tid / (BN / TN), thread_col = tid % (BN / TN);
  const int a_row = tid / BK, a_col = tid % BK;
  constexpr int a_row_step = threads / BK;  // 32 rows of the A tile per pass
  const int b_row = tid / BN, b_col = tid % BN;
  constexpr int b_row_step = threads / BN;  // 2 rows of the B tile per pass

  float acc[TM * TN] = {};
  float a_frag[TM], b_frag[TN];
  for (int k0 = 0; k0 < K; k0 += BK) {
#pragma unroll
    for (int r = 0; r < BM; r += a_row_step) As[(a_row + r) * BK + a_col] = A[(a_row + r) * K + a_col];
#pragma unroll
    for (int r = 0; r < BK; r += b_row_step) Bs[(b_row + r) * BN + b_col] = B[(b_row + r) * N + b_col];
    __syncthreads();
    A += BK;
    B += BK * N;
#pragma unroll
    for (int k = 0; k < BK; ++k) {
#pragma unroll
      for (int i = 0; i < TM; ++i) a_frag[i] = As[(thread_row * TM + i) * BK + k];
#pragma unroll
      for (int j = 0; j < TN; ++j) b_frag[j] = Bs[k * BN + thread_col * TN + j];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i * TN + j] += a_frag[i] * b_frag[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) C[(thread_row * TM + i) * N + thread_col * TN + j] = acc[i * TN + j];
}

// ---- 6. vectorised loads, transposed A tile -----------------------------------------------------------------

inline constexpr int kVecBM = 128, kVecBN = 128, kVecBK = 8, kVecTM = 8, kVecTN = 8;
inline constexpr int kVecThreads = kVecBM * kVecBN / (kVecTM * kVecTN);  // 256

/// As rung 5, with every global access a float4: the A tile (128 rows of 2 float4) and the B tile (8 rows of
/// 32 float4) take one float4 load per thread each. A is stored transposed (As[k][m]), so a thread's 8 values
/// of A for one k are contiguous and read as two float4, like its 8 values of B.
__global__ void __launch_bounds__(kVecThreads)
    sgemm_vectorized(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                     float* __restrict__ C) {
  constexpr int BM = kVecBM, BN = kVecBN, BK = kVecBK, TM = kVecTM, TN = kVecTN;
  __shared__ __align__(16) float As[BK * BM];
  __shared__ __align__(16) float Bs[BK * BN];
  (void)M;
  const int block_row = blockIdx.y, block_col = blockIdx.x;
  A += block_row * BM * K;
  B += block_col * BN;
  C += block_row * BM * N + block_col * BN;

  const int tid = threadIdx.x;
  const int thread_row = tid / (BN / TN), thread_col = tid % (BN / TN);
  const int a_row = tid / (BK / 4), a_col4 = tid % (BK / 4);  // a_row in [0, 128), a_col4 in [0, 2)
  const int b_row = tid / (BN / 4), b_col4 = tid % (BN / 4);  // b_row in [0, 8), b_col4 in [0, 32)

  float acc[TM * TN] = {};
  float a_frag[TM], b_frag[TN];
  for (int k0 = 0; k0 < K; k0 += BK) {
    const float4 a4 = reinterpret_cast<const float4*>(&A[a_row * K + a_col4 * 4])[0];
    As[(a_col4 * 4 + 0) * BM + a_row] = a4.x;
    As[(a_col4 * 4 + 1) * BM + a_row] = a4.y;
    As[(a_col4 * 4 + 2) * BM + a_row] = a4.z;
    As[(a_col4 * 4 + 3) * BM + a_row] = a4.w;
    reinterpret_cast<float4*>(&Bs[b_row * BN + b_col4 * 4])[0] =
        reinterpret_cast<const float4*>(&B[b_row * N + b_col4 * 4])[0];
    __syncthreads();
    A += BK;
    B += BK * N;
#pragma unroll
    for (int k = 0; k < BK; ++k) {
#pragma unroll
      for (int i = 0; i < TM; i += 4) {
        const float4 v = reinterpret_cast<const float4*>(&As[k * BM + thread_row * TM + i])[0];
        a_frag[i] = v.x, a_frag[i + 1] = v.y, a_frag[i + 2] = v.z, a_frag[i + 3] = v.w;
      }
#pragma unroll
      for (int j = 0; j < TN; j += 4) {
        const float4 v = reinterpret_cast<const float4*>(&Bs[k * BN + thread_col * TN + j])[0];
        b_frag[j] = v.x, b_frag[j + 1] = v.y, b_frag[j + 2] = v.z, b_frag[j + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i * TN + j] += a_frag[i] * b_frag[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; j += 4) {
      const float* p = &acc[i * TN + j];
      reinterpret_cast<float4*>(&C[(thread_row * TM + i) * N + thread_col * TN + j])[0] =
          make_float4(p[0], p[1], p[2], p[3]);
    }
}

// ---- 7. warp tiling -----------------------------------------------------------------------------------------

/// The shape of rungs 7 and 8: a 128x128 block tile stepped by BK = 16, four warps in a 2x2 grid of 64x64 warp
/// tiles. A warp covers its tile in WM_ITER x WN_ITER = 4 x 2 passes of a 16x32 sub-tile, on which its 32 lanes
/// sit as 4 rows x 8 columns, each computing a 4x4 thread tile. Each thread so holds 4*2*16 = 128 sums.
struct WarpTiling {
  static constexpr int BM = 128, BN = 128, BK = 16;
  static constexpr int WM = 64, WN = 64;
  static constexpr int TM = 4, TN = 4;
  static constexpr int LANE_ROWS = 4, LANE_COLS = 8;
  static constexpr int SUB_M = LANE_ROWS * TM, SUB_N = LANE_COLS * TN;  // 16 x 32
  static constexpr int WM_ITER = WM / SUB_M, WN_ITER = WN / SUB_N;      // 4 x 2
  static constexpr int WARPS_N = BN / WN;
  static constexpr int threads = (BM / WM) * (BN / WN) * 32;  // 128
  // Tile loads: the A tile is BM rows of BK/4 float4, the B tile BK rows of BN/4 float4.
  static constexpr int A_LOADS = BM * BK / 4 / threads;  // 4 float4 per thread
  static constexpr int B_LOADS = BK * BN / 4 / threads;  // 4 float4 per thread
  static constexpr int A_ROW_STEP = threads / (BK / 4);  // 32
  static constexpr int B_ROW_STEP = threads / (BN / 4);  // 4
};

/// One step of the warp-tiled product on tiles already in shared memory (As transposed: As[k * BM + m]).
__device__ __forceinline__ void warp_tile_step(const float* __restrict__ As, const float* __restrict__ Bs,
                                               int warp_row, int warp_col, int lane_row, int lane_col,
                                               float (&acc)[WarpTiling::WM_ITER * WarpTiling::TM *
                                                            WarpTiling::WN_ITER * WarpTiling::TN]) {
  using W = WarpTiling;
  constexpr int row_len = W::WN_ITER * W::TN;  // sums per row of a thread's accumulators
  float a_frag[W::WM_ITER * W::TM], b_frag[W::WN_ITER * W::TN];
#pragma unroll
  for (int k = 0; k < W::BK; ++k) {
#pragma unroll
    for (int wm = 0; wm < W::WM_ITER; ++wm) {
      const float4 v = reinterpret_cast<const float4*>(
          &As[k * W::BM + warp_row * W::WM + wm * W::SUB_M + lane_row * W::TM])[0];
      a_frag[wm * W::TM + 0] = v.x, a_frag[wm * W::TM + 1] = v.y;
      a_frag[wm * W::TM + 2] = v.z, a_frag[wm * W::TM + 3] = v.w;
    }
#pragma unroll
    for (int wn = 0; wn < W::WN_ITER; ++wn) {
      const float4 v = reinterpret_cast<const float4*>(
          &Bs[k * W::BN + warp_col * W::WN + wn * W::SUB_N + lane_col * W::TN])[0];
      b_frag[wn * W::TN + 0] = v.x, b_frag[wn * W::TN + 1] = v.y;
      b_frag[wn * W::TN + 2] = v.z, b_frag[wn * W::TN + 3] = v.w;
    }
#pragma unroll
    for (int i = 0; i < W::WM_ITER * W::TM; ++i)
#pragma unroll
      for (int j = 0; j < row_len; ++j) acc[i * row_len + j] += a_frag[i] * b_frag[j];
  }
}

/// Writes a thread's sums to C (already offset to the block tile) with float4 stores.
__device__ __forceinline__ void warp_tile_store(float* __restrict__ C, int N, int warp_row, int warp_col,
                                                int lane_row, int lane_col,
                                                const float (&acc)[WarpTiling::WM_ITER * WarpTiling::TM *
                                                                   WarpTiling::WN_ITER * WarpTiling::TN]) {
  using W = WarpTiling;
  constexpr int row_len = W::WN_ITER * W::TN;
#pragma unroll
  for (int wm = 0; wm < W::WM_ITER; ++wm)
#pragma unroll
    for (int i = 0; i < W::TM; ++i)
#pragma unroll
      for (int wn = 0; wn < W::WN_ITER; ++wn) {
        const int row = warp_row * W::WM + wm * W::SUB_M + lane_row * W::TM + i;
        const int col = warp_col * W::WN + wn * W::SUB_N + lane_col * W::TN;
        const float* p = &acc[(wm * W::TM + i) * row_len + wn * W::TN];
        reinterpret_cast<float4*>(&C[row * N + col])[0] = make_float4(p[0], p[1], p[2], p[3]);
      }
}

__global__ void __launch_bounds__(WarpTiling::threads)
    sgemm_warp_tiled(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                     float* __restrict__ C) {
  using W = WarpTiling;
  __shared__ __align__(16) float As[W::BK * W::BM];
  __shared__ __align__(16) float Bs[W::BK * W::BN];
  (void)M;
  const int block_row = blockIdx.y, block_col = blockIdx.x;
  A += block_row * W::BM * K;
  B += block_col * W::BN;
  C += block_row * W::BM * N + block_col * W::BN;

  const int tid = threadIdx.x;
  const int warp = tid / 32, lane = tid % 32;
  const int warp_row = warp / W::WARPS_N, warp_col = warp % W::WARPS_N;
  const int lane_row = lane / W::LANE_COLS, lane_col = lane % W::LANE_COLS;
  const int a_row = tid / (W::BK / 4), a_col4 = tid % (W::BK / 4);
  const int b_row = tid / (W::BN / 4), b_col4 = tid % (W::BN / 4);

  float acc[W::WM_ITER * W::TM * W::WN_ITER * W::TN] = {};
  for (int k0 = 0; k0 < K; k0 += W::BK) {
#pragma unroll
    for (int l = 0; l < W::A_LOADS; ++l) {
      const int r = a_row + l * W::A_ROW_STEP;
      const float4 v = reinterpret_cast<const float4*>(&A[r * K + a_col4 * 4])[0];
      As[(a_col4 * 4 + 0) * W::BM + r] = v.x;
      As[(a_col4 * 4 + 1) * W::BM + r] = v.y;
      As[(a_col4 * 4 + 2) * W::BM + r] = v.z;
      As[(a_col4 * 4 + 3) * W::BM + r] = v.w;
    }
#pragma unroll
    for (int l = 0; l < W::B_LOADS; ++l) {
      const int r = b_row + l * W::B_ROW_STEP;
      reinterpret_cast<float4*>(&Bs[r * W::BN + b_col4 * 4])[0] =
          reinterpret_cast<const float4*>(&B[r * N + b_col4 * 4])[0];
    }
    __syncthreads();
    A += W::BK;
    B += W::BK * N;
    warp_tile_step(As, Bs, warp_row, warp_col, lane_row, lane_col, acc);
    __syncthreads();
  }
  warp_tile_store(C, N, warp_row, warp_col, lane_row, lane_col, acc);
}

// ---- 8. double buffering ------------------------------------------------------------------------------------

/// Rung 7 with two shared buffers. Step t multiplies buffer t % 2 while the float4 loads of tile t + 1 are in
/// flight into registers; they are stored into the other buffer afterwards, and one barrier ends the step.
/// (The other buffer was last read in step t - 1, which every thread finished before that step's barrier.)
__global__ void __launch_bounds__(WarpTiling::threads)
    sgemm_double_buffered(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                          float* __restrict__ C) {
  using W = WarpTiling;
  __shared__ __align__(16) float As[2][W::BK * W::BM];
  __shared__ __align__(16) float Bs[2][W::BK * W::BN];
  (void)M;
  const int block_row = blockIdx.y, block_col = blockIdx.x;
  A += block_row * W::BM * K;
  B += block_col * W::BN;
  C += block_row * W::BM * N + block_col * W::BN;

  const int tid = threadIdx.x;
  const int warp = tid / 32, lane = tid % 32;
  const int warp_row = warp / W::WARPS_N, warp_col = warp % W::WARPS_N;
  const int lane_row = lane / W::LANE_COLS, lane_col = lane % W::LANE_COLS;
  const int a_row = tid / (W::BK / 4), a_col4 = tid % (W::BK / 4);
  const int b_row = tid / (W::BN / 4), b_col4 = tid % (W::BN / 4);

  float4 a_next[W::A_LOADS], b_next[W::B_LOADS];
  // Tile k0 of A and B (A and B not advanced: k0 is the column of A and the row of B) into registers.
  auto fetch = [&](int k0) {
#pragma unroll
    for (int l = 0; l < W::A_LOADS; ++l)
      a_next[l] = reinterpret_cast<const float4*>(&A[(a_row + l * W::A_ROW_STEP) * K + k0 + a_col4 * 4])[0];
#pragma unroll
    for (int l = 0; l < W::B_LOADS; ++l)
      b_next[l] = reinterpret_cast<const float4*>(&B[(k0 + b_row + l * W::B_ROW_STEP) * N + b_col4 * 4])[0];
  };
  auto store = [&](float* as, float* bs) {
#pragma unroll
    for (int l = 0; l < W::A_LOADS; ++l) {
      const int r = a_row + l * W::A_ROW_STEP;
      as[(a_col4 * 4 + 0) * W::BM + r] = a_next[l].x;
      as[(a_col4 * 4 + 1) * W::BM + r] = a_next[l].y;
      as[(a_col4 * 4 + 2) * W::BM + r] = a_next[l].z;
      as[(a_col4 * 4 + 3) * W::BM + r] = a_next[l].w;
    }
#pragma unroll
    for (int l = 0; l < W::B_LOADS; ++l)
      reinterpret_cast<float4*>(&bs[(b_row + l * W::B_ROW_STEP) * W::BN + b_col4 * 4])[0] = b_next[l];
  };

  float acc[W::WM_ITER * W::TM * W::WN_ITER * W::TN] = {};
  fetch(0);
  store(As[0], Bs[0]);
  __syncthreads();
  const int steps = K / W::BK;
  for (int t = 0; t < steps; ++t) {
    const int cur = t & 1;
    const bool more = t + 1 < steps;
    if (more) fetch((t + 1) * W::BK);
    warp_tile_step(As[cur], Bs[cur], warp_row, warp_col, lane_row, lane_col, acc);
    if (more) store(As[cur ^ 1], Bs[cur ^ 1]);
    __syncthreads();
  }
  warp_tile_store(C, N, warp_row, warp_col, lane_row, lane_col, acc);
}

}  // namespace tandem::cuda::ladder::kernels

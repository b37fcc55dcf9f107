// CPU reductions: sum, prod, max, min, argmax, argmin, any, all over any set of dims of a strided tensor.
//
// Plan. The dims of size 1 are dropped, the rest are ordered by decreasing input stride (so that the
// innermost one is the unit-stride dim even for transposed views) and adjacent dims of the same kind (kept or
// reduced) that are contiguous in memory are merged. What the innermost dim is then decides the loop:
//   * inner reduction (the innermost dim is reduced, e.g. summing the last dim of [N, D]): every output is the
//     reduction of rows that are contiguous in memory. A row is reduced with many independent lanes that the
//     compiler turns into SIMD code (rows shorter than the lanes take a plain loop). Threads split the
//     outputs; when there are fewer outputs than threads (e.g. a sum of everything), the rows of each output
//     are cut into one piece per thread and the partial results combined in order.
//   * outer reduction (the innermost dim is kept, e.g. summing dim 0 of [N, D]): a block of up to kColumnBlock
//     output columns is accumulated in a local buffer, input row after input row (acc[j] += row[j], which is
//     vectorised and streams through memory), and stored once. When the block is narrow and its rows follow
//     each other in memory ([N, 3] summed over N), the rows are read as one flat array with lanes whose count
//     is a multiple of the width. Threads split the (outer index, column block) units; when there are fewer
//     units than threads, the reduced rows are split into one range per thread, each with its own buffer,
//     combined in order. Extra memory is bounded by threads * kColumnBlock accumulators.
//
// Accuracy: float32 sums add at most 64 values in any float32 accumulator (a row is summed in 64 float32 lanes
// for blocks of kLaneBlock elements, a column block in float32 lanes for kRowBlock rows); the block totals, the
// outputs' accumulators and the partials of threads are carried in double. The error is that of summing ~64
// floats plus a double sum, far below that of a plain float32 loop, at the speed of a float32 loop. float32
// products accumulate in double. Results with several threads may differ from one-thread results in the last
// bits (the partials are combined in a fixed order for a given thread count, so a run is reproducible).
//
// NaN: max/min (and argmax/argmin) propagate NaN (a NaN is larger and smaller than everything; the first NaN
// wins for arg-reductions); any/all treat NaN as true.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"
#include "backends/reduce_checks.h"

namespace tandem::cpu {
namespace {

constexpr int kMaxDims = 16;
/// Inputs with fewer elements than this are reduced on one thread.
constexpr int64_t kReduceGrain = 32768;
/// Output columns accumulated together by an outer reduction. Large enough that the rows of a typical matrix
/// are read whole, front to back (reading short pieces of rows a page apart defeats the hardware prefetchers),
/// small enough that the accumulators stay in the L1 cache.
constexpr int64_t kColumnBlock = 2048;
/// Elements summed in SIMD lanes before the lanes are folded into the (wider) accumulator: 64 per lane.
constexpr int64_t kLaneBlock = 4096;
/// Rows an outer reduction sums into its (possibly narrower) lanes before folding them into the accumulators.
constexpr int64_t kRowBlock = 64;
/// Outer reductions of at most this many contiguous columns read their rows as one flat array.
constexpr int64_t kPeriodicMaxColumns = 32;
constexpr int64_t kPeriodicLanes = 64;

// ---------------------------------------------------------------------------------------------------------------
// Policies: what a reduction does with one element (`step`, on the accumulator type Acc), in SIMD lanes (`lane`,
// on the possibly narrower type Lane) and when two partial results meet (`combine`).
// ---------------------------------------------------------------------------------------------------------------
template <typename T>
inline bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>)
    return x != x;
  else
    return false;
}

template <typename T>
struct SumPolicy {
  using Out = T;
  using Lane = T;
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
  static Lane lane_identity() { return Lane(0); }
  static Acc identity() { return Acc(0); }
  static Lane lane(Lane a, T x) {
    if constexpr (std::is_same_v<T, bool>)
      return a | x;  // bool sums saturate, like bool addition
    else
      return a + x;
  }
  static Lane lane_combine(Lane a, Lane b) { return lane(a, b); }
  static Acc step(Acc a, T x) {
    if constexpr (std::is_same_v<T, bool>)
      return a | x;
    else
      return a + static_cast<Acc>(x);
  }
  static Acc combine(Acc a, Acc b) {
    if constexpr (std::is_same_v<T, bool>)
      return a | b;
    else
      return a + b;
  }
  static Acc fold(Acc a, Lane l) { return combine(a, static_cast<Acc>(l)); }
  static Out finish(Acc a) { return static_cast<Out>(a); }
};

template <typename T>
struct ProdPolicy {
  using Out = T;
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
  using Lane = Acc;
  static Lane lane_identity() { return Lane(1); }
  static Acc identity() { return Acc(1); }
  static Acc step(Acc a, T x) {
    if constexpr (std::is_same_v<T, bool>)
      return a & x;
    else
      return a * static_cast<Acc>(x);
  }
  static Lane lane(Lane a, T x) { return step(a, x); }
  static Acc combine(Acc a, Acc b) {
    if constexpr (std::is_same_v<T, bool>)
      return a & b;
    else
      return a * b;
  }
  static Lane lane_combine(Lane a, Lane b) { return combine(a, b); }
  static Acc fold(Acc a, Lane l) { return combine(a, l); }
  static Out finish(Acc a) { return static_cast<Out>(a); }
};

/// Max (kMax) or min; NaN propagates because a NaN accumulator never compares favourably again.
template <typename T, bool kMax>
struct ExtremumPolicy {
  using Out = T;
  using Lane = T;
  using Acc = T;
  static T lane_identity() { return identity(); }
  static T identity() {
    if constexpr (std::is_same_v<T, bool>)
      return !kMax;
    else if constexpr (std::is_floating_point_v<T>)
      return kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    else
      return kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  }
  static T step(T a, T x) {
    const bool better = kMax ? x > a : x < a;
    return (better || is_nan(x)) ? x : a;
  }
  static T lane(T a, T x) { return step(a, x); }
  static T combine(T a, T b) { return step(a, b); }
  static T lane_combine(T a, T b) { return step(a, b); }
  static T fold(T a, T l) { return step(a, l); }
  static T finish(T a) { return a; }
};

/// any (kAny) or all, on any dtype: an element counts as true when it is not zero.
template <typename T, bool kAny>
struct LogicalPolicy {
  using Out = bool;
  using Lane = uint8_t;
  using Acc = uint8_t;
  static uint8_t lane_identity() { return kAny ? 0 : 1; }
  static uint8_t identity() { return kAny ? 0 : 1; }
  static uint8_t step(uint8_t a, T x) {
    const uint8_t v = x != T(0);
    return kAny ? (a | v) : (a & v);
  }
  static uint8_t lane(uint8_t a, T x) { return step(a, x); }
  static uint8_t combine(uint8_t a, uint8_t b) { return kAny ? (a | b) : (a & b); }
  static uint8_t lane_combine(uint8_t a, uint8_t b) { return combine(a, b); }
  static uint8_t fold(uint8_t a, uint8_t l) { return combine(a, l); }
  static bool finish(uint8_t a) { return a != 0; }
};

// ---------------------------------------------------------------------------------------------------------------
// Geometry
// ---------------------------------------------------------------------------------------------------------------
struct Plan {
  // Kept dims, outermost first: size, input stride, output stride (elements).
  int nk = 0;
  int64_t ksize[kMaxDims] = {}, ksrc[kMaxDims] = {}, kdst[kMaxDims] = {};
  // Reduced dims, outermost first: size, input stride.
  int nr = 0;
  int64_t rsize[kMaxDims] = {}, rsrc[kMaxDims] = {};
  bool inner_reduced = false;  // the innermost dim (smallest input stride) is a reduced one
  int64_t outputs = 1;
  int64_t reduced = 1;  // elements reduced into each output
};

/// Odometer over up to kMaxDims dims (outermost first) tracking an input and an output offset.
struct Walker {
  int n = 0;
  const int64_t* size = nullptr;
  const int64_t* s0 = nullptr;
  const int64_t* s1 = nullptr;  // may be null
  int64_t idx[kMaxDims] = {};
  int64_t off0 = 0, off1 = 0;

  Walker(int n_, const int64_t* size_, const int64_t* s0_, const int64_t* s1_) : n(n_), size(size_), s0(s0_), s1(s1_) {}
  void seek(int64_t linear) {
    off0 = off1 = 0;
    for (int d = n - 1; d >= 0; --d) {
      idx[d] = linear % size[d];
      linear /= size[d];
      off0 += idx[d] * s0[d];
      if (s1) off1 += idx[d] * s1[d];
    }
  }
  void next() {
    for (int d = n - 1; d >= 0; --d) {
      off0 += s0[d];
      if (s1) off1 += s1[d];
      if (++idx[d] < size[d]) return;
      off0 -= s0[d] * size[d];
      if (s1) off1 -= s1[d] * size[d];
      idx[d] = 0;
    }
  }
};

Plan make_plan(const Strided& src, const Strided& dst, const char* op) {
  struct DimInfo {
    int64_t size, src_stride, dst_stride;
    bool reduced;
  };
  DimInfo dims[kMaxDims * 4];
  int count = 0;
  TD_CHECK(src.ndim() <= static_cast<size_t>(kMaxDims * 4), op, ": too many dims (", src.ndim(), ")");
  for (size_t d = 0; d < src.ndim(); ++d) {
    if (src.sizes[d] == 1) continue;
    const bool reduced = dst.sizes[d] != src.sizes[d];
    dims[count++] = DimInfo{src.sizes[d], src.strides[d], reduced ? 0 : dst.strides[d], reduced};
  }
  // Largest stride outermost; broadcast (stride 0) dims count as outermost so that they never end up inner.
  auto key = [](const DimInfo& d) {
    return d.src_stride == 0 ? std::numeric_limits<int64_t>::max() : std::abs(d.src_stride);
  };
  std::stable_sort(dims, dims + count, [&](const DimInfo& a, const DimInfo& b) { return key(a) > key(b); });

  // Merge neighbours of the same kind whose memory is contiguous (outer stride = inner stride * inner size).
  DimInfo merged[kMaxDims * 4];
  int m = 0;
  for (int i = 0; i < count; ++i) {
    if (m > 0) {
      DimInfo& prev = merged[m - 1];
      const DimInfo& cur = dims[i];
      if (prev.reduced == cur.reduced && prev.src_stride == cur.src_stride * cur.size &&
          (cur.reduced || prev.dst_stride == cur.dst_stride * cur.size)) {
        prev.size *= cur.size;
        prev.src_stride = cur.src_stride;
        prev.dst_stride = cur.dst_stride;
        continue;
      }
    }
    merged[m++] = dims[i];
  }
  if (m == 0) merged[m++] = DimInfo{1, 1, 1, false};  // a single element: one kept dim of size 1

  Plan p;
  for (int i = 0; i < m; ++i) {
    const DimInfo& d = merged[i];
    if (d.reduced) {
      TD_CHECK(p.nr < kMaxDims, op, ": too many non-mergeable reduced dims");
      p.rsize[p.nr] = d.size;
      p.rsrc[p.nr++] = d.src_stride;
      p.reduced *= d.size;
    } else {
      TD_CHECK(p.nk < kMaxDims, op, ": too many non-mergeable kept dims");
      p.ksize[p.nk] = d.size;
      p.ksrc[p.nk] = d.src_stride;
      p.kdst[p.nk++] = d.dst_stride;
      p.outputs *= d.size;
    }
  }
  p.inner_reduced = merged[m - 1].reduced;
  return p;
}

int num_threads_for(int64_t work) { return work < kReduceGrain ? 1 : std::max(1, get_num_threads()); }

// ---------------------------------------------------------------------------------------------------------------
// Value reductions (sum, prod, max, min, any, all)
// ---------------------------------------------------------------------------------------------------------------

/// Reduces n elements starting at p with the given stride. Unit-stride rows run in 64 SIMD-friendly lanes.
template <typename P, typename T>
typename P::Acc reduce_row(const T* p, int64_t n, int64_t stride, typename P::Acc acc) {
  using Lane = typename P::Lane;
  constexpr int kLanes = 64;
  if (stride == 1) {
    int64_t i = 0;
    while (n - i >= kLanes) {
      Lane lanes[kLanes];
      for (int j = 0; j < kLanes; ++j) lanes[j] = P::lane_identity();
      const int64_t end = i + std::min<int64_t>(kLaneBlock, (n - i) / kLanes * kLanes);
      for (; i < end; i += kLanes) {
        const T* q = p + i;
        for (int j = 0; j < kLanes; ++j) lanes[j] = P::lane(lanes[j], q[j]);
      }
      for (int w = kLanes / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; ++j) lanes[j] = P::lane_combine(lanes[j], lanes[j + w]);
      acc = P::fold(acc, lanes[0]);
    }
    for (; i < n; ++i) acc = P::step(acc, p[i]);
    return acc;
  }
  for (int64_t i = 0; i < n; ++i) acc = P::step(acc, p[i * stride]);
  return acc;
}

/// Inner reduction: the innermost dim is reduced; every output reduces rows of length L.
template <typename P, typename T>
void reduce_inner(const Plan& p, const T* src, typename P::Out* dst) {
  using Acc = typename P::Acc;
  const int64_t L = p.rsize[p.nr - 1], ls = p.rsrc[p.nr - 1];
  const int nro = p.nr - 1;  // reduced dims other than the innermost
  const int64_t R = p.reduced / std::max<int64_t>(L, 1);

  // Reduces the units [u_begin, u_end) of one output whose input starts at base. Unit u is piece u % pieces
  // (of `piece` elements) of row u / pieces, rows being the multi-indices of the reduced dims but the innermost.
  auto reduce_units = [&](const T* base, int64_t u_begin, int64_t u_end, int64_t pieces, int64_t piece) {
    Acc acc = P::identity();
    Walker rw(nro, p.rsize, p.rsrc, nullptr);
    int64_t r = u_begin / pieces;
    rw.seek(r);
    for (int64_t u = u_begin; u < u_end; ++u) {
      const int64_t row = u / pieces, c = u % pieces;
      if (row != r) {
        rw.next();
        r = row;
      }
      const int64_t begin = c * piece, len = std::max<int64_t>(0, std::min(L, begin + piece) - begin);
      acc = reduce_row<P>(base + rw.off0 + begin * ls, len, ls, acc);
    }
    return acc;
  };

  const int threads = num_threads_for(p.outputs * p.reduced);
  if (p.outputs >= threads) {
    const int64_t grain = std::max<int64_t>(1, kReduceGrain / std::max<int64_t>(p.reduced, 1));
    if (nro == 0 && p.nk == 1 && L < 64) {
      // Many short rows at a fixed distance (e.g. [N, 4] summed over the last dim): a plain loop per output.
      const int64_t ks = p.ksrc[0], kd = p.kdst[0];
      parallel_for(p.outputs, grain, [&](int64_t begin, int64_t end) {
        for (int64_t o = begin; o < end; ++o) {
          const T* q = src + o * ks;
          Acc acc = P::identity();
          for (int64_t l = 0; l < L; ++l) acc = P::step(acc, q[l * ls]);
          dst[o * kd] = P::finish(acc);
        }
      });
      return;
    }
    parallel_for(p.outputs, grain, [&](int64_t begin, int64_t end) {
      Walker kw(p.nk, p.ksize, p.ksrc, p.kdst);
      kw.seek(begin);
      for (int64_t o = begin; o < end; ++o) {
        const Acc acc =
            nro == 0 ? reduce_row<P>(src + kw.off0, L, ls, P::identity()) : reduce_units(src + kw.off0, 0, R, 1, L);
        dst[kw.off1] = P::finish(acc);
        kw.next();
      }
    });
    return;
  }
  // Fewer outputs than threads: cut each output's rows into `threads` ranges of units and combine in order.
  const int64_t pieces = R >= threads ? 1 : (threads + R - 1) / R;
  const int64_t piece = (L + pieces - 1) / pieces;
  const int64_t units = R * pieces;
  std::unique_ptr<Acc[]> partial(new Acc[threads]);  // not std::vector: Acc may be bool
  Walker kw(p.nk, p.ksize, p.ksrc, p.kdst);
  for (int64_t o = 0; o < p.outputs; ++o) {
    const T* base = src + kw.off0;
    parallel_for(threads, 1, [&](int64_t tb, int64_t te) {
      for (int64_t t = tb; t < te; ++t)
        partial[t] = reduce_units(base, units * t / threads, units * (t + 1) / threads, pieces, piece);
    });
    Acc acc = P::identity();
    for (int t = 0; t < threads; ++t) acc = P::combine(acc, partial[t]);
    dst[kw.off1] = P::finish(acc);
    kw.next();
  }
}

/// Outer reduction: the innermost dim is kept; blocks of output columns accumulate input rows.
template <typename P, typename T>
void reduce_outer(const Plan& p, const T* src, typename P::Out* dst) {
  using Acc = typename P::Acc;
  using Lane = typename P::Lane;
  const int64_t C = p.ksize[p.nk - 1], cs = p.ksrc[p.nk - 1], cd = p.kdst[p.nk - 1];
  const int nko = p.nk - 1;  // kept dims other than the column dim
  const int64_t outer = p.outputs / std::max<int64_t>(C, 1);
  const int64_t blocks = (C + kColumnBlock - 1) / kColumnBlock;
  const int64_t units = outer * blocks;

  // acc[0:nb] (op)= rows [r_begin, r_end) of the column block starting at base.
  // acc[0:nb] (op)= rows [r_begin, r_end) of the column block starting at base. Rows are taken kRowBlock at a
  // time into lanes of the policy's Lane type (float32 for float32 sums), which are then folded into acc.
  // Narrow outputs over rows that follow each other in memory ([rows, C] contiguous, C <= kLanes / 2): the
  // block is one flat array, read with lanes whose count is a multiple of C, so lane j always sees column
  // j % C; the lanes are folded per column at the end.
  const bool periodic = p.nr == 1 && cs == 1 && p.rsrc[0] == C && C <= kPeriodicMaxColumns;
  auto accumulate_periodic = [&](const T* base, int64_t r_begin, int64_t r_end, Acc* __restrict acc) {
    const int64_t width = C * (kPeriodicLanes / C);  // lanes in use
    Lane lanes[kPeriodicLanes];
    for (int64_t j = 0; j < C; ++j) acc[j] = P::identity();
    const T* q = base + r_begin * C;
    const int64_t n = (r_end - r_begin) * C;
    int64_t i = 0;
    while (n - i >= width) {
      for (int64_t j = 0; j < width; ++j) lanes[j] = P::lane_identity();
      const int64_t end = i + std::min<int64_t>(kLaneBlock, (n - i) / width * width);
      for (; i < end; i += width)
        for (int64_t j = 0; j < width; ++j) lanes[j] = P::lane(lanes[j], q[i + j]);
      for (int64_t j = 0; j < width; ++j) acc[j % C] = P::fold(acc[j % C], lanes[j]);
    }
    for (; i < n; ++i) acc[i % C] = P::step(acc[i % C], q[i]);
  };

  auto accumulate = [&](const T* base, int64_t nb, int64_t r_begin, int64_t r_end, Acc* __restrict acc) {
    if (periodic) return accumulate_periodic(base, r_begin, r_end, acc);
    Lane lanes[kColumnBlock];
    for (int64_t j = 0; j < nb; ++j) acc[j] = P::identity();
    Walker rw(p.nr, p.rsize, p.rsrc, nullptr);
    rw.seek(r_begin);
    for (int64_t r = r_begin; r < r_end;) {
      const int64_t block_end = std::min(r_end, r + kRowBlock);
      for (int64_t j = 0; j < nb; ++j) lanes[j] = P::lane_identity();
      if (cs == 1) {
        // Four rows per pass over the lanes (same order of operations, a quarter of the loads and stores).
        for (; r + 4 <= block_end; r += 4) {
          const T* __restrict r0 = base + rw.off0;
          rw.next();
          const T* __restrict r1 = base + rw.off0;
          rw.next();
          const T* __restrict r2 = base + rw.off0;
          rw.next();
          const T* __restrict r3 = base + rw.off0;
          rw.next();
          for (int64_t j = 0; j < nb; ++j)
            lanes[j] = P::lane(P::lane(P::lane(P::lane(lanes[j], r0[j]), r1[j]), r2[j]), r3[j]);
        }
      }
      for (; r < block_end; ++r) {
        const T* row = base + rw.off0;
        if (cs == 1) {
          for (int64_t j = 0; j < nb; ++j) lanes[j] = P::lane(lanes[j], row[j]);
        } else {
          for (int64_t j = 0; j < nb; ++j) lanes[j] = P::lane(lanes[j], row[j * cs]);
        }
        rw.next();
      }
      for (int64_t j = 0; j < nb; ++j) acc[j] = P::fold(acc[j], lanes[j]);
    }
  };
  auto unit_origin = [&](int64_t u, int64_t& src_off, int64_t& dst_off, int64_t& nb) {
    Walker ow(nko, p.ksize, p.ksrc, p.kdst);
    ow.seek(u / blocks);
    const int64_t c0 = (u % blocks) * kColumnBlock;
    nb = std::min(kColumnBlock, C - c0);
    src_off = ow.off0 + c0 * cs;
    dst_off = ow.off1 + c0 * cd;
  };

  const int threads = num_threads_for(p.outputs * p.reduced);
  if (units >= threads) {
    const int64_t grain = std::max<int64_t>(1, kReduceGrain / std::max<int64_t>(p.reduced * kColumnBlock, 1));
    parallel_for(units, grain, [&](int64_t begin, int64_t end) {
      Acc acc[kColumnBlock];
      for (int64_t u = begin; u < end; ++u) {
        int64_t so, dof, nb;
        unit_origin(u, so, dof, nb);
        accumulate(src + so, nb, 0, p.reduced, acc);
        for (int64_t j = 0; j < nb; ++j) dst[dof + j * cd] = P::finish(acc[j]);
      }
    });
    return;
  }
  // Fewer units than threads: split the reduced rows of each unit between threads.
  std::unique_ptr<Acc[]> partial(new Acc[static_cast<size_t>(threads) * kColumnBlock]);
  for (int64_t u = 0; u < units; ++u) {
    int64_t so, dof, nb;
    unit_origin(u, so, dof, nb);
    parallel_for(threads, 1, [&](int64_t tb, int64_t te) {
      for (int64_t t = tb; t < te; ++t)
        accumulate(src + so, nb, p.reduced * t / threads, p.reduced * (t + 1) / threads,
                   partial.get() + t * kColumnBlock);
    });
    for (int64_t j = 0; j < nb; ++j) {
      Acc acc = partial[j];
      for (int t = 1; t < threads; ++t) acc = P::combine(acc, partial[t * kColumnBlock + j]);
      dst[dof + j * cd] = P::finish(acc);
    }
  }
}

template <typename P, typename T>
void run_value_reduction(const Plan& p, const Strided& src, const Strided& dst) {
  const T* in = src.ptr<const T>();
  auto* out = static_cast<typename P::Out*>(dst.data);
  if (p.inner_reduced)
    reduce_inner<P>(p, in, out);
  else
    reduce_outer<P>(p, in, out);
}

// ---------------------------------------------------------------------------------------------------------------
// Arg reductions (argmax, argmin): exactly one reduced dim; the first occurrence of the extremum wins, and a
// NaN beats every number (the first NaN wins).
// ---------------------------------------------------------------------------------------------------------------
template <typename T, bool kMax>
inline bool arg_better(T x, T best) {
  if constexpr (std::is_floating_point_v<T>) {
    if (best != best) return false;
    if (x != x) return true;
  }
  return kMax ? x > best : x < best;
}

/// (value, index) of the first extremum of n elements at p (stride s), indices counted from `first`.
template <typename T, bool kMax>
std::pair<T, int64_t> arg_row(const T* p, int64_t n, int64_t s, int64_t first) {
  if (s == 1 && n >= 64) {
    // Two passes: the extremum with vectorised lanes, then the first position holding it.
    using P = ExtremumPolicy<T, kMax>;
    const T m = reduce_row<P>(p, n, 1, p[0]);
    int64_t i = 0;
    if (is_nan(m)) {
      while (!is_nan(p[i])) ++i;
    } else {
      while (!(p[i] == m)) ++i;
    }
    return {m, first + i};
  }
  T best = p[0];
  int64_t idx = 0;
  for (int64_t i = 1; i < n; ++i) {
    const T x = p[i * s];
    if (arg_better<T, kMax>(x, best)) {
      best = x;
      idx = i;
    }
  }
  return {best, first + idx};
}

template <typename T, bool kMax>
void run_arg_reduction(const Plan& p, const Strided& src, const Strided& dst) {
  const T* in = src.ptr<const T>();
  int64_t* out = dst.ptr<int64_t>();
  if (p.nr == 0) {  // the reduced dim has size 1: every index is 0
    Walker kw(p.nk, p.ksize, p.ksrc, p.kdst);
    for (int64_t o = 0; o < p.outputs; ++o, kw.next()) out[kw.off1] = 0;
    return;
  }
  const int64_t L = p.rsize[0], ls = p.rsrc[0];
  const int threads = num_threads_for(p.outputs * L);

  if (p.inner_reduced) {
    if (p.outputs >= threads) {
      parallel_for(p.outputs, std::max<int64_t>(1, kReduceGrain / L), [&](int64_t begin, int64_t end) {
        Walker kw(p.nk, p.ksize, p.ksrc, p.kdst);
        kw.seek(begin);
        for (int64_t o = begin; o < end; ++o, kw.next()) out[kw.off1] = arg_row<T, kMax>(in + kw.off0, L, ls, 0).second;
      });
      return;
    }
    std::vector<std::pair<T, int64_t>> partial(threads);
    Walker kw(p.nk, p.ksize, p.ksrc, p.kdst);
    for (int64_t o = 0; o < p.outputs; ++o, kw.next()) {
      const T* base = in + kw.off0;
      parallel_for(threads, 1, [&](int64_t tb, int64_t te) {
        for (int64_t t = tb; t < te; ++t) {
          const int64_t b = L * t / threads, e = L * (t + 1) / threads;
          partial[t] = arg_row<T, kMax>(base + b * ls, e - b, ls, b);
        }
      });
      std::pair<T, int64_t> best = partial[0];
      for (int t = 1; t < threads; ++t)
        if (arg_better<T, kMax>(partial[t].first, best.first)) best = partial[t];
      out[kw.off1] = best.second;
    }
    return;
  }

  // Outer: columns keep their best value and index while the rows of the reduced dim stream by.
  const int64_t C = p.ksize[p.nk - 1], cs = p.ksrc[p.nk - 1], cd = p.kdst[p.nk - 1];
  const int nko = p.nk - 1;
  const int64_t outer = p.outputs / C;
  const int64_t blocks = (C + kColumnBlock - 1) / kColumnBlock;
  const int64_t units = outer * blocks;
  auto scan = [&](const T* base, int64_t nb, int64_t r_begin, int64_t r_end, T* val, int64_t* idx) {
    for (int64_t j = 0; j < nb; ++j) {
      val[j] = base[r_begin * ls + j * cs];
      idx[j] = r_begin;
    }
    for (int64_t r = r_begin + 1; r < r_end; ++r) {
      const T* row = base + r * ls;
      for (int64_t j = 0; j < nb; ++j) {
        const T x = row[j * cs];
        const bool better = arg_better<T, kMax>(x, val[j]);
        val[j] = better ? x : val[j];
        idx[j] = better ? r : idx[j];
      }
    }
  };
  auto unit_origin = [&](int64_t u, int64_t& src_off, int64_t& dst_off, int64_t& nb) {
    Walker ow(nko, p.ksize, p.ksrc, p.kdst);
    ow.seek(u / blocks);
    const int64_t c0 = (u % blocks) * kColumnBlock;
    nb = std::min(kColumnBlock, C - c0);
    src_off = ow.off0 + c0 * cs;
    dst_off = ow.off1 + c0 * cd;
  };
  if (units >= threads) {
    parallel_for(units, std::max<int64_t>(1, kReduceGrain / (L * kColumnBlock)), [&](int64_t begin, int64_t end) {
      T val[kColumnBlock];
      int64_t idx[kColumnBlock];
      for (int64_t u = begin; u < end; ++u) {
        int64_t so, dof, nb;
        unit_origin(u, so, dof, nb);
        scan(in + so, nb, 0, L, val, idx);
        for (int64_t j = 0; j < nb; ++j) out[dof + j * cd] = idx[j];
      }
    });
    return;
  }
  const int parts = static_cast<int>(std::min<int64_t>(threads, L));
  std::unique_ptr<T[]> val(new T[static_cast<size_t>(parts) * kColumnBlock]);  // not std::vector: T may be bool
  std::unique_ptr<int64_t[]> idx(new int64_t[static_cast<size_t>(parts) * kColumnBlock]);
  for (int64_t u = 0; u < units; ++u) {
    int64_t so, dof, nb;
    unit_origin(u, so, dof, nb);
    parallel_for(parts, 1, [&](int64_t tb, int64_t te) {
      for (int64_t t = tb; t < te; ++t)
        scan(in + so, nb, L * t / parts, L * (t + 1) / parts, val.get() + t * kColumnBlock,
             idx.get() + t * kColumnBlock);
    });
    for (int64_t j = 0; j < nb; ++j) {
      T best = val[j];
      int64_t best_idx = idx[j];
      for (int t = 1; t < parts; ++t) {
        if (arg_better<T, kMax>(val[t * kColumnBlock + j], best)) {
          best = val[t * kColumnBlock + j];
          best_idx = idx[t * kColumnBlock + j];
        }
      }
      out[dof + j * cd] = best_idx;
    }
  }
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Strided& src, const Strided& dst) {
  reduce_checks::check_reduce_args(op, src, dst);
  const char* name = reduce_checks::reduce_op_name(op);
  if (dst.numel() == 0) return;
  if (src.numel() == 0) {  // every output reduces an empty set
    switch (op) {
      case ReduceOp::Sum:
      case ReduceOp::Any:
        return fill(dst, 0);
      case ReduceOp::Prod:
      case ReduceOp::All:
        return fill(dst, 1);
      default:
        throw Error(detail::concat(name, ": cannot reduce over an empty dimension (input shape ", src.sizes,
                                   "); the operation has no identity"));
    }
  }
  const Plan plan = make_plan(src, dst, name);
  visit_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
      case ReduceOp::Sum:
        return run_value_reduction<SumPolicy<T>, T>(plan, src, dst);
      case ReduceOp::Prod:
        return run_value_reduction<ProdPolicy<T>, T>(plan, src, dst);
      case ReduceOp::Max:
        return run_value_reduction<ExtremumPolicy<T, true>, T>(plan, src, dst);
      case ReduceOp::Min:
        return run_value_reduction<ExtremumPolicy<T, false>, T>(plan, src, dst);
      case ReduceOp::Any:
        return run_value_reduction<LogicalPolicy<T, true>, T>(plan, src, dst);
      case ReduceOp::All:
        return run_value_reduction<LogicalPolicy<T, false>, T>(plan, src, dst);
      case ReduceOp::ArgMax:
        return run_arg_reduction<T, true>(plan, src, dst);
      case ReduceOp::ArgMin:
        return run_arg_reduction<T, false>(plan, src, dst);
    }
  });
}

}  // namespace tandem::cpu

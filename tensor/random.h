// The global random generator: a Philox seed plus a running counter offset. Each random op reserves the
// counter blocks it needs, so that results depend only on the seed and the order of random ops — never on
// threads or devices.
#pragma once

#include <cstdint>
#include <utility>

namespace tandem {

struct PhiloxState {
  uint64_t seed;
  uint64_t offset;
};

/// Reserves `blocks` counter blocks of the global stream and returns (seed, first block).
PhiloxState reserve_random_blocks(uint64_t blocks);
/// The current state (for saving) and restoring it.
PhiloxState get_rng_state();
void set_rng_state(PhiloxState state);

}  // namespace tandem

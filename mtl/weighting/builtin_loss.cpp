// The built-in loss-level methods, as the registry knows them.
#include <memory>

#include "mtl/weighting/dwa.h"
#include "mtl/weighting/ew.h"
#include "mtl/weighting/famo.h"
#include "mtl/weighting/gls.h"
#include "mtl/weighting/gradnorm.h"
#include "mtl/weighting/rlw.h"
#include "mtl/weighting/uw.h"

namespace tandem::mtl::detail {

void register_loss_weightings() {
  add_builtin_weighting("ew", [](size_t n, const WeightingOptions& o) { return std::make_shared<EW>(n, o); });
  add_builtin_weighting("fixed", [](size_t n, const WeightingOptions& o) { return std::make_shared<Fixed>(n, o); });
  add_builtin_weighting("uw", [](size_t n, const WeightingOptions& o) { return std::make_shared<UW>(n, o); });
  add_builtin_weighting("dwa", [](size_t n, const WeightingOptions& o) { return std::make_shared<DWA>(n, o); });
  add_builtin_weighting("rlw", [](size_t n, const WeightingOptions& o) { return std::make_shared<RLW>(n, o); });
  add_builtin_weighting("gls", [](size_t n, const WeightingOptions& o) { return std::make_shared<GLS>(n, o); });
  add_builtin_weighting("gradnorm",
                        [](size_t n, const WeightingOptions& o) { return std::make_shared<GradNorm>(n, o); });
  add_builtin_weighting("famo", [](size_t n, const WeightingOptions& o) { return std::make_shared<FAMO>(n, o); });
}

}  // namespace tandem::mtl::detail

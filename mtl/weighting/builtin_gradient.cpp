// The built-in gradient-level methods, as the registry knows them.
#include <memory>

#include "mtl/weighting/aligned_mtl.h"
#include "mtl/weighting/cagrad.h"
#include "mtl/weighting/db_mtl.h"
#include "mtl/weighting/graddrop.h"
#include "mtl/weighting/gradvac.h"
#include "mtl/weighting/imtl.h"
#include "mtl/weighting/mgda.h"
#include "mtl/weighting/nash_mtl.h"
#include "mtl/weighting/pcgrad.h"
#include "mtl/weighting/upgrad.h"

namespace tandem::mtl::detail {

namespace {
template <typename Method>
void add(const std::string& name) {
  add_builtin_weighting(name, [](size_t n, const WeightingOptions& o) { return std::make_shared<Method>(n, o); });
}
}  // namespace

void register_gradient_weightings() {
  add<MGDA>("mgda");
  add<PCGrad>("pcgrad");
  add<CAGrad>("cagrad");
  add<GradVac>("gradvac");
  add<IMTL>("imtl");
  add<AlignedMTL>("aligned_mtl");
  add<NashMTL>("nash_mtl");
  add<DBMTL>("db_mtl");
  add<UPGrad>("upgrad");
  add<GradDrop>("graddrop");
}

}  // namespace tandem::mtl::detail

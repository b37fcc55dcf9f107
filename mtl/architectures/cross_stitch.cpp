// Cross-stitch networks: per-task towers run stage by stage, mixed by learnable T x T units after the chosen
// stages.
#include "mtl/architectures/cross_stitch.h"

#include <algorithm>

#include "tensor/functions.h"

namespace tandem::mtl {

// ---- CrossStitchUnit ------------------------------------------------------------------------------------------

CrossStitchUnitImpl::CrossStitchUnitImpl(int64_t tasks, double self) : num_tasks(tasks), self_weight(self) {
  TD_CHECK(num_tasks >= 1, "CrossStitchUnit: needs at least one task, got ", num_tasks);
  reset();
}

void CrossStitchUnitImpl::reset() {
  const int64_t T = num_tasks;
  std::vector<double> values(static_cast<size_t>(T * T));
  const double diagonal = T > 1 ? self_weight : 1.0;
  const double off_diagonal = T > 1 ? (1.0 - self_weight) / static_cast<double>(T - 1) : 0.0;
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = 0; j < T; ++j) values[static_cast<size_t>(i * T + j)] = i == j ? diagonal : off_diagonal;
  alpha = register_parameter("alpha", tensor(values, kFloat32).reshape({T, T}));
}

std::vector<Tensor> CrossStitchUnitImpl::forward(const std::vector<Tensor>& activations) {
  TD_CHECK(static_cast<int64_t>(activations.size()) == num_tasks, "CrossStitchUnit: got ", activations.size(),
           " activations for ", num_tasks, " tasks");
  for (size_t j = 0; j < activations.size(); ++j) {
    TD_CHECK(activations[j].defined(), "CrossStitchUnit: activation ", j, " is undefined");
    TD_CHECK(activations[j].sizes() == activations[0].sizes(), "CrossStitchUnit: the activation of task ", j,
             " has shape ", activations[j].sizes(), " but that of task 0 has ", activations[0].sizes(),
             "; the towers must have the same structure");
  }
  const Dims shape = activations[0].sizes();
  Tensor stacked = stack(activations, 0).reshape({num_tasks, -1});  // [T, M]
  Tensor mixed = alpha.matmul(stacked);                              // [T, M]
  std::vector<Tensor> out;
  out.reserve(activations.size());
  for (int64_t t = 0; t < num_tasks; ++t) out.push_back(mixed.select(0, t).reshape(shape));
  return out;
}

void CrossStitchUnitImpl::pretty_print(std::ostream& os) const {
  os << "CrossStitchUnit(tasks=" << num_tasks << ", self_weight=" << self_weight << ")";
}

// ---- CrossStitch ----------------------------------------------------------------------------------------------

CrossStitchImpl::CrossStitchImpl(std::vector<std::string> task_names, const ModuleFactory& tower_factory,
                                 const TaskModuleFactory& head_factory, const CrossStitchOptions& opts)
    : MultiTaskModel(std::move(task_names)), options(opts) {
  const std::string arch = "CrossStitch";
  TD_CHECK(options.self_weight() >= 0 && options.self_weight() <= 1, arch, ": self_weight must be in [0, 1], got ",
           options.self_weight());
  TD_CHECK(static_cast<bool>(tower_factory), arch, ": the tower factory is empty");
  auto task_towers = detail::make_task_modules(arch, task_names_, [&](size_t) { return tower_factory(); }, "tower");
  towers = register_module("towers", task_towers.dict);

  // Every child of a tower is a stage.
  num_stages_ = task_towers.list[0]->size();
  TD_CHECK(num_stages_ > 0, arch, ": the tower has no stages (an empty Sequential)");
  const auto reference = task_towers.list[0]->named_parameters();
  for (size_t t = 0; t < num_tasks(); ++t) {
    const nn::Sequential& tower = task_towers.list[t];
    TD_CHECK(tower->size() == num_stages_, arch, ": the tower of task '", task_names_[t], "' has ", tower->size(),
             " stages but that of task '", task_names_[0], "' has ", num_stages_,
             "; the tower factory must build the same structure every time");
    for (size_t s = 0; s < num_stages_; ++s)
      TD_CHECK(tower->ptr(s)->name() == task_towers.list[0]->ptr(s)->name(), arch, ": stage ", s,
               " of the tower of task '", task_names_[t], "' is a ", tower->ptr(s)->name(), " but that of task '",
               task_names_[0], "' is a ", task_towers.list[0]->ptr(s)->name(),
               "; the tower factory must build the same structure every time");
    const auto named = tower->named_parameters();
    TD_CHECK(named.keys() == reference.keys(), arch, ": the tower of task '", task_names_[t],
             "' has other parameters than that of task '", task_names_[0],
             "'; the tower factory must build the same structure every time");
    for (const auto& [name, parameter] : reference)
      TD_CHECK(named[name].sizes() == parameter.sizes(), arch, ": parameter '", name, "' has shape ",
               named[name].sizes(), " in the tower of task '", task_names_[t], "' but ", parameter.sizes(),
               " in that of task '", task_names_[0], "'; the tower factory must build the same structure every time");
  }
  tower_list_ = std::move(task_towers.list);

  // Where the units go.
  stitched_ = options.stitch_after();
  if (stitched_.empty())
    for (size_t s = 0; s < num_stages_; ++s) stitched_.push_back(s);
  std::sort(stitched_.begin(), stitched_.end());
  for (size_t i = 0; i < stitched_.size(); ++i) {
    TD_CHECK(stitched_[i] < num_stages_, arch, ": stitch_after names stage ", stitched_[i], " but the towers have ",
             num_stages_, " stages");
    TD_CHECK(i == 0 || stitched_[i] != stitched_[i - 1], arch, ": stitch_after names stage ", stitched_[i], " twice");
  }
  for (size_t i = 0; i < stitched_.size(); ++i) {
    CrossStitchUnit unit(static_cast<int64_t>(num_tasks()), options.self_weight());
    stitches->push_back(unit);
    units_.push_back(unit);
  }
  register_module("stitches", stitches);

  auto task_heads = detail::make_task_modules(arch, task_names_, head_factory, "head");
  heads = register_module("heads", task_heads.dict);
  head_list_ = std::move(task_heads.list);
  detail::check_distinct_parameters(arch, *this);
}

std::vector<Tensor> CrossStitchImpl::forward(const Tensor& input) {
  detail::check_batched_input("CrossStitch", input);
  return detail::with_input_context("CrossStitch", input, [&] {
    std::vector<Tensor> h(num_tasks(), input);
    size_t begin = 0;  // the first stage not yet run
    for (size_t u = 0; u < stitched_.size(); ++u) {
      const size_t end = stitched_[u] + 1;
      for (size_t t = 0; t < num_tasks(); ++t) h[t] = tower_list_[t]->forward_range(h[t], begin, end);
      h = units_[u]->forward(h);
      begin = end;
    }
    for (size_t t = 0; t < num_tasks(); ++t) h[t] = tower_list_[t]->forward_range(h[t], begin, num_stages_);
    for (size_t t = 0; t < num_tasks(); ++t) h[t] = head_list_[t]->forward(h[t]);
    return h;
  });
}

std::vector<Tensor> CrossStitchImpl::task_parameters(size_t task) const {
  TD_CHECK(task < num_tasks(), "CrossStitch: task ", task, " is out of range for ", num_tasks(), " tasks");
  std::vector<Tensor> params;
  for (size_t s = stitched_.back() + 1; s < num_stages_; ++s)
    detail::append_parameters(params, *tower_list_[task]->ptr(s));
  detail::append_parameters(params, *head_list_[task]);
  return params;
}

void CrossStitchImpl::pretty_print(std::ostream& os) const {
  os << "CrossStitch(tasks=" << detail::join_names(task_names_) << ", stages=" << num_stages_ << ", stitch_after=[";
  for (size_t i = 0; i < stitched_.size(); ++i) os << (i ? ", " : "") << stitched_[i];
  os << "])";
}

}  // namespace tandem::mtl

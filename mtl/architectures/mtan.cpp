// MTAN: shared stages, per-task sigmoid attention masks over each stage's output, per-task heads.
#include "mtl/architectures/mtan.h"

#include "nn/modules/activation.h"
#include "nn/modules/conv.h"
#include "nn/modules/linear.h"
#include "nn/modules/normalization.h"
#include "tensor/functions.h"

namespace tandem::mtl {

AttentionFactory linear_attention() {
  return [](size_t, int64_t in_channels, int64_t out_channels) {
    return nn::Sequential(nn::Linear(in_channels, out_channels));
  };
}

AttentionFactory conv_attention() {
  return [](size_t, int64_t in_channels, int64_t out_channels) {
    return nn::Sequential(nn::Conv2d(in_channels, out_channels, 1), nn::BatchNorm2d(out_channels), nn::ReLU(),
                          nn::Conv2d(out_channels, out_channels, 1), nn::BatchNorm2d(out_channels));
  };
}

MTANImpl::MTANImpl(std::vector<std::string> task_names, std::vector<nn::Sequential> stage_modules,
                   const TaskModuleFactory& head_factory, const MTANOptions& opts,
                   const AttentionFactory& attention_factory)
    : MultiTaskModel(std::move(task_names)), options(opts) {
  const auto& channels = options.stage_channels();
  TD_CHECK(!stage_modules.empty(), "MTAN: needs at least one stage");
  TD_CHECK(channels.size() == stage_modules.size(), "MTAN: stage_channels has ", channels.size(),
           " entries for ", stage_modules.size(), " stages");
  for (size_t s = 0; s < channels.size(); ++s)
    TD_CHECK(channels[s] >= 1, "MTAN: stage_channels[", s, "] must be >= 1, got ", channels[s]);
  TD_CHECK(static_cast<bool>(attention_factory), "MTAN: the attention factory is empty");
  for (size_t s = 0; s < stage_modules.size(); ++s) {
    TD_CHECK(!stage_modules[s].is_empty(), "MTAN: stage ", s, " is empty");
    stages->push_back(stage_modules[s]);
  }
  register_module("stages", stages);
  stage_list_ = std::move(stage_modules);

  for (size_t t = 0; t < num_tasks(); ++t) {
    nn::ModuleList task_attention;
    std::vector<nn::Sequential> modules;
    for (size_t s = 0; s < stage_list_.size(); ++s) {
      const int64_t in_channels = s == 0 ? channels[0] : channels[s] + channels[s - 1];
      nn::Sequential module = attention_factory(s, in_channels, channels[s]);
      TD_CHECK(!module.is_empty(), "MTAN: the attention factory returned an empty module for stage ", s);
      task_attention->push_back(module);
      modules.push_back(module);
    }
    detail::check_task_name("MTAN", task_names_[t]);
    attention->insert(task_names_[t], task_attention);
    attention_list_.push_back(std::move(modules));
  }
  register_module("attention", attention);

  auto task_heads = detail::make_task_modules("MTAN", task_names_, head_factory, "head");
  heads = register_module("heads", task_heads.dict);
  head_list_ = std::move(task_heads.list);
  detail::check_distinct_parameters("MTAN", *this);
}

namespace {
/// `previous` (task attended features of the stage before) brought to the resolution of `current`.
Tensor match_resolution(const Tensor& previous, const Tensor& current, size_t stage) {
  if (previous.dim() == current.dim()) {
    bool same = true;
    for (int64_t d = 2; d < current.dim(); ++d) same = same && previous.size(d) == current.size(d);
    if (same) return previous;
  }
  TD_CHECK(previous.dim() == 4 && current.dim() == 4 && previous.size(2) % current.size(2) == 0 &&
               previous.size(3) % current.size(3) == 0,
           "MTAN: at stage ", stage, " the attended features of the previous stage, ", previous.sizes(),
           ", cannot be concatenated with the stage output ", current.sizes(),
           " (the dims after the channels must match, or for images divide evenly)");
  const int64_t kh = previous.size(2) / current.size(2), kw = previous.size(3) / current.size(3);
  return avg_pool2d(previous, {kh, kw});
}
}  // namespace

std::vector<Tensor> MTANImpl::run(const Tensor& input, const std::vector<size_t>& tasks,
                                  std::vector<std::vector<Tensor>>* masks) {
  detail::check_batched_input("MTAN", input);
  return detail::with_input_context("MTAN", input, [&] {
    const auto& channels = options.stage_channels();
    std::vector<Tensor> attended(num_tasks());
    if (masks) masks->assign(num_tasks(), {});
    Tensor u = input;
    for (size_t s = 0; s < stage_list_.size(); ++s) {
      u = stage_list_[s]->forward(u);
      TD_CHECK(u.dim() >= 2 && u.size(1) == channels[s], "MTAN: stage ", s, " returned shape ", u.sizes(),
               " but stage_channels[", s, "] = ", channels[s], " (the size of dim 1)");
      for (size_t t : tasks) {
        Tensor att_input = s == 0 ? u : cat({u, match_resolution(attended[t], u, s)}, 1);
        Tensor mask = attention_list_[t][s]->forward(att_input).sigmoid();
        TD_CHECK(mask.sizes() == u.sizes(), "MTAN: the attention of task '", task_names_[t], "' at stage ", s,
                 " gives a mask of shape ", mask.sizes(), " but the stage output is ", u.sizes());
        attended[t] = mask * u;
        if (masks) (*masks)[t].push_back(mask);
      }
    }
    std::vector<Tensor> outputs(num_tasks());
    for (size_t t : tasks) outputs[t] = head_list_[t]->forward(attended[t]);
    return outputs;
  });
}

std::vector<Tensor> MTANImpl::forward(const Tensor& input) {
  std::vector<size_t> all(num_tasks());
  for (size_t t = 0; t < all.size(); ++t) all[t] = t;
  return run(input, all, nullptr);
}

Tensor MTANImpl::forward_task(const Tensor& input, size_t task) {
  TD_CHECK(task < num_tasks(), "MTAN: task ", task, " is out of range for ", num_tasks(), " tasks");
  return run(input, {task}, nullptr)[task];
}

std::vector<std::vector<Tensor>> MTANImpl::masks(const Tensor& input) {
  std::vector<size_t> all(num_tasks());
  for (size_t t = 0; t < all.size(); ++t) all[t] = t;
  std::vector<std::vector<Tensor>> out;
  run(input, all, &out);
  return out;
}

std::vector<Tensor> MTANImpl::task_parameters(size_t task) const {
  TD_CHECK(task < num_tasks(), "MTAN: task ", task, " is out of range for ", num_tasks(), " tasks");
  std::vector<Tensor> params;
  for (const auto& module : attention_list_[task]) detail::append_parameters(params, *module);
  detail::append_parameters(params, *head_list_[task]);
  return params;
}

void MTANImpl::pretty_print(std::ostream& os) const {
  os << "MTAN(tasks=" << detail::join_names(task_names_) << ", stages=" << stage_list_.size() << ", stage_channels=[";
  const auto& channels = options.stage_channels();
  for (size_t s = 0; s < channels.size(); ++s) os << (s ? ", " : "") << channels[s];
  os << "])";
}

}  // namespace tandem::mtl

// Gradient norms, cosines and conflicts per step and per epoch, and label relatedness (see diagnostics.h).
#include "mtl/diagnostics.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

Tensor cosine_from_gramian(const Tensor& gramian) {
  TD_CHECK(gramian.defined() && gramian.dim() == 2 && gramian.size(0) == gramian.size(1),
           "cosine_from_gramian: expected a square [T, T] Gramian, got ", gramian.defined() ? gramian.sizes() : Dims{});
  NoGradGuard no_grad;
  const int64_t T = gramian.size(0);
  const Tensor K = gramian.detach().to(Device(kCPU), kFloat64).contiguous();
  const double* k = K.data_ptr<double>();
  Tensor cosine = zeros({T, T}, kFloat64);
  double* c = cosine.data_ptr<double>();
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = 0; j < T; ++j) {
      const double norms = std::sqrt(k[i * T + i]) * std::sqrt(k[j * T + j]);
      if (norms > 0) c[i * T + j] = i == j ? 1.0 : std::clamp(k[i * T + j] / norms, -1.0, 1.0);
    }
  return cosine;
}

GradientStats gradient_stats(const TaskGradients& gradients, const std::vector<std::string>& block_names) {
  TD_CHECK(gradients.num_tasks() > 0, "gradient_stats: the TaskGradients hold nothing (compute() has not run)");
  const std::vector<int64_t>& offsets = gradients.offsets();
  const size_t blocks = offsets.size() - 1;
  TD_CHECK(block_names.empty() || block_names.size() == blocks, "gradient_stats: ", block_names.size(),
           " block names for ", blocks, " shared inputs");
  const auto T = static_cast<int64_t>(gradients.num_tasks());

  GradientStats stats;
  Tensor gramian = zeros({T, T}, kFloat64);
  for (size_t b = 0; b < blocks; ++b) {
    const Tensor block = gradients.gramian(offsets[b], offsets[b + 1]);
    gramian = gramian + block;  // the Gramian of all columns is the sum of the blocks' Gramians
    stats.block_cosine.push_back(cosine_from_gramian(block));
    stats.block_names.push_back(block_names.empty() ? "block" + std::to_string(b) : block_names[b]);
  }
  const Tensor K = gramian.contiguous();
  for (int64_t t = 0; t < T; ++t) stats.norms.push_back(std::sqrt(std::max(0.0, K.data_ptr<double>()[t * T + t])));
  stats.cosine = cosine_from_gramian(K);
  stats.conflicts = stats.cosine.lt(0.0);
  return stats;
}

ConflictTracker::ConflictTracker(std::vector<std::string> task_names) : task_names_(std::move(task_names)) {
  TD_CHECK(!task_names_.empty(), "ConflictTracker: no task names");
  reset();
}

void ConflictTracker::reset() {
  const size_t T = task_names_.size();
  steps_ = 0;
  block_names_.clear();
  cosine_sum_.assign(T * T, 0.0);
  conflict_count_.assign(T * T, 0);
  block_conflict_count_.clear();
  norm_sum_.assign(T, 0.0);
}

void ConflictTracker::update(const GradientStats& stats) {
  const size_t T = task_names_.size();
  TD_CHECK(stats.num_tasks() == T && stats.cosine.defined() && stats.cosine.numel() == static_cast<int64_t>(T * T),
           "ConflictTracker::update: stats of ", stats.num_tasks(), " tasks for a tracker of ", T);
  TD_CHECK(stats.block_cosine.size() == stats.block_names.size(),
           "ConflictTracker::update: ", stats.block_cosine.size(), " block cosine matrices for ",
           stats.block_names.size(), " block names");
  if (steps_ == 0) {
    block_names_ = stats.block_names;
    block_conflict_count_.assign(block_names_.size(), 0);
  } else {
    TD_CHECK(stats.block_names == block_names_, "ConflictTracker::update: the blocks changed between steps (",
             stats.block_names.size(), " blocks now, ", block_names_.size(), " before)");
  }
  const Tensor cosine = stats.cosine.to(Device(kCPU), kFloat64).contiguous();
  const double* c = cosine.data_ptr<double>();
  for (size_t k = 0; k < T * T; ++k) {
    cosine_sum_[k] += c[k];
    if (k / T != k % T && c[k] < 0) ++conflict_count_[k];
  }
  for (size_t b = 0; b < block_names_.size(); ++b) {
    const Tensor block = stats.block_cosine[b].to(Device(kCPU), kFloat64).contiguous();
    TD_CHECK(block.numel() == static_cast<int64_t>(T * T), "ConflictTracker::update: the cosine matrix of block ",
             block_names_[b], " has shape ", block.sizes(), ", expected [", T, ", ", T, "]");
    const double* bc = block.data_ptr<double>();
    for (size_t i = 0; i < T; ++i)
      for (size_t j = i + 1; j < T; ++j)
        if (bc[i * T + j] < 0) ++block_conflict_count_[b];
  }
  for (size_t t = 0; t < T; ++t) norm_sum_[t] += stats.norms[t];
  ++steps_;
}

void ConflictTracker::check_steps(const char* what) const {
  TD_CHECK(steps_ > 0, "ConflictTracker::", what, ": no step recorded since the last reset");
}

Tensor ConflictTracker::mean_cosine() const {
  check_steps("mean_cosine");
  const auto T = static_cast<int64_t>(task_names_.size());
  std::vector<double> mean(cosine_sum_);
  for (double& v : mean) v /= static_cast<double>(steps_);
  return tensor(mean, kFloat64).reshape({T, T});
}

Tensor ConflictTracker::conflict_rates() const {
  check_steps("conflict_rates");
  const auto T = static_cast<int64_t>(task_names_.size());
  std::vector<double> rates;
  for (int64_t count : conflict_count_) rates.push_back(static_cast<double>(count) / static_cast<double>(steps_));
  return tensor(rates, kFloat64).reshape({T, T});
}

double ConflictTracker::conflict_rate() const {
  check_steps("conflict_rate");
  const size_t T = task_names_.size();
  const size_t pairs = T * (T - 1) / 2;
  if (pairs == 0) return 0.0;
  int64_t conflicts = 0;
  for (size_t i = 0; i < T; ++i)
    for (size_t j = i + 1; j < T; ++j) conflicts += conflict_count_[i * T + j];
  return static_cast<double>(conflicts) / (static_cast<double>(pairs) * static_cast<double>(steps_));
}

std::vector<double> ConflictTracker::block_conflict_rates() const {
  check_steps("block_conflict_rates");
  const size_t T = task_names_.size();
  const double cases = static_cast<double>(T * (T - 1) / 2) * static_cast<double>(steps_);
  std::vector<double> rates;
  for (int64_t count : block_conflict_count_) rates.push_back(cases > 0 ? static_cast<double>(count) / cases : 0.0);
  return rates;
}

std::vector<double> ConflictTracker::mean_norms() const {
  check_steps("mean_norms");
  std::vector<double> means(norm_sum_);
  for (double& v : means) v /= static_cast<double>(steps_);
  return means;
}

std::map<std::string, double> ConflictTracker::summary() const {
  std::map<std::string, double> out;
  if (steps_ == 0) return out;
  const size_t T = task_names_.size();
  const double steps = static_cast<double>(steps_);
  for (size_t i = 0; i < T; ++i)
    for (size_t j = i + 1; j < T; ++j) {
      const std::string pair = task_names_[i] + "." + task_names_[j];
      out["cos." + pair] = cosine_sum_[i * T + j] / steps;
      out["conflict." + pair] = static_cast<double>(conflict_count_[i * T + j]) / steps;
    }
  out["conflict_rate"] = conflict_rate();
  const std::vector<double> blocks = block_conflict_rates();
  for (size_t b = 0; b < blocks.size(); ++b) out["conflict_rate." + block_names_[b]] = blocks[b];
  const std::vector<double> norms = mean_norms();
  for (size_t t = 0; t < T; ++t) out["grad_norm." + task_names_[t]] = norms[t];
  return out;
}

Tensor relatedness(const std::vector<Tensor>& labels) {
  TD_CHECK(!labels.empty(), "relatedness: no label tensors");
  for (size_t t = 0; t < labels.size(); ++t) {
    TD_CHECK(labels[t].defined() && labels[t].dim() == 1 && labels[t].dtype() == kInt64, "relatedness: labels of task ",
             t, " must be int64 [N], got ", labels[t].defined() ? labels[t].dtype() : kInt64, " ",
             labels[t].defined() ? labels[t].sizes() : Dims{});
    TD_CHECK(labels[t].size(0) == labels[0].size(0), "relatedness: task ", t, " has ", labels[t].size(0),
             " labels but task 0 has ", labels[0].size(0));
  }
  const int64_t N = labels[0].size(0);
  TD_CHECK(N > 0, "relatedness: no samples");
  NoGradGuard no_grad;
  const auto T = static_cast<int64_t>(labels.size());
  std::vector<Tensor> host;
  for (const Tensor& l : labels) host.push_back(l.to(Device(kCPU)).contiguous());
  std::vector<double> agreement(static_cast<size_t>(T * T), 1.0);
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = i + 1; j < T; ++j) {
      const int64_t* a = host[static_cast<size_t>(i)].data_ptr<int64_t>();
      const int64_t* b = host[static_cast<size_t>(j)].data_ptr<int64_t>();
      int64_t same = 0;
      for (int64_t n = 0; n < N; ++n) same += a[n] == b[n];
      const double r = static_cast<double>(same) / static_cast<double>(N);
      agreement[static_cast<size_t>(i * T + j)] = agreement[static_cast<size_t>(j * T + i)] = r;
    }
  return tensor(agreement, kFloat64).reshape({T, T});
}

}  // namespace tandem::mtl

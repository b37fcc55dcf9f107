// The samplers: sequential order, a fresh uniform permutation per epoch, and weighted draws with or without
// replacement.
#include "nn/data/samplers.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <utility>

#include "nn/data/random.h"
#include "tensor/functions.h"

namespace tandem::nn::data {

// ---- SequentialSampler ------------------------------------------------------------------------------------------

SequentialSampler::SequentialSampler(size_t size) : size_(size) {}

std::vector<size_t> SequentialSampler::indices(uint64_t /*epoch*/) const {
  std::vector<size_t> order(size_);
  std::iota(order.begin(), order.end(), size_t{0});
  return order;
}

std::string SequentialSampler::name() const { return detail::concat("SequentialSampler(size=", size_, ")"); }

// ---- RandomSampler ----------------------------------------------------------------------------------------------

RandomSampler::RandomSampler(size_t size, uint64_t seed) : size_(size), seed_(seed) {}

std::vector<size_t> RandomSampler::indices(uint64_t epoch) const {
  std::vector<size_t> order(size_);
  std::iota(order.begin(), order.end(), size_t{0});
  // Fisher-Yates: position i - 1 takes a uniformly chosen element of the first i.
  std::mt19937_64 rng(derive_seed(seed_, {epoch}));
  for (size_t i = size_; i > 1; --i) std::swap(order[i - 1], order[uniform_index(rng, i)]);
  return order;
}

std::string RandomSampler::name() const { return detail::concat("RandomSampler(size=", size_, ", seed=", seed_, ")"); }

// ---- WeightedRandomSampler --------------------------------------------------------------------------------------

WeightedRandomSampler::WeightedRandomSampler(std::vector<double> weights, size_t num_samples, bool replacement,
                                             uint64_t seed)
    : weights_(std::move(weights)), num_samples_(num_samples), replacement_(replacement), seed_(seed) {
  TD_CHECK(!weights_.empty(), "WeightedRandomSampler: weights are empty");
  size_t positive = 0;
  double total = 0;
  cumulative_.resize(weights_.size());
  for (size_t i = 0; i < weights_.size(); ++i) {
    const double w = weights_[i];
    TD_CHECK(std::isfinite(w) && w >= 0, "WeightedRandomSampler: weight ", i, " is ", w,
             " but weights must be finite and non-negative");
    positive += w > 0;
    total += w;
    cumulative_[i] = total;
  }
  TD_CHECK(positive > 0, "WeightedRandomSampler: all ", weights_.size(), " weights are zero");
  TD_CHECK(std::isfinite(total), "WeightedRandomSampler: the weights add up to ", total);
  TD_CHECK(replacement_ || num_samples_ <= positive, "WeightedRandomSampler: cannot draw ", num_samples_,
           " indices without replacement when only ", positive, " of the ", weights_.size(), " weights are positive");
}

WeightedRandomSampler::WeightedRandomSampler(const Tensor& weights, size_t num_samples, bool replacement, uint64_t seed)
    : WeightedRandomSampler(
          [&] {
            TD_CHECK(weights.defined(), "WeightedRandomSampler: weights are undefined");
            TD_CHECK(weights.dim() == 1, "WeightedRandomSampler: weights must be 1-D, got shape ", weights.sizes());
            return weights.to_vector<double>();
          }(),
          num_samples, replacement, seed) {}

std::vector<size_t> WeightedRandomSampler::indices(uint64_t epoch) const {
  std::mt19937_64 rng(derive_seed(seed_, {epoch}));
  std::vector<size_t> out;
  out.reserve(num_samples_);
  if (replacement_) {
    // Inverse CDF: the first index whose running sum exceeds u * total. Zero weights have empty intervals.
    const double total = cumulative_.back();
    for (size_t k = 0; k < num_samples_; ++k) {
      const double u = uniform_real(rng) * total;
      auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
      size_t i = std::min(static_cast<size_t>(it - cumulative_.begin()), weights_.size() - 1);
      while (weights_[i] == 0) --i;  // u rounded onto the end of a run of zero weights: take the last positive one
      out.push_back(i);
    }
    return out;
  }
  // Without replacement (Efraimidis and Spirakis, 2006): give index i the key log(u_i) / w_i for a uniform u_i
  // and take the num_samples largest keys in decreasing order; this has the distribution of drawing one index at
  // a time proportionally to the remaining weights.
  std::vector<std::pair<double, size_t>> keys;
  keys.reserve(weights_.size());
  for (size_t i = 0; i < weights_.size(); ++i) {
    const double u = uniform_real(rng);
    if (weights_[i] > 0) keys.emplace_back(std::log1p(-u) / weights_[i], i);  // log(1 - u): 1 - u is in (0, 1]
  }
  std::partial_sort(
      keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(num_samples_), keys.end(),
      [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  for (size_t k = 0; k < num_samples_; ++k) out.push_back(keys[k].second);
  return out;
}

std::string WeightedRandomSampler::name() const {
  return detail::concat("WeightedRandomSampler(weights=", weights_.size(), ", num_samples=", num_samples_,
                        ", replacement=", replacement_ ? "true" : "false", ", seed=", seed_, ")");
}

}  // namespace tandem::nn::data

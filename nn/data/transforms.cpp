// The per-sample transforms: Normalize, RandomCrop, RandomHorizontalFlip, Compose and Lambda.
#include "nn/data/transforms.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "nn/data/random.h"
#include "tensor/functions.h"

namespace tandem::nn::data {
namespace {

std::string list_str(const std::vector<double>& values) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < values.size(); ++i) os << (i ? ", " : "") << values[i];
  os << ']';
  return os.str();
}

/// Checks what every image transform needs: a defined tensor of rank >= 2 on the CPU.
void check_image(const Tensor& x, const std::string& op) {
  TD_CHECK(x.defined(), op, ": the input tensor is undefined");
  TD_CHECK(x.dim() >= 2, op, ": expected an image [C, H, W] or [H, W], got shape ", x.sizes());
  TD_CHECK(x.device().is_cpu(), op, ": expected a CPU tensor, got one on ", x.device());
}

std::mt19937_64 sample_rng(uint64_t seed, const SampleKey& key) {
  return std::mt19937_64(derive_seed(seed, {key.epoch, key.index, key.stream}));
}

}  // namespace

// ---- Normalize --------------------------------------------------------------------------------------------------

Normalize::Normalize(std::vector<double> mean, std::vector<double> stddev)
    : mean_(std::move(mean)), std_(std::move(stddev)) {
  TD_CHECK(!mean_.empty() && !std_.empty(), "Normalize: mean and std need at least one value each, got ",
           list_str(mean_), " and ", list_str(std_));
  TD_CHECK(mean_.size() == 1 || std_.size() == 1 || mean_.size() == std_.size(), "Normalize: mean ", list_str(mean_),
           " and std ", list_str(std_), " have different numbers of channels");
  for (double m : mean_) TD_CHECK(std::isfinite(m), "Normalize: mean ", list_str(mean_), " has a non-finite value");
  for (double s : std_)
    TD_CHECK(std::isfinite(s) && s != 0, "Normalize: every std must be finite and nonzero, got ", list_str(std_));
}

Tensor Normalize::apply(const Tensor& x, const SampleKey& /*key*/) const {
  check_image(x, "Normalize");
  TD_CHECK(x.is_floating_point(), "Normalize: expected a floating tensor, got ", x.dtype(), " of shape ", x.sizes());
  const int64_t channels = x.dim() == 2 ? 1 : x.size(-3);
  for (const auto* values : {&mean_, &std_})
    TD_CHECK(values->size() == 1 || static_cast<int64_t>(values->size()) == channels,
             "Normalize: ", (values == &mean_ ? "mean " : "std "), list_str(*values), " has ", values->size(),
             " values but the input of shape ", x.sizes(), " has ", channels, " channel(s)");
  // one value per channel, laid out to broadcast over [C, H, W]
  auto per_channel = [&](const std::vector<double>& values) {
    Tensor t = tensor(values, TensorOptions(x.dtype()));
    return values.size() == 1 ? t.reshape({1, 1}) : t.reshape({channels, 1, 1});
  };
  return (x - per_channel(mean_)) / per_channel(std_);
}

std::string Normalize::name() const { return "Normalize(mean=" + list_str(mean_) + ", std=" + list_str(std_) + ")"; }

// ---- RandomCrop -------------------------------------------------------------------------------------------------

RandomCrop::RandomCrop(ExpandingArray2 size, int64_t padding, uint64_t seed)
    : size_(size), padding_(padding), seed_(seed) {
  TD_CHECK(size_[0] > 0 && size_[1] > 0, "RandomCrop: size must be positive, got ", size_);
  TD_CHECK(padding_ >= 0, "RandomCrop: padding must be non-negative, got ", padding_);
}

Tensor RandomCrop::apply(const Tensor& x, const SampleKey& key) const {
  check_image(x, "RandomCrop");
  const int64_t hd = x.dim() - 2, wd = x.dim() - 1;  // the height and width dims
  const int64_t height = x.size(hd), width = x.size(wd);
  const int64_t crop_h = size_[0], crop_w = size_[1], pad = padding_;
  TD_CHECK(height + 2 * pad >= crop_h && width + 2 * pad >= crop_w, "RandomCrop: cannot cut a ", size_,
           " window out of an input of shape ", x.sizes(), " padded by ", pad, " (", height + 2 * pad, " x ",
           width + 2 * pad, ")");
  std::mt19937_64 rng = sample_rng(seed_, key);
  // The window's top-left corner, in the coordinates of the unpadded input (negative inside the padding).
  const int64_t top =
      static_cast<int64_t>(uniform_index(rng, static_cast<uint64_t>(height + 2 * pad - crop_h + 1))) - pad;
  const int64_t left =
      static_cast<int64_t>(uniform_index(rng, static_cast<uint64_t>(width + 2 * pad - crop_w + 1))) - pad;

  Dims out_shape = x.sizes();
  out_shape[static_cast<size_t>(hd)] = crop_h;
  out_shape[static_cast<size_t>(wd)] = crop_w;
  Tensor out = zeros(out_shape, TensorOptions(x.dtype()));
  // Copy the part of the window that overlaps the input; the rest stays zero (the padding).
  const int64_t r0 = std::max<int64_t>(top, 0), r1 = std::min(height, top + crop_h);
  const int64_t c0 = std::max<int64_t>(left, 0), c1 = std::min(width, left + crop_w);
  if (r1 > r0 && c1 > c0) {
    Tensor dst = out.narrow(hd, r0 - top, r1 - r0).narrow(wd, c0 - left, c1 - c0);
    dst.copy_(x.narrow(hd, r0, r1 - r0).narrow(wd, c0, c1 - c0));
  }
  return out;
}

std::string RandomCrop::name() const {
  return detail::concat("RandomCrop(size=", size_, ", padding=", padding_, ", seed=", seed_, ")");
}

// ---- RandomHorizontalFlip ---------------------------------------------------------------------------------------

RandomHorizontalFlip::RandomHorizontalFlip(double p, uint64_t seed) : p_(p), seed_(seed) {
  TD_CHECK(p_ >= 0 && p_ <= 1, "RandomHorizontalFlip: p must be in [0, 1], got ", p_);
}

Tensor RandomHorizontalFlip::apply(const Tensor& x, const SampleKey& key) const {
  check_image(x, "RandomHorizontalFlip");
  std::mt19937_64 rng = sample_rng(seed_, key);
  if (!(uniform_real(rng) < p_)) return x.clone();
  const int64_t width = x.size(-1);
  std::vector<int64_t> reversed(static_cast<size_t>(width));
  for (int64_t i = 0; i < width; ++i) reversed[static_cast<size_t>(i)] = width - 1 - i;
  return x.index_select(x.dim() - 1, tensor(reversed, TensorOptions(kInt64)));
}

std::string RandomHorizontalFlip::name() const {
  return detail::concat("RandomHorizontalFlip(p=", p_, ", seed=", seed_, ")");
}

// ---- Compose ----------------------------------------------------------------------------------------------------

Compose::Compose(std::vector<TransformPtr> transforms) : transforms_(std::move(transforms)) {
  for (size_t i = 0; i < transforms_.size(); ++i)
    TD_CHECK(transforms_[i] != nullptr, "Compose: transform ", i, " is null");
}

Tensor Compose::apply(const Tensor& x, const SampleKey& key) const {
  Tensor y = x;
  for (size_t i = 0; i < transforms_.size(); ++i)
    y = transforms_[i]->apply(y, SampleKey{key.epoch, key.index, derive_seed(key.stream, {i})});
  return y;
}

std::string Compose::name() const {
  std::string s = "Compose(";
  for (size_t i = 0; i < transforms_.size(); ++i) s += (i ? ", " : "") + transforms_[i]->name();
  return s + ")";
}

// ---- Lambda -----------------------------------------------------------------------------------------------------

Lambda::Lambda(Function fn, std::string name) : fn_(std::move(fn)), name_(std::move(name)) {
  TD_CHECK(static_cast<bool>(fn_), "Lambda: the function is empty");
}

Tensor Lambda::apply(const Tensor& x, const SampleKey& key) const { return fn_(x, key); }

}  // namespace tandem::nn::data

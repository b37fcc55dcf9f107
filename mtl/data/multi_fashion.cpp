// Multi-Fashion: seeded pairs of Fashion-MNIST items overlaid on a 36x36 canvas (see multi_fashion.h).
#include "mtl/data/multi_fashion.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "autograd/grad_mode.h"
#include "nn/data/random.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace {

constexpr int64_t kItemSize = 28;

/// Stream identifiers mixed into the seed, so that the permutations and the second-item draws are unrelated.
constexpr uint64_t kFirstItemStream = 1;
constexpr uint64_t kSecondItemStream = 2;

}  // namespace

std::vector<std::pair<int64_t, int64_t>> multi_fashion_pairs(int64_t num_images, int64_t count, uint64_t seed) {
  TD_CHECK(num_images >= 2, "multi_fashion_pairs: need at least 2 source images to make pairs, got ", num_images);
  TD_CHECK(count >= 1, "multi_fashion_pairs: count must be positive, got ", count);
  const auto n = static_cast<uint64_t>(num_images);
  std::vector<std::pair<int64_t, int64_t>> pairs(static_cast<size_t>(count));

  std::vector<int64_t> order(static_cast<size_t>(num_images));
  std::mt19937_64 second_rng(nn::data::derive_seed(seed, {kSecondItemStream}));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t position = i % num_images;
    if (position == 0) {  // a new pass over the images: a fresh Fisher-Yates permutation
      std::iota(order.begin(), order.end(), int64_t{0});
      std::mt19937_64 rng(nn::data::derive_seed(seed, {kFirstItemStream, static_cast<uint64_t>(i / num_images)}));
      for (uint64_t k = n - 1; k > 0; --k) std::swap(order[k], order[nn::data::uniform_index(rng, k + 1)]);
    }
    const int64_t first = order[static_cast<size_t>(position)];
    // Uniform over the other n - 1 images: draw in [0, n - 1) and skip over the first item.
    auto second = static_cast<int64_t>(nn::data::uniform_index(second_rng, n - 1));
    if (second >= first) ++second;
    pairs[static_cast<size_t>(i)] = {first, second};
  }
  return pairs;
}

MultiTaskDataset make_multi_fashion(const Tensor& images, const Tensor& labels, int64_t count, uint64_t seed) {
  TD_CHECK(images.defined() && labels.defined(), "make_multi_fashion: images and labels must be defined");
  const bool rank3 = images.dim() == 3, rank4 = images.dim() == 4 && images.size(1) == 1;
  TD_CHECK((rank3 || rank4) && images.size(-1) == kItemSize && images.size(-2) == kItemSize,
           "make_multi_fashion: images must be [N, 28, 28] or [N, 1, 28, 28], got ", images.sizes());
  TD_CHECK(images.is_floating_point(), "make_multi_fashion: images must be floating point, got ", images.dtype());
  TD_CHECK(labels.dim() == 1 && labels.dtype() == kInt64, "make_multi_fashion: labels must be int64 [N], got ",
           labels.dtype(), " ", labels.sizes());
  TD_CHECK(labels.size(0) == images.size(0), "make_multi_fashion: ", images.size(0), " images but ", labels.size(0),
           " labels");
  const int64_t num_images = images.size(0);
  const auto pairs = multi_fashion_pairs(num_images, count, seed);

  NoGradGuard no_grad;
  const Tensor source = images.detach().to(Device(kCPU), kFloat32).contiguous();
  const Tensor source_labels = labels.to(Device(kCPU)).contiguous();
  const float* pixels = source.data_ptr<float>();
  const int64_t* classes = source_labels.data_ptr<int64_t>();

  constexpr int64_t canvas = kMultiFashionCanvasSize, offset = kMultiFashionSecondOffset;
  constexpr int64_t item_pixels = kItemSize * kItemSize;
  Tensor inputs = zeros({count, 1, canvas, canvas});
  Tensor left = empty({count}, kInt64), right = empty({count}, kInt64);
  float* out = inputs.data_ptr<float>();
  int64_t* left_out = left.data_ptr<int64_t>();
  int64_t* right_out = right.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    const auto [first, second] = pairs[static_cast<size_t>(i)];
    const float* a = pixels + first * item_pixels;
    const float* b = pixels + second * item_pixels;
    float* c = out + i * canvas * canvas;
    for (int64_t r = 0; r < kItemSize; ++r) std::copy(a + r * kItemSize, a + (r + 1) * kItemSize, c + r * canvas);
    for (int64_t r = 0; r < kItemSize; ++r) {
      float* row = c + (r + offset) * canvas + offset;
      for (int64_t col = 0; col < kItemSize; ++col) row[col] = std::max(row[col], b[r * kItemSize + col]);
    }
    left_out[i] = classes[first];
    right_out[i] = classes[second];
  }
  return MultiTaskDataset(inputs, {left, right});
}

MultiTaskDataset make_multi_fashion(const std::string& split, int64_t count, uint64_t seed,
                                    const std::string& directory) {
  TD_CHECK(split == "train" || split == "test", "make_multi_fashion: split must be \"train\" or \"test\", got \"",
           split, "\"");
  TD_CHECK(count >= 1, "make_multi_fashion: count must be positive, got ", count);
  const nn::data::FashionMNIST source(directory, split == "train");
  return make_multi_fashion(source.images(), source.labels(), count, seed);
}

}  // namespace tandem::mtl

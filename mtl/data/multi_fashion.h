// Multi-Fashion: two Fashion-MNIST items on one 36x36 canvas, a two-task classification benchmark built the way
// Sener & Koltun (2018) built Multi-MNIST. The first item fills rows/cols [0:28, 0:28], a randomly chosen second
// item rows/cols [6:34, 6:34]; where they overlap the canvas keeps the brighter pixel (element-wise max). Task
// "left" is the class of the first item, task "right" the class of the second.
//
//   mtl::MultiTaskDataset train = mtl::make_multi_fashion("train", 60000, /*seed=*/0);
//   mtl::MultiTaskDataset test = mtl::make_multi_fashion("test", 10000, /*seed=*/0);
//   // train.inputs: float32 [60000, 1, 36, 36] in [0, 1]; train.targets: {left, right}, int64 [60000] each
//
// Pairs depend only on (number of source images, count, seed): the same call gives the same data on any
// machine and compiler (std::mt19937_64 with the portable draws of nn/data/random.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mtl/data/dataset.h"
#include "nn/data/idx.h"
#include "tensor/tensor.h"

namespace tandem::mtl {

/// The task names of Multi-Fashion, in the order of the dataset's targets.
inline const std::vector<std::string> kMultiFashionTaskNames = {"left", "right"};

/// Side of the square canvas, and the offset of the second item along both axes.
inline constexpr int64_t kMultiFashionCanvasSize = 36;
inline constexpr int64_t kMultiFashionSecondOffset = 6;

/// The source indices (first, second) of `count` pairs drawn from `num_images` images with `seed`. The first
/// items run through a seeded permutation of the images (a fresh one for every pass when count > num_images),
/// so every image is a first item once before any is used twice; the second item is drawn uniformly among the
/// other num_images - 1 images, never the first item itself.
std::vector<std::pair<int64_t, int64_t>> multi_fashion_pairs(int64_t num_images, int64_t count, uint64_t seed);

/// Builds `count` Multi-Fashion canvases from `images` (float [N, 28, 28] or [N, 1, 28, 28], values kept as
/// given) and their class `labels` (int64 [N]), with the pairs of multi_fashion_pairs(N, count, seed).
/// Returns inputs float32 [count, 1, 36, 36] and targets {left, right}, int64 [count] each.
MultiTaskDataset make_multi_fashion(const Tensor& images, const Tensor& labels, int64_t count, uint64_t seed);

/// Builds `count` Multi-Fashion canvases from the Fashion-MNIST `split` ("train" or "test") read from
/// `directory` (the Debian package dataset-fashion-mnist installs it in the default one). A missing dataset is a
/// tandem::Error naming the missing file and the package to install.
MultiTaskDataset make_multi_fashion(const std::string& split, int64_t count, uint64_t seed,
                                    const std::string& directory = nn::data::FashionMNIST::kDefaultRoot);

}  // namespace tandem::mtl

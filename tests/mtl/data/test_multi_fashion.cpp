// Multi-Fashion: the seeded pairs, the overlay of the two items on the 36x36 canvas, the labels, and the errors.
// The tests on the real Fashion-MNIST files skip when the Debian package dataset-fashion-mnist is not installed;
// the others build canvases from small hand-made images.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "mtl/data/multi_fashion.h"
#include "nn/data/idx.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;
using mtl::make_multi_fashion;
using mtl::multi_fashion_pairs;

const std::string kRoot = nn::data::FashionMNIST::kDefaultRoot;

bool fashion_mnist_installed() { return std::filesystem::exists(kRoot + "/t10k-images-idx3-ubyte.gz"); }

#define SKIP_WITHOUT_FASHION_MNIST() \
  if (!fashion_mnist_installed())    \
  GTEST_SKIP() << "Fashion-MNIST is not installed in " << kRoot << " (apt-get install dataset-fashion-mnist)"

/// Canvas [36, 36] built pixel by pixel from two [28, 28] images (row-major float vectors).
std::vector<float> overlay_by_hand(const std::vector<float>& first, const std::vector<float>& second) {
  std::vector<float> canvas(36 * 36, 0.0f);
  for (int r = 0; r < 28; ++r)
    for (int c = 0; c < 28; ++c) canvas[r * 36 + c] = first[r * 28 + c];
  for (int r = 0; r < 28; ++r)
    for (int c = 0; c < 28; ++c) {
      float& pixel = canvas[(r + 6) * 36 + (c + 6)];
      pixel = std::max(pixel, second[r * 28 + c]);
    }
  return canvas;
}

/// Same shape and exactly the same values.
bool identical(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && allclose(a.to(kFloat64), b.to(kFloat64), /*rtol=*/0, /*atol=*/0);
}

std::vector<float> image_values(const Tensor& images, int64_t index) {
  return images.select(0, index).contiguous().to_vector<float>();
}

TEST(MtlMultiFashion, PairsArePermutationOfFirstItemsAndNeverSelfPairs) {
  const int64_t n = 50;
  const auto pairs = multi_fashion_pairs(n, 120, 3);
  ASSERT_EQ(pairs.size(), 120u);
  // Each pass of n samples uses every image once as the first item.
  for (int64_t pass = 0; pass < 2; ++pass) {
    std::set<int64_t> firsts;
    for (int64_t i = pass * n; i < (pass + 1) * n; ++i) firsts.insert(pairs[static_cast<size_t>(i)].first);
    EXPECT_EQ(firsts.size(), static_cast<size_t>(n)) << "pass " << pass;
  }
  std::set<int64_t> seconds;
  for (const auto& [first, second] : pairs) {
    EXPECT_NE(first, second);
    EXPECT_GE(second, 0);
    EXPECT_LT(second, n);
    seconds.insert(second);
  }
  EXPECT_GT(seconds.size(), 30u);  // the second items are spread over the images
  EXPECT_EQ(multi_fashion_pairs(n, 120, 3), pairs);
  EXPECT_NE(multi_fashion_pairs(n, 120, 4), pairs);
  // A shorter request is a prefix of a longer one.
  const auto prefix = multi_fashion_pairs(n, 20, 3);
  EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), pairs.begin()));
  // Two images: the second item is always the other one.
  for (const auto& [first, second] : multi_fashion_pairs(2, 10, 0)) EXPECT_EQ(first + second, 1);
}

TEST(MtlMultiFashion, CanvasFromHandMadeImages) {
  manual_seed(11);
  const Tensor images = rand({6, 28, 28});
  const Tensor labels = tensor<int64_t>({5, 1, 4, 0, 9, 2});
  const int64_t count = 9;
  const uint64_t seed = 21;
  mtl::MultiTaskDataset data = make_multi_fashion(images, labels, count, seed);
  ASSERT_EQ(data.inputs.sizes(), Dims({count, 1, 36, 36}));
  EXPECT_EQ(data.inputs.dtype(), kFloat32);
  ASSERT_EQ(data.num_tasks(), 2u);
  EXPECT_EQ(mtl::kMultiFashionTaskNames, (std::vector<std::string>{"left", "right"}));
  const auto pairs = multi_fashion_pairs(6, count, seed);
  const auto left = data.targets[0].to_vector<int64_t>(), right = data.targets[1].to_vector<int64_t>();
  const auto all_labels = labels.to_vector<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    const auto [first, second] = pairs[static_cast<size_t>(i)];
    EXPECT_EQ(data.inputs.select(0, i).reshape({-1}).to_vector<float>(),
              overlay_by_hand(image_values(images, first), image_values(images, second)))
        << "sample " << i;
    EXPECT_EQ(left[static_cast<size_t>(i)], all_labels[static_cast<size_t>(first)]);
    EXPECT_EQ(right[static_cast<size_t>(i)], all_labels[static_cast<size_t>(second)]);
  }
  // [N, 1, 28, 28] images give the same canvases as [N, 28, 28].
  EXPECT_TRUE(identical(make_multi_fashion(images.unsqueeze(1), labels, count, seed).inputs, data.inputs));
}

TEST(MtlMultiFashion, Errors) {
  const Tensor images = rand({4, 28, 28});
  const Tensor labels = tensor<int64_t>({0, 1, 2, 3});
  EXPECT_THROW(make_multi_fashion(rand({4, 28, 27}), labels, 3, 0), Error);
  EXPECT_THROW(make_multi_fashion(rand({4, 3, 28, 28}), labels, 3, 0), Error);
  EXPECT_THROW(make_multi_fashion(images, tensor<int64_t>({0, 1, 2}), 3, 0), Error);
  EXPECT_THROW(make_multi_fashion(images, labels.to(kFloat32), 3, 0), Error);
  EXPECT_THROW(make_multi_fashion(images, labels, 0, 0), Error);
  EXPECT_THROW(make_multi_fashion(images.narrow(0, 0, 1), labels.narrow(0, 0, 1), 3, 0), Error);
  EXPECT_THROW(multi_fashion_pairs(1, 3, 0), Error);
  EXPECT_THROW(multi_fashion_pairs(10, -1, 0), Error);
  EXPECT_THROW(make_multi_fashion("validation", 10, 0), Error);
  // A missing dataset names the missing file and the package that installs it, like the IDX reader.
  try {
    make_multi_fashion("test", 10, 0, "/nonexistent/fashion-mnist");
    ADD_FAILURE() << "expected a tandem::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("/nonexistent/fashion-mnist/t10k-images-idx3-ubyte.gz"), std::string::npos) << message;
    EXPECT_NE(message.find("dataset-fashion-mnist"), std::string::npos) << message;
  }
}

TEST(MtlMultiFashion, RealDataShapesAndRange) {
  SKIP_WITHOUT_FASHION_MNIST();
  const int64_t count = 300;
  mtl::MultiTaskDataset data = make_multi_fashion("test", count, 7);
  ASSERT_EQ(data.inputs.sizes(), Dims({count, 1, 36, 36}));
  EXPECT_EQ(data.inputs.dtype(), kFloat32);
  ASSERT_EQ(data.targets.size(), 2u);
  for (const Tensor& target : data.targets) {
    EXPECT_EQ(target.sizes(), Dims({count}));
    EXPECT_EQ(target.dtype(), kInt64);
    EXPECT_GE(target.min().item<int64_t>(), 0);
    EXPECT_LE(target.max().item<int64_t>(), 9);
  }
  EXPECT_GE(data.inputs.min().item<float>(), 0.0f);
  EXPECT_LE(data.inputs.max().item<float>(), 1.0f);
  EXPECT_GT(data.inputs.max().item<float>(), 0.5f);
  // The border the second item never reaches (rows 0..5) holds only the first item, the corner [34:36, 0:6] is
  // reached by neither.
  EXPECT_EQ(data.inputs.narrow(2, 34, 2).narrow(3, 0, 6).abs().sum().item<float>(), 0.0f);
}

TEST(MtlMultiFashion, RealDataReproducibleForASeed) {
  SKIP_WITHOUT_FASHION_MNIST();
  mtl::MultiTaskDataset a = make_multi_fashion("test", 200, 5);
  mtl::MultiTaskDataset b = make_multi_fashion("test", 200, 5);
  mtl::MultiTaskDataset c = make_multi_fashion("test", 200, 6);
  EXPECT_TRUE(identical(a.inputs, b.inputs));
  EXPECT_TRUE(identical(a.targets[0], b.targets[0]));
  EXPECT_TRUE(identical(a.targets[1], b.targets[1]));
  EXPECT_FALSE(identical(a.inputs, c.inputs));
  EXPECT_FALSE(identical(a.targets[1], c.targets[1]));
}

TEST(MtlMultiFashion, RealDataCanvasIsMaxOfPlacedImages) {
  SKIP_WITHOUT_FASHION_MNIST();
  const int64_t count = 250;
  const uint64_t seed = 9;
  mtl::MultiTaskDataset data = make_multi_fashion("test", count, seed);
  // The raw IDX tensors: pixels 0..255 and the labels.
  const Tensor images = nn::data::read_idx(kRoot + "/t10k-images-idx3-ubyte.gz", kFloat32);
  const Tensor labels = nn::data::read_idx(kRoot + "/t10k-labels-idx1-ubyte.gz", kInt64);
  ASSERT_EQ(images.sizes(), Dims({10000, 28, 28}));
  const auto pairs = multi_fashion_pairs(images.size(0), count, seed);
  const auto left = data.targets[0].to_vector<int64_t>(), right = data.targets[1].to_vector<int64_t>();
  const auto all_labels = labels.to_vector<int64_t>();
  for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{123}, count - 1}) {
    const auto [first, second] = pairs[static_cast<size_t>(i)];
    std::vector<float> a = image_values(images, first), b = image_values(images, second);
    for (float& v : a) v /= 255.0f;
    for (float& v : b) v /= 255.0f;
    const std::vector<float> expected = overlay_by_hand(a, b);
    const std::vector<float> got = data.inputs.select(0, i).reshape({-1}).to_vector<float>();
    ASSERT_EQ(got.size(), expected.size());
    for (size_t k = 0; k < got.size(); ++k) ASSERT_NEAR(got[k], expected[k], 1e-6) << "sample " << i << " pixel " << k;
    EXPECT_EQ(left[static_cast<size_t>(i)], all_labels[static_cast<size_t>(first)]) << "sample " << i;
    EXPECT_EQ(right[static_cast<size_t>(i)], all_labels[static_cast<size_t>(second)]) << "sample " << i;
  }
}

}  // namespace

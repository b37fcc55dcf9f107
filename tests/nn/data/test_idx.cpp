// Tests of the IDX reader on small files written here (plain and gzip; every type code; truncated, padded,
// corrupt headers; wrong magic — each error naming the file and the byte offset), of FashionMNIST on a fake
// root (scaling, shapes, missing and invalid files), and — when the Debian package dataset-fashion-mnist is
// installed — of the real data set: sizes, value range and the class histogram.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "nn/data/idx.h"
#include "tensor/functions.h"
#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem::nn::data;
using tandem_test::expect_error;
using tandem_test::TempDir;
using tandem_test::write_bytes;
using Bytes = std::vector<unsigned char>;

void put_be(Bytes& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

/// An IDX file: magic (0, 0, type, ndim), big-endian dims, payload.
Bytes idx_file(unsigned char type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes out{0, 0, type, static_cast<unsigned char>(dims.size())};
  for (uint32_t d : dims) put_be(out, d, 4);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

TEST(NnDataIdx, ReadsUbyteImagesAndLabels) {
  TempDir dir;
  Bytes pixels(2 * 3 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 10);
  write_bytes(dir.file("images"), idx_file(0x08, {2, 3, 4}, pixels));
  Tensor images = read_idx(dir.file("images"));
  EXPECT_EQ(images.sizes(), Dims({2, 3, 4}));
  EXPECT_EQ(images.dtype(), kFloat32);
  std::vector<float> expected(pixels.begin(), pixels.end());
  EXPECT_EQ(images.to_vector<float>(), expected);
  EXPECT_EQ(images.to_vector<float>().back(), 230.0f);

  write_bytes(dir.file("labels"), idx_file(0x08, {5}, {3, 0, 9, 255, 1}));
  Tensor labels = read_idx(dir.file("labels"));
  EXPECT_EQ(labels.dtype(), kInt64);
  EXPECT_EQ(labels.to_vector<int64_t>(), (std::vector<int64_t>{3, 0, 9, 255, 1}));
  // dtype on request
  EXPECT_EQ(read_idx(dir.file("labels"), kFloat64).to_vector<double>(), (std::vector<double>{3, 0, 9, 255, 1}));
}

TEST(NnDataIdx, GzipAndPlainGiveTheSameTensor) {
  TempDir dir;
  Bytes pixels(7 * 5);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(255 - 3 * i);
  const Bytes file = idx_file(0x08, {7, 5}, pixels);
  write_bytes(dir.file("x-idx2-ubyte"), file);
  write_gz(dir.file("x-idx2-ubyte.gz"), file);
  Tensor plain = read_idx(dir.file("x-idx2-ubyte")), gz = read_idx(dir.file("x-idx2-ubyte.gz"));
  EXPECT_EQ(gz.sizes(), Dims({7, 5}));
  EXPECT_EQ(gz.to_vector<float>(), plain.to_vector<float>());
}

TEST(NnDataIdx, ReadsEveryTypeCodeBigEndian) {
  TempDir dir;
  const std::string path = dir.file("t");
  // signed byte
  write_bytes(path, idx_file(0x09, {3}, {0x80, 0x7F, 0xFF}));
  EXPECT_EQ(read_idx(path).to_vector<int64_t>(), (std::vector<int64_t>{-128, 127, -1}));
  // int16
  Bytes p16;
  put_be(p16, 0x0102, 2);
  put_be(p16, 0xFFFE, 2);
  write_bytes(path, idx_file(0x0B, {2}, p16));
  EXPECT_EQ(read_idx(path).to_vector<int64_t>(), (std::vector<int64_t>{258, -2}));
  // int32, rank 2 -> float32 by default
  Bytes p32;
  put_be(p32, 70000, 4);
  put_be(p32, 0xFFFFFFFF, 4);
  write_bytes(path, idx_file(0x0C, {1, 2}, p32));
  EXPECT_EQ(read_idx(path).to_vector<float>(), (std::vector<float>{70000, -1}));
  EXPECT_EQ(read_idx(path, kInt64).to_vector<int64_t>(), (std::vector<int64_t>{70000, -1}));
  // float32 and float64
  Bytes pf;
  for (float f : {1.5f, -0.25f}) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    put_be(pf, bits, 4);
  }
  write_bytes(path, idx_file(0x0D, {2}, pf));
  Tensor f32 = read_idx(path);
  EXPECT_EQ(f32.dtype(), kFloat32);
  EXPECT_EQ(f32.to_vector<float>(), (std::vector<float>{1.5f, -0.25f}));
  Bytes pd;
  const double d = 3.125;
  uint64_t dbits;
  std::memcpy(&dbits, &d, 8);
  put_be(pd, dbits, 8);
  write_bytes(path, idx_file(0x0E, {1, 1}, pd));
  Tensor f64 = read_idx(path);
  EXPECT_EQ(f64.dtype(), kFloat64);
  EXPECT_EQ(f64.sizes(), Dims({1, 1}));
  EXPECT_EQ(f64.item<double>(), 3.125);
  expect_error([&] { read_idx(path, kInt64); }, {path, "float64", "int64"});
  expect_error([&] { read_idx(path, kBool); }, {path, "bool"});
  // an empty dim is a valid, empty tensor
  write_bytes(path, idx_file(0x08, {0, 28}, {}));
  EXPECT_EQ(read_idx(path).sizes(), Dims({0, 28}));
}

TEST(NnDataIdx, TruncatedFilesNameTheExpectedAndActualSizes) {
  TempDir dir;
  const std::string path = dir.file("short-idx3-ubyte");
  Bytes file = idx_file(0x08, {2, 3, 4}, Bytes(20, 7));  // 24 data bytes needed, 20 present
  write_bytes(path, file);
  expect_error([&] { read_idx(path); }, {path, "truncated", "[2, 3, 4] ubyte", "needs 40 bytes", "has 36"});
  // the same, compressed
  write_gz(path + ".gz", file);
  expect_error([&] { read_idx(path + ".gz"); }, {path + ".gz", "truncated", "needs 40 bytes", "has 36"});
  // a header cut inside the dims
  write_bytes(path, {0, 0, 8, 3, 0, 0, 0, 2, 0, 0});
  expect_error([&] { read_idx(path); }, {path, "truncated", "needs 16 bytes", "has 10", "stops at byte offset 10"});
  // shorter than the magic number, and empty
  write_bytes(path, {0, 0});
  expect_error([&] { read_idx(path); }, {path, "truncated", "2 bytes"});
  write_bytes(path, {});
  expect_error([&] { read_idx(path); }, {path, "0 bytes"});
}

TEST(NnDataIdx, DimsThatDisagreeWithTheDataAreRejected) {
  TempDir dir;
  const std::string path = dir.file("dims");
  // more data than the dims describe
  write_bytes(path, idx_file(0x08, {2, 2}, Bytes(6, 1)));
  expect_error([&] { read_idx(path); },
               {path, "2 bytes after the data", "[2, 2] ubyte", "from byte offset 16", "expected 16", "found 18"});
  // dims whose product is huge: rejected before any allocation or overflow
  write_bytes(path, idx_file(0x0E, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, Bytes(8, 0)));
  expect_error([&] { read_idx(path); }, {path, "4294967295", "byte offsets 4 to 15", "more than the"});
  // no dims at all
  write_bytes(path, {0, 0, 8, 0});
  expect_error([&] { read_idx(path); }, {path, "0 dims", "byte offset 3"});
}

TEST(NnDataIdx, WrongMagicIsRejected) {
  TempDir dir;
  const std::string path = dir.file("magic");
  write_bytes(path, {0x1F, 0x00, 0x08, 0x01, 0, 0, 0, 1, 5});
  expect_error([&] { read_idx(path); }, {path, "not an IDX file", "0x1f000801", "byte offsets 0 to 3"});
  write_bytes(path, idx_file(0x0A, {1}, {5}));
  expect_error([&] { read_idx(path); }, {path, "unknown IDX type code 0x0a", "byte offset 2", "0x00000a01"});
}

TEST(NnDataIdx, CorruptGzipAndMissingFilesAreRejected) {
  TempDir dir;
  Bytes pixels(4096);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>((i * 7919) % 251);
  const std::string gz = dir.file("cut.gz");
  write_gz(gz, idx_file(0x08, {64, 64}, pixels));
  std::filesystem::resize_file(gz, std::filesystem::file_size(gz) / 2);
  expect_error([&] { read_idx(gz); }, {gz, "corrupt or truncated", "decompressed"});
  expect_error([&] { read_idx(dir.file("absent")); }, {dir.file("absent"), "does not exist"});
  expect_error([&] { read_idx(dir.path().string()); }, {"is a directory"});
}

/// Writes a fake Fashion-MNIST split of n images (pixel value (image + row + col) % 256) under root.
void write_fake_split(const TempDir& dir, const std::string& prefix, uint32_t n, const Bytes& labels,
                      uint32_t width = 28) {
  Bytes pixels(static_cast<size_t>(n) * 28 * width);
  for (uint32_t img = 0; img < n; ++img)
    for (uint32_t r = 0; r < 28; ++r)
      for (uint32_t c = 0; c < width; ++c)
        pixels[(img * 28 + r) * width + c] = static_cast<unsigned char>((img + r + c) % 256);
  write_gz(dir.file(prefix + "-images-idx3-ubyte.gz"), idx_file(0x08, {n, 28, width}, pixels));
  write_bytes(dir.file(prefix + "-labels-idx1-ubyte"), idx_file(0x08, {static_cast<uint32_t>(labels.size())}, labels));
}

TEST(NnDataFashionMNIST, LoadsAFakeRoot) {
  TempDir dir;
  write_fake_split(dir, "t10k", 3, {9, 0, 4});
  FashionMNIST test(dir.path().string(), /*train=*/false);
  EXPECT_EQ(test.size(), 3u);
  EXPECT_FALSE(test.train());
  EXPECT_EQ(test.images().sizes(), Dims({3, 1, 28, 28}));
  EXPECT_EQ(test.labels().to_vector<int64_t>(), (std::vector<int64_t>{9, 0, 4}));
  Example e = test.get(2);
  EXPECT_EQ(e.data.sizes(), Dims({1, 28, 28}));
  EXPECT_EQ(e.data.dtype(), kFloat32);
  EXPECT_EQ(e.target.item<int64_t>(), 4);
  const std::vector<float> v = e.data.to_vector<float>();
  EXPECT_FLOAT_EQ(v[0], 2.0f / 255.0f);                     // image 2, row 0, col 0
  EXPECT_FLOAT_EQ(v[5 * 28 + 7], (2.0f + 5 + 7) / 255.0f);  // row 5, col 7
  EXPECT_EQ(test.name(), "FashionMNIST(test, size=3)");
  EXPECT_STREQ(FashionMNIST::kClassNames[9], "Ankle boot");
}

TEST(NnDataFashionMNIST, MissingAndInvalidFilesAreRejected) {
  TempDir dir;
  expect_error([&] { FashionMNIST(dir.path().string(), true); },
               {dir.file("train-images-idx3-ubyte.gz"), "dataset-fashion-mnist", "apt-get install"});
  write_fake_split(dir, "train", 2, {1, 2, 3});
  expect_error([&] { FashionMNIST(dir.path().string(), true); }, {"2 images", "3 labels"});
  write_fake_split(dir, "train", 2, {1, 10});
  expect_error([&] { FashionMNIST(dir.path().string(), true); },
               {dir.file("train-labels-idx1-ubyte"), "labels in [1, 10]", "0..9", "the first is 10, label 1"});
  write_fake_split(dir, "train", 2, {1, 2}, /*width=*/27);
  expect_error([&] { FashionMNIST(dir.path().string(), true); }, {"[N, 28, 28]", "[2, 28, 27]"});
}

TEST(NnDataFashionMNIST, RealDataSet) {
  if (!std::filesystem::exists(std::string(FashionMNIST::kDefaultRoot) + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST is not installed in " << FashionMNIST::kDefaultRoot
                 << " (apt-get install dataset-fashion-mnist)";
  for (bool train : {true, false}) {
    FashionMNIST ds(FashionMNIST::kDefaultRoot, train);
    const int64_t n = train ? 60000 : 10000;
    EXPECT_EQ(ds.size(), static_cast<size_t>(n));
    EXPECT_EQ(ds.images().sizes(), Dims({n, 1, 28, 28}));
    EXPECT_EQ(ds.images().dtype(), kFloat32);
    EXPECT_EQ(ds.labels().sizes(), Dims({n}));
    EXPECT_EQ(ds.labels().dtype(), kInt64);
    EXPECT_EQ(ds.images().min().item<float>(), 0.0f);
    EXPECT_EQ(ds.images().max().item<float>(), 1.0f);
    const double mean = ds.images().mean().item<double>();
    EXPECT_GT(mean, 0.2);  // Fashion-MNIST's mean pixel is about 0.286
    EXPECT_LT(mean, 0.4);
    std::vector<int64_t> histogram(10, 0);
    for (int64_t label : ds.labels().to_vector<int64_t>()) {
      ASSERT_GE(label, 0);
      ASSERT_LT(label, 10);
      histogram[static_cast<size_t>(label)]++;
    }
    EXPECT_EQ(histogram, std::vector<int64_t>(10, n / 10));
  }
}

}  // namespace

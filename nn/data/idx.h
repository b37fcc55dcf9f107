// The IDX file format (used by MNIST and Fashion-MNIST) and the Fashion-MNIST dataset.
//
// An IDX file is a 4-byte magic number — two zero bytes, a type code, the number of dims — then each dim as a
// big-endian uint32, then the values in row-major order (big-endian for multi-byte types). Files may be
// gzip-compressed; read_idx detects that itself. Every header field is checked against the bytes actually
// present, so a truncated, padded or corrupted file is rejected with a tandem::Error naming the file, what is
// wrong and the byte offset where it is wrong, never read out of bounds.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>

#include "nn/data/dataset.h"
#include "tensor/tensor.h"

namespace tandem::nn::data {

/// Reads an IDX file (plain or .gz) into a CPU tensor of the header's shape. Type codes: 0x08 unsigned byte,
/// 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64. Unless `dtype` says otherwise,
/// integer files of rank 1 (labels, magic 0x00000801) become int64 and those of higher rank (images, magic
/// 0x00000803) float32 with the raw values (0..255 for bytes); float files keep their width.
Tensor read_idx(const std::string& path, std::optional<ScalarType> dtype = std::nullopt);

/// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 28x28 grey images of 10 kinds of clothing, 60000 for
/// training and 10000 for testing. Examples are data float32 [1, 28, 28] with values in [0, 1] and target int64
/// [] (the class, 0..9). Reads <root>/train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz (or the
/// t10k-* files for the test split); uncompressed copies without .gz are accepted too. The Debian package
/// dataset-fashion-mnist installs the files in the default root.
class FashionMNIST : public TensorDataset {
 public:
  static constexpr const char* kDefaultRoot = "/usr/share/datasets/fashion-mnist";
  /// The class names, by label.
  static constexpr std::array<const char*, 10> kClassNames = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

  /// Loads the training (train = true) or test split from `root`. Throws tandem::Error naming the missing
  /// path (and the Debian package to install) when a file is absent, or what is wrong with a file that does
  /// not hold matching 28x28 images and labels 0..9.
  explicit FashionMNIST(const std::string& root = kDefaultRoot, bool train = true);
  std::string name() const override;
  /// All images, float32 [N, 1, 28, 28] in [0, 1].
  const Tensor& images() const { return data(); }
  /// All labels, int64 [N].
  const Tensor& labels() const { return targets(); }
  bool train() const { return train_; }

 private:
  bool train_;
};

}  // namespace tandem::nn::data

// The IDX reader and the Fashion-MNIST dataset. The file is read whole (through zlib, which passes plain files
// through unchanged), then the header is validated against the number of bytes actually read before any value
// is decoded — so no header, however corrupt, leads to an allocation or a read beyond what the file holds.
#include "nn/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "tensor/functions.h"

namespace tandem::nn::data {
namespace {

/// The whole (decompressed) contents of a file.
std::vector<unsigned char> read_file_bytes(const std::string& path) {
  std::error_code ec;
  TD_CHECK(std::filesystem::exists(path, ec), "read_idx: ", path, " does not exist");
  TD_CHECK(!std::filesystem::is_directory(path, ec), "read_idx: ", path, " is a directory, not an IDX file");
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  TD_CHECK(file != nullptr, "read_idx: cannot open ", path, ": ", errno ? std::strerror(errno) : "out of memory");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> closer(file, gzclose);
  std::vector<unsigned char> bytes;
  auto check_stream = [&](int errnum, const char* message) {
    TD_CHECK(errnum == Z_OK || errnum == Z_STREAM_END, "read_idx: ", path,
             " is corrupt or truncated (reading it failed at decompressed byte offset ", bytes.size(), ": ",
             message ? message : "unknown zlib error", ")");
  };
  constexpr unsigned kChunk = 1u << 20;
  for (;;) {
    const size_t old_size = bytes.size();
    bytes.resize(old_size + kChunk);
    const int n = gzread(file, bytes.data() + old_size, kChunk);
    int errnum = Z_OK;
    const char* message = gzerror(file, &errnum);
    bytes.resize(old_size + static_cast<size_t>(std::max(n, 0)));
    check_stream(n < 0 && errnum == Z_OK ? Z_ERRNO : errnum, message);
    if (n == 0) break;
  }
  const int close_status = gzclose(closer.release());
  TD_CHECK(close_status == Z_OK, "read_idx: ", path,
           " is corrupt or truncated (the compressed stream ends early, after ", bytes.size(), " decompressed bytes)");
  return bytes;
}

struct IdxType {
  unsigned char code;
  size_t bytes;
  const char* name;
  bool is_float;
};

constexpr IdxType kIdxTypes[] = {{0x08, 1, "ubyte", false}, {0x09, 1, "byte", false},   {0x0B, 2, "int16", false},
                                 {0x0C, 4, "int32", false}, {0x0D, 4, "float32", true}, {0x0E, 8, "float64", true}};

uint64_t read_be(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

/// Decodes `count` big-endian values of `type` from `payload` into `out`.
template <typename T>
void decode(const unsigned char* payload, const IdxType& type, size_t count, T* out) {
  switch (type.code) {
    case 0x08:
      for (size_t i = 0; i < count; ++i) out[i] = static_cast<T>(payload[i]);
      break;
    case 0x09:
      for (size_t i = 0; i < count; ++i) out[i] = static_cast<T>(static_cast<int8_t>(payload[i]));
      break;
    case 0x0B:
      for (size_t i = 0; i < count; ++i) out[i] = static_cast<T>(static_cast<int16_t>(read_be(payload + 2 * i, 2)));
      break;
    case 0x0C:
      for (size_t i = 0; i < count; ++i) out[i] = static_cast<T>(static_cast<int32_t>(read_be(payload + 4 * i, 4)));
      break;
    case 0x0D:
      for (size_t i = 0; i < count; ++i) {
        const auto bits = static_cast<uint32_t>(read_be(payload + 4 * i, 4));
        float f;
        std::memcpy(&f, &bits, sizeof f);
        out[i] = static_cast<T>(f);
      }
      break;
    case 0x0E:
      for (size_t i = 0; i < count; ++i) {
        const uint64_t bits = read_be(payload + 8 * i, 8);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        out[i] = static_cast<T>(d);
      }
      break;
    default:
      throw Error(detail::concat("read_idx: unhandled IDX type code ", static_cast<int>(type.code)));
  }
}

std::string hex(uint64_t v, int digits) {
  static const char* kDigits = "0123456789abcdef";
  std::string s = "0x";
  for (int i = digits - 1; i >= 0; --i) s += kDigits[(v >> (4 * i)) & 0xF];
  return s;
}

}  // namespace

Tensor read_idx(const std::string& path, std::optional<ScalarType> dtype) {
  const std::vector<unsigned char> bytes = read_file_bytes(path);
  TD_CHECK(bytes.size() >= 4, "read_idx: ", path, " is truncated: an IDX file starts with a 4-byte magic number but ",
           "the file has ", bytes.size(), " bytes");
  const uint64_t magic = read_be(bytes.data(), 4);
  TD_CHECK(bytes[0] == 0 && bytes[1] == 0, "read_idx: ", path, " is not an IDX file: its magic number ", hex(magic, 8),
           " (byte offsets 0 to 3) does not start with two zero bytes");
  const IdxType* type = nullptr;
  for (const IdxType& t : kIdxTypes)
    if (t.code == bytes[2]) type = &t;
  TD_CHECK(type != nullptr, "read_idx: ", path, " has the unknown IDX type code ", hex(bytes[2], 2),
           " at byte offset 2 of its magic number ", hex(magic, 8),
           " (known: 0x08 ubyte, 0x09 byte, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64)");
  const size_t ndim = bytes[3];
  TD_CHECK(ndim >= 1, "read_idx: ", path, ": its magic number ", hex(magic, 8), " declares 0 dims (byte offset 3)");
  const size_t header_bytes = 4 + 4 * ndim;
  TD_CHECK(bytes.size() >= header_bytes, "read_idx: ", path, " is truncated: the header of a ", ndim,
           "-dim IDX file needs ", header_bytes, " bytes but the file has ", bytes.size(),
           " (it stops at byte offset ", bytes.size(), ", inside the dims)");

  Dims sizes(ndim);
  uint64_t count = 1;
  // Elements the file could hold at most: a larger product is corrupt (and checked before it can overflow).
  const uint64_t max_count = bytes.size() / type->bytes + 1;
  for (size_t d = 0; d < ndim; ++d) {
    const uint64_t dim = read_be(bytes.data() + 4 + 4 * d, 4);
    sizes[d] = static_cast<int64_t>(dim);
    if (count != 0) count = dim == 0 ? 0 : (count > max_count / dim ? max_count : count * dim);
  }
  const std::string what = detail::concat(sizes, " ", type->name);
  TD_CHECK(count < max_count, "read_idx: ", path, " is truncated or corrupt: its header declares ", what,
           " values (dims at byte offsets 4 to ", header_bytes - 1, "), more than the ", bytes.size(),
           " bytes of the file can hold");
  const uint64_t expected = header_bytes + count * type->bytes;
  TD_CHECK(bytes.size() >= expected, "read_idx: ", path, " is truncated: the header (", what, ") needs ", expected,
           " bytes but the file has ", bytes.size(), " (the data stops at byte offset ", bytes.size(), ")");
  TD_CHECK(bytes.size() == expected, "read_idx: ", path, " has ", bytes.size() - expected,
           " bytes after the data its header (", what, ") describes, from byte offset ", expected, ": expected ",
           expected, " bytes, found ", bytes.size());

  const ScalarType out_dtype =
      dtype.value_or(type->is_float ? (type->code == 0x0E ? kFloat64 : kFloat32) : (ndim == 1 ? kInt64 : kFloat32));
  TD_CHECK(out_dtype != kBool, "read_idx: ", path, ": cannot read IDX values as bool");
  TD_CHECK(!(type->is_float && out_dtype == kInt64), "read_idx: ", path, " holds ", type->name,
           " values, which cannot be read as int64");
  Tensor out = empty(sizes, TensorOptions(out_dtype));
  const unsigned char* payload = bytes.data() + header_bytes;
  visit_dtype(out_dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) decode(payload, *type, count, out.data_ptr<T>());
  });
  return out;
}

// ---- FashionMNIST -----------------------------------------------------------------------------------------------

namespace {

/// <root>/<stem>.gz, or <root>/<stem> when only the uncompressed file is there.
std::string find_dataset_file(const std::string& root, const std::string& stem) {
  namespace fs = std::filesystem;
  const fs::path gz = fs::path(root) / (stem + ".gz"), plain = fs::path(root) / stem;
  std::error_code ec;
  if (fs::exists(gz, ec)) return gz.string();
  if (fs::exists(plain, ec)) return plain.string();
  throw Error(detail::concat("FashionMNIST: missing file ", gz.string(), " (nor is there an uncompressed ",
                             plain.string(), "); install the Debian package dataset-fashion-mnist (apt-get install ",
                             "dataset-fashion-mnist) or pass the folder that holds the files as root"));
}

}  // namespace

FashionMNIST::FashionMNIST(const std::string& root, bool train) : train_(train) {
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = find_dataset_file(root, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_dataset_file(root, prefix + "-labels-idx1-ubyte");
  Tensor images = read_idx(images_path, kFloat32);
  Tensor labels = read_idx(labels_path, kInt64);
  TD_CHECK(images.dim() == 3 && images.size(1) == 28 && images.size(2) == 28, "FashionMNIST: ", images_path,
           " should hold images [N, 28, 28] but has shape ", images.sizes());
  TD_CHECK(labels.dim() == 1, "FashionMNIST: ", labels_path, " should hold labels [N] but has shape ", labels.sizes());
  TD_CHECK(labels.size(0) == images.size(0), "FashionMNIST: ", images_path, " has ", images.size(0), " images but ",
           labels_path, " has ", labels.size(0), " labels");
  if (images.numel() > 0) {
    const double lo = images.min().item<double>(), hi = images.max().item<double>();
    TD_CHECK(lo >= 0 && hi <= 255, "FashionMNIST: ", images_path, " has pixel values in [", lo, ", ", hi,
             "], outside [0, 255]");
  }
  if (labels.numel() > 0) {
    const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
    if (lo < 0 || hi >= static_cast<int64_t>(kClassNames.size())) {
      const std::vector<int64_t> values = labels.to_vector<int64_t>();
      const auto bad = std::find_if(values.begin(), values.end(),
                                    [](int64_t v) { return v < 0 || v >= static_cast<int64_t>(kClassNames.size()); });
      throw Error(detail::concat("FashionMNIST: ", labels_path, " has labels in [", lo, ", ", hi,
                                 "], outside 0..9 (the first is ", *bad, ", label ", bad - values.begin(), ")"));
    }
  }
  images.div_(255.0);
  set_tensors(images.unsqueeze(1), labels);
}

std::string FashionMNIST::name() const {
  return detail::concat("FashionMNIST(", train_ ? "train" : "test", ", size=", size(), ")");
}

}  // namespace tandem::nn::data

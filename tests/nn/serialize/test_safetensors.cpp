// safetensors: bit-exact round trips of every dtype (0-d, empty and non-contiguous tensors, special floats),
// the exact bytes of a written file checked against the format's definition, a file written byte by byte as
// another writer would, every class of corrupted or truncated file, and atomic saves that leave the previous
// file intact when they fail.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "nn/serialize/safetensors.h"
#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem::serialize_testing;

class NnSafetensors : public ScratchDir {};

nn::OrderedDict<Tensor> every_kind_of_tensor() {
  manual_seed(7);
  nn::OrderedDict<Tensor> d;
  d.insert("f32", randn({3, 4}));
  d.insert("f64", randn({2, 3, 2}, kFloat64));
  d.insert("i64", tensor(std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -1, 0, 1,
                                              std::numeric_limits<int64_t>::max()}));
  d.insert("mask", tensor(std::vector<bool>{true, false, false, true, true}));
  d.insert("scalar", scalar_tensor(2.5, kFloat64));
  d.insert("scalar_i64", scalar_tensor(-42, kInt64));
  d.insert("empty", zeros({0, 3}));
  d.insert("empty_bool", empty({4, 0, 2}, kBool));
  d.insert("transposed", randn({4, 3}).t());                        // non-contiguous sources
  d.insert("strided", randn({6, 5}, kFloat64).slice(0, 0, 6, 2));
  d.insert("broadcast", randn({3, 1}).expand({3, 4}));
  d.insert("special", tensor(std::vector<float>{std::numeric_limits<float>::quiet_NaN(), -0.0f,
                                                std::numeric_limits<float>::infinity(),
                                                -std::numeric_limits<float>::infinity(),
                                                std::numeric_limits<float>::denorm_min(),
                                                std::numeric_limits<float>::max(), std::bit_cast<float>(0x7fc12345u)}));
  return d;
}

TEST_F(NnSafetensors, RoundTripIsBitExactForEveryDtypeAndShape) {
  const auto original = every_kind_of_tensor();
  save_safetensors(original, path("all.safetensors"), {{"epoch", "3"}, {"note", "ünïcode ✓"}});
  const SafetensorsContent loaded = load_safetensors(path("all.safetensors"));
  ASSERT_EQ(loaded.tensors.keys(), original.keys());  // order preserved
  for (const auto& [name, t] : original) {
    const Tensor& back = loaded.tensors[name];
    EXPECT_TRUE(bit_equal(back, t)) << name;
    if (back.numel() > 0) {
      EXPECT_TRUE(back.is_contiguous()) << name;
    }
    EXPECT_TRUE(back.device().is_cpu()) << name;
    EXPECT_FALSE(back.requires_grad()) << name;
  }
  EXPECT_EQ(loaded.tensors["scalar"].dim(), 0);
  EXPECT_EQ(loaded.tensors["scalar_i64"].item<int64_t>(), -42);
  EXPECT_EQ(loaded.metadata.size(), 2u);
  EXPECT_EQ(loaded.metadata.at("epoch"), "3");
  EXPECT_EQ(loaded.metadata.at("note"), "ünïcode ✓");
}

TEST_F(NnSafetensors, TensorsThatRequireGradAreSavedByValue) {
  nn::OrderedDict<Tensor> d;
  Tensor w = randn({2, 2}, requires_grad());
  d.insert("w", w.mul(2.0));  // a non-leaf with history
  const auto back = deserialize_safetensors(serialize_safetensors(d));
  EXPECT_TRUE(bit_equal(back.tensors["w"], w.detach().mul(2.0)));
}

TEST_F(NnSafetensors, InMemoryBytesEqualTheFile) {
  const auto d = every_kind_of_tensor();
  save_safetensors(d, path("m.safetensors"));
  EXPECT_EQ(read_bytes(path("m.safetensors")), serialize_safetensors(d));
}

TEST_F(NnSafetensors, EmptyDictionaryRoundTrips) {
  save_safetensors({}, path("none.safetensors"));
  EXPECT_EQ(read_bytes(path("none.safetensors")), le_u64(8) + "{}      ");
  const auto back = load_safetensors(path("none.safetensors"));
  EXPECT_TRUE(back.tensors.empty());
  EXPECT_TRUE(back.metadata.empty());
}

// The exact bytes of a written file, derived by hand from the format: header length, header JSON (metadata
// first, tensors in insertion order, padded with spaces to a multiple of 8), then the data laid out with the
// 8-byte types first, then 4-byte, then 1-byte ones, each little-endian.
TEST_F(NnSafetensors, WrittenBytesFollowTheFormat) {
  nn::OrderedDict<Tensor> d;
  d.insert("b", tensor(std::vector<bool>{true, false}));
  d.insert("x", tensor(std::vector<float>{1.0f, -2.0f}));
  d.insert("n", scalar_tensor(7, kInt64));
  save_safetensors(d, path("spec.safetensors"), {{"k", "v"}});

  std::string header =
      R"({"__metadata__":{"k":"v"},)"
      R"("b":{"dtype":"BOOL","shape":[2],"data_offsets":[16,18]},)"
      R"("x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("n":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const std::string data = std::string("\x07\x00\x00\x00\x00\x00\x00\x00", 8)  // n = 7
                           + std::string("\x00\x00\x80\x3f", 4)                  // 1.0f
                           + std::string("\x00\x00\x00\xc0", 4)                  // -2.0f
                           + std::string("\x01\x00", 2);                         // true, false
  const std::string expected = le_u64(header.size()) + header + data;
  EXPECT_EQ(read_bytes(path("spec.safetensors")), expected);
  EXPECT_EQ((8 + header.size()) % 8, 0u);
}

// A file as another writer produces it: no padding, metadata last, keys in another order, F64 and I64 data
// written out byte by byte.
TEST_F(NnSafetensors, ReadsAFileWrittenByteByByteFromTheFormat) {
  const std::string header =
      R"({"w":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]},)"
      R"("i":{"data_offsets":[32,56],"shape":[3],"dtype":"I64"},)"
      R"("flag":{"dtype":"BOOL","shape":[],"data_offsets":[56,57]},)"
      R"("nothing":{"dtype":"F32","shape":[0],"data_offsets":[57,57]},)"
      R"("__metadata__":{"format":"pt"}})";
  const std::string data = std::string("\x00\x00\x00\x00\x00\x00\xf8\x3f", 8)    // 1.5
                           + std::string("\x00\x00\x00\x00\x00\x00\xd0\xbf", 8)  // -0.25
                           + std::string("\x00\x00\x00\x00\x00\x00\x00\x40", 8)  // 2.0
                           + std::string("\x00\x00\x00\x00\x00\x00\x00\x00", 8)  // 0.0
                           + std::string("\x05\x00\x00\x00\x00\x00\x00\x00", 8)  // 5
                           + std::string("\xfe\xff\xff\xff\xff\xff\xff\xff", 8)  // -2
                           + std::string("\x00\x01\x00\x00\x00\x00\x00\x00", 8)  // 256
                           + std::string("\x01", 1);                             // true
  write_bytes(path("other.safetensors"), safetensors_file(header, data));

  const auto back = load_safetensors(path("other.safetensors"));
  EXPECT_EQ(back.tensors.keys(), (std::vector<std::string>{"w", "i", "flag", "nothing"}));
  EXPECT_EQ(back.tensors["w"].dtype(), kFloat64);
  EXPECT_EQ(back.tensors["w"].sizes(), Dims({2, 2}));
  EXPECT_EQ(back.tensors["w"].to_vector<double>(), (std::vector<double>{1.5, -0.25, 2.0, 0.0}));
  EXPECT_EQ(back.tensors["i"].to_vector<int64_t>(), (std::vector<int64_t>{5, -2, 256}));
  EXPECT_EQ(back.tensors["flag"].dim(), 0);
  EXPECT_TRUE(back.tensors["flag"].item<bool>());
  EXPECT_EQ(back.tensors["nothing"].sizes(), Dims({0}));
  EXPECT_EQ(back.metadata.at("format"), "pt");
}

// ---- corrupted files ------------------------------------------------------------------------------------------
class NnCorruptSafetensors : public ScratchDir {
 protected:
  /// Writes `bytes` to a file and expects loading it to fail with a message naming the file and `what`.
  void expect_rejected(const std::string& bytes, const std::string& what) {
    const auto file = path("bad.safetensors");
    write_bytes(file, bytes);
    expect_error_mentions([&] { load_safetensors(file); }, {file.string(), what});
  }
  /// One F32 tensor [2] with the given header fields.
  static std::string one_tensor(const std::string& entry, const std::string& data = std::string(8, '\x01')) {
    return safetensors_file(R"({"t":)" + entry + "}", data);
  }
};

TEST_F(NnCorruptSafetensors, ShorterThanTheLengthField) { expect_rejected("\x10\x00\x00", "truncated"); }

TEST_F(NnCorruptSafetensors, HeaderLengthBeyondTheFile) {
  expect_rejected(le_u64(1000) + R"({"t":{}})", "larger than the rest of the file");
}

TEST_F(NnCorruptSafetensors, HeaderLengthBeyondTheLimit) {
  expect_rejected(le_u64(kSafetensorsMaxHeaderBytes + 1) + "{}", "exceeds the limit");
  expect_rejected(le_u64(std::numeric_limits<uint64_t>::max()) + "{}", "exceeds the limit");
}

TEST_F(NnCorruptSafetensors, InvalidJson) {
  expect_rejected(safetensors_file(R"({"t": {"dtype": "F32",)", ""), "not valid JSON");
  expect_rejected(safetensors_file(std::string("{\"a\":1}\0\0", 9), ""), "NUL byte");
  expect_rejected(safetensors_file(R"([1, 2])", ""), "does not start with '{'");
  expect_rejected(safetensors_file("", ""), "does not start with '{'");
}

TEST_F(NnCorruptSafetensors, DuplicateKeys) {
  const std::string entry = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  expect_rejected(safetensors_file(R"({"t":)" + entry + R"(,"t":)" + entry + "}", std::string(4, '\0')),
                  "repeats the key 't'");
  expect_rejected(one_tensor(R"({"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]})"),
                  "repeats the key 'dtype'");
}

TEST_F(NnCorruptSafetensors, UnknownDtype) {
  expect_rejected(one_tensor(R"({"dtype":"F16","shape":[4],"data_offsets":[0,8]})"), "unsupported dtype 'F16'");
  expect_rejected(one_tensor(R"({"dtype":7,"shape":[2],"data_offsets":[0,8]})"), "'dtype'");
}

TEST_F(NnCorruptSafetensors, MalformedEntries) {
  expect_rejected(one_tensor(R"([1,2])"), "not a JSON object");
  expect_rejected(one_tensor(R"({"shape":[2],"data_offsets":[0,8]})"), "missing or non-string 'dtype'");
  expect_rejected(one_tensor(R"({"dtype":"F32","data_offsets":[0,8]})"), "'shape'");
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[2]})"), "'data_offsets'");
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0]})"), "'data_offsets'");
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1})"), "unknown field 'extra'");
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), "not a non-negative integer");
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"), "not a non-negative integer");
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8.5]})"), "non-negative integers");
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})"), "non-negative integers");
  expect_rejected(safetensors_file(R"({"__metadata__":{"k":1}})", ""), "metadata value of 'k' is not a string");
  expect_rejected(safetensors_file(R"({"__metadata__":[1]})", ""), "'__metadata__' is not a JSON object");
}

TEST_F(NnCorruptSafetensors, OffsetsOutsideTheDataSection) {
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,16]})"), "beyond the data section");
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]})"),
                  "beyond the data section");
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[0],"data_offsets":[8,0]})"), "end before they begin");
}

TEST_F(NnCorruptSafetensors, SizeMismatchedOffsets) {
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), "needs 12");
  expect_rejected(one_tensor(R"({"dtype":"F64","shape":[2],"data_offsets":[0,8]})"), "needs 16");
  expect_rejected(one_tensor(R"({"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,8]})"),
                  "too large");
  expect_rejected(one_tensor(R"({"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]})"),
                  "more than can be addressed");
}

TEST_F(NnCorruptSafetensors, OverlappingGappedOrTrailingData) {
  const std::string two = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)";
  expect_rejected(safetensors_file(two + R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                   std::string(12, '\0')),
                  "overlaps");
  expect_rejected(safetensors_file(two + R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                   std::string(8, '\0')),
                  "overlaps");
  expect_rejected(safetensors_file(two + R"("b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                                   std::string(16, '\0')),
                  "gap at bytes [8, 12)");
  expect_rejected(safetensors_file(two.substr(0, two.size() - 1) + "}", std::string(9, '\0')), "1 trailing bytes");
}

TEST_F(NnCorruptSafetensors, InvalidBoolBytes) {
  expect_rejected(safetensors_file(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", std::string("\x01\x00\x02", 3)),
                  "holds the byte 2 at element 2");
}

TEST_F(NnCorruptSafetensors, MissingFileAndDirectory) {
  expect_error_mentions([&] { load_safetensors(path("absent.safetensors")); }, {"absent.safetensors", "cannot open"});
  expect_error_mentions([&] { load_safetensors(dir_); }, {dir_.string(), "not a regular file"});
}

// Every truncation of a valid file is rejected, never read out of bounds.
TEST_F(NnCorruptSafetensors, EveryTruncationIsRejected) {
  nn::OrderedDict<Tensor> d;
  d.insert("w", randn({3, 2}));
  d.insert("i", tensor(std::vector<int64_t>{1, 2}));
  d.insert("m", tensor(std::vector<bool>{true}));
  const std::string bytes = serialize_safetensors(d, {{"k", "v"}});
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_THROW(deserialize_safetensors(std::string_view(bytes).substr(0, n)), Error) << "truncated to " << n;
  EXPECT_NO_THROW(deserialize_safetensors(bytes));
  write_bytes(path("cut.safetensors"), bytes.substr(0, bytes.size() - 3));
  expect_error_mentions([&] { load_safetensors(path("cut.safetensors")); }, {"cut.safetensors", "truncated"});
}

// Flipping any single byte of the length or the header either still parses or throws tandem::Error.
TEST_F(NnCorruptSafetensors, ByteFlipsInTheHeaderNeverEscapeAsOtherErrors) {
  nn::OrderedDict<Tensor> d;
  d.insert("w", randn({2, 2}));
  d.insert("m", tensor(std::vector<bool>{true, false}));
  const std::string bytes = serialize_safetensors(d);
  const size_t header_end = 8 + static_cast<size_t>(static_cast<unsigned char>(bytes[0]));
  for (size_t at = 0; at < header_end; ++at) {
    for (unsigned char mask : {0x01, 0x20, 0x80}) {
      std::string corrupted = bytes;
      corrupted[at] = static_cast<char>(corrupted[at] ^ mask);
      try {
        deserialize_safetensors(corrupted);
      } catch (const Error&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << "byte " << at << ": " << e.what();
      }
    }
  }
}

// ---- atomic writes ------------------------------------------------------------------------------------------
TEST_F(NnSafetensors, OverwritingReplacesTheFileAndLeavesNoTemporary) {
  nn::OrderedDict<Tensor> first, second;
  first.insert("a", ones({2}));
  second.insert("b", zeros({3}, kInt64));
  save_safetensors(first, path("c.safetensors"));
  save_safetensors(second, path("c.safetensors"));
  EXPECT_EQ(load_safetensors(path("c.safetensors")).tensors.keys(), std::vector<std::string>{"b"});
  EXPECT_EQ(entries(), std::vector<std::string>{"c.safetensors"});
}

TEST_F(NnSafetensors, FailedWriteLeavesThePreviousFileIntact) {
  nn::OrderedDict<Tensor> good;
  good.insert("a", randn({4}));
  const auto file = path("ckpt.safetensors");
  save_safetensors(good, file);
  const std::string before = read_bytes(file);

  // The temporary file cannot be created (a directory is in its place).
  const auto blocker = std::filesystem::path(file.string() + ".tmp." + std::to_string(::getpid()));
  std::filesystem::create_directory(blocker);
  nn::OrderedDict<Tensor> other;
  other.insert("b", randn({100}));
  expect_error_mentions([&] { save_safetensors(other, file); }, {file.string(), "temporary"});
  EXPECT_EQ(read_bytes(file), before);
  std::filesystem::remove(blocker);

  // A tensor that cannot be written fails before anything touches the disk.
  nn::OrderedDict<Tensor> broken;
  broken.insert("ok", randn({2}));
  broken.insert("missing", Tensor());
  expect_error_mentions([&] { save_safetensors(broken, file); }, {file.string(), "'missing'", "undefined"});
  EXPECT_EQ(read_bytes(file), before);
  EXPECT_EQ(entries(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST_F(NnSafetensors, WritingOverADirectoryFailsAndKeepsIt) {
  const auto target = path("a_directory");
  std::filesystem::create_directory(target);
  write_bytes(target / "inside.txt", "keep me");
  nn::OrderedDict<Tensor> d;
  d.insert("a", randn({2}));
  expect_error_mentions([&] { save_safetensors(d, target); }, {target.string(), "rename"});
  EXPECT_TRUE(std::filesystem::is_directory(target));
  EXPECT_EQ(read_bytes(target / "inside.txt"), "keep me");
  EXPECT_EQ(entries(), std::vector<std::string>{"a_directory"});  // no temporary left behind
}

TEST_F(NnSafetensors, RejectsBadNamesAndPaths) {
  nn::OrderedDict<Tensor> reserved;
  reserved.insert("__metadata__", ones({1}));
  expect_error_mentions([&] { save_safetensors(reserved, path("r.safetensors")); }, {"__metadata__", "reserved"});
  nn::OrderedDict<Tensor> unnamed;
  unnamed.insert("", ones({1}));
  expect_error_mentions([&] { save_safetensors(unnamed, path("u.safetensors")); }, {"empty name"});
  nn::OrderedDict<Tensor> invalid_utf8;
  invalid_utf8.insert("\xff\xfe", ones({1}));
  expect_error_mentions([&] { save_safetensors(invalid_utf8, path("x.safetensors")); }, {"cannot encode the header"});
  nn::OrderedDict<Tensor> fine;
  fine.insert("a", ones({1}));
  expect_error_mentions([&] { save_safetensors(fine, path("no/such/dir/f.safetensors")); }, {"no/such/dir", "temporary"});
  EXPECT_TRUE(entries().empty());
}

}  // namespace

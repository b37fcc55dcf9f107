// Helpers for the checkpoint tests: a scratch directory per test, raw file reading and writing, bit-exact tensor
// comparison and a check that an error message mentions given fragments.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tensor/functions.h"

namespace tandem::serialize_testing {

/// A fresh directory under the system's temporary directory, removed at the end of the test.
class ScratchDir : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           (std::string("tandem_") + info->test_suite_name() + "_" + info->name() + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path path(const std::string& name) const { return dir_ / name; }
  /// Every entry of the scratch directory (to check that no temporary file was left behind).
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    return names;
  }
  std::filesystem::path dir_;
};

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// n as 8 little-endian bytes.
inline std::string le_u64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

/// The raw bytes of a value as stored on a little-endian machine.
template <typename T>
std::string raw_bytes(T value) {
  std::string s(sizeof(T), '\0');
  std::memcpy(s.data(), &value, sizeof(T));
  return s;
}

/// A safetensors file: header length, header text, data.
inline std::string safetensors_file(const std::string& header, const std::string& data) {
  return le_u64(header.size()) + header + data;
}

/// Same dtype, shape and bytes (NaN payloads and the sign of zero included).
inline ::testing::AssertionResult bit_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype()) return ::testing::AssertionFailure() << "dtype " << a.dtype() << " vs " << b.dtype();
  if (a.sizes() != b.sizes()) return ::testing::AssertionFailure() << "shape " << a.sizes() << " vs " << b.sizes();
  Tensor ca = a.detach().cpu().contiguous(), cb = b.detach().cpu().contiguous();
  const size_t nbytes = static_cast<size_t>(ca.numel()) * ca.element_size();
  if (nbytes > 0 && std::memcmp(ca.data_ptr(), cb.data_ptr(), nbytes) != 0)
    return ::testing::AssertionFailure() << "values differ: " << a << " vs " << b;
  return ::testing::AssertionSuccess();
}

/// Expects fn() to throw a tandem::Error whose message contains every one of `parts`.
template <typename Fn>
void expect_error_mentions(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a tandem::Error mentioning '" << (parts.empty() ? "" : parts[0]) << "'";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& part : parts) EXPECT_NE(what.find(part), std::string::npos) << "'" << what << "' lacks '" << part << "'";
  }
}

}  // namespace tandem::serialize_testing

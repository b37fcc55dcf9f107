// The vocabulary every layer shares: element types, devices, the small inline vector used for shapes and
// strides, and tandem::Error with the TD_CHECK macro that builds its message. It sits in backends/ because the
// backends are the lowest layer and must not know about Tensor; everything above re-exports these names.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tandem {

/// Every misuse of the library throws this. The message names the op and the offending shapes/dtypes/devices.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace tandem

/// Throws tandem::Error with the concatenation of the remaining arguments when `cond` is false.
#define TD_CHECK(cond, ...)                                         \
  do {                                                              \
    if (!(cond)) throw ::tandem::Error(::tandem::detail::concat(__VA_ARGS__)); \
  } while (0)

namespace tandem {

// ---------------------------------------------------------------------------------------------------------------
// Element types
// ---------------------------------------------------------------------------------------------------------------
enum class ScalarType : int8_t { Float32 = 0, Float64 = 1, Int64 = 2, Bool = 3 };
inline constexpr ScalarType kFloat32 = ScalarType::Float32;
inline constexpr ScalarType kFloat = ScalarType::Float32;
inline constexpr ScalarType kFloat64 = ScalarType::Float64;
inline constexpr ScalarType kDouble = ScalarType::Float64;
inline constexpr ScalarType kInt64 = ScalarType::Int64;
inline constexpr ScalarType kLong = ScalarType::Int64;
inline constexpr ScalarType kBool = ScalarType::Bool;

inline constexpr size_t element_size(ScalarType t) {
  switch (t) {
    case ScalarType::Float32: return 4;
    case ScalarType::Float64: return 8;
    case ScalarType::Int64: return 8;
    case ScalarType::Bool: return 1;
  }
  return 0;
}
inline constexpr const char* dtype_name(ScalarType t) {
  switch (t) {
    case ScalarType::Float32: return "float32";
    case ScalarType::Float64: return "float64";
    case ScalarType::Int64: return "int64";
    case ScalarType::Bool: return "bool";
  }
  return "?";
}
inline constexpr bool is_floating(ScalarType t) { return t == ScalarType::Float32 || t == ScalarType::Float64; }
inline std::ostream& operator<<(std::ostream& os, ScalarType t) { return os << dtype_name(t); }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr ScalarType value = ScalarType::Float32; };
template <> struct dtype_of<double> { static constexpr ScalarType value = ScalarType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr ScalarType value = ScalarType::Int64; };
template <> struct dtype_of<bool> { static constexpr ScalarType value = ScalarType::Bool; };

/// Calls `fn(T{})` with T the C++ type of `t` (float, double, int64_t or bool).
template <typename Fn>
decltype(auto) visit_dtype(ScalarType t, Fn&& fn) {
  switch (t) {
    case ScalarType::Float32: return fn(float{});
    case ScalarType::Float64: return fn(double{});
    case ScalarType::Int64: return fn(int64_t{});
    case ScalarType::Bool: return fn(bool{});
  }
  throw Error("visit_dtype: unknown dtype");
}

// ---------------------------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------------------------
enum class DeviceType : int8_t { CPU = 0, CUDA = 1 };
inline constexpr DeviceType kCPU = DeviceType::CPU;
inline constexpr DeviceType kCUDA = DeviceType::CUDA;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  constexpr Device() = default;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(i) {}  // NOLINT: implicit like libtorch
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  friend bool operator==(const Device& a, const Device& b) { return a.type == b.type && a.index == b.index; }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }
  std::string str() const { return type == DeviceType::CPU ? "cpu" : "cuda:" + std::to_string(index); }
  friend std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }
};

// ---------------------------------------------------------------------------------------------------------------
// Dims: shapes and strides. Up to 6 entries live inline, so most tensors never touch the heap for them.
// ---------------------------------------------------------------------------------------------------------------
class Dims {
 public:
  static constexpr size_t kInline = 6;
  Dims() = default;
  explicit Dims(size_t n, int64_t value = 0) { resize(n, value); }
  Dims(std::initializer_list<int64_t> v) { assign(v.begin(), v.size()); }
  Dims(const std::vector<int64_t>& v) { assign(v.data(), v.size()); }  // NOLINT
  Dims(const int64_t* p, size_t n) { assign(p, n); }
  Dims(const Dims& o) { assign(o.data(), o.size()); }
  Dims(Dims&& o) noexcept { move_from(o); }
  Dims& operator=(const Dims& o) {
    if (this != &o) assign(o.data(), o.size());
    return *this;
  }
  Dims& operator=(Dims&& o) noexcept {
    if (this != &o) {
      release();
      move_from(o);
    }
    return *this;
  }
  ~Dims() { release(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t* data() { return heap_ ? heap_ : inline_; }
  const int64_t* data() const { return heap_ ? heap_ : inline_; }
  int64_t& operator[](size_t i) { return data()[i]; }
  int64_t operator[](size_t i) const { return data()[i]; }
  int64_t* begin() { return data(); }
  int64_t* end() { return data() + size_; }
  const int64_t* begin() const { return data(); }
  const int64_t* end() const { return data() + size_; }
  int64_t back() const { return data()[size_ - 1]; }
  int64_t& back() { return data()[size_ - 1]; }
  void push_back(int64_t v) {
    reserve(size_ + 1);
    data()[size_++] = v;
  }
  void pop_back() { --size_; }
  void insert(size_t pos, int64_t v) {
    reserve(size_ + 1);
    int64_t* d = data();
    for (size_t i = size_; i > pos; --i) d[i] = d[i - 1];
    d[pos] = v;
    ++size_;
  }
  void erase(size_t pos) {
    int64_t* d = data();
    for (size_t i = pos; i + 1 < size_; ++i) d[i] = d[i + 1];
    --size_;
  }
  void resize(size_t n, int64_t value = 0) {
    reserve(n);
    for (size_t i = size_; i < n; ++i) data()[i] = value;
    size_ = n;
  }
  void clear() { size_ = 0; }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(begin(), end()); }
  int64_t product() const {
    int64_t p = 1;
    for (size_t i = 0; i < size_; ++i) p *= data()[i];
    return p;
  }
  friend bool operator==(const Dims& a, const Dims& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const Dims& a, const Dims& b) { return !(a == b); }
  friend bool operator==(const Dims& a, const std::vector<int64_t>& b) {
    return a.size_ == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }
  friend std::ostream& operator<<(std::ostream& os, const Dims& d) {
    os << '[';
    for (size_t i = 0; i < d.size_; ++i) os << (i ? ", " : "") << d[i];
    return os << ']';
  }
  std::string str() const { return detail::concat(*this); }

 private:
  void reserve(size_t n) {
    if (n <= capacity()) return;
    size_t cap = std::max(n, 2 * capacity());
    auto* p = new int64_t[cap];
    std::memcpy(p, data(), size_ * sizeof(int64_t));
    delete[] heap_;
    heap_ = p;
    cap_ = cap;
  }
  size_t capacity() const { return heap_ ? cap_ : kInline; }
  void assign(const int64_t* p, size_t n) {
    if (n > capacity()) reserve(n);
    if (n > 0) std::memmove(data(), p, n * sizeof(int64_t));
    size_ = n;
  }
  void release() {
    delete[] heap_;
    heap_ = nullptr;
    size_ = 0;
  }
  void move_from(Dims& o) {
    size_ = o.size_;
    if (o.heap_) {
      heap_ = o.heap_;
      cap_ = o.cap_;
      o.heap_ = nullptr;
    } else {
      std::memcpy(inline_, o.inline_, size_ * sizeof(int64_t));
    }
    o.size_ = 0;
  }
  int64_t inline_[kInline] = {};
  int64_t* heap_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
};

/// Row-major (C-order) strides for a shape.
inline Dims contiguous_strides(const Dims& sizes) {
  Dims s(sizes.size());
  int64_t acc = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    s[i] = acc;
    acc *= std::max<int64_t>(sizes[i], 1);
  }
  return s;
}

}  // namespace tandem

// Options structs for the nn library, in libtorch's style: every configurable value is a chained setter that
// returns the struct by reference plus a getter of the same name, so that
//
//   auto opts = tandem::nn::Conv2dOptions(1, 10, 3).stride(2).padding(1);
//   int64_t p = opts.padding()[0];
//
// reads like libtorch. TANDEM_ARG writes the three accessors and declares the stored member `name_`; the
// default value follows the macro:
//
//   struct AdamOptions {
//     explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
//     TANDEM_ARG(double, lr) = 1e-3;
//     TANDEM_ARG(double, weight_decay) = 0;
//   };
//
// ExpandingArray<D> is the type of size arguments (kernel_size, stride, padding, ...): one number stands for the
// same value in all D dimensions, a braced list gives each one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <vector>

#include "backends/types.h"

/// Declares a public option `name` of type T: a setter `name(value)` returning *this by reference, getters
/// `name()` (const and mutable) and the stored member `name##_`. Write the default after it:
/// `TANDEM_ARG(int64_t, stride) = 1;`. A type whose spelling contains a comma needs an alias first.
#define TANDEM_ARG(T, name)                                \
 public:                                                   \
  auto& name(const T& new_##name) {                        \
    this->name##_ = new_##name;                            \
    return *this;                                          \
  }                                                        \
  const T& name() const noexcept { return this->name##_; } \
  T& name() noexcept { return this->name##_; }             \
  T name##_

namespace tandem::nn {

/// D sizes, one per spatial dimension, built from a single value (repeated) or from exactly D values.
/// Converts to Dims for the functional ops.
template <size_t D>
class ExpandingArray {
 public:
  /// The same value in every dimension.
  ExpandingArray(int64_t value) { values_.fill(value); }  // NOLINT: implicit, as libtorch's
  /// One value (repeated) or exactly D values.
  ExpandingArray(std::initializer_list<int64_t> values) { assign(values.begin(), values.size()); }  // NOLINT
  ExpandingArray(const std::vector<int64_t>& values) { assign(values.data(), values.size()); }      // NOLINT
  ExpandingArray(const Dims& values) { assign(values.data(), values.size()); }                      // NOLINT

  static constexpr size_t size() { return D; }
  int64_t operator[](size_t i) const { return values_[i]; }
  int64_t& operator[](size_t i) { return values_[i]; }
  const int64_t* begin() const { return values_.data(); }
  const int64_t* end() const { return values_.data() + D; }
  const int64_t* data() const { return values_.data(); }
  Dims dims() const { return Dims(values_.data(), D); }
  operator Dims() const { return dims(); }  // NOLINT: passes straight to the functional ops
  std::vector<int64_t> vec() const { return std::vector<int64_t>(begin(), end()); }

  friend bool operator==(const ExpandingArray& a, const ExpandingArray& b) { return a.values_ == b.values_; }
  friend bool operator!=(const ExpandingArray& a, const ExpandingArray& b) { return !(a == b); }
  /// Prints as "[3, 3]".
  friend std::ostream& operator<<(std::ostream& os, const ExpandingArray& a) {
    os << '[';
    for (size_t i = 0; i < D; ++i) os << (i ? ", " : "") << a.values_[i];
    return os << ']';
  }

 private:
  void assign(const int64_t* values, size_t n) {
    TD_CHECK(n == 1 || n == D, "ExpandingArray: expected 1 or ", D, " values but got ", n);
    for (size_t i = 0; i < D; ++i) values_[i] = values[n == 1 ? 0 : i];
  }
  std::array<int64_t, D> values_{};
};

using ExpandingArray1 = ExpandingArray<1>;
using ExpandingArray2 = ExpandingArray<2>;

}  // namespace tandem::nn

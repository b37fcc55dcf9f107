// What the optimizer tests share: a float64 parameter from values, an element-wise comparison with the rule
// evaluated in double, an error check that looks for parts of the message, and the starting point they use.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "tensor/functions.h"

namespace tandem::optim_test {

inline Tensor param_of(const std::vector<double>& values) {
  Tensor p = tensor(values, kFloat64);
  p.requires_grad_(true);
  return p;
}

inline void expect_values(const Tensor& t, const std::vector<double>& expected, const std::string& where) {
  const auto actual = t.to_vector<double>();
  ASSERT_EQ(actual.size(), expected.size()) << where;
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], 1e-12 * std::max(1.0, std::abs(expected[i]))) << where << " element " << i;
}

inline void expect_error_mentioning(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected tandem::Error";
  } catch (const Error& e) {
    for (const auto& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

inline const std::vector<double> kStart = {1.0, -2.0, 0.5};

}  // namespace tandem::optim_test

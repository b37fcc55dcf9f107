// Small helpers shared by the nn layer tests: a module's one-line description, and a check that a call throws
// a tandem::Error whose message mentions given fragments (the layer's name, the offending shape, ...).
#pragma once

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "nn/module.h"

namespace tandem::nn::testing {

/// What module.pretty_print writes.
inline std::string printed(const Module& module) {
  std::ostringstream os;
  module.pretty_print(os);
  return os.str();
}

/// Expects fn() to throw a tandem::Error whose message contains every one of `parts`.
template <typename Fn>
void expect_error_mentions(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a tandem::Error mentioning " << (parts.empty() ? "" : parts[0]);
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& part : parts)
      EXPECT_NE(what.find(part), std::string::npos) << "'" << what << "' lacks '" << part << "'";
  }
}

}  // namespace tandem::nn::testing

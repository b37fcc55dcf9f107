// Tests of operator<< for tensors (tensor/print.cpp): exact strings for each dtype, nesting, padding to a
// common width, scientific notation, summarised large tensors, and the autograd suffixes.
#include <gtest/gtest.h>
#include <tandem.h>

#include <cmath>
#include <sstream>

namespace {

using namespace tandem;

std::string printed(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

TEST(Printing, MatrixOfFloatsIsPaddedToACommonWidth) {
  Tensor t = tensor({1.f, -2.5f, 0.f, 3.14159f}).reshape({2, 2});
  EXPECT_EQ(printed(t),
            "tensor([[ 1.0000, -2.5000],\n"
            "        [ 0.0000,  3.1416]], dtype=float32)");
  EXPECT_EQ(t.str(), printed(t));
}

TEST(Printing, VectorsOfEachDtype) {
  EXPECT_EQ(printed(tensor({1.0, 10.0})), "tensor([ 1.0000, 10.0000], dtype=float64)");
  EXPECT_EQ(printed(tensor({1, 22, 333})), "tensor([  1,  22, 333], dtype=int64)");
  EXPECT_EQ(printed(tensor({-1, 5})), "tensor([-1,  5], dtype=int64)");
  EXPECT_EQ(printed(tensor({true, false})), "tensor([ true, false], dtype=bool)");
}

TEST(Printing, ZeroDimensionalAndEmptyTensors) {
  EXPECT_EQ(printed(scalar_tensor(2.5)), "tensor(2.5000, dtype=float32)");
  EXPECT_EQ(printed(scalar_tensor(7, kInt64)), "tensor(7, dtype=int64)");
  EXPECT_EQ(printed(zeros({0})), "tensor([], size=[0], dtype=float32)");
  EXPECT_EQ(printed(Tensor()), "tensor(undefined)");
}

TEST(Printing, ThreeDimensionsSeparateBlocksWithABlankLine) {
  EXPECT_EQ(printed(arange(8).reshape({2, 2, 2})),
            "tensor([[[0, 1],\n"
            "         [2, 3]],\n"
            "\n"
            "        [[4, 5],\n"
            "         [6, 7]]], dtype=int64)");
}

TEST(Printing, NonContiguousTensorsPrintInLogicalOrder) {
  EXPECT_EQ(printed(arange(6).reshape({2, 3}).t()),
            "tensor([[0, 3],\n"
            "        [1, 4],\n"
            "        [2, 5]], dtype=int64)");
}

TEST(Printing, VerySmallOrLargeValuesUseScientificNotation) {
  EXPECT_EQ(printed(tensor({1e-5, 1.0})), "tensor([1.0000e-05, 1.0000e+00], dtype=float64)");
  EXPECT_EQ(printed(tensor({2e9, -1.0})), "tensor([ 2.0000e+09, -1.0000e+00], dtype=float64)");
}

TEST(Printing, NonFiniteValues) {
  EXPECT_EQ(printed(tensor({NAN, INFINITY, -1.f})), "tensor([    nan,     inf, -1.0000], dtype=float32)");
  EXPECT_EQ(printed(tensor({-INFINITY})), "tensor([-inf], dtype=float32)");
}

TEST(Printing, LargeTensorsAreSummarised) {
  EXPECT_EQ(printed(arange(2000)), "tensor([   0,    1,    2, ..., 1997, 1998, 1999], dtype=int64)");
  const std::string big = printed(arange(2000).reshape({100, 20}));
  EXPECT_NE(big.find("..."), std::string::npos);
  EXPECT_LT(big.size(), 1000u) << "a summarised 100x20 tensor prints only its edges";
  EXPECT_NE(big.find("1999]]"), std::string::npos);
}

TEST(Printing, AutogradSuffixes) {
  Tensor x = tensor({1.0, 2.0}, requires_grad());
  EXPECT_EQ(printed(x), "tensor([1.0000, 2.0000], dtype=float64, requires_grad=true)");
  EXPECT_EQ(printed(x.mul(2.0)), "tensor([2.0000, 4.0000], dtype=float64, grad_fn=<MulBackward>)");
  EXPECT_EQ(printed(x.detach()), "tensor([1.0000, 2.0000], dtype=float64)");
}

TEST(Printing, ShapesPrintInBrackets) {
  std::ostringstream os;
  os << Dims({2, 3}) << ' ' << Dims{} << ' ' << Device(kCPU) << ' ' << kFloat64;
  EXPECT_EQ(os.str(), "[2, 3] [] cpu float64");
  EXPECT_EQ(Device(kCUDA, 1).str(), "cuda:1");
}

}  // namespace

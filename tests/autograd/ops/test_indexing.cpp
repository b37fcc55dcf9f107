// Joining, splitting and indexing ops (cat, stack, split, split_with_sizes, chunk, unbind, index_select,
// index_add, gather, scatter_add, embedding, one_hot): forward values against hand-written expectations,
// first and second derivatives against finite differences in float64 (non-contiguous inputs, repeated
// indices, negative dims), and the errors for every kind of misuse.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "backends/backend.h"
#include "tensor/functions.h"

namespace tandem {
namespace {

using autograd::variable_list;

TensorOptions f64_grad() { return TensorOptions(kFloat64).requires_grad(true); }

/// A float64 leaf that requires grad and is a transposed (non-contiguous) view of shape [rows, cols].
Tensor transposed_leaf(int64_t rows, int64_t cols) {
  Tensor x = randn({cols, rows}, kFloat64).t();
  x.requires_grad_();
  return x;
}

Tensor index_tensor(std::vector<int64_t> values, const Dims& shape = {}) {
  Tensor t = tensor(values);
  return shape.empty() ? t : t.reshape(shape);
}

Tensor doubles(std::vector<double> values, const Dims& shape) { return tensor(values).reshape(shape); }

void expect_values(const Tensor& t, const Dims& shape, const std::vector<double>& values) {
  EXPECT_EQ(t.sizes(), shape);
  EXPECT_EQ(t.to_vector<double>(), values);
}

/// Runs fn, expecting a tandem::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected tandem::Error";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& part : parts) EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' not in: " << what;
  }
}

// ---- cat ----------------------------------------------------------------------------------------------------------

TEST(Cat, ForwardValuesAlongEachDim) {
  const Tensor a = doubles({1, 2, 3, 4}, {2, 2});
  expect_values(cat({a, doubles({5, 6}, {1, 2})}, 0), {3, 2}, {1, 2, 3, 4, 5, 6});
  const Tensor c = doubles({7, 8}, {2, 1});
  expect_values(cat({a, c}, 1), {2, 3}, {1, 2, 7, 3, 4, 8});
  expect_values(cat({c, a, c}, -1), {2, 4}, {7, 1, 2, 7, 8, 3, 4, 8});
  expect_values(cat({a.t(), a}, 0), {4, 2}, {1, 3, 2, 4, 1, 2, 3, 4});  // a non-contiguous input
  expect_values(cat({a}, 0), {2, 2}, {1, 2, 3, 4});
}

TEST(Cat, PromotesDtypesLikeLibtorch) {
  const Tensor i = index_tensor({1, 2});
  const Tensor f = tensor({0.5f, 1.5f});
  const Tensor d = tensor({2.5, 3.5});
  const Tensor b = tensor(std::vector<bool>{true, false});
  EXPECT_EQ(cat({i, f}).dtype(), kFloat32);
  expect_values(cat({i, f}), {4}, {1, 2, 0.5, 1.5});
  EXPECT_EQ(cat({f, d}).dtype(), kFloat64);
  EXPECT_EQ(cat({b, i}).dtype(), kInt64);
  expect_values(cat({b, i}), {4}, {1, 0, 1, 2});
}

TEST(Cat, SkipsLegacyEmptyOneDimTensors) {
  const Tensor a = doubles({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor empty1d = zeros({0}, kFloat64);
  expect_values(cat({empty1d, a, empty1d}, 1), {2, 3}, {1, 2, 3, 4, 5, 6});
  expect_values(cat({empty1d, empty1d}), {0}, {});
  // an empty tensor of the right rank takes part like any other
  expect_values(cat({a, zeros({2, 0}, kFloat64)}, 1), {2, 3}, {1, 2, 3, 4, 5, 6});
}

TEST(Cat, GradcheckWithNonContiguousInputsAndNegativeDim) {
  const Tensor x = transposed_leaf(3, 2);
  const Tensor y = randn({3, 4}, f64_grad());
  const Tensor z = randn({3, 1}, f64_grad());
  for (int64_t dim : {1, -1}) {
    auto fn = [dim](const variable_list& in) { return cat({in[0], in[1], in[2]}, dim); };
    EXPECT_TRUE(autograd::gradcheck(fn, {x, y, z}));
    EXPECT_TRUE(autograd::gradgradcheck(fn, {x, y, z}));
  }
  const Tensor w = transposed_leaf(2, 3);
  auto along0 = [](const variable_list& in) { return cat({in[0], in[1]}, 0); };
  EXPECT_TRUE(autograd::gradcheck(along0, {w, y.t().detach().requires_grad_()}));
}

TEST(Cat, GradientReachesInputsOfEveryDtypeAndSkipsConstants) {
  const Tensor a = randn({2, 2}, TensorOptions(kFloat32).requires_grad(true));
  const Tensor b = randn({2, 2}, kFloat64);  // no grad
  const Tensor c = randn({2, 1}, f64_grad());
  Tensor out = cat({a, b, c}, 1);
  EXPECT_EQ(out.dtype(), kFloat64);
  out.sum().backward();
  EXPECT_EQ(a.grad().dtype(), kFloat32);
  EXPECT_EQ(a.grad().to_vector<float>(), std::vector<float>(4, 1.0f));
  EXPECT_EQ(c.grad().to_vector<double>(), std::vector<double>(2, 1.0));
}

TEST(Cat, Errors) {
  const Tensor a = randn({2, 3});
  expect_error([] { cat({}); }, {"cat", "non-empty"});
  expect_error([&] { cat({a, randn({3})}); }, {"cat", "[2, 3]", "[3]"});
  expect_error([&] { cat({a, randn({3, 3})}, 1); }, {"cat", "dim 1", "[3, 3]"});
  expect_error([&] { cat({a, scalar_tensor(1.0)}); }, {"cat", "zero-dimensional"});
  expect_error([&] { cat({a, a}, 2); }, {"cat", "dim 2", "out of range"});
  expect_error([&] { cat({a, a}, -3); }, {"cat", "dim -3"});
  expect_error([&] { cat({a, Tensor()}); }, {"cat", "undefined"});
}

// ---- stack --------------------------------------------------------------------------------------------------------

TEST(Stack, ForwardValues) {
  const Tensor a = doubles({1, 2, 3, 4}, {2, 2});
  const Tensor b = doubles({5, 6, 7, 8}, {2, 2});
  expect_values(stack({a, b}), {2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  expect_values(stack({a, b}, 1), {2, 2, 2}, {1, 2, 5, 6, 3, 4, 7, 8});
  expect_values(stack({a, b}, -1), {2, 2, 2}, {1, 5, 2, 6, 3, 7, 4, 8});
  expect_values(stack({scalar_tensor(1.0, kFloat64), scalar_tensor(2.0, kFloat64)}), {2}, {1, 2});
}

TEST(Stack, Gradcheck) {
  const Tensor x = transposed_leaf(3, 2);
  const Tensor y = randn({3, 2}, f64_grad());
  for (int64_t dim : {0, 1, -1}) {
    auto fn = [dim](const variable_list& in) { return stack({in[0], in[1]}, dim); };
    EXPECT_TRUE(autograd::gradcheck(fn, {x, y}));
    EXPECT_TRUE(autograd::gradgradcheck(fn, {x, y}));
  }
}

TEST(Stack, Errors) {
  expect_error([] { stack({}); }, {"stack", "non-empty"});
  expect_error([] { stack({randn({2, 3}), randn({3, 2})}); }, {"stack", "[2, 3]", "[3, 2]"});
  expect_error([] { stack({randn({2, 3}), randn({2, 3})}, 3); }, {"stack", "dim 3"});
}

// ---- split, chunk, unbind -----------------------------------------------------------------------------------------

std::vector<Dims> shapes_of(const std::vector<Tensor>& parts) {
  std::vector<Dims> out;
  for (const Tensor& p : parts) out.push_back(p.sizes());
  return out;
}

TEST(Split, PiecesAndValues) {
  const Tensor x = arange(15.0, kFloat64).reshape({5, 3});
  const auto parts = split(x, 2);
  EXPECT_EQ(shapes_of(parts), (std::vector<Dims>{{2, 3}, {2, 3}, {1, 3}}));
  expect_values(parts[2], {1, 3}, {12, 13, 14});
  const auto columns = x.split(2, -1);
  EXPECT_EQ(shapes_of(columns), (std::vector<Dims>{{5, 2}, {5, 1}}));
  expect_values(columns[1], {5, 1}, {2, 5, 8, 11, 14});
  EXPECT_EQ(split(x, 7).size(), 1u);
  EXPECT_EQ(shapes_of(split(zeros({0, 3}), 2)), (std::vector<Dims>{{0, 3}}));
  EXPECT_EQ(shapes_of(split(zeros({0, 3}), 0)), (std::vector<Dims>{{0, 3}}));

  const auto sized = x.split_with_sizes({1, 3, 1});
  EXPECT_EQ(shapes_of(sized), (std::vector<Dims>{{1, 3}, {3, 3}, {1, 3}}));
  expect_values(sized[2], {1, 3}, {12, 13, 14});
  EXPECT_EQ(shapes_of(split_with_sizes(x, {0, 3}, 1)), (std::vector<Dims>{{5, 0}, {5, 3}}));
}

TEST(Chunk, PiecesFollowLibtorch) {
  EXPECT_EQ(shapes_of(chunk(zeros({5}), 3)), (std::vector<Dims>{{2}, {2}, {1}}));
  EXPECT_EQ(shapes_of(chunk(zeros({6}), 4)), (std::vector<Dims>{{2}, {2}, {2}}));  // fewer chunks, as libtorch
  EXPECT_EQ(shapes_of(zeros({2, 0}).chunk(3, 1)), (std::vector<Dims>{{2, 0}, {2, 0}, {2, 0}}));
  const Tensor x = arange(6.0, kFloat64).reshape({2, 3});
  const auto parts = x.chunk(3, -1);
  ASSERT_EQ(parts.size(), 3u);
  expect_values(parts[1], {2, 1}, {1, 4});
}

TEST(Unbind, SelectsAlongTheDim) {
  const Tensor x = arange(6.0, kFloat64).reshape({2, 3});
  const auto rows = x.unbind();
  ASSERT_EQ(rows.size(), 2u);
  expect_values(rows[1], {3}, {3, 4, 5});
  const auto cols = x.unbind(-1);
  ASSERT_EQ(cols.size(), 3u);
  expect_values(cols[2], {2}, {2, 5});
}

TEST(Split, GradcheckOfEverySplittingOp) {
  const Tensor x = transposed_leaf(5, 3);
  const std::vector<std::function<variable_list(const variable_list&)>> fns = {
      [](const variable_list& in) { return split(in[0], 2, 0); },
      [](const variable_list& in) { return in[0].split(2, -1); },
      [](const variable_list& in) {
        return split_with_sizes(in[0], {1, 0, 4}, 0);
      },
      [](const variable_list& in) { return in[0].chunk(2, 1); },
      [](const variable_list& in) { return in[0].unbind(-1); },
      [](const variable_list& in) {  // a piece used twice and one not at all
        auto p = in[0].split(2, 0);
        return variable_list{p[0].mul(p[0]), p[2]};
      },
  };
  for (size_t i = 0; i < fns.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(autograd::gradcheck(fns[i], {x}));
    EXPECT_TRUE(autograd::gradgradcheck(fns[i], {x}));
  }
}

TEST(Split, Errors) {
  const Tensor x = randn({5, 3});
  expect_error([&] { split(x, 0); }, {"split", "0"});
  expect_error([&] { split(x, -1); }, {"split", "-1"});
  expect_error([&] { split(x, 2, 2); }, {"split", "dim 2"});
  expect_error([] { split(scalar_tensor(1.0), 1); }, {"split", "0-dimensional"});
  expect_error([&] { split_with_sizes(x, {2, 2}); }, {"split_with_sizes", "4", "5"});
  expect_error([&] { split_with_sizes(x, {6, -1}); }, {"split_with_sizes", "non-negative"});
  expect_error([&] { chunk(x, 0); }, {"chunk", "positive"});
  expect_error([&] { x.unbind(2); }, {"unbind", "dim 2"});
}

// ---- index_select -------------------------------------------------------------------------------------------------

TEST(IndexSelect, ForwardValues) {
  const Tensor x = doubles({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_values(x.index_select(1, index_tensor({2, 0, 2})), {2, 3}, {3, 1, 3, 6, 4, 6});
  expect_values(index_select(x, -2, index_tensor({1})), {1, 3}, {4, 5, 6});
  expect_values(x.t().index_select(0, index_tensor({1, 1})), {2, 2}, {2, 5, 2, 5});
  expect_values(x.index_select(0, scalar_tensor(1, kInt64)), {1, 3}, {4, 5, 6});  // 0-d index keeps the dim
  expect_values(x.index_select(1, zeros({0}, kInt64)), {2, 0}, {});
  expect_values(scalar_tensor(4.0, kFloat64).index_select(0, index_tensor({0})), {}, {4});
  const Tensor ints = index_tensor({10, 20, 30});
  EXPECT_EQ(ints.index_select(0, index_tensor({2, 0})).to_vector<int64_t>(), (std::vector<int64_t>{30, 10}));
}

TEST(IndexSelect, RepeatedIndicesAccumulateInTheGradient) {
  const Tensor x = randn({3}, f64_grad());
  x.index_select(0, index_tensor({0, 0, 2, 0})).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 0, 1}));
}

TEST(IndexSelect, Gradcheck) {
  const Tensor x = transposed_leaf(4, 3);
  const Tensor index = index_tensor({2, 0, 2, 3, 2});
  auto rows = [&](const variable_list& in) { return in[0].index_select(0, index); };
  EXPECT_TRUE(autograd::gradcheck(rows, {x}));
  EXPECT_TRUE(autograd::gradgradcheck(rows, {x}));
  auto cols = [&](const variable_list& in) { return index_select(in[0], -1, index_tensor({1, 1, 0})); };
  EXPECT_TRUE(autograd::gradcheck(cols, {x}));
  EXPECT_TRUE(autograd::gradgradcheck(cols, {x}));
}

TEST(IndexSelect, Errors) {
  const Tensor x = randn({2, 3});
  expect_error([&] { x.index_select(1, tensor({0.0f, 1.0f})); }, {"index_select", "int64", "float32"});
  expect_error([&] { x.index_select(1, index_tensor({0, 1}, {1, 2})); }, {"index_select", "1-D"});
  expect_error([&] { x.index_select(1, index_tensor({0, 3})); }, {"index_select", "3", "[0, 2]"});
  expect_error([&] { x.index_select(0, index_tensor({-1})); }, {"index_select", "-1", "[0, 1]"});
  expect_error([&] { x.index_select(2, index_tensor({0})); }, {"index_select", "dim 2"});
  expect_error([&] { scalar_tensor(1.0).index_select(0, index_tensor({0, 0})); }, {"index_select", "one element"});
}

// ---- index_add ----------------------------------------------------------------------------------------------------

TEST(IndexAdd, ForwardValues) {
  const Tensor x = doubles({1, 1, 1, 1, 1, 1}, {3, 2});
  const Tensor source = doubles({1, 2, 3, 4, 5, 6}, {3, 2});
  expect_values(x.index_add(0, index_tensor({2, 0, 2}), source), {3, 2}, {4, 5, 1, 1, 7, 9});
  expect_values(index_add(x, -1, index_tensor({1}), doubles({10, 20, 30}, {3, 1})), {3, 2}, {1, 11, 1, 21, 1, 31});
  expect_values(x, {3, 2}, {1, 1, 1, 1, 1, 1});  // out of place
  const Tensor ints = index_tensor({0, 0, 0});
  EXPECT_EQ(ints.index_add(0, index_tensor({1, 1}), index_tensor({5, 6})).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 11, 0}));
}

TEST(IndexAdd, Gradcheck) {
  const Tensor x = transposed_leaf(4, 3);
  const Tensor source = randn({5, 3}, f64_grad());
  const Tensor index = index_tensor({3, 0, 3, 3, 1});
  auto fn = [&](const variable_list& in) { return in[0].index_add(0, index, in[1]); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x, source}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {x, source}));
  const Tensor source_t = transposed_leaf(4, 2);
  auto last = [&](const variable_list& in) { return index_add(in[0], -1, index_tensor({2, 2}), in[1]); };
  EXPECT_TRUE(autograd::gradcheck(last, {x, source_t}));
  EXPECT_TRUE(autograd::gradgradcheck(last, {x, source_t}));
}

TEST(IndexAdd, Errors) {
  const Tensor x = randn({3, 2}, kFloat64);
  const Tensor source = randn({2, 2}, kFloat64);
  expect_error([&] { x.index_add(0, tensor({0.0, 1.0}), source); }, {"index_add", "int64", "float64"});
  expect_error([&] { x.index_add(0, index_tensor({0, 1}), source.to(kFloat32)); }, {"index_add", "float32"});
  expect_error([&] { x.index_add(0, index_tensor({0, 1}), randn({2}, kFloat64)); }, {"index_add", "rank"});
  expect_error([&] { x.index_add(0, index_tensor({0, 1}), randn({2, 3}, kFloat64)); }, {"index_add", "[2, 3]"});
  expect_error([&] { x.index_add(0, index_tensor({0, 1, 2}), source); }, {"index_add", "3 elements"});
  expect_error([&] { x.index_add(0, index_tensor({0, 3}), source); }, {"index_add", "3", "[0, 2]"});
  expect_error([&] { x.index_add(-3, index_tensor({0, 1}), source); }, {"index_add", "dim -3"});
}

// ---- gather -------------------------------------------------------------------------------------------------------

TEST(Gather, ForwardValues) {
  const Tensor x = doubles({1, 2, 3, 4}, {2, 2});
  expect_values(x.gather(1, index_tensor({0, 0, 1, 0}, {2, 2})), {2, 2}, {1, 1, 4, 3});
  expect_values(gather(x, 0, index_tensor({1, 0, 1}, {3, 1})), {3, 1}, {3, 1, 3});  // larger along dim
  expect_values(x.t().gather(-1, index_tensor({1, 1}, {2, 1})), {2, 1}, {3, 4});
  expect_values(scalar_tensor(5.0, kFloat64).gather(0, scalar_tensor(0, kInt64)), {}, {5});
}

TEST(Gather, Gradcheck) {
  const Tensor x = transposed_leaf(3, 4);
  const Tensor along_cols = index_tensor({0, 3, 3, 1, 2, 2, 0, 0, 1, 3}, {2, 5});
  auto fn = [&](const variable_list& in) { return in[0].gather(-1, along_cols); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {x}));
  const Tensor along_rows = index_tensor({2, 2, 0, 1, 0, 2}, {2, 3});
  auto rows = [&](const variable_list& in) { return gather(in[0], 0, along_rows); };
  EXPECT_TRUE(autograd::gradcheck(rows, {x}));
  EXPECT_TRUE(autograd::gradgradcheck(rows, {x}));
}

TEST(Gather, Errors) {
  const Tensor x = randn({2, 3});
  expect_error([&] { x.gather(1, index_tensor({0, 1})); }, {"gather", "rank 1", "rank 2"});
  expect_error([&] { x.gather(1, zeros({3, 1}, kInt64)); }, {"gather", "[3, 1]", "dim 0"});
  expect_error([&] { x.gather(1, zeros({2, 1})); }, {"gather", "int64", "float32"});
  expect_error([&] { x.gather(1, index_tensor({0, 5}, {2, 1})); }, {"gather", "5", "[0, 2]"});
  expect_error([&] { x.gather(2, zeros({2, 1}, kInt64)); }, {"gather", "dim 2"});
}

// ---- scatter_add --------------------------------------------------------------------------------------------------

TEST(ScatterAdd, ForwardValues) {
  const Tensor src = ones({2, 5}, kFloat64);
  const Tensor target = zeros({3, 5}, kFloat64);
  expect_values(target.scatter_add(0, index_tensor({0, 1, 2, 0, 0}, {1, 5}), src), {3, 5},
                {1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0});
  expect_values(scatter_add(target, 0, index_tensor({0, 1, 2, 0, 0, 0, 1, 2, 2, 2}, {2, 5}), src), {3, 5},
                {2, 0, 0, 1, 1, 0, 2, 0, 0, 0, 0, 0, 2, 1, 1});
  expect_values(doubles({1, 1}, {1, 2}).scatter_add(-1, index_tensor({1, 1, 1}, {1, 3}), doubles({1, 2, 3}, {1, 3})),
                {1, 2}, {1, 7});
}

TEST(ScatterAdd, Gradcheck) {
  const Tensor x = transposed_leaf(3, 4);
  const Tensor src = randn({2, 4}, f64_grad());
  const Tensor index = index_tensor({2, 2, 0, 2, 2, 1, 0, 2}, {2, 4});
  auto fn = [&](const variable_list& in) { return in[0].scatter_add(0, index, in[1]); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x, src}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {x, src}));
  // src larger than the index: its uncovered part gets a zero gradient
  const Tensor big_src = transposed_leaf(4, 5);
  const Tensor cols = index_tensor({3, 3, 0, 1, 1, 1}, {3, 2});
  auto last = [&](const variable_list& in) { return scatter_add(in[0], -1, cols, in[1]); };
  EXPECT_TRUE(autograd::gradcheck(last, {x, big_src}));
  EXPECT_TRUE(autograd::gradgradcheck(last, {x, big_src}));
}

TEST(ScatterAdd, Errors) {
  const Tensor x = zeros({2, 3}, kFloat64);
  const Tensor src = ones({2, 3}, kFloat64);
  expect_error([&] { x.scatter_add(1, zeros({2, 3}), src); }, {"scatter_add", "int64", "float32"});
  expect_error([&] { x.scatter_add(1, index_tensor({0, 1}), src); }, {"scatter_add", "rank"});
  expect_error([&] { x.scatter_add(1, zeros({2, 4}, kInt64), src); }, {"scatter_add", "larger", "src"});
  expect_error(
      [&] {
        x.scatter_add(1, zeros({3, 1}, kInt64), ones({3, 1}, kFloat64));
      },
      {"scatter_add", "larger", "self"});
  expect_error([&] { x.scatter_add(1, index_tensor({0, -2}, {2, 1}), src); }, {"scatter_add", "-2", "[0, 2]"});
  expect_error([&] { x.scatter_add(1, zeros({2, 3}, kInt64), src.to(kFloat32)); }, {"scatter_add", "dtype"});
}

// ---- embedding ----------------------------------------------------------------------------------------------------

TEST(Embedding, ForwardValues) {
  const Tensor weight = arange(12.0, kFloat64).reshape({4, 3});
  const Tensor out = embedding(weight, index_tensor({0, 2, 2, 3}, {2, 2}));
  expect_values(out, {2, 2, 3}, {0, 1, 2, 6, 7, 8, 6, 7, 8, 9, 10, 11});
  expect_values(embedding(weight, scalar_tensor(1, kInt64)), {3}, {3, 4, 5});
  expect_values(embedding(weight.t().contiguous().t(), index_tensor({1})), {1, 3}, {3, 4, 5});
}

TEST(Embedding, Gradcheck) {
  const Tensor weight = transposed_leaf(5, 3);
  const Tensor indices = index_tensor({4, 0, 4, 4, 2, 0}, {2, 3});
  auto fn = [&](const variable_list& in) { return embedding(in[0], indices); };
  EXPECT_TRUE(autograd::gradcheck(fn, {weight}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {weight}));
}

TEST(Embedding, PaddingRowGetsNoGradient) {
  const Tensor weight = randn({5, 2}, f64_grad());
  const Tensor indices = index_tensor({1, 2, 1, 4, 2});
  const Tensor out = embedding(weight, indices, /*padding_idx=*/1);
  EXPECT_EQ(out.select(0, 0).to_vector<double>(), weight.select(0, 1).to_vector<double>());  // forward unchanged
  const Tensor coeff = doubles({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {5, 2});
  out.mul(coeff).sum().backward();
  EXPECT_EQ(weight.grad().to_vector<double>(), (std::vector<double>{0, 0, 0, 0, 3 + 9, 4 + 10, 0, 0, 7, 8}));
  // the masked rule is itself differentiable
  auto fn = [&](const variable_list& in) { return embedding(in[0], indices, 1).square(); };
  EXPECT_TRUE(autograd::gradgradcheck(fn, {randn({5, 2}, f64_grad())}));
}

TEST(Embedding, Errors) {
  const Tensor weight = randn({4, 3});
  expect_error([&] { embedding(weight, tensor({0.0f, 1.0f})); }, {"embedding", "int64", "float32"});
  expect_error([&] { embedding(randn({4}), index_tensor({0})); }, {"embedding", "2-D"});
  expect_error([&] { embedding(weight, index_tensor({0, 4})); }, {"embedding", "4", "[0, 3]"});
  expect_error([&] { embedding(weight, index_tensor({-1})); }, {"embedding", "-1"});
  expect_error([&] { embedding(weight, index_tensor({0}), 4); }, {"embedding", "padding_idx"});
  expect_error([&] { embedding(weight, index_tensor({0}), -2); }, {"embedding", "padding_idx"});
}

// ---- one_hot ------------------------------------------------------------------------------------------------------

TEST(OneHot, ForwardValues) {
  const Tensor out = one_hot(index_tensor({0, 2, 1}));
  EXPECT_EQ(out.dtype(), kInt64);
  expect_values(out, {3, 3}, {1, 0, 0, 0, 0, 1, 0, 1, 0});
  expect_values(one_hot(index_tensor({1, 0}), 4), {2, 4}, {0, 1, 0, 0, 1, 0, 0, 0});
  expect_values(one_hot(index_tensor({1, 0, 0, 1}, {2, 2})), {2, 2, 2}, {0, 1, 1, 0, 1, 0, 0, 1});
  expect_values(one_hot(zeros({0}, kInt64), 3), {0, 3}, {});
  expect_values(one_hot(index_tensor({1, 2, 0}).slice(0, 0, 3, 2), 3), {2, 3}, {0, 1, 0, 1, 0, 0});
}

TEST(OneHot, Errors) {
  expect_error([] { one_hot(tensor({0.0f, 1.0f})); }, {"one_hot", "int64", "float32"});
  expect_error([] { one_hot(index_tensor({0, -1})); }, {"one_hot", "-1"});
  expect_error([] { one_hot(index_tensor({0, 3}), 3); }, {"one_hot", "3", "0 to 2"});
  expect_error([] { one_hot(zeros({0}, kInt64)); }, {"one_hot", "empty"});
  expect_error([] { one_hot(index_tensor({0}), -2); }, {"one_hot", "num_classes"});
}

// ---- devices ------------------------------------------------------------------------------------------------------

TEST(Indexing, IndexOnAnotherDeviceIsRejected) {
  if (!backend_available(kCUDA)) GTEST_SKIP() << "no CUDA backend: the cross-device case cannot be built";
  const Tensor x = randn({2, 3});
  const Tensor index = index_tensor({0, 1}).to(kCUDA);
  expect_error([&] { x.index_select(1, index); }, {"index_select", "device"});
  expect_error([&] { cat({x, x.to(kCUDA)}); }, {"cat", "device"});
}

}  // namespace
}  // namespace tandem

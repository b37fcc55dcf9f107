// Tests of view ops (autograd/ops/views.cpp) as geometry: each view shares its base's storage (a write through
// one is seen by the other) and has the sizes, strides and storage offset the op promises. view() refuses
// geometry it cannot express; reshape() then copies. The gradients of the views are checked in
// tests/autograd/ops/test_views.cpp.
#include <gtest/gtest.h>
#include <tandem.h>

namespace {

using namespace tandem;

bool shares_storage(const Tensor& a, const Tensor& b) { return a.impl()->storage == b.impl()->storage; }

/// [0, 1, ..., n-1] as float32 in the given shape.
Tensor iota(const Dims& shape) { return arange(static_cast<double>(shape.product()), kFloat32).reshape(shape); }

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

TEST(Views, ViewSharesStorageAndSeesWrites) {
  Tensor base = iota({2, 3});
  Tensor v = base.view({3, 2});
  EXPECT_TRUE(shares_storage(base, v));
  EXPECT_EQ(v.sizes(), Dims({3, 2}));
  EXPECT_EQ(v.strides(), Dims({2, 1}));
  v.select(0, 2).fill_(-1);  // elements 4 and 5 of the storage
  EXPECT_EQ(values(base), (std::vector<float>{0, 1, 2, 3, -1, -1}));
  base.select(0, 0).fill_(9);
  EXPECT_EQ(values(v), (std::vector<float>{9, 9, 9, 3, -1, -1}));
}

TEST(Views, ViewInfersOneSize) {
  Tensor base = iota({2, 3, 4});
  EXPECT_EQ(base.view({-1, 4}).sizes(), Dims({6, 4}));
  EXPECT_EQ(base.view({2, -1}).sizes(), Dims({2, 12}));
  EXPECT_EQ(base.view({-1}).sizes(), Dims({24}));
  EXPECT_THROW(base.view({-1, -1}), Error);
  EXPECT_THROW(base.view({5, -1}), Error);
  EXPECT_THROW(base.view({5, 5}), Error);
}

TEST(Views, TransposeSwapsSizesAndStrides) {
  Tensor base = iota({2, 3, 4});
  Tensor t = base.transpose(0, 2);
  EXPECT_TRUE(shares_storage(base, t));
  EXPECT_EQ(t.sizes(), Dims({4, 3, 2}));
  EXPECT_EQ(t.strides(), Dims({1, 4, 12}));
  EXPECT_EQ(t.storage_offset(), 0);
  EXPECT_FALSE(t.is_contiguous());
  Tensor m = iota({2, 3}).t();
  EXPECT_EQ(m.sizes(), Dims({3, 2}));
  EXPECT_EQ(values(m), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(base.transpose(-1, -2).strides(), Dims({12, 1, 4}));
  EXPECT_EQ(iota({5}).t().sizes(), Dims({5}));  // t() of a vector is itself
  EXPECT_EQ(base.mT().sizes(), Dims({2, 4, 3}));
}

TEST(Views, WriteThroughTransposeIsVisible) {
  Tensor base = zeros({2, 3});
  Tensor t = base.t();
  t.select(0, 2).fill_(5);  // column 2 of base
  EXPECT_EQ(values(base), (std::vector<float>{0, 0, 5, 0, 0, 5}));
}

TEST(Views, PermuteReordersDims) {
  Tensor base = iota({2, 3, 4});
  Tensor p = base.permute({2, 0, 1});
  EXPECT_TRUE(shares_storage(base, p));
  EXPECT_EQ(p.sizes(), Dims({4, 2, 3}));
  EXPECT_EQ(p.strides(), Dims({1, 12, 4}));
  EXPECT_EQ(base.permute({-1, 0, 1}).strides(), Dims({1, 12, 4}));
  EXPECT_EQ(p.select(0, 1).select(0, 1).to_vector<float>(), (std::vector<float>{13, 17, 21}));
}

TEST(Views, SliceWithStep) {
  Tensor base = iota({10});
  Tensor s = base.slice(0, 1, 8, 3);
  EXPECT_TRUE(shares_storage(base, s));
  EXPECT_EQ(s.sizes(), Dims({3}));
  EXPECT_EQ(s.strides(), Dims({3}));
  EXPECT_EQ(s.storage_offset(), 1);
  EXPECT_EQ(values(s), (std::vector<float>{1, 4, 7}));
  s.fill_(0);
  EXPECT_EQ(values(base), (std::vector<float>{0, 0, 2, 3, 0, 5, 6, 0, 8, 9}));
}

TEST(Views, SliceClampsLikePython) {
  Tensor base = iota({4, 5});
  Tensor s = base.slice(1, -3, 100);
  EXPECT_EQ(s.sizes(), Dims({4, 3}));
  EXPECT_EQ(s.strides(), Dims({5, 1}));
  EXPECT_EQ(s.storage_offset(), 2);
  EXPECT_EQ(base.slice(0, 3, 1).sizes(), Dims({0, 5}));
  EXPECT_EQ(base.slice(0, 1, -1, 2).sizes(), Dims({1, 5}));
  EXPECT_EQ(base.slice(0, 1, -1, 2).storage_offset(), 5);
  Tensor s2 = base.slice(1, 0, 5, 2);
  EXPECT_EQ(s2.sizes(), Dims({4, 3}));
  EXPECT_EQ(s2.strides(), Dims({5, 2}));
}

TEST(Views, NarrowAndSelect) {
  Tensor base = iota({3, 4});
  Tensor n = base.narrow(1, 1, 2);
  EXPECT_EQ(n.sizes(), Dims({3, 2}));
  EXPECT_EQ(n.strides(), Dims({4, 1}));
  EXPECT_EQ(n.storage_offset(), 1);
  EXPECT_EQ(values(n), (std::vector<float>{1, 2, 5, 6, 9, 10}));
  Tensor row = base.select(0, 2);
  EXPECT_EQ(row.sizes(), Dims({4}));
  EXPECT_EQ(row.storage_offset(), 8);
  Tensor col = base.select(1, -1);
  EXPECT_EQ(col.sizes(), Dims({3}));
  EXPECT_EQ(col.strides(), Dims({4}));
  EXPECT_EQ(col.storage_offset(), 3);
  EXPECT_EQ(values(col), (std::vector<float>{3, 7, 11}));
  EXPECT_EQ(base[1].storage_offset(), 4);
  Tensor element = base[2][3];
  EXPECT_EQ(element.dim(), 0);
  EXPECT_EQ(element.item<float>(), 11.f);
}

TEST(Views, ViewsOfViewsComposeOffsets) {
  Tensor base = iota({4, 6});
  Tensor v = base.slice(0, 1, 4).narrow(1, 2, 3).t().select(0, 1);  // column 3 of rows 1..3
  EXPECT_TRUE(shares_storage(base, v));
  EXPECT_EQ(v.sizes(), Dims({3}));
  EXPECT_EQ(v.strides(), Dims({6}));
  EXPECT_EQ(v.storage_offset(), 9);
  EXPECT_EQ(values(v), (std::vector<float>{9, 15, 21}));
}

TEST(Views, ExpandUsesZeroStrides) {
  Tensor base = iota({3, 1});
  Tensor e = base.expand({2, 3, 4});
  EXPECT_TRUE(shares_storage(base, e));
  EXPECT_EQ(e.sizes(), Dims({2, 3, 4}));
  EXPECT_EQ(e.strides(), Dims({0, 1, 0}));
  EXPECT_EQ(values(e.select(0, 1).select(0, 2)), std::vector<float>(4, 2.f));
  EXPECT_EQ(base.expand({-1, 5}).sizes(), Dims({3, 5}));
  EXPECT_EQ(iota({3}).expand_as(zeros({2, 3})).strides(), Dims({0, 1}));
  base.fill_(1);
  EXPECT_EQ(values(e), std::vector<float>(24, 1.f));
}

TEST(Views, SqueezeAndUnsqueeze) {
  Tensor base = iota({2, 1, 3, 1});
  Tensor all = base.squeeze();
  EXPECT_EQ(all.sizes(), Dims({2, 3}));
  EXPECT_EQ(all.strides(), Dims({3, 1}));
  EXPECT_TRUE(shares_storage(base, all));
  EXPECT_EQ(base.squeeze(1).sizes(), Dims({2, 3, 1}));
  EXPECT_EQ(base.squeeze(-1).sizes(), Dims({2, 1, 3}));
  EXPECT_EQ(base.squeeze(0).sizes(), Dims({2, 1, 3, 1}));  // size 2: unchanged
  Tensor m = iota({2, 3});
  EXPECT_EQ(m.unsqueeze(0).sizes(), Dims({1, 2, 3}));
  EXPECT_EQ(m.unsqueeze(1).sizes(), Dims({2, 1, 3}));
  EXPECT_EQ(m.unsqueeze(1).strides(), Dims({3, 3, 1}));
  EXPECT_EQ(m.unsqueeze(-1).sizes(), Dims({2, 3, 1}));
  EXPECT_EQ(m.unsqueeze(-1).strides(), Dims({3, 1, 1}));
  EXPECT_TRUE(m.unsqueeze(2).is_contiguous());
  EXPECT_EQ(scalar_tensor(1).unsqueeze(0).sizes(), Dims({1}));
}

TEST(Views, FlattenAndUnflatten) {
  Tensor base = iota({2, 3, 4});
  Tensor f = base.flatten();
  EXPECT_EQ(f.sizes(), Dims({24}));
  EXPECT_TRUE(shares_storage(base, f));
  EXPECT_EQ(base.flatten(1).sizes(), Dims({2, 12}));
  EXPECT_EQ(base.flatten(0, 1).sizes(), Dims({6, 4}));
  EXPECT_EQ(scalar_tensor(3).flatten().sizes(), Dims({1}));
  Tensor u = f.unflatten(0, {4, -1});
  EXPECT_EQ(u.sizes(), Dims({4, 6}));
  EXPECT_TRUE(shares_storage(base, u));
  EXPECT_EQ(base.unflatten(2, {2, 2}).sizes(), Dims({2, 3, 2, 2}));
  EXPECT_EQ(base.unflatten(2, {2, 2}).strides(), Dims({12, 4, 2, 1}));
  EXPECT_THROW(base.unflatten(1, {2, 2}), Error);
}

TEST(Views, AsStridedReadsOverlappingWindows) {
  Tensor base = iota({6});
  Tensor windows = base.as_strided({4, 3}, {1, 1}, 0);  // sliding windows of 3
  EXPECT_TRUE(shares_storage(base, windows));
  EXPECT_EQ(values(windows), (std::vector<float>{0, 1, 2, 1, 2, 3, 2, 3, 4, 3, 4, 5}));
  Tensor shifted = base.as_strided({2, 2}, {2, 1}, 1);
  EXPECT_EQ(shifted.storage_offset(), 1);
  EXPECT_EQ(values(shifted), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_THROW(base.as_strided({4}, {2}, 0), Error);  // reaches element 6 of 6
}

TEST(Views, ViewOfNonContiguousInputErrorsAndReshapeCopies) {
  Tensor base = iota({2, 3});
  Tensor t = base.t();
  EXPECT_THROW(t.view({6}), Error);
  Tensor r = t.reshape({6});
  EXPECT_FALSE(shares_storage(base, r)) << "reshape of a transposed matrix must copy";
  EXPECT_EQ(values(r), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  r.fill_(0);
  EXPECT_EQ(values(base), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(Views, ReshapeOfContiguousInputIsAView) {
  Tensor base = iota({2, 3});
  Tensor r = base.reshape({3, 2});
  EXPECT_TRUE(shares_storage(base, r));
  Tensor s = base.slice(1, 0, 2).reshape({4});  // rows are not adjacent: copy
  EXPECT_FALSE(shares_storage(base, s));
  EXPECT_EQ(values(s), (std::vector<float>{0, 1, 3, 4}));
  Tensor expanded = iota({3}).expand({2, 3});
  EXPECT_EQ(values(expanded.reshape({6})), (std::vector<float>{0, 1, 2, 0, 1, 2}));
  // view() works whenever the new dims regroup runs of evenly strided elements.
  Tensor left = iota({4, 6}).slice(1, 0, 3);  // [4, 3] with strides [6, 1]: rows are not adjacent
  EXPECT_EQ(left.view({2, 2, 3}).strides(), Dims({12, 6, 1}));
  EXPECT_THROW(left.view({12}), Error);
  Tensor even = iota({4, 6}).slice(1, 0, 6, 2);  // [4, 3] with strides [6, 2]: every other element
  Tensor flat = even.view({12});
  EXPECT_EQ(flat.strides(), Dims({2}));
  EXPECT_EQ(flat.to_vector<float>()[5], 10.f);
}

TEST(Views, ContiguousCopiesOnlyWhenNeeded) {
  Tensor base = iota({2, 3});
  EXPECT_TRUE(base.contiguous().is_same(base));
  Tensor c = base.t().contiguous();
  EXPECT_FALSE(shares_storage(base, c));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.strides(), Dims({2, 1}));
  EXPECT_EQ(values(c), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Views, InPlaceWritesThroughAViewBumpTheSharedVersion) {
  Tensor base = zeros({4});
  Tensor v = base.slice(0, 0, 2);
  const uint32_t before = base._version();
  v.fill_(1);
  EXPECT_GT(base._version(), before);
  EXPECT_EQ(base._version(), v._version());
}

TEST(Views, DetachSharesStorage) {
  Tensor x = randn({3}, requires_grad());
  Tensor d = x.detach();
  EXPECT_TRUE(shares_storage(x, d));
  EXPECT_FALSE(d.requires_grad());
  d.fill_(2);
  EXPECT_EQ(values(x), std::vector<float>(3, 2.f));
}

}  // namespace

// Tutorial 01: what a tensor is. Storage, sizes/strides/offset, views that share storage, contiguous(),
// broadcasting, dtypes and promotion, printing. Every claim the README makes is checked here; the program exits
// non-zero if one does not hold. Read it side by side with README.md.
#include <tandem.h>

#include <cstdio>
#include <iostream>
#include <string>

namespace td = tandem;

namespace {

int failures = 0;

/// Prints the claim and whether it holds.
void check(bool ok, const std::string& claim) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", claim.c_str());
  if (!ok) ++failures;
}

template <typename T>
bool equals(const td::Tensor& t, const std::vector<T>& expected) {
  return t.to_vector<T>() == expected;
}

void storage_and_strides() {
  std::printf("\n1. A tensor is a strided view of a storage\n");
  td::Tensor x = td::arange(12, td::kFloat32).reshape({3, 4});
  std::cout << "x =\n" << x << "\n";
  check(x.sizes() == td::Dims({3, 4}), "x has sizes [3, 4]");
  check(x.strides() == td::Dims({4, 1}), "x has strides [4, 1]: one row is 4 elements further on");
  check(x.storage_offset() == 0, "x starts at element 0 of its storage");
  // Element (i, j) lives at storage_offset + i * stride(0) + j * stride(1).
  const float* storage = x.data_ptr<float>();
  check(storage[0 + 2 * x.stride(0) + 3 * x.stride(1)] == 11.f, "x[2][3] is storage element 2*4 + 3*1 = 11");
  check(x[2][3].item<float>() == 11.f, "x[2][3].item<float>() reads the same element");
}

void views_share_storage() {
  std::printf("\n2. Views share storage\n");
  td::Tensor x = td::arange(12, td::kFloat32).reshape({3, 4});
  td::Tensor row = x[1];              // select(0, 1)
  td::Tensor column = x.select(1, 2);
  td::Tensor xt = x.t();
  td::Tensor every_other = x.slice(1, 0, 4, 2);
  check(row.storage_offset() == 4 && row.strides() == td::Dims({1}), "x[1] starts at element 4, stride 1");
  check(column.storage_offset() == 2 && column.strides() == td::Dims({4}), "column 2 starts at element 2, stride 4");
  check(xt.sizes() == td::Dims({4, 3}) && xt.strides() == td::Dims({1, 4}), "x.t() swaps sizes and strides");
  check(every_other.strides() == td::Dims({4, 2}), "slice with step 2 doubles the stride");
  check(x.impl()->storage == xt.impl()->storage, "x and x.t() share one storage");

  column.fill_(-1);  // write through the view...
  std::cout << "after column.fill_(-1), x =\n" << x << "\n";
  check(equals<float>(x.select(1, 2), {-1, -1, -1}), "...and x sees the write");
  check(xt[2][0].item<float>() == -1.f, "...and so does every other view of the storage");
}

void contiguous_and_reshape() {
  std::printf("\n3. contiguous(), view() and reshape()\n");
  td::Tensor x = td::arange(6, td::kFloat32).reshape({2, 3});
  td::Tensor xt = x.t();
  check(x.is_contiguous() && !xt.is_contiguous(), "x is contiguous (row-major); x.t() is not");
  bool view_failed = false;
  try {
    xt.view({6});
  } catch (const td::Error& e) {
    view_failed = true;
    std::printf("  xt.view({6}) throws: %s\n", e.what());
  }
  check(view_failed, "view() refuses a shape that the strides cannot express");
  td::Tensor flat = xt.reshape({6});  // copies
  check(equals<float>(flat, {0, 3, 1, 4, 2, 5}), "reshape() copies when it must, in logical (row-major) order");
  check(flat.impl()->storage != x.impl()->storage, "...into new storage");
  td::Tensor c = xt.contiguous();
  check(c.is_contiguous() && c.strides() == td::Dims({2, 1}), "contiguous() makes a row-major copy");
  check(x.contiguous().is_same(x), "contiguous() of a contiguous tensor is the tensor itself");
}

void broadcasting() {
  std::printf("\n4. Broadcasting\n");
  td::Tensor column = td::tensor({0.f, 10.f, 20.f}).reshape({3, 1});
  td::Tensor row = td::tensor({1.f, 2.f, 3.f, 4.f});
  td::Tensor table = column + row;  // [3, 1] and [4] -> [3, 4]
  std::cout << "column + row =\n" << table << "\n";
  check(table.sizes() == td::Dims({3, 4}), "[3, 1] + [4] broadcasts to [3, 4]");
  check(td::broadcast_shapes({5, 1, 4}, {3, 1}) == td::Dims({5, 3, 4}), "[5, 1, 4] with [3, 1] gives [5, 3, 4]");
  td::Tensor stretched = row.expand({3, 4});
  check(stretched.strides() == td::Dims({0, 1}), "expand() stretches a dim with stride 0: no copy");
  bool mismatch = false;
  try {
    (void)(td::zeros({2, 3}) + td::zeros({4, 3}));
  } catch (const td::Error& e) {
    mismatch = std::string(e.what()).find("[2, 3]") != std::string::npos;
    std::printf("  zeros({2, 3}) + zeros({4, 3}) throws: %s\n", e.what());
  }
  check(mismatch, "shapes that do not broadcast are an error naming both shapes");
}

void dtypes() {
  std::printf("\n5. dtypes and promotion\n");
  td::Tensor i = td::tensor({1, 2, 3});        // int64
  td::Tensor f = td::tensor({0.5f, 0.5f, 0.5f});  // float32
  td::Tensor d = td::ones({3}, td::kFloat64);
  check(i.dtype() == td::kInt64 && f.dtype() == td::kFloat32, "tensor() infers int64 and float32 from the values");
  check((i + f).dtype() == td::kFloat32, "int64 + float32 -> float32");
  check((f * d).dtype() == td::kFloat64, "float32 * float64 -> float64");
  check((i / i).dtype() == td::kFloat32, "int64 / int64 is true division -> float32");
  check((i * 2).dtype() == td::kInt64 && (i * 2.5).dtype() == td::kFloat32,
        "an integral scalar keeps int64; a fractional one makes float32");
  check((i > 1).dtype() == td::kBool && equals<bool>(i > 1, {false, true, true}), "comparisons give bool tensors");
  check(equals<int64_t>(td::tensor({1.9, -1.9}).to(td::kInt64), {1, -1}), "to(kInt64) truncates toward zero");
}

void printing() {
  std::printf("\n6. Printing\n");
  td::Tensor m = td::tensor({1.f, -2.5f, 0.f, 3.14159f}).reshape({2, 2});
  std::cout << m << "\n";
  check(m.str() ==
            "tensor([[ 1.0000, -2.5000],\n"
            "        [ 0.0000,  3.1416]], dtype=float32)",
        "floats print with 4 decimals, padded to a common width");
  check(td::arange(2000).str() == "tensor([   0,    1,    2, ..., 1997, 1998, 1999], dtype=int64)",
        "large tensors print only their edges");
}

}  // namespace

int main() {
  std::printf("tandem tutorial 01: tensors\n");
  storage_and_strides();
  views_share_storage();
  contiguous_and_reshape();
  broadcasting();
  dtypes();
  printing();
  std::printf("\n%s (%d failed checks)\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED", failures);
  return failures == 0 ? 0 : 1;
}

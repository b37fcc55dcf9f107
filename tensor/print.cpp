// operator<< for tensors, in the familiar nested-bracket form:
//   tensor([[ 1.0000, -2.5000],
//           [ 0.0000,  3.1416]], dtype=float32, grad_fn=<MulBackward>)
// Floats use fixed notation with 4 decimals (scientific when values are very large or small), every entry padded
// to a common width; tensors over 1000 elements show the first and last 3 entries of each dim around "...".
#include <cmath>
#include <iomanip>
#include <sstream>

#include "autograd/node.h"
#include "tensor/functions.h"

namespace tandem {
namespace {

constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Formatter {
  ScalarType dtype;
  bool scientific = false;
  int width = 1;
  std::string format(double v) const {
    std::ostringstream os;
    if (dtype == kBool) os << (v != 0 ? "true" : "false");
    else if (dtype == kInt64) os << static_cast<int64_t>(v);
    else if (std::isnan(v)) os << "nan";
    else if (std::isinf(v)) os << (v > 0 ? "inf" : "-inf");
    else if (scientific) os << std::scientific << std::setprecision(4) << v;
    else os << std::fixed << std::setprecision(4) << v;
    return os.str();
  }
};

void print_rec(std::ostream& os, const std::vector<double>& values, const Dims& sizes, size_t dim, int64_t offset,
               const Dims& strides, const Formatter& f, bool summarize, int indent) {
  if (dim == sizes.size()) {
    std::string s = f.format(values[static_cast<size_t>(offset)]);
    os << std::string(static_cast<size_t>(std::max<int>(0, f.width - static_cast<int>(s.size()))), ' ') << s;
    return;
  }
  os << '[';
  const int64_t n = sizes[dim];
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      os << "...";
      i = n - kEdgeItems - 1;
      if (dim + 1 == sizes.size()) os << ", ";
      else os << ",\n" << std::string(static_cast<size_t>(indent + 1), ' ');
      continue;
    }
    print_rec(os, values, sizes, dim + 1, offset + i * strides[dim], strides, f, summarize, indent + 1);
    if (i + 1 < n) {
      if (dim + 1 == sizes.size()) os << ", ";
      else os << ',' << std::string(sizes.size() - dim - 1, '\n') << std::string(static_cast<size_t>(indent + 1), ' ');
    }
  }
  os << ']';
}

}  // namespace

std::string Tensor::str() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::vector<double> values = t.detach().to_vector<double>();
  Formatter f{t.dtype()};
  if (is_floating(t.dtype())) {
    double max_abs = 0, min_abs = INFINITY;
    for (double v : values)
      if (std::isfinite(v) && v != 0) max_abs = std::max(max_abs, std::abs(v)), min_abs = std::min(min_abs, std::abs(v));
    f.scientific = max_abs >= 1e8 || (max_abs > 0 && min_abs < 1e-4);
  }
  const bool summarize = t.numel() > kSummarizeAbove;
  for (double v : values) f.width = std::max<int>(f.width, static_cast<int>(f.format(v).size()));
  os << "tensor(";
  print_rec(os, values, t.sizes(), 0, 0, contiguous_strides(t.sizes()), f, summarize, 7);
  if (t.numel() == 0) os << ", size=" << t.sizes();
  os << ", dtype=" << t.dtype();
  if (!t.device().is_cpu()) os << ", device=" << t.device();
  if (t.grad_fn()) os << ", grad_fn=<" << t.grad_fn()->name() << '>';
  else if (t.requires_grad()) os << ", requires_grad=true";
  return os << ')';
}

}  // namespace tandem

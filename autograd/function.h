// Custom differentiable ops in libtorch's style:
//
//   struct Cube : tandem::autograd::Function<Cube> {
//     static Tensor forward(AutogradContext* ctx, Tensor x) { ctx->save_for_backward({x}); return x * x * x; }
//     static variable_list backward(AutogradContext* ctx, variable_list grad) {
//       Tensor x = ctx->get_saved_variables()[0];
//       return {grad[0] * 3 * x * x};
//     }
//   };
//   Tensor y = Cube::apply(x);
//
// forward runs with grad mode off; backward returns one gradient per forward argument (an undefined Tensor for
// non-tensor arguments or inputs that need none). Written with tensor ops, backward is itself differentiable.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>

#include "autograd/node.h"

namespace tandem::autograd {

/// A value kept in AutogradContext::saved_data.
class SavedValue {
 public:
  SavedValue() = default;
  SavedValue(double v) : value_(v) {}                        // NOLINT
  SavedValue(int v) : value_(static_cast<int64_t>(v)) {}     // NOLINT
  SavedValue(int64_t v) : value_(v) {}                       // NOLINT
  SavedValue(bool v) : value_(v) {}                          // NOLINT
  SavedValue(std::string v) : value_(std::move(v)) {}        // NOLINT
  SavedValue(const char* v) : value_(std::string(v)) {}      // NOLINT
  SavedValue(std::vector<int64_t> v) : value_(std::move(v)) {}  // NOLINT
  SavedValue(Tensor v) : value_(std::move(v)) {}             // NOLINT
  double toDouble() const;
  int64_t toInt() const;
  bool toBool() const;
  const std::string& toString() const;
  const std::vector<int64_t>& toIntVector() const;
  const Tensor& toTensor() const;

 private:
  std::variant<std::monostate, double, int64_t, bool, std::string, std::vector<int64_t>, Tensor> value_;
};

class AutogradContext {
 public:
  /// Tensors needed by backward (inputs or outputs); checked against in-place modification.
  void save_for_backward(variable_list tensors);
  variable_list get_saved_variables() const;
  /// Outputs that are not differentiable (e.g. indices): they will not require grad.
  void mark_non_differentiable(const variable_list& outputs);
  /// Whether the i-th tensor argument of forward needs a gradient.
  bool needs_input_grad(size_t tensor_index) const;
  std::map<std::string, SavedValue> saved_data;

 private:
  template <typename T> friend struct Function;
  template <typename T> friend struct CppNode;
  variable_list to_save_;
  std::vector<SavedVariable> saved_;
  variable_list non_differentiable_;
  std::vector<bool> needs_input_grad_;
  Node* node_ = nullptr;
};

template <typename T>
struct CppNode final : Node {
  AutogradContext ctx;
  std::vector<int> tensor_arg_positions;  ///< forward-argument position of each tensor input
  size_t num_forward_args = 0;
  variable_list apply(variable_list&& grads) override {
    variable_list out = T::backward(&ctx, std::move(grads));
    TD_CHECK(out.size() == num_forward_args || out.size() == tensor_arg_positions.size(), name(),
             ": backward returned ", out.size(), " gradients, expected ", num_forward_args,
             " (one per forward argument)");
    variable_list result(tensor_arg_positions.size());
    for (size_t i = 0; i < tensor_arg_positions.size(); ++i) {
      size_t pos = out.size() == num_forward_args ? static_cast<size_t>(tensor_arg_positions[i]) : i;
      result[i] = out[pos];
    }
    return result;
  }
  std::string name() const override { return "CppNode<custom Function>"; }
  void release_variables() override {
    for (auto& s : ctx.saved_) s.reset();
  }
};

/// Whether a and b view the same elements of the same storage.
bool same_view(const Tensor& a, const Tensor& b);

template <typename T>
struct Function {
  template <typename... Args>
  static auto apply(Args&&... args) {
    auto node = std::make_shared<CppNode<T>>();
    variable_list tensor_inputs;
    node->num_forward_args = sizeof...(Args);
    int position = 0;
    auto collect = [&](const auto& arg) {
      using A = std::decay_t<decltype(arg)>;
      if constexpr (std::is_same_v<A, Tensor>) {
        tensor_inputs.push_back(arg);
        node->tensor_arg_positions.push_back(position);
      }
      ++position;
    };
    (collect(args), ...);
    const bool needs_grad = compute_requires_grad_list(tensor_inputs);
    AutogradContext& ctx = node->ctx;
    ctx.node_ = node.get();
    for (const Tensor& t : tensor_inputs) ctx.needs_input_grad_.push_back(needs_grad && t.defined() && t.requires_grad());
    using Result = decltype(T::forward(&ctx, std::forward<Args>(args)...));
    Result result;
    {
      AutoGradMode no_grad(false);
      result = T::forward(&ctx, std::forward<Args>(args)...);
    }
    variable_list outputs;
    if constexpr (std::is_same_v<Result, Tensor>) outputs = {result};
    else outputs = result;
    if (needs_grad) {
      connect_inputs(*node, tensor_inputs);
      for (Tensor& out : outputs) {
        bool non_diff = false;
        for (const Tensor& nd : ctx.non_differentiable_) non_diff = non_diff || nd.is_same(out);
        if (out.defined() && !non_diff) {
          out = out.detach();  // a fresh handle so that forward's return value gets this node as grad_fn
          set_history(out, node);
        } else {
          node->num_outputs++;
        }
      }
    }
    for (const Tensor& t : ctx.to_save_) {
      const Tensor* as_output = nullptr;
      for (const Tensor& out : outputs)
        if (needs_grad && out.defined() && t.defined() && out.grad_fn() && same_view(out, t)) as_output = &out;
      ctx.saved_.emplace_back(as_output ? *as_output : t, as_output != nullptr);
    }
    ctx.to_save_.clear();
    if constexpr (std::is_same_v<Result, Tensor>) return outputs[0];
    else return outputs;
  }
};

}  // namespace tandem::autograd

// Tests of MultiheadAttention (against a per-head reference written with matmul/softmax and additive -inf
// masks, gradcheck in float64, layouts, errors), TransformerEncoderLayer (post- and pre-norm against their
// formulas, padding invariance, names, printing) and TransformerEncoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "autograd/gradcheck.h"
#include "nn/modules/transformer.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
using nn::testing::expect_error_mentions;
using nn::testing::printed;

/// A bool tensor of `shape` from 0/1 values.
Tensor bool_mask(const std::vector<int64_t>& values, const Dims& shape) {
  return tensor(values).reshape(shape).ne(0.0);
}

/// Multi-head attention written head by head: batch-first float64 q [B, L, E], k/v [B, S, E]; masks as 0/1
/// vectors (key_padding [B * S], attn [L * S], either may be empty). Returns (output, head-averaged weights).
std::pair<Tensor, Tensor> reference_attention(nn::MultiheadAttentionImpl& mha, const Tensor& q, const Tensor& k,
                                              const Tensor& v, const std::vector<int64_t>& key_padding,
                                              const std::vector<int64_t>& attn) {
  const int64_t E = mha.options.embed_dim(), H = mha.options.num_heads(), dh = E / H;
  const int64_t B = q.size(0), L = q.size(1), S = k.size(1);
  const Tensor& W = mha.in_proj_weight;
  const Tensor& b = mha.in_proj_bias;
  Tensor qp = q.matmul(W.narrow(0, 0, E).t()) + b.narrow(0, 0, E);
  Tensor kp = k.matmul(W.narrow(0, E, E).t()) + b.narrow(0, E, E);
  Tensor vp = v.matmul(W.narrow(0, 2 * E, E).t()) + b.narrow(0, 2 * E, E);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Tensor> outputs, averaged;
  for (int64_t n = 0; n < B; ++n) {
    std::vector<double> additive(static_cast<size_t>(L * S), 0.0);
    for (int64_t l = 0; l < L; ++l)
      for (int64_t s = 0; s < S; ++s) {
        const bool padded = !key_padding.empty() && key_padding[static_cast<size_t>(n * S + s)] != 0;
        const bool forbidden = !attn.empty() && attn[static_cast<size_t>(l * S + s)] != 0;
        if (padded || forbidden) additive[static_cast<size_t>(l * S + s)] = -inf;
      }
    Tensor mask = tensor(additive).reshape({L, S});
    std::vector<Tensor> heads;
    Tensor weight_sum = zeros({L, S}, kFloat64);
    for (int64_t h = 0; h < H; ++h) {
      Tensor qh = qp[n].narrow(1, h * dh, dh), kh = kp[n].narrow(1, h * dh, dh), vh = vp[n].narrow(1, h * dh, dh);
      Tensor w = softmax(qh.matmul(kh.t()) / std::sqrt(static_cast<double>(dh)) + mask, 1);
      heads.push_back(w.matmul(vh));
      weight_sum = weight_sum + w;
    }
    outputs.push_back(cat(heads, 1));
    averaged.push_back(weight_sum / static_cast<double>(H));
  }
  Tensor out = stack(outputs).matmul(mha.out_proj->weight.t()) + mha.out_proj->bias;
  return {out, stack(averaged)};
}

nn::MultiheadAttention make_mha(int64_t E, int64_t H) {
  nn::MultiheadAttention mha(E, H);
  mha->to(kFloat64);
  // Non-zero biases, so that the reference checks where they enter.
  NoGradGuard no_grad;
  mha->in_proj_bias.copy_(randn({3 * E}, kFloat64) * 0.1);
  mha->out_proj->bias.copy_(randn({E}, kFloat64) * 0.1);
  return mha;
}

TEST(NnMultiheadAttention, MatchesPerHeadReferenceWithMasks) {
  manual_seed(51);
  nn::MultiheadAttention mha = make_mha(8, 2);
  Tensor q = randn({2, 3, 8}, kFloat64), k = randn({2, 4, 8}, kFloat64), v = randn({2, 4, 8}, kFloat64);
  const std::vector<int64_t> key_padding{0, 0, 1, 0, /* batch 1 */ 0, 1, 0, 1};
  const std::vector<int64_t> attn{0, 1, 0, 0, /* */ 0, 0, 0, 1, /* */ 1, 0, 0, 0};
  auto [out, weights] = mha(q, k, v, bool_mask(key_padding, {2, 4}), bool_mask(attn, {3, 4}));
  auto [ref_out, ref_weights] = reference_attention(*mha, q, k, v, key_padding, attn);
  ASSERT_EQ(out.sizes(), Dims({2, 3, 8}));
  ASSERT_EQ(weights.sizes(), Dims({2, 3, 4}));
  EXPECT_TRUE(allclose(out, ref_out, 1e-10, 1e-12));
  EXPECT_TRUE(allclose(weights, ref_weights, 1e-10, 1e-12));
  // Masked positions get exactly zero weight; every row sums to one.
  auto w = weights.to_vector<double>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t l = 0; l < 3; ++l) {
      double row = 0;
      for (int64_t s = 0; s < 4; ++s) {
        const double value = w[static_cast<size_t>((n * 3 + l) * 4 + s)];
        row += value;
        if (key_padding[static_cast<size_t>(n * 4 + s)] || attn[static_cast<size_t>(l * 4 + s)]) {
          EXPECT_EQ(value, 0.0);
        }
      }
      EXPECT_NEAR(row, 1.0, 1e-12);
    }
}

TEST(NnMultiheadAttention, NoMasksAndFloatMasks) {
  manual_seed(52);
  nn::MultiheadAttention mha = make_mha(6, 3);
  Tensor x = randn({2, 5, 6}, kFloat64);
  auto [out, weights] = mha(x, x, x);
  auto [ref_out, ref_weights] = reference_attention(*mha, x, x, x, {}, {});
  EXPECT_TRUE(allclose(out, ref_out, 1e-10, 1e-12));
  EXPECT_TRUE(allclose(weights, ref_weights, 1e-10, 1e-12));
  // A float attn_mask is added to the scores: -inf where the bool mask is true gives the same result.
  const std::vector<int64_t> causal{0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
  Tensor bool_causal = bool_mask(causal, {5, 5});
  Tensor float_causal = where(bool_causal, -std::numeric_limits<double>::infinity(), zeros({5, 5}, kFloat64));
  auto [with_bool, w_bool] = mha(x, x, x, Tensor(), bool_causal);
  auto [with_float, w_float] = mha(x, x, x, Tensor(), float_causal);
  EXPECT_TRUE(allclose(with_bool, with_float, 1e-12, 1e-12));
  auto [ref_causal, ref_w] = reference_attention(*mha, x, x, x, {}, causal);
  EXPECT_TRUE(allclose(with_bool, ref_causal, 1e-10, 1e-12));
  // A per-head [B * H, L, S] mask equal for every head matches the [L, S] one.
  Tensor per_head = bool_causal.unsqueeze(0).expand({6, 5, 5}).contiguous();
  EXPECT_TRUE(allclose(std::get<0>(mha(x, x, x, Tensor(), per_head)), with_bool, 1e-12, 1e-12));
}

TEST(NnMultiheadAttention, SequenceFirstAndUnbatchedLayouts) {
  manual_seed(53);
  nn::MultiheadAttention mha = make_mha(4, 2);
  auto seq_first = std::dynamic_pointer_cast<nn::MultiheadAttentionImpl>(mha->clone());
  seq_first->options.batch_first(false);
  Tensor q = randn({2, 3, 4}, kFloat64), kv = randn({2, 5, 4}, kFloat64);
  auto [out, weights] = mha(q, kv, kv);
  auto [out_t, weights_t] = seq_first->forward(q.transpose(0, 1), kv.transpose(0, 1), kv.transpose(0, 1));
  ASSERT_EQ(out_t.sizes(), Dims({3, 2, 4}));
  EXPECT_TRUE(allclose(out_t.transpose(0, 1), out, 1e-12, 1e-12));
  EXPECT_TRUE(allclose(weights_t, weights, 1e-12, 1e-12));
  auto [single, single_w] = mha(q[1], kv[1], kv[1]);
  ASSERT_EQ(single.sizes(), Dims({3, 4}));
  EXPECT_TRUE(allclose(single, out[1], 1e-12, 1e-12));
  EXPECT_TRUE(allclose(single_w, weights[1], 1e-12, 1e-12));
}

TEST(NnMultiheadAttention, GradcheckInFloat64) {
  manual_seed(54);
  nn::MultiheadAttention mha(4, 2);
  mha->to(kFloat64);
  const TensorOptions opts = TensorOptions(kFloat64).requires_grad(true);
  Tensor q = randn({1, 2, 4}, opts), k = randn({1, 3, 4}, opts), v = randn({1, 3, 4}, opts);
  Tensor padding = bool_mask({0, 1, 0}, {1, 3});
  EXPECT_TRUE(autograd::gradcheck(
      [&](const autograd::variable_list& in) { return std::get<0>(mha(in[0], in[1], in[2], padding)); }, {q, k, v}));
  // Self-attention through a non-contiguous input.
  Tensor x = randn({4, 2}, kFloat64).t().unsqueeze(0).requires_grad_(true);  // [1, 2, 4], transposed storage
  EXPECT_TRUE(autograd::gradcheck(
      [&](const autograd::variable_list& in) { return std::get<0>(mha(in[0], in[0], in[0])); }, {x}));
}

TEST(NnMultiheadAttention, ParametersInitialisationAndPrinting) {
  nn::MultiheadAttention mha(8, 2);
  EXPECT_EQ(mha->named_parameters().keys(),
            (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}));
  EXPECT_EQ(mha->in_proj_weight.sizes(), Dims({24, 8}));
  for (float b : mha->in_proj_bias.to_vector<float>()) EXPECT_EQ(b, 0.0f);
  for (float b : mha->out_proj->bias.to_vector<float>()) EXPECT_EQ(b, 0.0f);
  const double xavier_bound = std::sqrt(6.0 / (24 + 8));
  for (float w : mha->in_proj_weight.to_vector<float>()) EXPECT_LE(std::abs(w), xavier_bound + 1e-7);
  EXPECT_EQ(printed(*mha), "MultiheadAttention(embed_dim=8, num_heads=2, dropout=0, bias=true, batch_first=true)");
  nn::MultiheadAttention no_bias(nn::MultiheadAttentionOptions(4, 1).bias(false));
  EXPECT_EQ(no_bias->named_parameters().keys(), (std::vector<std::string>{"in_proj_weight", "out_proj.weight"}));
}

TEST(NnMultiheadAttention, Errors) {
  expect_error_mentions([] { nn::MultiheadAttention(6, 4); }, {"MultiheadAttention", "divisible"});
  nn::MultiheadAttention mha(4, 2);
  Tensor x = randn({2, 3, 4});
  expect_error_mentions([&] { mha(randn({2, 3, 5}), x, x); }, {"MultiheadAttention", "[2, 3, 5]"});
  expect_error_mentions([&] { mha(x, randn({2, 3, 4}), randn({2, 2, 4})); }, {"MultiheadAttention", "[2, 2, 4]"});
  expect_error_mentions([&] { mha(x, x, x, bool_mask({0, 0, 0, 0}, {2, 2})); }, {"key_padding_mask", "[2, 2]"});
  expect_error_mentions([&] { mha(x, x, x, Tensor(), bool_mask({0, 0, 0, 0}, {2, 2})); }, {"attn_mask", "[2, 2]"});
  EXPECT_THROW(mha(x, x, x, tensor<int64_t>({0, 1, 0, 0, 0, 0}).reshape({2, 3})), Error);  // int64 mask
  EXPECT_THROW(mha(randn({3, 4}), x, x), Error);                                           // ranks differ
}

// ---- TransformerEncoderLayer ----------------------------------------------------------------------------------

TEST(NnTransformerEncoderLayer, PostNormMatchesItsFormula) {
  manual_seed(61);
  nn::TransformerEncoderLayer layer(nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16));
  layer->to(kFloat64);
  layer->eval();
  Tensor x = randn({2, 5, 8}, kFloat64);
  Tensor y = layer(x);
  ASSERT_EQ(y.sizes(), Dims({2, 5, 8}));
  Tensor h = layer->norm1(x + std::get<0>(layer->self_attn(x, x, x)));
  Tensor expected = layer->norm2(h + layer->linear2(relu(layer->linear1(h))));
  EXPECT_TRUE(allclose(y, expected, 1e-10, 1e-12));
  EXPECT_TRUE(allclose(layer(x), y));  // deterministic in eval mode
}

TEST(NnTransformerEncoderLayer, PreNormWithGeluMatchesItsFormula) {
  manual_seed(62);
  nn::TransformerEncoderLayer layer(
      nn::TransformerEncoderLayerOptions(8, 4).dim_feedforward(12).activation("gelu").norm_first(true));
  layer->to(kFloat64);
  layer->eval();
  Tensor x = randn({3, 4, 8}, kFloat64);
  Tensor n1 = layer->norm1(x);
  Tensor h = x + std::get<0>(layer->self_attn(n1, n1, n1));
  Tensor expected = h + layer->linear2(gelu(layer->linear1(layer->norm2(h))));
  EXPECT_TRUE(allclose(layer(x), expected, 1e-10, 1e-12));
}

TEST(NnTransformerEncoderLayer, PaddedKeysDoNotInfluenceOtherPositions) {
  manual_seed(63);
  nn::TransformerEncoderLayer layer(nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16));
  layer->eval();
  Tensor x = randn({1, 4, 8});
  Tensor padding = bool_mask({0, 0, 0, 1}, {1, 4});
  Tensor y1 = layer(x, Tensor(), padding);
  Tensor x2 = x.clone();
  x2.select(1, 3).add_(5.0);
  Tensor y2 = layer(x2, Tensor(), padding);
  EXPECT_TRUE(allclose(y1.narrow(1, 0, 3), y2.narrow(1, 0, 3), 1e-5, 1e-6));
  EXPECT_FALSE(allclose(y1.narrow(1, 3, 1), y2.narrow(1, 3, 1)));
}

TEST(NnTransformerEncoderLayer, TrainingModeGradientsAndNames) {
  nn::TransformerEncoderLayer layer(nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.2));
  Tensor x = randn({2, 3, 8}, requires_grad());
  Tensor y = layer(x);
  EXPECT_EQ(y.sizes(), Dims({2, 3, 8}));
  y.sum().backward();
  EXPECT_TRUE(x.grad().defined());
  for (auto& [name, p] : layer->named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
  auto names = layer->named_parameters().keys();
  for (const char* expected : {"self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight",
                               "linear2.bias", "norm1.weight", "norm2.bias"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  EXPECT_EQ(layer->named_children().keys(), (std::vector<std::string>{"self_attn", "linear1", "dropout", "linear2",
                                                                      "norm1", "norm2", "dropout1", "dropout2"}));
}

TEST(NnTransformerEncoderLayer, PrintingAndErrors) {
  nn::TransformerEncoderLayer layer(nn::TransformerEncoderLayerOptions(16, 4).dim_feedforward(32));
  EXPECT_EQ(printed(*layer),
            "TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, dropout=0.1, "
            "activation=relu, norm_first=false, batch_first=true)");
  expect_error_mentions([&] { layer(randn({2, 3, 8})); }, {"TransformerEncoderLayer", "[2, 3, 8]", "d_model = 16"});
  EXPECT_THROW(nn::TransformerEncoderLayer(nn::TransformerEncoderLayerOptions(16, 4).activation("tanh")), Error);
  EXPECT_THROW(nn::TransformerEncoderLayer(16, 5), Error);
}

TEST(NnTransformerEncoder, StacksIndependentCopies) {
  nn::TransformerEncoderLayer layer(nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16));
  nn::TransformerEncoder encoder(
      nn::TransformerEncoderOptions(layer, 2).norm(nn::LayerNorm(nn::LayerNormOptions({8}))));
  encoder->eval();
  auto params = encoder->named_parameters();
  EXPECT_TRUE(params.contains("layers.0.linear1.weight"));
  EXPECT_TRUE(params.contains("layers.1.linear1.weight"));
  EXPECT_TRUE(params.contains("norm.weight"));
  EXPECT_FALSE(params["layers.0.linear1.weight"].is_same(params["layers.1.linear1.weight"]));
  EXPECT_FALSE(params["layers.0.linear1.weight"].is_same(layer->linear1->weight));
  Tensor x = randn({2, 3, 8});
  auto& first = encoder->layers->at<nn::TransformerEncoderLayerImpl>(0);
  auto& second = encoder->layers->at<nn::TransformerEncoderLayerImpl>(1);
  EXPECT_TRUE(allclose(encoder(x), encoder->norm(second.forward(first.forward(x))), 1e-5, 1e-6));
  EXPECT_EQ(printed(*encoder), "TransformerEncoder(num_layers=2)");
}

}  // namespace

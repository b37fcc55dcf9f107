// Attention and transformer blocks: MultiheadAttention (scaled dot-product attention over num_heads heads,
// with key-padding and attention masks), TransformerEncoderLayer (self-attention + feed-forward, post- or
// pre-norm) and TransformerEncoder (a stack of such layers).
//
// Shapes use B (batch), L (target length), S (source length), E (embed_dim); with batch_first (the default
// here) inputs are [B, L, E], otherwise [L, B, E].
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <tuple>

#include "nn/module.h"
#include "nn/modules/container.h"
#include "nn/modules/dropout.h"
#include "nn/modules/linear.h"
#include "nn/modules/normalization.h"
#include "nn/options.h"

namespace tandem::nn {

/// Options of MultiheadAttention: embed_dim must be divisible by num_heads; dropout applies to the attention
/// weights in training.
struct MultiheadAttentionOptions {
  MultiheadAttentionOptions(int64_t embed_dim, int64_t num_heads) : embed_dim_(embed_dim), num_heads_(num_heads) {}
  TANDEM_ARG(int64_t, embed_dim);
  TANDEM_ARG(int64_t, num_heads);
  TANDEM_ARG(double, dropout) = 0.0;
  TANDEM_ARG(bool, bias) = true;
  TANDEM_ARG(bool, batch_first) = true;
};

/// softmax(Q K^T / sqrt(E / num_heads) + mask) V per head, heads concatenated and projected by out_proj.
/// Q, K and V are the query, key and value projected by the three [E, E] blocks of in_proj_weight.
/// Initialisation as libtorch: in_proj_weight Xavier-uniform, in_proj_bias and out_proj.bias zero.
class MultiheadAttentionImpl : public Cloneable<MultiheadAttentionImpl> {
 public:
  MultiheadAttentionImpl(int64_t embed_dim, int64_t num_heads)
      : MultiheadAttentionImpl(MultiheadAttentionOptions(embed_dim, num_heads)) {}
  explicit MultiheadAttentionImpl(const MultiheadAttentionOptions& options);

  void reset() override;
  void reset_parameters();
  /// query [B, L, E], key and value [B, S, E] (unbatched [L, E] / [S, E] also accepted). key_padding_mask:
  /// bool [B, S], true marks a key to ignore (or a float mask added to the scores). attn_mask: bool [L, S] or
  /// [B * num_heads, L, S], true marks a forbidden position (or a float mask added to the scores). Masked
  /// positions get -inf before the softmax. Returns (output [B, L, E], attention weights averaged over the
  /// heads [B, L, S]).
  std::tuple<Tensor, Tensor> forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                     const Tensor& key_padding_mask = {}, const Tensor& attn_mask = {});
  /// "MultiheadAttention(embed_dim=16, num_heads=4, dropout=0, bias=true, batch_first=true)".
  void pretty_print(std::ostream& os) const override;

  MultiheadAttentionOptions options;
  Tensor in_proj_weight;  ///< [3 E, E]: the query, key and value projections stacked
  Tensor in_proj_bias;    ///< [3 E], undefined unless options.bias()
  Linear out_proj = nullptr;
};
TANDEM_MODULE(MultiheadAttention);

/// Options of TransformerEncoderLayer. activation: "relu" or "gelu". norm_first: layer norm before each block
/// (pre-norm) instead of after the residual sum (post-norm, the original Transformer).
struct TransformerEncoderLayerOptions {
  TransformerEncoderLayerOptions(int64_t d_model, int64_t nhead) : d_model_(d_model), nhead_(nhead) {}
  TANDEM_ARG(int64_t, d_model);
  TANDEM_ARG(int64_t, nhead);
  TANDEM_ARG(int64_t, dim_feedforward) = 2048;
  TANDEM_ARG(double, dropout) = 0.1;
  TANDEM_ARG(std::string, activation) = "relu";
  TANDEM_ARG(double, layer_norm_eps) = 1e-5;
  TANDEM_ARG(bool, norm_first) = false;
  TANDEM_ARG(bool, batch_first) = true;
};

/// Post-norm: x = norm1(x + dropout1(self_attn(x))); x = norm2(x + dropout2(linear2(dropout(act(linear1(x)))))).
/// Pre-norm (norm_first): x = x + dropout1(self_attn(norm1(x))); x = x + dropout2(ff(norm2(x))).
class TransformerEncoderLayerImpl : public Cloneable<TransformerEncoderLayerImpl> {
 public:
  TransformerEncoderLayerImpl(int64_t d_model, int64_t nhead)
      : TransformerEncoderLayerImpl(TransformerEncoderLayerOptions(d_model, nhead)) {}
  explicit TransformerEncoderLayerImpl(const TransformerEncoderLayerOptions& options);

  void reset() override;
  /// src [B, S, E] (or [S, B, E] without batch_first); src_mask and src_key_padding_mask as MultiheadAttention's
  /// attn_mask and key_padding_mask. Returns the same shape as src.
  Tensor forward(const Tensor& src, const Tensor& src_mask = {}, const Tensor& src_key_padding_mask = {});
  /// "TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, dropout=0.1, activation=relu,
  /// norm_first=false, batch_first=true)".
  void pretty_print(std::ostream& os) const override;

  TransformerEncoderLayerOptions options;
  MultiheadAttention self_attn = nullptr;
  Linear linear1 = nullptr;
  Dropout dropout = nullptr;
  Linear linear2 = nullptr;
  LayerNorm norm1 = nullptr;
  LayerNorm norm2 = nullptr;
  Dropout dropout1 = nullptr;
  Dropout dropout2 = nullptr;

 private:
  Tensor self_attention_block(const Tensor& x, const Tensor& src_mask, const Tensor& src_key_padding_mask);
  Tensor feed_forward_block(const Tensor& x);
};
TANDEM_MODULE(TransformerEncoderLayer);

/// Options of TransformerEncoder: the layer to replicate (each copy is a clone with its own parameters), how
/// many copies, and an optional final LayerNorm.
struct TransformerEncoderOptions {
  TransformerEncoderOptions(TransformerEncoderLayer encoder_layer, int64_t num_layers)
      : encoder_layer_(std::move(encoder_layer)), num_layers_(num_layers) {}
  TANDEM_ARG(TransformerEncoderLayer, encoder_layer);
  TANDEM_ARG(int64_t, num_layers);
  TANDEM_ARG(LayerNorm, norm) = nullptr;
};

/// num_layers encoder layers applied in turn, then the optional norm.
class TransformerEncoderImpl : public Cloneable<TransformerEncoderImpl> {
 public:
  TransformerEncoderImpl(TransformerEncoderLayer encoder_layer, int64_t num_layers)
      : TransformerEncoderImpl(TransformerEncoderOptions(std::move(encoder_layer), num_layers)) {}
  explicit TransformerEncoderImpl(const TransformerEncoderOptions& options);

  void reset() override;
  Tensor forward(const Tensor& src, const Tensor& mask = {}, const Tensor& src_key_padding_mask = {});
  /// "TransformerEncoder(num_layers=2)".
  void pretty_print(std::ostream& os) const override;

  TransformerEncoderOptions options;
  ModuleList layers = nullptr;
  LayerNorm norm = nullptr;
};
TANDEM_MODULE(TransformerEncoder);

}  // namespace tandem::nn

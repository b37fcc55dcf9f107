// MultiheadAttention, TransformerEncoderLayer and TransformerEncoder, composed from differentiable ops
// (linear, matmul, where, softmax, dropout, layer_norm), so autograd differentiates them to any order.
#include "nn/modules/transformer.h"

#include <cmath>
#include <limits>

#include "nn/functional.h"
#include "nn/init.h"
#include "tensor/functions.h"

namespace tandem::nn {

namespace {

/// Applies a mask to attention scores [B, H, L, S]: a bool mask sets its true positions to -inf, a float mask
/// is added. `mask` must already be shaped to broadcast against the scores.
Tensor apply_mask(const Tensor& scores, const Tensor& mask) {
  if (mask.dtype() == kBool) return where(mask, -std::numeric_limits<double>::infinity(), scores);
  return scores + mask.to(scores.dtype());
}

void check_mask_dtype(const Tensor& mask, const char* what) {
  TD_CHECK(mask.dtype() == kBool || mask.is_floating_point(), "MultiheadAttention: ", what,
           " must be bool or floating, got ", mask.dtype(), " of shape ", mask.sizes());
}

}  // namespace

// ---- MultiheadAttention -----------------------------------------------------------------------------------------

MultiheadAttentionImpl::MultiheadAttentionImpl(const MultiheadAttentionOptions& options) : options(options) { reset(); }

void MultiheadAttentionImpl::reset() {
  const int64_t E = options.embed_dim(), H = options.num_heads();
  TD_CHECK(E > 0 && H > 0, "MultiheadAttention: embed_dim and num_heads must be positive, got ", E, " and ", H);
  TD_CHECK(E % H == 0, "MultiheadAttention: embed_dim (", E, ") must be divisible by num_heads (", H, ")");
  TD_CHECK(options.dropout() >= 0 && options.dropout() <= 1,
           "MultiheadAttention: dropout has to be between 0 and 1, but got ", options.dropout());
  in_proj_weight = register_parameter("in_proj_weight", empty({3 * E, E}));
  if (options.bias())
    in_proj_bias = register_parameter("in_proj_bias", empty({3 * E}));
  else
    in_proj_bias = Tensor();
  out_proj = register_module("out_proj", Linear(LinearOptions(E, E).bias(options.bias())));
  reset_parameters();
}

void MultiheadAttentionImpl::reset_parameters() {
  init::xavier_uniform_(in_proj_weight);
  if (in_proj_bias.defined()) init::zeros_(in_proj_bias);
  if (out_proj->bias.defined()) init::zeros_(out_proj->bias);
}

std::tuple<Tensor, Tensor> MultiheadAttentionImpl::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                           const Tensor& key_padding_mask, const Tensor& attn_mask) {
  const int64_t E = options.embed_dim(), H = options.num_heads(), head_dim = E / H;
  TD_CHECK(query.defined() && key.defined() && value.defined(),
           "MultiheadAttention: query, key and value must be defined");
  TD_CHECK(query.dim() == 3 || query.dim() == 2, "MultiheadAttention: expected query of rank 3 (",
           options.batch_first() ? "[B, L, E]" : "[L, B, E]", ") or 2 ([L, E]), got shape ", query.sizes());
  TD_CHECK(key.dim() == query.dim() && value.dim() == query.dim(), "MultiheadAttention: query ", query.sizes(),
           ", key ", key.sizes(), " and value ", value.sizes(), " must have the same rank");
  const bool unbatched = query.dim() == 2;
  // Everything below works on batch-first [B, L, E].
  auto to_batch_first = [&](const Tensor& t) {
    if (unbatched) return t.unsqueeze(0);
    return options.batch_first() ? t : t.transpose(0, 1);
  };
  const Tensor q = to_batch_first(query), k = to_batch_first(key), v = to_batch_first(value);
  const int64_t B = q.size(0), L = q.size(1), S = k.size(1);
  TD_CHECK(q.size(2) == E, "MultiheadAttention: expected query with last dimension ", E, " (embed_dim), got shape ",
           query.sizes());
  TD_CHECK(k.size(0) == B && k.size(2) == E && v.sizes() == k.sizes(), "MultiheadAttention: key ", key.sizes(),
           " and value ", value.sizes(), " must have the same shape, with the batch size of query ", query.sizes(),
           " and last dimension ", E, " (embed_dim)");

  Tensor bias_q, bias_k, bias_v;
  if (in_proj_bias.defined()) {
    bias_q = in_proj_bias.slice(0, 0, E);
    bias_k = in_proj_bias.slice(0, E, 2 * E);
    bias_v = in_proj_bias.slice(0, 2 * E, 3 * E);
  }
  // [B, T, E] -> [B, H, T, head_dim]
  auto split_heads = [&](const Tensor& t, int64_t length) {
    return t.reshape({B, length, H, head_dim}).transpose(1, 2);
  };
  Tensor Q = split_heads(functional::linear(q, in_proj_weight.slice(0, 0, E), bias_q), L);
  Tensor K = split_heads(functional::linear(k, in_proj_weight.slice(0, E, 2 * E), bias_k), S);
  Tensor V = split_heads(functional::linear(v, in_proj_weight.slice(0, 2 * E, 3 * E), bias_v), S);

  Tensor scores = matmul(Q, K.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(head_dim)));  // [B, H, L, S]
  if (attn_mask.defined()) {
    check_mask_dtype(attn_mask, "attn_mask");
    if (attn_mask.dim() == 2) {
      TD_CHECK(attn_mask.size(0) == L && attn_mask.size(1) == S, "MultiheadAttention: attn_mask of shape ",
               attn_mask.sizes(), " does not match [L, S] = [", L, ", ", S, "]");
      scores = apply_mask(scores, attn_mask.reshape({1, 1, L, S}));
    } else {
      TD_CHECK(attn_mask.dim() == 3 && attn_mask.size(0) == B * H && attn_mask.size(1) == L && attn_mask.size(2) == S,
               "MultiheadAttention: attn_mask of shape ", attn_mask.sizes(), " must be [L, S] = [", L, ", ", S,
               "] or [B * num_heads, L, S] = [", B * H, ", ", L, ", ", S, "]");
      scores = apply_mask(scores, attn_mask.reshape({B, H, L, S}));
    }
  }
  if (key_padding_mask.defined()) {
    check_mask_dtype(key_padding_mask, "key_padding_mask");
    const Tensor mask = unbatched ? key_padding_mask.unsqueeze(0) : key_padding_mask;
    TD_CHECK(mask.dim() == 2 && mask.size(0) == B && mask.size(1) == S,
             "MultiheadAttention: key_padding_mask of shape ", key_padding_mask.sizes(), " does not match [B, S] = [",
             B, ", ", S, "]");
    scores = apply_mask(scores, mask.reshape({B, 1, 1, S}));
  }
  Tensor weights = softmax(scores, -1);
  weights = tandem::dropout(weights, options.dropout(), is_training());
  Tensor context = matmul(weights, V).transpose(1, 2).reshape({B, L, E});  // heads concatenated
  Tensor output = out_proj(context);
  Tensor averaged = weights.mean(1);  // [B, L, S]
  if (unbatched) return {output.squeeze(0), averaged.squeeze(0)};
  if (!options.batch_first()) output = output.transpose(0, 1);
  return {output, averaged};
}

void MultiheadAttentionImpl::pretty_print(std::ostream& os) const {
  os << "MultiheadAttention(embed_dim=" << options.embed_dim() << ", num_heads=" << options.num_heads()
     << ", dropout=" << options.dropout() << ", bias=" << (options.bias() ? "true" : "false")
     << ", batch_first=" << (options.batch_first() ? "true" : "false") << ")";
}

// ---- TransformerEncoderLayer ------------------------------------------------------------------------------------

TransformerEncoderLayerImpl::TransformerEncoderLayerImpl(const TransformerEncoderLayerOptions& options)
    : options(options) {
  reset();
}

void TransformerEncoderLayerImpl::reset() {
  const int64_t d = options.d_model();
  TD_CHECK(options.activation() == "relu" || options.activation() == "gelu",
           "TransformerEncoderLayer: activation must be \"relu\" or \"gelu\", got \"", options.activation(), "\"");
  TD_CHECK(options.dim_feedforward() > 0, "TransformerEncoderLayer: dim_feedforward must be positive, got ",
           options.dim_feedforward());
  self_attn = register_module(
      "self_attn",
      MultiheadAttention(
          MultiheadAttentionOptions(d, options.nhead()).dropout(options.dropout()).batch_first(options.batch_first())));
  linear1 = register_module("linear1", Linear(d, options.dim_feedforward()));
  dropout = register_module("dropout", Dropout(options.dropout()));
  linear2 = register_module("linear2", Linear(options.dim_feedforward(), d));
  norm1 = register_module("norm1", LayerNorm(LayerNormOptions({d}).eps(options.layer_norm_eps())));
  norm2 = register_module("norm2", LayerNorm(LayerNormOptions({d}).eps(options.layer_norm_eps())));
  dropout1 = register_module("dropout1", Dropout(options.dropout()));
  dropout2 = register_module("dropout2", Dropout(options.dropout()));
}

Tensor TransformerEncoderLayerImpl::self_attention_block(const Tensor& x, const Tensor& src_mask,
                                                         const Tensor& src_key_padding_mask) {
  Tensor attended = std::get<0>(self_attn(x, x, x, src_key_padding_mask, src_mask));
  return dropout1(attended);
}

Tensor TransformerEncoderLayerImpl::feed_forward_block(const Tensor& x) {
  Tensor hidden = linear1(x);
  hidden = options.activation() == "gelu" ? gelu(hidden) : relu(hidden);
  return dropout2(linear2(dropout(hidden)));
}

Tensor TransformerEncoderLayerImpl::forward(const Tensor& src, const Tensor& src_mask,
                                            const Tensor& src_key_padding_mask) {
  TD_CHECK(src.defined(), "TransformerEncoderLayer: src is undefined");
  TD_CHECK((src.dim() == 3 || src.dim() == 2) && src.size(-1) == options.d_model(),
           "TransformerEncoderLayer: expected src of shape ", options.batch_first() ? "[B, S, " : "[S, B, ",
           options.d_model(), "] or [S, ", options.d_model(), "] (d_model = ", options.d_model(), "), got shape ",
           src.sizes());
  Tensor x = src;
  if (options.norm_first()) {
    x = x + self_attention_block(norm1(x), src_mask, src_key_padding_mask);
    x = x + feed_forward_block(norm2(x));
  } else {
    x = norm1(x + self_attention_block(x, src_mask, src_key_padding_mask));
    x = norm2(x + feed_forward_block(x));
  }
  return x;
}

void TransformerEncoderLayerImpl::pretty_print(std::ostream& os) const {
  os << "TransformerEncoderLayer(d_model=" << options.d_model() << ", nhead=" << options.nhead()
     << ", dim_feedforward=" << options.dim_feedforward() << ", dropout=" << options.dropout()
     << ", activation=" << options.activation() << ", norm_first=" << (options.norm_first() ? "true" : "false")
     << ", batch_first=" << (options.batch_first() ? "true" : "false") << ")";
}

// ---- TransformerEncoder -----------------------------------------------------------------------------------------

TransformerEncoderImpl::TransformerEncoderImpl(const TransformerEncoderOptions& options) : options(options) { reset(); }

void TransformerEncoderImpl::reset() {
  TD_CHECK(!options.encoder_layer().is_empty(), "TransformerEncoder: encoder_layer is empty");
  TD_CHECK(options.num_layers() > 0, "TransformerEncoder: num_layers must be positive, got ", options.num_layers());
  layers = register_module("layers", ModuleList());
  for (int64_t i = 0; i < options.num_layers(); ++i) layers->push_back(options.encoder_layer()->clone());
  if (!options.norm().is_empty()) {
    norm = register_module("norm", LayerNorm(std::dynamic_pointer_cast<LayerNormImpl>(options.norm()->clone())));
  } else {
    norm = nullptr;
  }
}

Tensor TransformerEncoderImpl::forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask) {
  Tensor x = src;
  for (size_t i = 0; i < layers->size(); ++i)
    x = layers->at<TransformerEncoderLayerImpl>(i).forward(x, mask, src_key_padding_mask);
  if (!norm.is_empty()) x = norm(x);
  return x;
}

void TransformerEncoderImpl::pretty_print(std::ostream& os) const {
  os << "TransformerEncoder(num_layers=" << options.num_layers() << ")";
}

}  // namespace tandem::nn

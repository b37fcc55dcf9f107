// Embedding over tandem::embedding.
#include "nn/modules/embedding.h"

#include "autograd/grad_mode.h"
#include "nn/init.h"
#include "tensor/functions.h"

namespace tandem::nn {

EmbeddingImpl::EmbeddingImpl(const EmbeddingOptions& options) : options(options) { reset(); }

void EmbeddingImpl::reset() {
  const int64_t n = options.num_embeddings();
  TD_CHECK(n > 0 && options.embedding_dim() > 0, "Embedding: num_embeddings and embedding_dim must be positive, got ",
           n, " and ", options.embedding_dim());
  if (options.padding_idx()) {
    int64_t& idx = *options.padding_idx();
    TD_CHECK(idx >= -n && idx < n, "Embedding: padding_idx ", idx, " is out of range for num_embeddings ", n);
    if (idx < 0) idx += n;
  }
  weight = register_parameter("weight", empty({n, options.embedding_dim()}));
  reset_parameters();
}

void EmbeddingImpl::reset_parameters() {
  init::normal_(weight);
  if (options.padding_idx()) {
    NoGradGuard no_grad;
    weight.select(0, *options.padding_idx()).fill_(0);
  }
}

Tensor EmbeddingImpl::forward(const Tensor& indices) {
  TD_CHECK(indices.defined(), "Embedding: the indices are undefined");
  TD_CHECK(indices.dtype() == kInt64, "Embedding: expected int64 indices, got ", indices.dtype(), " of shape ",
           indices.sizes());
  return embedding(weight, indices, options.padding_idx().value_or(-1));
}

void EmbeddingImpl::pretty_print(std::ostream& os) const {
  os << "Embedding(num_embeddings=" << options.num_embeddings() << ", embedding_dim=" << options.embedding_dim();
  if (options.padding_idx()) os << ", padding_idx=" << *options.padding_idx();
  os << ")";
}

}  // namespace tandem::nn

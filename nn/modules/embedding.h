// Embedding: a lookup table from int64 indices to learned vectors.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>

#include "nn/module.h"
#include "nn/options.h"

namespace tandem::nn {

/// Options of Embedding. padding_idx (may be negative, counting from the end): that row starts at zero and
/// receives no gradient.
struct EmbeddingOptions {
  EmbeddingOptions(int64_t num_embeddings, int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  TANDEM_ARG(int64_t, num_embeddings);
  TANDEM_ARG(int64_t, embedding_dim);
  TANDEM_ARG(std::optional<int64_t>, padding_idx) = std::nullopt;
};

/// indices (int64, any shape) -> [..., embedding_dim]. The weight starts as N(0, 1), the padding row as zeros.
class EmbeddingImpl : public Cloneable<EmbeddingImpl> {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim)
      : EmbeddingImpl(EmbeddingOptions(num_embeddings, embedding_dim)) {}
  explicit EmbeddingImpl(const EmbeddingOptions& options);
  void reset() override;
  /// Redraws the weight from N(0, 1) and zeroes the padding row.
  void reset_parameters();
  Tensor forward(const Tensor& indices);
  /// "Embedding(num_embeddings=10, embedding_dim=3, padding_idx=0)".
  void pretty_print(std::ostream& os) const override;

  EmbeddingOptions options;
  Tensor weight;  ///< [num_embeddings, embedding_dim]
};
TANDEM_MODULE(Embedding);

}  // namespace tandem::nn

// Checkpoints of modules and optimizers, stored as safetensors files (nn/serialize/safetensors.h).
//
//   tandem::save(net, "net.safetensors");                 // every parameter and buffer, by dotted name
//   tandem::load(net, "net.safetensors");                 // strict: names and shapes must match exactly
//   tandem::save(optimizer, "opt.safetensors");           // hyper-parameters and state (Optimizer::state_dict)
//   tandem::load(optimizer, "opt.safetensors");
//
//   // transfer learning: take the encoder of a larger checkpoint as this model's backbone, leave the head alone
//   auto report = tandem::load(model, "pretrained.safetensors",
//                              tandem::LoadOptions().prefix_map({{"encoder.", "backbone."}}).only_prefix(true));
//
// Loading copies each value into the module's existing tensor in place (under NoGradGuard), converting the
// dtype to the module's and keeping the module's device, so optimizers and other holders of those tensors see
// the new values. It checks everything before it copies anything: a strict load that fails leaves the module
// unchanged.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"
#include "nn/optim/optimizer.h"
#include "nn/options.h"
#include "nn/serialize/safetensors.h"

namespace tandem {

/// Checkpoint-key prefix -> module-key prefix pairs, tried in order (the first match wins).
using PrefixMap = std::vector<std::pair<std::string, std::string>>;

/// How load() matches checkpoint entries to a module's parameters and buffers.
struct LoadOptions {
  /// Throw (and change nothing) unless every module tensor is found with its shape and every checkpoint tensor
  /// is used. Off: load what matches and report the rest.
  TANDEM_ARG(bool, strict) = true;
  /// Renames checkpoint keys before matching: {"encoder.", "backbone."} turns "encoder.fc.weight" into
  /// "backbone.fc.weight". Keys that match no prefix keep their name (unless only_prefix is set).
  TANDEM_ARG(PrefixMap, prefix_map);
  /// Use only checkpoint keys that match a prefix of prefix_map (the others are ignored, not "unexpected"), and
  /// expect only the module keys under the mapped-to prefixes (the others are left alone, not "missing").
  TANDEM_ARG(bool, only_prefix) = false;
};

/// A checkpoint tensor whose shape differs from the module tensor it was matched to.
struct ShapeMismatch {
  std::string key;  ///< the module's key
  Dims checkpoint_shape;
  Dims module_shape;
};

/// What a load() matched and what it could not.
struct LoadReport {
  /// Module keys that the checkpoint does not provide (left unchanged).
  std::vector<std::string> missing;
  /// Checkpoint keys (as written in the file) that match no module key.
  std::vector<std::string> unexpected;
  /// Keys found on both sides with different shapes (left unchanged).
  std::vector<ShapeMismatch> mismatched;
  /// Module keys whose values were loaded.
  std::vector<std::string> loaded;

  /// True when nothing is missing, unexpected or mismatched.
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  /// One line per problem, e.g. "mismatched: fc.weight: checkpoint [10, 784] vs module [10, 100]".
  std::string str() const;
};
std::ostream& operator<<(std::ostream& os, const LoadReport& report);

/// Every parameter and buffer of `module` by dotted name (parameters first); the tensors are the module's own
/// handles, not copies.
nn::OrderedDict<Tensor> module_state_dict(const nn::Module& module);

/// Copies `state` into the module's parameters and buffers as load() does (matching by name under `options`)
/// and returns what matched. In strict mode throws tandem::Error listing every problem, leaving the module
/// unchanged.
LoadReport load_state_dict(nn::Module& module, const nn::OrderedDict<Tensor>& state,
                           const LoadOptions& options = LoadOptions());

/// Saves every parameter and buffer of `module` to a safetensors file (atomically; see save_safetensors), with
/// `metadata` plus "format": "tandem" and "content": "module".
void save(const nn::Module& module, const std::filesystem::path& path, const SafetensorsMetadata& metadata = {});
/// Loads a checkpoint written by save() (or any safetensors file whose keys are dotted module names).
LoadReport load(nn::Module& module, const std::filesystem::path& path, const LoadOptions& options = LoadOptions());

/// The same for a module handle: `tandem::save(net, path)` with `Net net;`.
template <typename Impl>
void save(const nn::ModuleHolder<Impl>& module, const std::filesystem::path& path,
          const SafetensorsMetadata& metadata = {}) {
  save(static_cast<const nn::Module&>(*module), path, metadata);
}
template <typename Impl>
LoadReport load(const nn::ModuleHolder<Impl>& module, const std::filesystem::path& path,
                const LoadOptions& options = LoadOptions()) {
  return load(static_cast<nn::Module&>(*module), path, options);
}

/// Saves an optimizer's hyper-parameters and state (Optimizer::state_dict) with `metadata` plus
/// "format": "tandem", "content": "optimizer" and "optimizer": its name.
void save(const optim::Optimizer& optimizer, const std::filesystem::path& path, const SafetensorsMetadata& metadata = {});
/// Restores what save(optimizer) wrote. Throws tandem::Error naming the file when it holds a module checkpoint
/// or another optimizer's state, or when Optimizer::load_state_dict rejects it (the optimizer is then unchanged).
void load(optim::Optimizer& optimizer, const std::filesystem::path& path);

}  // namespace tandem

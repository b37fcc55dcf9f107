// Module and optimizer checkpoints on top of the safetensors reader and writer: key matching with prefix
// renaming, the load report, strict checking before any copy, and the metadata that marks what a file holds.
#include "nn/serialize/checkpoint.h"

#include <map>
#include <set>
#include <sstream>

#include "autograd/grad_mode.h"

namespace tandem {

namespace {

constexpr const char* kFormatKey = "format";
constexpr const char* kContentKey = "content";
constexpr const char* kOptimizerKey = "optimizer";

/// The user's metadata plus the entries that say what the file holds; a user entry may not contradict them.
SafetensorsMetadata with_marks(const SafetensorsMetadata& user, const SafetensorsMetadata& marks, const std::string& where) {
  SafetensorsMetadata all = user;
  for (const auto& [key, value] : marks) {
    auto it = all.find(key);
    TD_CHECK(it == all.end() || it->second == value, where, ": metadata key '", key, "' is reserved (it is set to '",
             value, "' here)");
    all[key] = value;
  }
  return all;
}

/// The value of a metadata key, or "" when absent.
std::string metadata_value(const SafetensorsMetadata& metadata, const char* key) {
  auto it = metadata.find(key);
  return it == metadata.end() ? std::string() : it->second;
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

std::string LoadReport::str() const {
  std::ostringstream os;
  for (const auto& key : missing) os << "missing: " << key << "\n";
  for (const auto& key : unexpected) os << "unexpected: " << key << "\n";
  for (const auto& m : mismatched)
    os << "mismatched: " << m.key << ": checkpoint " << m.checkpoint_shape << " vs module " << m.module_shape << "\n";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const LoadReport& report) {
  os << "LoadReport(loaded=" << report.loaded.size() << ", missing=" << report.missing.size()
     << ", unexpected=" << report.unexpected.size() << ", mismatched=" << report.mismatched.size() << ")";
  if (!report.ok()) os << "\n" << report.str();
  return os;
}

nn::OrderedDict<Tensor> module_state_dict(const nn::Module& module) {
  nn::OrderedDict<Tensor> state;
  for (const auto& [key, tensor] : module.named_parameters()) state.insert(key, tensor);
  for (const auto& [key, tensor] : module.named_buffers()) {
    TD_CHECK(!state.contains(key), "module_state_dict: '", key, "' names both a parameter and a buffer");
    state.insert(key, tensor);
  }
  return state;
}

LoadReport load_state_dict(nn::Module& module, const nn::OrderedDict<Tensor>& state, const LoadOptions& options) {
  TD_CHECK(!options.only_prefix() || !options.prefix_map().empty(),
           "load_state_dict: only_prefix is set but prefix_map is empty (nothing would be loaded)");
  const nn::OrderedDict<Tensor> targets = module_state_dict(module);
  LoadReport report;
  std::vector<std::pair<Tensor, Tensor>> copies;        // (module tensor, checkpoint value)
  std::map<std::string, std::string> provided_by;         // module key -> checkpoint key

  for (const auto& [checkpoint_key, value] : state) {
    std::string key = checkpoint_key;
    bool renamed = false;
    for (const auto& [from, to] : options.prefix_map()) {
      if (starts_with(checkpoint_key, from)) {
        key = to + checkpoint_key.substr(from.size());
        renamed = true;
        break;
      }
    }
    if (!renamed && options.only_prefix()) continue;
    const Tensor* target = targets.find(key);
    if (target == nullptr) {
      report.unexpected.push_back(checkpoint_key);
      continue;
    }
    auto [it, fresh] = provided_by.emplace(key, checkpoint_key);
    TD_CHECK(fresh, "load_state_dict: checkpoint keys '", it->second, "' and '", checkpoint_key,
             "' both map to the module key '", key, "'");
    TD_CHECK(value.defined(), "load_state_dict: checkpoint tensor '", checkpoint_key, "' is undefined");
    if (value.sizes() != target->sizes()) {
      report.mismatched.push_back({key, value.sizes(), target->sizes()});
      continue;
    }
    copies.emplace_back(*target, value);
    report.loaded.push_back(key);
  }

  for (const auto& [key, tensor] : targets) {
    (void)tensor;
    if (provided_by.count(key)) continue;
    bool expected = !options.only_prefix();
    for (const auto& [from, to] : options.prefix_map()) {
      (void)from;
      if (options.only_prefix() && starts_with(key, to)) expected = true;
    }
    if (expected) report.missing.push_back(key);
  }

  if (options.strict() && !report.ok())
    throw Error(detail::concat("load_state_dict: the checkpoint does not match the module ", module.name(),
                               " (nothing was loaded; LoadOptions().strict(false) loads what matches):\n",
                               report.str()));

  NoGradGuard no_grad;
  for (auto& [target, value] : copies) target.copy_(value);
  return report;
}

void save(const nn::Module& module, const std::filesystem::path& path, const SafetensorsMetadata& metadata) {
  const std::string where = detail::concat("save: ", path.string());
  save_safetensors(module_state_dict(module), path,
                   with_marks(metadata, {{kFormatKey, "tandem"}, {kContentKey, "module"}}, where));
}

LoadReport load(nn::Module& module, const std::filesystem::path& path, const LoadOptions& options) {
  SafetensorsContent content = load_safetensors(path);
  const std::string content_kind = metadata_value(content.metadata, kContentKey);
  TD_CHECK(content_kind.empty() || content_kind == "module", "load: ", path.string(), " holds a checkpoint of ",
           content_kind == "optimizer" ? "an optimizer" : content_kind, ", not of a module");
  try {
    return load_state_dict(module, content.tensors, options);
  } catch (const Error& e) {
    throw Error(detail::concat("load: ", path.string(), ": ", e.what()));
  }
}

void save(const optim::Optimizer& optimizer, const std::filesystem::path& path, const SafetensorsMetadata& metadata) {
  const std::string where = detail::concat("save: ", path.string());
  save_safetensors(optimizer.state_dict(), path,
                   with_marks(metadata,
                              {{kFormatKey, "tandem"}, {kContentKey, "optimizer"}, {kOptimizerKey, optimizer.name()}},
                              where));
}

void load(optim::Optimizer& optimizer, const std::filesystem::path& path) {
  SafetensorsContent content = load_safetensors(path);
  const std::string content_kind = metadata_value(content.metadata, kContentKey);
  TD_CHECK(content_kind.empty() || content_kind == "optimizer", "load: ", path.string(), " holds a checkpoint of ",
           content_kind == "module" ? "a module" : content_kind, ", not of an optimizer");
  const std::string saved_by = metadata_value(content.metadata, kOptimizerKey);
  TD_CHECK(saved_by.empty() || saved_by == optimizer.name(), "load: ", path.string(), " holds the state of a ",
           saved_by, " optimizer, which cannot be loaded into a ", optimizer.name());
  try {
    optimizer.load_state_dict(content.tensors);
  } catch (const Error& e) {
    throw Error(detail::concat("load: ", path.string(), ": ", e.what()));
  }
}

}  // namespace tandem

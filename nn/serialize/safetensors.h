// safetensors: the checkpoint file format that tandem reads and writes (the format of Hugging Face's
// `safetensors` library, so that other tools can open tandem checkpoints and the other way round).
//
// A file is
//   8 bytes   N, the header length, an unsigned little-endian integer;
//   N bytes   a JSON object {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//             "__metadata__": {"<key>": "<string value>", ...}}, padded with spaces;
//   the rest  the data section: each tensor's elements, row-major and little-endian, at [begin, end) relative to
//             the start of the data section.
// tandem knows the dtypes F32, F64, I64 and BOOL (one byte, 0 or 1).
//
// Reading is defensive: the whole file is read into memory with its real size and every header field is checked
// against it before any tensor is built — header length beyond the file or beyond 100 MB, JSON that does not
// parse, unknown dtypes, malformed shapes, offsets outside the data section, overlapping tensors, gaps, byte
// counts that do not match the shape, and BOOL bytes other than 0/1 are all rejected with a tandem::Error that
// names the file and the problem. Writing is atomic: the bytes go to `<path>.tmp.<pid>`, are flushed to disk and
// the file is then renamed over `path`, so a crash or an error during a save leaves any previous file intact.
//
//   tandem::nn::OrderedDict<tandem::Tensor> tensors;
//   tensors.insert("weight", tandem::randn({3, 4}));
//   tandem::save_safetensors(tensors, "weights.safetensors", {{"epoch", "3"}});
//   tandem::SafetensorsContent content = tandem::load_safetensors("weights.safetensors");
//   content.tensors["weight"];  content.metadata["epoch"];
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "nn/module.h"
#include "tensor/tensor.h"

namespace tandem {

/// String key/value pairs stored in the header's "__metadata__" object.
using SafetensorsMetadata = std::map<std::string, std::string>;

/// What a safetensors file holds: its tensors (CPU, contiguous, in the order of the file's header) and its
/// metadata.
struct SafetensorsContent {
  nn::OrderedDict<Tensor> tensors;
  SafetensorsMetadata metadata;
};

/// Largest header tandem accepts, in bytes (the limit of the reference implementation).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

/// Writes `tensors` (any device, dtype F32/F64/I64/BOOL, any strides; copied to contiguous CPU data) and
/// `metadata` to `path`, atomically: a failure at any point leaves an existing file at `path` unchanged.
/// Throws tandem::Error naming the path for an undefined tensor, an empty name, the reserved name
/// "__metadata__", or an I/O failure.
void save_safetensors(const nn::OrderedDict<Tensor>& tensors, const std::filesystem::path& path,
                      const SafetensorsMetadata& metadata = {});

/// Reads a safetensors file; throws tandem::Error naming the file and what is wrong when it is missing,
/// truncated, corrupted or uses a dtype tandem does not have.
SafetensorsContent load_safetensors(const std::filesystem::path& path);

/// The bytes save_safetensors writes, in memory.
std::string serialize_safetensors(const nn::OrderedDict<Tensor>& tensors, const SafetensorsMetadata& metadata = {});

/// Parses safetensors bytes held in memory with the same checks as load_safetensors; `source` names the bytes in
/// error messages (a file name, "<memory>", ...).
SafetensorsContent deserialize_safetensors(std::string_view bytes, std::string_view source = "<memory>");

}  // namespace tandem

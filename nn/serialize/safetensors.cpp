// safetensors reading and writing (see safetensors.h for the format). Writing streams the header and then each
// tensor's bytes into a sink (a string, or a temporary file that is renamed over the target once complete);
// reading takes the whole file as one buffer and validates the header against the buffer's real size before
// building any tensor.
#include "nn/serialize/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem {

namespace {

using Json = nlohmann::ordered_json;
using ByteSink = std::function<void(const char* data, size_t size)>;

constexpr const char* kMetadataKey = "__metadata__";

const char* safetensors_dtype(ScalarType t) {
  switch (t) {
    case ScalarType::Float32: return "F32";
    case ScalarType::Float64: return "F64";
    case ScalarType::Int64: return "I64";
    case ScalarType::Bool: return "BOOL";
  }
  return "?";
}

std::optional<ScalarType> dtype_from_safetensors(const std::string& name) {
  if (name == "F32") return kFloat32;
  if (name == "F64") return kFloat64;
  if (name == "I64") return kInt64;
  if (name == "BOOL") return kBool;
  return std::nullopt;
}

/// Reverses the bytes of each `item_size`-byte element: the file is little-endian, so big-endian hosts swap.
void swap_element_bytes(char* data, size_t nbytes, size_t item_size) {
  for (size_t at = 0; at + item_size <= nbytes; at += item_size) std::reverse(data + at, data + at + item_size);
}

void write_le_u64(uint64_t value, char out[8]) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t read_le_u64(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return value;
}

/// A tensor about to be written: its name, its contiguous CPU values, and where they go in the data section.
struct PendingTensor {
  std::string name;
  Tensor values;
  uint64_t begin = 0;
  uint64_t nbytes = 0;
};

/// Checks every entry and lays out the data section: 8-byte types first, then 4-byte, then 1-byte, each group in
/// dictionary order, so that every tensor starts at a multiple of its element size (the data section itself
/// starts at a multiple of 8). The header lists the tensors in dictionary order.
std::vector<PendingTensor> prepare_tensors(const nn::OrderedDict<Tensor>& tensors, const std::string& where) {
  NoGradGuard no_grad;
  std::vector<PendingTensor> pending;
  pending.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    TD_CHECK(!name.empty(), where, ": a tensor has an empty name");
    TD_CHECK(name != kMetadataKey, where, ": '", kMetadataKey, "' is reserved for the metadata and cannot name a tensor");
    TD_CHECK(tensor.defined(), where, ": tensor '", name, "' is undefined");
    Tensor values = tensor.detach().to(Device(kCPU)).contiguous();
    pending.push_back({name, values, 0, static_cast<uint64_t>(values.numel()) * values.element_size()});
  }
  std::vector<PendingTensor*> layout;
  for (auto& p : pending) layout.push_back(&p);
  std::stable_sort(layout.begin(), layout.end(), [](const PendingTensor* a, const PendingTensor* b) {
    return a->values.element_size() > b->values.element_size();
  });
  uint64_t offset = 0;
  for (PendingTensor* p : layout) {
    p->begin = offset;
    offset += p->nbytes;
  }
  return pending;
}

/// The padded header text: metadata first, then one entry per tensor in dictionary order.
std::string build_header(const std::vector<PendingTensor>& pending, const SafetensorsMetadata& metadata,
                         const std::string& where) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header[kMetadataKey] = std::move(meta);
  }
  for (const auto& p : pending) {
    Json entry = Json::object();
    entry["dtype"] = safetensors_dtype(p.values.dtype());
    entry["shape"] = p.values.sizes().vec();
    entry["data_offsets"] = {p.begin, p.begin + p.nbytes};
    header[p.name] = std::move(entry);
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a name or a metadata value that is not valid UTF-8
    throw Error(detail::concat(where, ": cannot encode the header: ", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  return text;
}

/// Streams a whole safetensors file (the header built by build_header, then the data section) into `sink`.
void write_safetensors(const std::vector<PendingTensor>& pending, const std::string& header, const ByteSink& sink) {
  char length[8];
  write_le_u64(header.size(), length);
  sink(length, 8);
  sink(header.data(), header.size());

  std::vector<const PendingTensor*> layout;
  for (const auto& p : pending) layout.push_back(&p);
  std::sort(layout.begin(), layout.end(), [](const PendingTensor* a, const PendingTensor* b) { return a->begin < b->begin; });
  std::vector<char> swapped;
  for (const PendingTensor* p : layout) {
    if (p->nbytes == 0) continue;
    const char* data = static_cast<const char*>(p->values.data_ptr());
    if constexpr (std::endian::native == std::endian::big) {
      swapped.assign(data, data + p->nbytes);
      swap_element_bytes(swapped.data(), swapped.size(), p->values.element_size());
      data = swapped.data();
    }
    sink(data, p->nbytes);
  }
}

std::string errno_text() { return std::strerror(errno); }

/// Writes all of `size` bytes to `fd`, retrying short writes.
bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

/// Reads the whole file into memory (its real size: short reads and growth are handled).
std::string read_whole_file(const std::filesystem::path& path) {
  const std::string where = detail::concat("load_safetensors: ", path.string());
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  TD_CHECK(fd >= 0, where, ": cannot open the file (", errno_text(), ")");
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error(detail::concat(where, ": not a regular file"));
  }
  std::string bytes;
  bytes.resize(static_cast<size_t>(std::max<off_t>(info.st_size, 0)) + 1);  // one spare byte detects growth
  size_t filled = 0;
  for (;;) {
    if (filled == bytes.size()) bytes.resize(bytes.size() * 2);
    const ssize_t n = ::read(fd, bytes.data() + filled, bytes.size() - filled);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string reason = errno_text();
      ::close(fd);
      throw Error(detail::concat(where, ": read failed (", reason, ")"));
    }
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  ::close(fd);
  bytes.resize(filled);
  return bytes;
}

/// Parses the header, rejecting duplicate keys in any object (a JSON parser would silently keep the last).
Json parse_header(std::string_view text, const std::string& where) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto reject_duplicates = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
    else if (event == Json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
    else if (event == Json::parse_event_t::key && !open_objects.empty() && duplicate.empty() &&
             !open_objects.back().insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  Json header;
  try {
    header = Json::parse(text.begin(), text.end(), reject_duplicates);
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat(where, ": the header is not valid JSON (", e.what(), ")"));
  }
  TD_CHECK(duplicate.empty(), where, ": the header repeats the key '", duplicate, "'");
  TD_CHECK(header.is_object(), where, ": the header is not a JSON object");
  return header;
}

/// A validated header entry.
struct TensorEntry {
  std::string name;
  ScalarType dtype = kFloat32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

TensorEntry parse_entry(const std::string& name, const Json& entry, uint64_t data_size, const std::string& where) {
  const std::string what = detail::concat(where, ": tensor '", name, "'");
  TD_CHECK(entry.is_object(), what, ": the entry is not a JSON object");
  for (const auto& [field, value] : entry.items()) {
    (void)value;
    TD_CHECK(field == "dtype" || field == "shape" || field == "data_offsets", what, ": unknown field '", field, "'");
  }
  TD_CHECK(entry.contains("dtype") && entry["dtype"].is_string(), what, ": missing or non-string 'dtype'");
  TD_CHECK(entry.contains("shape") && entry["shape"].is_array(), what, ": missing or non-array 'shape'");
  TD_CHECK(entry.contains("data_offsets") && entry["data_offsets"].is_array() && entry["data_offsets"].size() == 2,
           what, ": 'data_offsets' must be an array [begin, end]");

  TensorEntry out;
  out.name = name;
  const std::string dtype = entry["dtype"].get<std::string>();
  const auto dt = dtype_from_safetensors(dtype);
  TD_CHECK(dt.has_value(), what, ": unsupported dtype '", dtype, "' (tandem reads F32, F64, I64 and BOOL)");
  out.dtype = *dt;

  // numel, and the product of the sizes with zeros counted as one (what strides are built from), must both
  // stay far from overflow; a tensor larger than the file is caught by the byte count below.
  constexpr uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t numel = 1, span = 1;
  for (const Json& size : entry["shape"]) {
    TD_CHECK(size.is_number_unsigned(), what, ": shape ", entry["shape"].dump(), " holds a value that is not a non-negative integer");
    const uint64_t s = size.get<uint64_t>();
    const uint64_t factor = std::max<uint64_t>(s, 1);
    TD_CHECK(s <= kLimit && span <= kLimit / factor, what, ": shape ", entry["shape"].dump(), " is too large");
    span *= factor;
    numel *= s;
    out.shape.push_back(static_cast<int64_t>(s));
  }
  const Json& offsets = entry["data_offsets"];
  TD_CHECK(offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned(), what, ": data_offsets ",
           offsets.dump(), " must be non-negative integers");
  out.begin = offsets[0].get<uint64_t>();
  out.end = offsets[1].get<uint64_t>();
  TD_CHECK(out.begin <= out.end, what, ": data_offsets ", offsets.dump(), " end before they begin");
  TD_CHECK(out.end <= data_size, what, ": data_offsets ", offsets.dump(), " reach beyond the data section (",
           data_size, " bytes; the file may be truncated)");
  const uint64_t item = element_size(out.dtype);
  TD_CHECK(numel <= kLimit / item && out.end - out.begin == numel * item, what, ": data_offsets ", offsets.dump(),
           " span ", out.end - out.begin, " bytes but ", dtype, " shape ", entry["shape"].dump(), " needs ",
           numel <= kLimit / item ? detail::concat(numel * item) : std::string("more than can be addressed"));
  return out;
}

/// Checks that the tensors tile the data section exactly: no overlap, no gap, nothing after the last one.
void check_layout(const std::vector<TensorEntry>& entries, uint64_t data_size, const std::string& where) {
  std::vector<const TensorEntry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry* e : by_offset) {
    TD_CHECK(e->begin >= covered, where, ": tensor '", e->name, "' at bytes [", e->begin, ", ", e->end,
             ") overlaps tensor '", previous ? previous->name : std::string(), "' at [", previous ? previous->begin : 0,
             ", ", covered, ")");
    TD_CHECK(e->begin == covered, where, ": the data section has a gap at bytes [", covered, ", ", e->begin,
             ") that no tensor covers");
    if (e->end > covered || previous == nullptr) previous = e;
    covered = std::max(covered, e->end);
  }
  TD_CHECK(covered == data_size, where, ": the data section has ", data_size - covered,
           " trailing bytes after the last tensor (", data_size, " bytes, tensors cover ", covered, ")");
}

}  // namespace

std::string serialize_safetensors(const nn::OrderedDict<Tensor>& tensors, const SafetensorsMetadata& metadata) {
  const std::vector<PendingTensor> pending = prepare_tensors(tensors, "serialize_safetensors");
  const std::string header = build_header(pending, metadata, "serialize_safetensors");
  std::string bytes;
  write_safetensors(pending, header, [&](const char* data, size_t size) { bytes.append(data, size); });
  return bytes;
}

void save_safetensors(const nn::OrderedDict<Tensor>& tensors, const std::filesystem::path& path,
                      const SafetensorsMetadata& metadata) {
  const std::string where = detail::concat("save_safetensors: ", path.string());
  TD_CHECK(!path.empty(), "save_safetensors: empty path");
  // Everything that can fail without I/O (undefined tensors, bad names, device copies, header encoding) fails
  // before the temporary file exists.
  const std::vector<PendingTensor> pending = prepare_tensors(tensors, where);
  const std::string header = build_header(pending, metadata, where);

  const std::filesystem::path temporary = detail::concat(path.string(), ".tmp.", ::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  TD_CHECK(fd >= 0, where, ": cannot create the temporary file ", temporary.string(), " (", errno_text(), ")");
  auto abandon = [&](const std::string& reason) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw Error(detail::concat(where, ": ", reason, "; the previous file, if any, is unchanged"));
  };
  try {
    write_safetensors(pending, header, [&](const char* data, size_t size) {
      if (!write_all(fd, data, size)) throw Error(detail::concat("write failed (", errno_text(), ")"));
    });
  } catch (const Error& e) {
    abandon(e.what());
  } catch (...) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  if (::fsync(fd) != 0) abandon(detail::concat("fsync failed (", errno_text(), ")"));
  if (::close(fd) != 0) {
    const std::string reason = errno_text();
    ::unlink(temporary.c_str());
    throw Error(detail::concat(where, ": close failed (", reason, "); the previous file, if any, is unchanged"));
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = errno_text();
    ::unlink(temporary.c_str());
    throw Error(detail::concat(where, ": cannot rename the temporary file over the target (", reason,
                               "); the previous file, if any, is unchanged"));
  }
  // Make the rename itself durable; a failure here no longer risks the data, so it is not an error.
  std::filesystem::path directory = path.parent_path();
  if (directory.empty()) directory = ".";
  const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
}

SafetensorsContent deserialize_safetensors(std::string_view bytes, std::string_view source) {
  const std::string where = detail::concat("load_safetensors: ", source);
  TD_CHECK(bytes.size() >= 8, where, ": truncated file (", bytes.size(),
           " bytes; a safetensors file starts with an 8-byte header length)");
  const uint64_t header_size = read_le_u64(bytes.data());
  TD_CHECK(header_size <= kSafetensorsMaxHeaderBytes, where, ": header length ", header_size,
           " exceeds the limit of ", kSafetensorsMaxHeaderBytes, " bytes (not a safetensors file, or corrupted)");
  TD_CHECK(header_size <= bytes.size() - 8, where, ": header length ", header_size, " is larger than the rest of the file (",
           bytes.size() - 8, " bytes; truncated or not a safetensors file)");
  const std::string_view header_text = bytes.substr(8, header_size);
  TD_CHECK(!header_text.empty() && header_text.front() == '{', where,
           ": the header does not start with '{' (not a safetensors file)");
  TD_CHECK(header_text.find('\0') == std::string_view::npos, where, ": the header contains a NUL byte at offset ",
           header_text.find('\0'), " (it may only be padded with spaces)");
  const Json header = parse_header(header_text, where);
  const std::string_view data = bytes.substr(8 + header_size);

  SafetensorsContent content;
  std::vector<TensorEntry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      TD_CHECK(value.is_object(), where, ": '", kMetadataKey, "' is not a JSON object");
      for (const auto& [key, text] : value.items()) {
        TD_CHECK(text.is_string(), where, ": metadata value of '", key, "' is not a string");
        content.metadata[key] = text.get<std::string>();
      }
      continue;
    }
    TD_CHECK(!name.empty(), where, ": a tensor has an empty name");
    entries.push_back(parse_entry(name, value, data.size(), where));
  }
  check_layout(entries, data.size(), where);

  for (const TensorEntry& e : entries) {
    Tensor t = empty(e.shape.empty() ? Dims() : Dims(e.shape), e.dtype);  // 0-d: no data pointer to copy from
    const size_t nbytes = e.end - e.begin;
    if (nbytes > 0) {
      const char* from = data.data() + e.begin;
      if (e.dtype == kBool) {
        for (size_t i = 0; i < nbytes; ++i)
          TD_CHECK(from[i] == 0 || from[i] == 1, where, ": tensor '", e.name, "' holds the byte ",
                   static_cast<int>(static_cast<unsigned char>(from[i])), " at element ", i, " (BOOL must be 0 or 1)");
      }
      char* to = static_cast<char*>(t.data_ptr());
      std::memcpy(to, from, nbytes);
      if constexpr (std::endian::native == std::endian::big) swap_element_bytes(to, nbytes, element_size(e.dtype));
    }
    content.tensors.insert(e.name, t);
  }
  return content;
}

SafetensorsContent load_safetensors(const std::filesystem::path& path) {
  const std::string bytes = read_whole_file(path);
  return deserialize_safetensors(bytes, path.string());
}

}  // namespace tandem

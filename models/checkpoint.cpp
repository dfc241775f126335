#include "models/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "engine/backend/backend.h"

namespace gg {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit

// Every dtype the format defines, so that a file holding one we do not load is told apart from a corrupt one.
const std::set<std::string> kFormatDtypes = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                                             "BF16", "I32", "U32", "F32",     "F64",     "I64", "U64"};

const char* format_dtype(DType t) { return t == DType::f32 ? "F32" : "F64"; }

std::string in_file(const std::string& path) { return "safetensors file '" + path + "': "; }

std::string sys_error() { return std::strerror(errno); }

// Writes all of `bytes` to fd, naming `path` on failure.
void write_all(int fd, const std::string& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    GG_CHECK(n > 0, in_file(path) + "write failed: " + sys_error());
    done += size_t(n);
  }
}

// Replaces `path` by `bytes` atomically: a reader sees the old file or the new one, never a part.
void write_atomically(const std::string& path, const std::string& bytes) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  std::string tmp = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  GG_CHECK(fd >= 0, in_file(path) + "cannot create a temporary file in " + dir.string() + ": " + sys_error());
  try {
    GG_CHECK(::fchmod(fd, 0644) == 0, in_file(path) + "chmod failed: " + sys_error());
    write_all(fd, bytes, path);
    GG_CHECK(::fsync(fd) == 0, in_file(path) + "fsync failed: " + sys_error());
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  GG_CHECK(::close(fd) == 0, in_file(path) + "close failed: " + sys_error());
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = sys_error();
    ::unlink(tmp.c_str());
    fail(in_file(path) + "rename failed: " + why);
  }
  // Make the rename itself durable.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GG_CHECK(in.good(), in_file(path) + "cannot open: " + sys_error());
  std::ostringstream s;
  s << in.rdbuf();
  GG_CHECK(!in.bad(), in_file(path) + "read failed");
  return s.str();
}

// Parses the header, refusing duplicate keys in any object (nlohmann would keep the last silently).
nlohmann::json parse_header(const std::string& text, const std::string& path) {
  std::vector<std::set<std::string>> open_objects;
  auto no_duplicates = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) open_objects.emplace_back();
    if (event == E::object_end) open_objects.pop_back();
    if (event == E::key && !open_objects.back().insert(parsed.get<std::string>()).second)
      fail(in_file(path) + "header has the key '" + parsed.get<std::string>() + "' twice");
    return true;
  };
  try {
    return nlohmann::json::parse(text, no_duplicates);
  } catch (const nlohmann::json::parse_error& e) {
    fail(in_file(path) + "header is not valid JSON (" + e.what() + ")");
  }
}

uint64_t read_count(const nlohmann::json& j, const std::string& path, const std::string& what) {
  GG_CHECK(j.is_number_unsigned(),
           in_file(path) + what + " must hold non-negative integers, got " + j.dump());
  return j.get<uint64_t>();
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& name, const nlohmann::json& e, uint64_t buffer_bytes,
                  const std::string& path) {
  const std::string where = in_file(path) + "tensor '" + name + "': ";
  GG_CHECK(e.is_object(), where + "entry must be an object, got " + e.dump());
  for (const auto& [key, v] : e.items())
    GG_CHECK(key == "dtype" || key == "shape" || key == "data_offsets",
             where + "unknown field '" + key + "'");
  GG_CHECK(e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"),
           where + "entry needs dtype, shape and data_offsets");

  Entry out{name, DType::f32, {}, 0, 0};
  GG_CHECK(e["dtype"].is_string(), where + "dtype must be a string, got " + e["dtype"].dump());
  const std::string dtype = e["dtype"].get<std::string>();
  if (dtype == "F32" || dtype == "F64") {
    out.dtype = dtype == "F32" ? DType::f32 : DType::f64;
  } else if (kFormatDtypes.count(dtype)) {
    fail(where + "dtype " + dtype + " is not supported (gradgrad loads F32 and F64)");
  } else {
    fail(where + "unknown dtype '" + dtype + "'");
  }

  GG_CHECK(e["shape"].is_array(), where + "shape must be an array, got " + e["shape"].dump());
  uint64_t bytes = dtype_size(out.dtype);
  for (const auto& d : e["shape"]) {
    const uint64_t n = read_count(d, path, "tensor '" + name + "': shape");
    GG_CHECK(n <= uint64_t(INT64_MAX) && !__builtin_mul_overflow(bytes, n, &bytes),
             where + "shape " + e["shape"].dump() + " is too large");
    out.shape.push_back(int64_t(n));
  }

  const auto& offsets = e["data_offsets"];
  GG_CHECK(offsets.is_array() && offsets.size() == 2,
           where + "data_offsets must be [begin, end], got " + offsets.dump());
  out.begin = read_count(offsets[0], path, "tensor '" + name + "': data_offsets");
  out.end = read_count(offsets[1], path, "tensor '" + name + "': data_offsets");
  const std::string range = "[" + std::to_string(out.begin) + ", " + std::to_string(out.end) + ")";
  GG_CHECK(out.begin <= out.end, where + "byte range " + range + " ends before it begins");
  GG_CHECK(out.end <= buffer_bytes, where + "byte range " + range + " lies outside the " +
                                        std::to_string(buffer_bytes) + "-byte data buffer");
  GG_CHECK(out.end - out.begin == bytes,
           where + "shape " + shape_str(out.shape) + " of " + dtype + " needs " + std::to_string(bytes) +
               " bytes, but its byte range " + range + " holds " + std::to_string(out.end - out.begin));
  return out;
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    GG_CHECK(!name.empty() && name != "__metadata__", in_file(path) + "invalid tensor name '" + name + "'");
    GG_CHECK(!header.contains(name), in_file(path) + "tensor name '" + name + "' given twice");
    GG_CHECK(t.defined(), in_file(path) + "tensor '" + name + "' is undefined");
    const uint64_t bytes = uint64_t(t.numel()) * dtype_size(t.dtype());
    header[name] = {
        {"dtype", format_dtype(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8,
              ' ');  // keeps the buffer 8-byte aligned, as the reference writer does

  std::string file(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(file.data(), &n, 8);
  file += text;
  const size_t buffer_start = file.size();
  file.resize(buffer_start + offset);
  char* out = file.data() + buffer_start;
  for (const auto& [name, t] : tensors) {
    const size_t bytes = size_t(t.numel()) * dtype_size(t.dtype());
    if (bytes) backend_for(t.device()).copy_to_host(out, t.raw(), bytes);
    out += bytes;
  }
  write_atomically(path, file);
}

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string file = read_all(path);
  GG_CHECK(file.size() >= 8, in_file(path) + "is " + std::to_string(file.size()) +
                                 " bytes, too short for the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  GG_CHECK(n <= file.size() - 8, in_file(path) + "header length " + std::to_string(n) + " exceeds the " +
                                     std::to_string(file.size() - 8) + " bytes after the length field");
  GG_CHECK(n <= kMaxHeaderBytes, in_file(path) + "header length " + std::to_string(n) +
                                     " is over the limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
  const nlohmann::json header = parse_header(file.substr(8, n), path);
  GG_CHECK(header.is_object(), in_file(path) + "header must be a JSON object, got " + header.dump());
  const uint64_t buffer_bytes = file.size() - 8 - n;
  const char* buffer = file.data() + 8 + n;

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      GG_CHECK(value.is_object(), in_file(path) + "__metadata__ must be an object of strings");
      for (const auto& [key, v] : value.items()) {
        GG_CHECK(v.is_string(),
                 in_file(path) + "__metadata__ value of '" + key + "' must be a string, got " + v.dump());
        out.metadata[key] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(name, value, buffer_bytes, path));
  }

  // The byte ranges, in order, must tile the buffer: each starts where the previous one ended.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    GG_CHECK(e.begin >= covered, in_file(path) + "tensors '" + entries[i - 1].name + "' and '" + e.name +
                                     "' overlap (bytes from " + std::to_string(e.begin) + " to " +
                                     std::to_string(covered) + ")");
    GG_CHECK(e.begin == covered, in_file(path) + "bytes [" + std::to_string(covered) + ", " +
                                     std::to_string(e.begin) + ") before tensor '" + e.name +
                                     "' belong to no tensor");
    covered = e.end;
  }
  GG_CHECK(covered == buffer_bytes, in_file(path) + "bytes [" + std::to_string(covered) + ", " +
                                        std::to_string(buffer_bytes) + ") at the end belong to no tensor");

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::cpu());  // from the file; copy_ moves it where it goes
    if (e.end > e.begin) backend_for(t.device()).copy_from_host(t.raw(), buffer + e.begin, e.end - e.begin);
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

void save_checkpoint(const std::string& path, const Module& model, const nlohmann::json& config,
                     const NamedTensors& extra, const Metadata& metadata) {
  Metadata meta = metadata;
  for (const char* key : {kConfigKey, kExtraKey})
    GG_CHECK(!meta.count(key), "save_checkpoint '" + path + "': metadata key '" + key + "' is reserved");
  meta[kConfigKey] = config.dump();
  nlohmann::json extra_names = nlohmann::json::array();
  for (const auto& [name, t] : extra) extra_names.push_back(name);
  meta[kExtraKey] = extra_names.dump();

  NamedTensors all = model.named_parameters();
  for (const auto& [name, t] : extra) {
    for (const auto& [pname, p] : all)
      GG_CHECK(pname != name,
               "save_checkpoint '" + path + "': extra tensor '" + name + "' has a parameter's name");
  }
  all.insert(all.end(), extra.begin(), extra.end());
  save_safetensors(path, all, meta);
}

Checkpoint read_checkpoint(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);
  Checkpoint c;
  c.metadata = std::move(f.metadata);
  auto parse = [&](const char* key) {
    try {
      return nlohmann::json::parse(c.metadata.at(key));
    } catch (const nlohmann::json::exception& e) {
      fail("checkpoint '" + path + "': metadata '" + key + "' is not valid JSON (" + e.what() + ")");
    }
  };
  if (c.metadata.count(kConfigKey)) c.config = parse(kConfigKey);
  std::set<std::string> extra;
  if (c.metadata.count(kExtraKey)) {
    const nlohmann::json names = parse(kExtraKey);
    GG_CHECK(names.is_array(),
             "checkpoint '" + path + "': metadata '" + kExtraKey + "' must be a list of names");
    for (const auto& n : names) {
      GG_CHECK(n.is_string(),
               "checkpoint '" + path + "': metadata '" + kExtraKey + "' must be a list of names");
      extra.insert(n.get<std::string>());
    }
  }
  for (auto& [name, t] : f.tensors) (extra.erase(name) ? c.extra : c.parameters).emplace_back(name, t);
  GG_CHECK(extra.empty(),
           "checkpoint '" + path + "': extra tensor '" + *extra.begin() + "' is not in the file");
  return c;
}

Checkpoint load_checkpoint_into(Module& model, const std::string& path) {
  Checkpoint c = read_checkpoint(path);
  std::map<std::string, Tensor> remaining(c.parameters.begin(), c.parameters.end());
  std::vector<std::string> missing, mismatched;
  std::vector<std::pair<Tensor, Tensor>> copies;  // (parameter, value)
  for (const auto& [name, p] : model.named_parameters()) {
    auto it = remaining.find(name);
    if (it == remaining.end()) {
      missing.push_back(name);
      continue;
    }
    if (it->second.shape() != p.shape() || it->second.dtype() != p.dtype())
      mismatched.push_back(name + " (file " + it->second.str() + ", model " + p.str() + ")");
    else
      copies.emplace_back(p, it->second);
    remaining.erase(it);
  }
  if (!missing.empty() || !remaining.empty() || !mismatched.empty()) {
    auto list = [](const std::string& label, const std::vector<std::string>& names) {
      std::string s;
      for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
      return names.empty() ? std::string() : "; " + label + ": " + s;
    };
    std::vector<std::string> unexpected;
    for (const auto& [name, t] : remaining) unexpected.push_back(name);
    fail("checkpoint '" + path + "' does not fit the model" + list("missing", missing) +
         list("unexpected", unexpected) + list("mismatched", mismatched));
  }
  NoGradGuard no_grad;
  for (auto& [param, value] : copies) param.copy_(value);
  return c;
}

}  // namespace gg

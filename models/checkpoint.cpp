#include "models/checkpoint.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "datasets/files.h"
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

// Parses the header, refusing duplicate keys in any object (nlohmann would keep the last silently) and
// nesting deeper than any safetensors header has (datasets/files.h).
nlohmann::json parse_header(const std::string& text, const std::string& path) {
  std::vector<std::set<std::string>> open_objects;
  auto no_duplicates = [&](nlohmann::json::parse_event_t event, const nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) open_objects.emplace_back();
    if (event == E::object_end) open_objects.pop_back();
    if (event == E::key && !open_objects.back().insert(parsed.get<std::string>()).second)
      fail(in_file(path) + "header has the key '" + parsed.get<std::string>() + "' twice");
  };
  return parse_json(text, in_file(path) + "header", no_duplicates);
}

uint64_t read_count(const nlohmann::json& j, const std::string& path, const std::string& what) {
  GG_CHECK(j.is_number_unsigned(),
           in_file(path) + what + " must hold non-negative integers, got " + json_brief(j));
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
  GG_CHECK(e.is_object(), where + "entry must be an object, got " + json_brief(e));
  for (const auto& [key, v] : e.items())
    GG_CHECK(key == "dtype" || key == "shape" || key == "data_offsets",
             where + "unknown field '" + key + "'");
  GG_CHECK(e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"),
           where + "entry needs dtype, shape and data_offsets");

  Entry out{name, DType::f32, {}, 0, 0};
  GG_CHECK(e["dtype"].is_string(), where + "dtype must be a string, got " + json_brief(e["dtype"]));
  const std::string dtype = e["dtype"].get<std::string>();
  if (dtype == "F32" || dtype == "F64") {
    out.dtype = dtype == "F32" ? DType::f32 : DType::f64;
  } else if (kFormatDtypes.count(dtype)) {
    fail(where + "dtype " + dtype + " is not supported (gradgrad loads F32 and F64)");
  } else {
    fail(where + "unknown dtype '" + dtype + "'");
  }

  GG_CHECK(e["shape"].is_array(), where + "shape must be an array, got " + json_brief(e["shape"]));
  uint64_t bytes = dtype_size(out.dtype);
  for (const auto& d : e["shape"]) {
    const uint64_t n = read_count(d, path, "tensor '" + name + "': shape");
    GG_CHECK(n <= uint64_t(INT64_MAX) && !__builtin_mul_overflow(bytes, n, &bytes),
             where + "shape " + json_brief(e["shape"]) + " is too large");
    out.shape.push_back(int64_t(n));
  }

  const auto& offsets = e["data_offsets"];
  GG_CHECK(offsets.is_array() && offsets.size() == 2,
           where + "data_offsets must be [begin, end], got " + json_brief(offsets));
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

std::string crc_text(uint32_t crc) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", crc);
  return text;
}

// Every tensor named in the checksum metadata is in the file and its bytes have that CRC-32.
void verify_checksums(const std::string& text, const std::vector<Entry>& entries, const char* buffer,
                      const std::string& path) {
  const nlohmann::json sums = parse_json(text, in_file(path) + "metadata '" + kChecksumKey + "'");
  GG_CHECK(sums.is_object(), in_file(path) + "metadata '" + kChecksumKey + "' must map tensor names to checksums");
  for (const auto& [name, sum] : sums.items()) {
    const auto e = std::find_if(entries.begin(), entries.end(), [&](const Entry& x) { return x.name == name; });
    GG_CHECK(e != entries.end(), in_file(path) + "a checksum is given for tensor '" + name + "', not in the file");
    const std::string actual = crc_text(crc32_of(std::string_view(buffer + e->begin, e->end - e->begin)));
    GG_CHECK(sum.is_string() && sum.get<std::string>() == actual,
             in_file(path) + "tensor '" + name + "': its bytes have CRC-32 " + actual + ", not the " +
                 json_brief(sum) + " written with them: the file is damaged");
  }
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  // The data buffer first, so that the header can carry each tensor's checksum.
  uint64_t total = 0;
  for (const auto& [name, t] : tensors) {
    GG_CHECK(!name.empty() && name != "__metadata__", in_file(path) + "invalid tensor name '" + name + "'");
    GG_CHECK(t.defined(), in_file(path) + "tensor '" + name + "' is undefined");
    total += uint64_t(t.numel()) * dtype_size(t.dtype());
  }
  std::string buffer(total, '\0');
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  nlohmann::json checksums = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    GG_CHECK(!header.contains(name), in_file(path) + "tensor name '" + name + "' given twice");
    const uint64_t bytes = uint64_t(t.numel()) * dtype_size(t.dtype());
    if (bytes) backend_for(t.device()).copy_to_host(buffer.data() + offset, t.raw(), bytes);
    header[name] = {
        {"dtype", format_dtype(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    checksums[name] = crc_text(crc32_of(std::string_view(buffer).substr(offset, bytes)));
    offset += bytes;
  }
  Metadata meta = metadata;
  meta[kChecksumKey] = checksums.dump();
  nlohmann::ordered_json with_metadata = {{"__metadata__", meta}};
  with_metadata.update(header);
  std::string text = with_metadata.dump();
  text.append((8 - text.size() % 8) % 8,
              ' ');  // keeps the buffer 8-byte aligned, as the reference writer does

  std::string file(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(file.data(), &n, 8);
  file += text;
  file += buffer;
  write_file_atomic(path, file);
}

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string file = read_file(path);
  GG_CHECK(file.size() >= 8, in_file(path) + "is " + std::to_string(file.size()) +
                                 " bytes, too short for the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  GG_CHECK(n <= file.size() - 8, in_file(path) + "header length " + std::to_string(n) + " exceeds the " +
                                     std::to_string(file.size() - 8) + " bytes after the length field");
  GG_CHECK(n <= kMaxHeaderBytes, in_file(path) + "header length " + std::to_string(n) +
                                     " is over the limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
  const nlohmann::json header = parse_header(file.substr(8, n), path);
  GG_CHECK(header.is_object(), in_file(path) + "header must be a JSON object, got " + json_brief(header));
  const uint64_t buffer_bytes = file.size() - 8 - n;
  const char* buffer = file.data() + 8 + n;

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      GG_CHECK(value.is_object(), in_file(path) + "__metadata__ must be an object of strings");
      for (const auto& [key, v] : value.items()) {
        GG_CHECK(v.is_string(),
                 in_file(path) + "__metadata__ value of '" + key + "' must be a string, got " + json_brief(v));
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

  if (out.metadata.count(kChecksumKey)) {  // verified here, so not handed on
    verify_checksums(out.metadata[kChecksumKey], entries, buffer, path);
    out.metadata.erase(kChecksumKey);
  }

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

namespace {

bool all_finite(const Tensor& cpu_tensor) {
  const int64_t n = cpu_tensor.numel();
  if (cpu_tensor.dtype() == DType::f32) {
    const float* v = static_cast<const float*>(cpu_tensor.raw());
    return std::all_of(v, v + n, [](float x) { return std::isfinite(x); });
  }
  const double* v = static_cast<const double*>(cpu_tensor.raw());
  return std::all_of(v, v + n, [](double x) { return std::isfinite(x); });
}

}  // namespace

Checkpoint read_checkpoint(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);
  Checkpoint c;
  c.metadata = std::move(f.metadata);
  auto parse = [&](const char* key) {
    return parse_json(c.metadata.at(key), "checkpoint '" + path + "': metadata '" + key + "'");
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
  for (const auto& [name, t] : c.parameters)
    GG_CHECK(all_finite(t), "checkpoint '" + path + "': parameter '" + name + "' holds NaN or infinite values");
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

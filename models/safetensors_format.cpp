#include "models/safetensors_format.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <set>
#include <tuple>

#include "datasets/files.h"

namespace gg {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit

// Every dtype the format defines, so that a file holding one we do not load is told apart from a corrupt one.
const std::set<std::string> kFormatDtypes = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                                             "BF16", "I32", "U32", "F32",     "F64",     "I64", "U64"};

std::string in_file(const std::string& path) { return safetensors_where(path); }

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

SafetensorsEntry parse_entry(const std::string& name, const nlohmann::json& e, uint64_t buffer_bytes,
                  const std::string& path) {
  const std::string where = in_file(path) + "tensor '" + name + "': ";
  GG_CHECK(e.is_object(), where + "entry must be an object, got " + json_brief(e));
  for (const auto& [key, v] : e.items())
    GG_CHECK(key == "dtype" || key == "shape" || key == "data_offsets",
             where + "unknown field '" + key + "'");
  GG_CHECK(e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"),
           where + "entry needs dtype, shape and data_offsets");

  SafetensorsEntry out{name, DType::f32, {}, 0, 0};
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


// Every tensor named in the checksum metadata is in the file and its bytes have that CRC-32.
void verify_checksums(const std::string& text, const std::vector<SafetensorsEntry>& entries, const char* buffer,
                      const std::string& path) {
  const nlohmann::json sums = parse_json(text, in_file(path) + "metadata '" + kChecksumKey + "'");
  GG_CHECK(sums.is_object(), in_file(path) + "metadata '" + kChecksumKey + "' must map tensor names to checksums");
  for (const auto& item : sums.items()) {
    const std::string& name = item.key();
    const nlohmann::json& sum = item.value();
    const auto e = std::find_if(entries.begin(), entries.end(),
                                [&](const SafetensorsEntry& x) { return x.name == name; });
    GG_CHECK(e != entries.end(), in_file(path) + "a checksum is given for tensor '" + name + "', not in the file");
    const std::string actual = crc_text(crc32_of(std::string_view(buffer + e->begin, e->end - e->begin)));
    GG_CHECK(sum.is_string() && sum.get<std::string>() == actual,
             in_file(path) + "tensor '" + name + "': its bytes have CRC-32 " + actual + ", not the " +
                 json_brief(sum) + " written with them: the file is damaged");
  }
}

}  // namespace

std::string safetensors_where(const std::string& path) { return "safetensors file '" + path + "': "; }

const char* safetensors_dtype(DType t) { return t == DType::f32 ? "F32" : "F64"; }

std::string crc_text(uint32_t crc) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", crc);
  return text;
}

SafetensorsLayout parse_safetensors(std::string_view file, const std::string& path) {
  GG_CHECK(file.size() >= 8, in_file(path) + "is " + std::to_string(file.size()) +
                                 " bytes, too short for the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  GG_CHECK(n <= file.size() - 8, in_file(path) + "header length " + std::to_string(n) + " exceeds the " +
                                     std::to_string(file.size() - 8) + " bytes after the length field");
  GG_CHECK(n <= kMaxHeaderBytes, in_file(path) + "header length " + std::to_string(n) +
                                     " is over the limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
  const nlohmann::json header = parse_header(std::string(file.substr(8, n)), path);
  GG_CHECK(header.is_object(), in_file(path) + "header must be a JSON object, got " + json_brief(header));
  const uint64_t buffer_bytes = file.size() - 8 - n;
  const char* buffer = file.data() + 8 + n;

  SafetensorsLayout out;
  out.buffer_offset = 8 + n;
  std::vector<SafetensorsEntry>& entries = out.entries;
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
  std::sort(entries.begin(), entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const SafetensorsEntry& e = entries[i];
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
  return out;
}

}  // namespace gg

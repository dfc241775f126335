// The safetensors format (https://huggingface.co/docs/safetensors) at the byte level, apart from tensors, so
// that the whole check of an untrusted file runs without the engine (fuzz/fuzz_safetensors.cpp does):
//
//   8 bytes    N, the header length, unsigned little-endian
//   N bytes    a JSON object: {"__metadata__": {string: string}, <name>: {"dtype": "F32", "shape": [2, 3],
//              "data_offsets": [begin, end]}, ...}, padded with spaces
//   the rest   the data buffer; tensor <name> is the little-endian row-major bytes [begin, end) of it
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core.h"

namespace gg {

using Metadata = std::map<std::string, std::string>;

// The metadata key under which gradgrad writes each tensor's CRC-32 ({"name": "89abcdef", ...}, a JSON
// string as the format's metadata values are); other readers (PyTorch's safetensors) ignore it.
inline constexpr const char* kChecksumKey = "gradgrad.crc32";

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;  // the byte range in the data buffer
};

struct SafetensorsLayout {
  Metadata metadata;                      // without kChecksumKey, which was verified
  std::vector<SafetensorsEntry> entries;  // in the order of their bytes
  size_t buffer_offset = 0;               // where the data buffer starts in the file
};

// Checks a whole file: the 8-byte length and a header within the file and under 100 MB; the header one JSON
// object, nested at most kMaxJsonDepth deep, without duplicate keys; every entry a known dtype (F32/F64
// load, the other format dtypes are refused by name), a shape and a byte range whose length is
// numel * dtype size; the ranges within the buffer, not overlapping, covering it exactly; where kChecksumKey
// is present, every listed tensor's bytes match their CRC-32. Errors name `path` and, where there is one,
// the tensor.
SafetensorsLayout parse_safetensors(std::string_view file, const std::string& path);

std::string safetensors_where(const std::string& path);  // "safetensors file 'PATH': ", the errors' prefix
const char* safetensors_dtype(DType dtype);              // "F32", "F64"
std::string crc_text(uint32_t crc);                      // eight lowercase hex digits

}  // namespace gg

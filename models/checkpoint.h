// Checkpoints in the safetensors format (https://huggingface.co/docs/safetensors), which PyTorch, JAX and
// others read and write:
//
//   8 bytes    N, the header length, unsigned little-endian
//   N bytes    a JSON object: {"__metadata__": {string: string}, <name>: {"dtype": "F32", "shape": [2, 3],
//              "data_offsets": [begin, end]}, ...}, padded with spaces
//   the rest   the data buffer; tensor <name> is the little-endian row-major bytes [begin, end) of it
//
// Only F32 and F64 tensors load (the other safetensors dtypes are refused by name). A model's checkpoint
// holds its parameters under their Module names, the model's config as a JSON string in the metadata, and any
// extra named tensors a trainer wants back (optimizer moments, step counters, ...).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "models/module.h"

namespace gg {

using Metadata = std::map<std::string, std::string>;

struct SafetensorsFile {
  NamedTensors tensors;  // in the order of their bytes in the file (for our files: the order they were given)
  Metadata metadata;
};

// Writes tensors (CPU or any device; f32 or f64; names unique and non-empty) atomically: to a temporary
// file in the same folder, flushed to disk, then renamed over `path`, with the CRC-32 of each tensor's bytes
// under kChecksumKey. Errors name the file.
void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});
// Reads a file written by any safetensors writer onto the CPU, checking it: the file holds the 8-byte
// length and the header; the header is one JSON object without duplicate keys; every entry has a known
// dtype (F32/F64), a shape and a byte range whose length is numel * dtype size; the ranges lie within the
// buffer, do not overlap and cover it exactly; where kChecksumKey is present, every tensor's bytes match
// their checksum (the key is then left out of the metadata returned). Errors name the file and, where there
// is one, the tensor.
SafetensorsFile load_safetensors(const std::string& path);

// Metadata keys that save_checkpoint writes: the config JSON, and a JSON list of the extra tensors' names.
inline constexpr const char* kConfigKey = "gradgrad.config";
inline constexpr const char* kExtraKey = "gradgrad.extra";
// The metadata key under which save_safetensors writes each tensor's CRC-32 ({"name": "89abcdef", ...}, a
// JSON string as the format's metadata values are): load_safetensors verifies them, so flipped bytes are an
// error naming the tensor. Other readers (PyTorch's safetensors) ignore the key.
inline constexpr const char* kChecksumKey = "gradgrad.crc32";

struct Checkpoint {
  nlohmann::json config;  // null when the file has no kConfigKey (e.g. written by another program)
  NamedTensors parameters;
  NamedTensors extra;
  Metadata metadata;  // all of it, the two keys above included
};

// Saves the model's named parameters, `config` (stored as a string under kConfigKey), `extra` tensors (names
// must differ from the parameters') and further metadata (which must not use the two gradgrad keys).
void save_checkpoint(const std::string& path, const Module& model, const nlohmann::json& config,
                     const NamedTensors& extra = {}, const Metadata& metadata = {});
// Reads a checkpoint: every tensor not listed under kExtraKey is a parameter. A parameter holding NaN or an
// infinity is refused, naming it: training from it could only produce more.
Checkpoint read_checkpoint(const std::string& path);
// Reads a checkpoint and copies its parameters into the model in place. Every parameter name must be in the
// file with the same shape and dtype, and the file must hold no other parameters; otherwise nothing is
// copied and the Error lists the missing, unexpected and mismatched names. Returns the checkpoint (config,
// extra tensors, metadata) so a trainer can resume.
Checkpoint load_checkpoint_into(Module& model, const std::string& path);

}  // namespace gg

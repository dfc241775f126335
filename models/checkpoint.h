// Checkpoints in the safetensors format (models/safetensors_format.h), which PyTorch, JAX and others read
// and write. Only F32 and F64 tensors load. A model's checkpoint holds its parameters under their Module
// names, the model's config as a JSON string in the metadata, and any extra named tensors a trainer wants
// back (optimizer moments, step counters, ...).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "models/module.h"
#include "models/safetensors_format.h"

namespace gg {

struct SafetensorsFile {
  NamedTensors tensors;  // in the order of their bytes in the file (for our files: the order they were given)
  Metadata metadata;
};

// Writes tensors (CPU or any device; f32 or f64; names unique and non-empty) atomically: to a temporary
// file in the same folder, flushed to disk, then renamed over `path`, with the CRC-32 of each tensor's bytes
// under kChecksumKey. Errors name the file.
void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});
// Reads a file written by any safetensors writer onto the CPU, after parse_safetensors has checked all of it
// (checksums included; the checksum key is left out of the metadata returned).
SafetensorsFile load_safetensors(const std::string& path);

// Metadata keys that save_checkpoint writes: the config JSON, and a JSON list of the extra tensors' names.
inline constexpr const char* kConfigKey = "gradgrad.config";
inline constexpr const char* kExtraKey = "gradgrad.extra";

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

// Files in, files out, for every layer: one atomic writer and one bounded JSON parser, so that what a run
// leaves on disk is whole or absent and what comes in from outside cannot crash or exhaust the process.
//
// Writing: write_file_atomic puts the bytes in a temporary file of a unique name beside the target
// (".<name>.tmp.XXXXXX", mkstemp), fsyncs it, renames it over the target and fsyncs the folder: a reader,
// or a run killed at any instant, sees the old file or the new one, never a part, and two writers never share
// a temporary file. A write that fails (a full disk, a missing folder) throws naming the file and leaves the
// old one intact.
// remove_stale_temporaries deletes what killed writers left behind.
//
// Reading JSON: parse_json refuses nesting deeper than kMaxJsonDepth while it parses (before any value that
// deep exists, so no recursive walk over it can overflow the stack), and names the file and the position;
// json_brief describes a value for an error message without serializing it whole.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace gg {

void write_file_atomic(const std::string& path, std::string_view bytes);

// Removes the temporary files of write_file_atomic's naming in `dir` (not its subfolders); returns how many.
// Call it only where no other writer is at work in `dir` (a run folder under its lock).
int remove_stale_temporaries(const std::string& dir);

// The whole file, or an error naming it ("PATH: cannot open: No such file or directory"; a folder, an
// unreadable file, or one larger than max_bytes).
std::string read_file(const std::string& path, uint64_t max_bytes = uint64_t{1} << 32);

// The big-endian 32-bit unsigned integer at p (IDX headers, PNG chunk lengths).
inline uint32_t read_be32(const unsigned char* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// The CRC-32 of `bytes` (zlib's, the one gzip and PNG use): checkpoints store one per tensor.
uint32_t crc32_of(std::string_view bytes);

// Configs nest 4 deep, safetensors headers 3: 64 is far above any file of ours and far below what overflows.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text`; `what` names its source in errors ("config 'runs/a/config.json'"). `on_event`, when given,
// sees every parse event as nlohmann's parser callback does and may throw (a duplicate key, say).
using JsonParseEvent = std::function<void(nlohmann::json::parse_event_t, const nlohmann::json&)>;
nlohmann::json parse_json(const std::string& text, const std::string& what, const JsonParseEvent& on_event = {});

// A short description of a value for an error message: scalars and short flat lists as they are (strings
// cut at 60 characters), other objects and arrays by their size ("an array of 300 values").
std::string json_brief(const nlohmann::json& value);

}  // namespace gg

// libFuzzer target for the safetensors check (models/safetensors_format.h), the whole of what gradgrad reads
// from a checkpoint before any tensor exists: any input must either give a layout whose entries tile the
// data buffer exactly, each range as long as its shape and dtype need, or raise a gg::Error naming the file.
// Any other exception, a crash, a sanitizer report or a leak is a bug. Run by scripts/fuzz.
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/core.h"
#include "models/safetensors_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "fuzz-input.safetensors";
  try {
    const gg::SafetensorsLayout layout =
        gg::parse_safetensors(std::string_view(reinterpret_cast<const char*>(data), size), path);
    if (layout.buffer_offset < 8 || layout.buffer_offset > size) __builtin_trap();
    uint64_t covered = 0;
    for (const gg::SafetensorsEntry& e : layout.entries) {
      if (e.begin != covered || e.end < e.begin) __builtin_trap();
      if (uint64_t(gg::shape_numel(e.shape)) * gg::dtype_size(e.dtype) != e.end - e.begin) __builtin_trap();
      covered = e.end;
    }
    if (layout.buffer_offset + covered != size) __builtin_trap();
    if (layout.metadata.count(gg::kChecksumKey)) __builtin_trap();  // verified and taken out
  } catch (const gg::Error& e) {
    if (std::string(e.what()).rfind(gg::safetensors_where(path), 0) != 0) __builtin_trap();
  }
  return 0;
}

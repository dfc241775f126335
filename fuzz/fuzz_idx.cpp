// libFuzzer target for the IDX parser (datasets/idx_format.h), raw and gzip: any input must either decode to
// an array whose payload matches its header or raise a gg::Error naming the source. Any other exception, a
// crash, a sanitizer report or a leak is a bug. Run by scripts/fuzz.
#include <cstdint>
#include <string>

#include "datasets/idx_format.h"
#include "engine/core.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string source = "fuzz-input.idx";
  try {
    gg::IdxArray a = gg::parse_idx(data, size, source);
    if (a.dims.empty() || a.dims.size() > size_t(gg::kIdxMaxDims)) __builtin_trap();
    for (int64_t d : a.dims)
      if (d <= 0) __builtin_trap();
    if (a.payload.size() != size_t(a.count()) * gg::idx_element_size(a.type)) __builtin_trap();
  } catch (const gg::Error& e) {
    if (std::string(e.what()).rfind(source + ": ", 0) != 0) __builtin_trap();  // every message names the file
  }
  return 0;
}

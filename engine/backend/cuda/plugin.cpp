// The CUDA backend's entry points as a plugin, libgg_cuda.so. engine/backend/backend.cpp loads it on the
// first question about a GPU, so a process that never asks one never loads the CUDA runtime and cuBLAS (which
// cost every process about 0.3 s of CPU and 200 MB of page faults at start when they were linked in). Only
// these three names are visible outside the plugin.
#include <string>

#include "engine/backend/cuda/cuda_backend.h"

#define GG_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

// The engine refuses a plugin of another version: the Backend interface the two share is the version's.
GG_PLUGIN_EXPORT const char* gg_cuda_plugin_version() { return GG_PLUGIN_VERSION; }
GG_PLUGIN_EXPORT bool gg_cuda_available(std::string* why) { return gg::cuda::available(why); }
GG_PLUGIN_EXPORT gg::Backend* gg_cuda_backend() { return &gg::cuda::backend(); }

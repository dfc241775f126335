// Device selection: which backend serves a device, and the loading of the CUDA backend's plugin.
#include "engine/backend/backend.h"

#include "engine/backend/cpu/cpu_backend.h"

#ifdef GG_WITH_CUDA
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <vector>
#endif

namespace gg {

#ifdef GG_WITH_CUDA
namespace {

// The CUDA backend is a plugin, libgg_cuda.so (engine/backend/cuda/plugin.cpp), loaded here on the first
// question about a GPU. It is looked for at $GG_CUDA_PLUGIN when set, else beside the running binary (a build
// tree), in <prefix>/libexec/gradgrad (an installed binary) and on the library path.
struct CudaPlugin {
  bool (*available)(std::string*) = nullptr;
  Backend* (*backend)() = nullptr;
  std::string why_not;  // when it was not loaded: where it was looked for, and what was wrong
};

CudaPlugin load_cuda_plugin() {
  std::vector<std::string> places;
  if (const char* path = std::getenv("GG_CUDA_PLUGIN"); path && *path) {
    places.push_back(path);
  } else {
    const std::string bin = executable_dir();
    places = {bin + "/libgg_cuda.so", bin + "/../libexec/gradgrad/libgg_cuda.so", "libgg_cuda.so"};
  }
  std::string tried;  // each place that failed, and why
  auto failed = [&tried](const std::string& why) { tried += (tried.empty() ? "" : "; ") + why; };
  for (const std::string& place : places) {
    const bool on_library_path = place.find('/') == std::string::npos;
    std::error_code ec;
    if (!on_library_path && !std::filesystem::exists(place, ec)) {
      failed(place + ": no such file");
      continue;
    }
    void* handle = dlopen(place.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      failed((on_library_path ? place + " on the library path: " : std::string()) + dlerror());
      continue;
    }
    const auto version = reinterpret_cast<const char* (*)()>(dlsym(handle, "gg_cuda_plugin_version"));
    CudaPlugin p;
    p.available = reinterpret_cast<bool (*)(std::string*)>(dlsym(handle, "gg_cuda_available"));
    p.backend = reinterpret_cast<Backend* (*)()>(dlsym(handle, "gg_cuda_backend"));
    if (version && p.available && p.backend && std::string(version()) == GG_PLUGIN_VERSION) return p;
    failed(place + ": not gradgrad " + GG_PLUGIN_VERSION + "'s CUDA plugin" +
           (version ? std::string(" (it is ") + version() + "'s)" : std::string()));
    dlclose(handle);
  }
  CudaPlugin none;
  none.why_not = "the CUDA backend's plugin was not loaded (" + tried + ")";
  return none;
}

const CudaPlugin& cuda_plugin() {
  static const CudaPlugin plugin = load_cuda_plugin();  // once per process, on first use
  return plugin;
}

}  // namespace
#endif

bool cuda_available(std::string* why) {
#ifdef GG_WITH_CUDA
  const CudaPlugin& plugin = cuda_plugin();
  if (plugin.available) return plugin.available(why);
  if (why) *why = plugin.why_not;
  return false;
#else
  if (why) *why = "gradgrad was built without its CUDA backend";
  return false;
#endif
}

bool has_backend(Device d) {
  if (d.kind == Device::Kind::cpu) return true;
  return d.index == 0 && cuda_available();
}

Backend& backend_for(Device d) {
  if (d.kind == Device::Kind::cpu) return cpu::backend();
#ifdef GG_WITH_CUDA
  // One GPU is served: its backend owns one stream and one allocator, which are per device.
  GG_CHECK(d.index == 0, "device " + d.str() + ": the CUDA backend serves cuda:0 only");
  const CudaPlugin& plugin = cuda_plugin();
  GG_CHECK(plugin.backend, "device " + d.str() + ": " + plugin.why_not);
  return *plugin.backend();
#else
  fail("device " + d.str() + ": gradgrad was built without its CUDA backend");
#endif
}

}  // namespace gg

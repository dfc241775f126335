// Device selection: which backend serves a device, and the printable names of the primitive ops.
#include "engine/backend/backend.h"

#include "engine/backend/cpu/cpu_backend.h"
#ifdef GG_WITH_CUDA
#include "engine/backend/cuda/cuda_backend.h"
#endif

namespace gg {

bool cuda_available(std::string* why) {
#ifdef GG_WITH_CUDA
  return cuda::available(why);
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
  return cuda::backend();
#else
  fail("device " + d.str() + ": gradgrad was built without its CUDA backend");
#endif
}

// The enums count up from 0 in list order, so each list's names index by the enum's value.
#define GG_NAME(name) #name,
constexpr const char* kUnaryNames[] = {GG_UNARY_OPS(GG_NAME)};
constexpr const char* kBinaryNames[] = {GG_BINARY_OPS(GG_NAME)};
#undef GG_NAME

const char* op_name(UnaryOp op) { return kUnaryNames[static_cast<size_t>(op)]; }
const char* op_name(BinaryOp op) { return kBinaryNames[static_cast<size_t>(op)]; }

}  // namespace gg

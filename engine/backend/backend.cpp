// Device selection: which backend serves a device, and the printable names of the primitive ops.
#include "engine/backend/backend.h"

#include "engine/backend/cpu/cpu_backend.h"

namespace gg {

bool has_backend(Device d) { return d.kind == Device::Kind::cpu; }

Backend& backend_for(Device d) {
  if (d.kind == Device::Kind::cpu) return cpu::backend();
  fail("device " + d.str() + ": gradgrad was built without its CUDA backend");
}

// The enums count up from 0 in list order, so each list's names index by the enum's value.
#define GG_NAME(name) #name,
constexpr const char* kUnaryNames[] = {GG_UNARY_OPS(GG_NAME)};
constexpr const char* kBinaryNames[] = {GG_BINARY_OPS(GG_NAME)};
#undef GG_NAME

const char* op_name(UnaryOp op) { return kUnaryNames[static_cast<size_t>(op)]; }
const char* op_name(BinaryOp op) { return kBinaryNames[static_cast<size_t>(op)]; }

}  // namespace gg

// Core vocabulary of the engine: element types, devices, shapes, and the error type every check throws.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace gg {

enum class DType : uint8_t { f32, f64 };

inline const char* dtype_name(DType t) { return t == DType::f32 ? "f32" : "f64"; }
inline size_t dtype_size(DType t) { return t == DType::f32 ? 4 : 8; }

// Where a tensor's storage lives: the CPU, or cuda:0 where the CUDA backend was built (docs/cuda.md) and a
// GPU is visible; elsewhere a CUDA tensor is refused with an error naming the device and why.
struct Device {
  enum class Kind : uint8_t { cpu, cuda } kind = Kind::cpu;
  int index = 0;
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {Kind::cuda, i}; }
  bool operator==(const Device&) const = default;
  std::string str() const { return kind == Kind::cpu ? "cpu" : "cuda:" + std::to_string(index); }
};
// "cpu", "cuda" or "cuda:N" as a Device; anything else is an Error naming the text. Whether the device's
// backend was built is checked where it is used (backend_for), so a config can name it either way.
Device parse_device(const std::string& text);

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);
// Row-major strides (in elements) of a contiguous tensor of this shape.
Shape contiguous_strides(const Shape& s);
// NumPy broadcasting of two shapes; `op` names the caller for the error message.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Strides that read a contiguous tensor of shape `s` as if it had the (broadcast) shape `out`:
// 0 on every axis that `s` lacks or has as 1.
Shape broadcast_strides(const Shape& s, const Shape& out);
// An axis index in [-rank, rank) made non-negative; `op` names the caller.
int64_t normalize_axis(int64_t axis, int64_t rank, const char* op);

// Every error the engine raises: the message always names the op and, where they matter, the shapes.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& msg);
// "a, b, c": the names an error message lists as the valid ones.
std::string joined_names(const std::vector<std::string>& names);
// A number as an error message shows it: what a stream writes (0.1, 1e-30, inf).
std::string number_text(double v);
// The folder of the running executable (/proc/self/exe's parent), where a build tree keeps what the binary
// finds at run time (the CUDA backend's plugin, the share folder).
std::string executable_dir();
#define GG_CHECK(cond, msg)          \
  do {                               \
    if (!(cond)) ::gg::fail(msg);    \
  } while (0)

}  // namespace gg

// The byte streams under the IDX reader (datasets/idx_format.cpp): a file's own bytes, held in memory or read
// from disk, and what gzip bytes inflate to. Internal to the IDX parser; like it, engine-free (gg::Error only),
// so the fuzzer builds it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace gg::idx_bytes {

// Throws a gg::Error "<source>: <what>".
[[noreturn]] void fail_in(const std::string& source, const std::string& what);

// A stream of bytes: the file's own, or what they inflate to.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Copies up to `n` bytes to `out` and returns how many: fewer than `n` only at the end of the input.
  virtual size_t read(uint8_t* out, size_t n) = 0;
  // How many bytes are still to come: exact for the file's bytes, an upper bound for inflated data.
  virtual uint64_t remaining() const = 0;
};

// The bytes of the file itself, which can also be looked at before they are read (to spot gzip).
class FileBytes : public ByteSource {
 public:
  // Copies up to `n` of the next bytes to `out` without consuming them.
  virtual size_t peek(uint8_t* out, size_t n) = 0;
};

// The `size` bytes at `data`, which must outlive the stream.
std::unique_ptr<FileBytes> memory_bytes(const uint8_t* data, size_t size);
// The regular file at `path` (a missing, unreadable or non-regular file is an error naming it).
std::unique_ptr<FileBytes> file_bytes(const std::string& path);
// The inflated bytes of `compressed` (gzip, several members accepted), which must outlive the stream, as must
// `source`, which names the file in errors: truncated or corrupt data and trailing bytes.
std::unique_ptr<ByteSource> gzip_bytes(ByteSource& compressed, const std::string& source);

}  // namespace gg::idx_bytes

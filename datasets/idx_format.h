// The IDX file format of MNIST and Fashion-MNIST, at the byte level: raw or gzip-compressed, any element
// type.
//
// An IDX file is a 4-byte magic number — two zero bytes, a type code, the number of dimensions — then each
// dimension as a big-endian uint32, then the elements in row-major order (big-endian when wider than a byte).
// This parser knows nothing of tensors (it depends only on gg::Error from engine/core.h), so the fuzzer
// (fuzz/fuzz_idx.cpp) builds it alone; datasets/idx.h turns image and label files into a Dataset.
//
// Every error is a gg::Error whose message starts with the file name (`source`) and says what is wrong, e.g.
// "train-images-idx3-ubyte.gz: truncated: header says 60000x28x28 = 47040000 bytes of u8 data, the
// decompressed file has 1234 after the 16-byte header".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gg {

// The type codes of the IDX format (the third byte of the magic number).
enum class IdxType : uint8_t { u8 = 0x08, i8 = 0x09, i16 = 0x0B, i32 = 0x0C, f32 = 0x0D, f64 = 0x0E };

inline constexpr int kIdxMaxDims = 4;                               // MNIST uses 1 (labels) and 3 (images)
inline constexpr uint64_t kIdxMaxPayloadBytes = uint64_t(1) << 34;  // 16 GiB: any larger header is refused

// Bytes per element of an IDX type code, or 0 for a code that is not one of IdxType.
size_t idx_element_size(uint8_t type_code);
// "u8", "i8", "i16", "i32", "f32", "f64", or "unknown".
const char* idx_type_name(uint8_t type_code);
// "60000x28x28": dimensions as the error messages print them.
std::string idx_dims_str(const std::vector<int64_t>& dims);
// True when `data` starts with the gzip magic bytes 1f 8b.
bool is_gzip(const uint8_t* data, size_t size);

// Reads one IDX file front to back, handing out its payload in pieces so a caller can convert it as it
// arrives. A file starting with 1f 8b is gzip (inflated by zlib as it is read; several concatenated members
// are accepted). The constructor reads and checks the header: the magic number, the type code,
// 1..kIdxMaxDims dimensions each > 0, a payload of at most kIdxMaxPayloadBytes, and one the input can hold:
// exactly the bytes after the header of a raw file, at most what the compressed bytes can inflate to
// (deflate's limit is 1032:1) for gzip. A raw file's payload_bytes() is what it holds; a gzip file's is only
// a claim, so readers grow their buffers as the payload arrives (read_idx_file does). read_payload() then
// hands out the payload; finish() checks that the input ends right after it (no trailing bytes, a complete
// gzip stream).
class IdxReader {
 public:
  // The file held in memory; `data` must outlive the reader.
  IdxReader(const uint8_t* data, size_t size, const std::string& source);
  // The file at `path`, read as needed (a missing or unreadable file is an error naming it).
  explicit IdxReader(const std::string& path);
  ~IdxReader();
  IdxReader(IdxReader&&) noexcept;
  IdxReader& operator=(IdxReader&&) noexcept;

  const std::string& source() const;
  uint8_t type() const;
  const std::vector<int64_t>& dims() const;
  int64_t count() const;           // product of dims: the number of elements
  uint64_t payload_bytes() const;  // count() * idx_element_size(type())
  bool compressed() const;         // gzip

  // Copies the next `n` payload bytes (as stored: big-endian for wide types) to `out`. Asking past the end of
  // the payload, or input that ends before it, is an error.
  void read_payload(uint8_t* out, size_t n);
  // Call after the whole payload is read: the input must end there.
  void finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One decoded IDX file: the type code, the dimensions (each > 0) and the elements exactly as stored
// (big-endian for types wider than a byte); payload.size() == count() * idx_element_size(type).
struct IdxArray {
  uint8_t type = 0;
  std::vector<int64_t> dims;
  std::vector<uint8_t> payload;

  int64_t count() const;  // product of dims: the number of elements
};

// Decodes a whole IDX file held in `data` (raw or gzip) with IdxReader; `source` names it in errors.
IdxArray parse_idx(const uint8_t* data, size_t size, const std::string& source);

// Reads and decodes a whole IDX file (raw or gzip) with IdxReader.
IdxArray read_idx_file(const std::string& path);

}  // namespace gg

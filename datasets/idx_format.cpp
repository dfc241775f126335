#include "datasets/idx_format.h"

#include <algorithm>
#include <cstdio>

#include "datasets/files.h"
#include "datasets/idx_bytes.h"
#include "engine/core.h"

namespace gg {

namespace {

// Each element type of the IDX format: its name in messages and its size in bytes.
struct IdxTypeInfo {
  IdxType type;
  const char* name;
  size_t bytes;
};
constexpr IdxTypeInfo kIdxTypes[] = {{IdxType::u8, "u8", 1},   {IdxType::i8, "i8", 1},   {IdxType::i16, "i16", 2},
                                     {IdxType::i32, "i32", 4}, {IdxType::f32, "f32", 4}, {IdxType::f64, "f64", 8}};

const IdxTypeInfo* find_idx_type(uint8_t type_code) {
  for (const IdxTypeInfo& t : kIdxTypes)
    if (static_cast<uint8_t>(t.type) == type_code) return &t;
  return nullptr;
}

}  // namespace

size_t idx_element_size(uint8_t type_code) {
  const IdxTypeInfo* t = find_idx_type(type_code);
  return t ? t->bytes : 0;
}

const char* idx_type_name(uint8_t type_code) {
  const IdxTypeInfo* t = find_idx_type(type_code);
  return t ? t->name : "unknown";
}

std::string idx_dims_str(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

bool is_gzip(const uint8_t* data, size_t size) { return size >= 2 && data[0] == 0x1f && data[1] == 0x8b; }

namespace {

using idx_bytes::ByteSource;
using idx_bytes::fail_in;
using idx_bytes::FileBytes;

constexpr size_t kMagicBytes = 4;

std::string hex(uint64_t v, int digits) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

struct IdxReader::State {
  std::string source;
  std::unique_ptr<FileBytes> input;  // the file's bytes
  std::unique_ptr<ByteSource> gzip;  // set when they are gzip
  ByteSource* data = nullptr;        // the IDX bytes: `gzip` or `input`
  uint64_t input_bytes = 0;
  uint8_t type = 0;
  std::vector<int64_t> dims;
  size_t header_bytes = 0;
  uint64_t payload_bytes = 0;
  uint64_t payload_read = 0;

  const char* file_kind() const { return gzip ? "the decompressed file" : "file"; }

  // "60000x28x28 = 47040000 bytes of u8 data" or "2x3 elements of i32 = 24 bytes".
  std::string describe_payload() const {
    if (idx_element_size(type) == 1)
      return idx_dims_str(dims) + " = " + std::to_string(payload_bytes) + " bytes of " + idx_type_name(type) +
             " data";
    return idx_dims_str(dims) + " elements of " + idx_type_name(type) + " = " +
           std::to_string(payload_bytes) + " bytes";
  }
  [[noreturn]] void fail_truncated(uint64_t have) const {
    fail_in(source, "truncated: header says " + describe_payload() + ", " + file_kind() + " has " +
                        std::to_string(have) + " after the " + std::to_string(header_bytes) + "-byte header");
  }
  [[noreturn]] void fail_trailing(uint64_t extra, bool at_least) const {
    fail_in(source, "trailing bytes: header says " + describe_payload() + ", " + file_kind() + " has " +
                        (at_least ? "at least " : "") + std::to_string(extra) + " more after them");
  }

  void open() {
    input_bytes = input->remaining();
    uint8_t lead[2];
    if (is_gzip(lead, input->peek(lead, sizeof lead))) {
      gzip = idx_bytes::gzip_bytes(*input, source);
      data = gzip.get();
    } else {
      data = input.get();
    }
    read_header();
    check_payload_fits();
  }

  void read_header() {
    uint8_t header[kMagicBytes + 4 * kIdxMaxDims];
    size_t got = data->read(header, kMagicBytes);
    if (got < kMagicBytes)
      fail_in(source, std::string("truncated: an IDX file starts with a 4-byte magic number, ") +
                          file_kind() + " has " + std::to_string(got) + " bytes");
    if (header[0] != 0 || header[1] != 0)
      fail_in(source, "bad magic number " + hex(read_be32(header), 8) +
                          ": an IDX file starts with two zero bytes (is this an IDX file?)");
    type = header[2];
    if (idx_element_size(type) == 0)
      fail_in(
          source,
          "bad type code " + hex(type, 2) +
              " in the magic number: IDX types are 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64");
    const int ndims = header[3];
    if (ndims < 1 || ndims > kIdxMaxDims)
      fail_in(source, "bad number of dimensions " + std::to_string(ndims) +
                          " in the magic number: expected 1 to " + std::to_string(kIdxMaxDims));
    header_bytes = kMagicBytes + 4 * size_t(ndims);
    got += data->read(header + kMagicBytes, header_bytes - kMagicBytes);
    if (got < header_bytes)
      fail_in(source, "truncated: the header of " + std::to_string(ndims) + " dimensions needs " +
                          std::to_string(header_bytes) + " bytes, " + file_kind() + " has " +
                          std::to_string(got));
    for (int i = 0; i < ndims; ++i) {
      uint32_t d = read_be32(header + kMagicBytes + 4 * i);
      if (d == 0)
        fail_in(source, "dimension " + std::to_string(i + 1) + " of " + std::to_string(ndims) +
                            " is 0: every dimension must be positive");
      dims.push_back(d);
    }
    payload_bytes = idx_element_size(type);
    for (int64_t d : dims) {
      if (payload_bytes > kIdxMaxPayloadBytes / uint64_t(d))
        fail_in(source, "header says " + idx_dims_str(dims) + " elements of " + idx_type_name(type) +
                            ", more than the " + std::to_string(kIdxMaxPayloadBytes >> 30) +
                            " GiB this reader accepts");
      payload_bytes *= uint64_t(d);
    }
  }

  // A raw file must hold exactly the payload after its header; a gzip file must be able to inflate to it.
  void check_payload_fits() {
    const uint64_t available = data->remaining();
    if (!gzip) {
      if (available < payload_bytes) fail_truncated(available);
      if (available > payload_bytes) fail_trailing(available - payload_bytes, false);
    } else if (payload_bytes > available) {
      fail_in(source, "truncated: header says " + describe_payload() + ", more than a gzip file of " +
                          std::to_string(input_bytes) + " bytes can inflate to");
    }
  }
};

IdxReader::IdxReader(const uint8_t* data, size_t size, const std::string& source)
    : state_(std::make_unique<State>()) {
  state_->source = source;
  state_->input = idx_bytes::memory_bytes(data, size);
  state_->open();
}

IdxReader::IdxReader(const std::string& path) : state_(std::make_unique<State>()) {
  state_->source = path;
  state_->input = idx_bytes::file_bytes(path);
  state_->open();
}

IdxReader::~IdxReader() = default;
IdxReader::IdxReader(IdxReader&&) noexcept = default;
IdxReader& IdxReader::operator=(IdxReader&&) noexcept = default;

const std::string& IdxReader::source() const { return state_->source; }
uint8_t IdxReader::type() const { return state_->type; }
const std::vector<int64_t>& IdxReader::dims() const { return state_->dims; }
int64_t IdxReader::count() const {
  return static_cast<int64_t>(state_->payload_bytes / idx_element_size(state_->type));
}
uint64_t IdxReader::payload_bytes() const { return state_->payload_bytes; }
bool IdxReader::compressed() const { return state_->gzip != nullptr; }

void IdxReader::read_payload(uint8_t* out, size_t n) {
  State& s = *state_;
  if (n > s.payload_bytes - s.payload_read)
    fail_in(s.source, "read_payload: asked for " + std::to_string(n) + " bytes, " +
                          std::to_string(s.payload_bytes - s.payload_read) + " of the payload are left");
  size_t got = s.data->read(out, n);
  s.payload_read += got;
  if (got < n) s.fail_truncated(s.payload_read);
}

void IdxReader::finish() {
  State& s = *state_;
  if (s.payload_read != s.payload_bytes)
    fail_in(s.source,
            "finish: " + std::to_string(s.payload_bytes - s.payload_read) + " payload bytes not read");
  // Nothing may follow the payload; count what does (up to a cap) so the message can say how much.
  uint8_t scratch[4096];
  uint64_t extra = 0;
  const uint64_t count_cap = 64 << 20;
  for (size_t n; extra < count_cap && (n = s.data->read(scratch, sizeof scratch)) > 0;) extra += n;
  if (extra > 0) s.fail_trailing(extra, extra >= count_cap);
}

int64_t IdxArray::count() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

namespace {
// The payload grows as it arrives, a piece at a time, rather than being allocated whole from the header's
// claim: a gzip file may claim up to 1032 times its size, and a short one that lies would otherwise make us
// zero-fill gigabytes before the data runs out. So memory follows the bytes actually inflated.
IdxArray read_whole(IdxReader& reader) {
  constexpr uint64_t kPiece = uint64_t{16} << 20;
  IdxArray out;
  out.type = reader.type();
  out.dims = reader.dims();
  for (uint64_t done = 0, total = reader.payload_bytes(); done < total;) {
    const uint64_t len = std::min(kPiece, total - done);
    out.payload.resize(static_cast<size_t>(done + len));
    reader.read_payload(out.payload.data() + done, static_cast<size_t>(len));
    done += len;
  }
  reader.finish();
  return out;
}
}  // namespace

IdxArray parse_idx(const uint8_t* data, size_t size, const std::string& source) {
  IdxReader reader(data, size, source);
  return read_whole(reader);
}

IdxArray read_idx_file(const std::string& path) {
  IdxReader reader(path);
  return read_whole(reader);
}

}  // namespace gg

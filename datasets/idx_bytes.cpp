#include "datasets/idx_bytes.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/core.h"

namespace gg::idx_bytes {

void fail_in(const std::string& source, const std::string& what) { fail(source + ": " + what); }

namespace {

// Deflate emits at least one bit per 258-byte match, so no deflate (or gzip) stream inflates to more than
// about 1032 times its size; the slack covers headers and output zlib holds back.
constexpr uint64_t kDeflateMaxRatio = 1032;
constexpr uint64_t kInflateSlack = 64 << 10;

std::string errno_text() { return std::strerror(errno); }

class MemorySource final : public FileBytes {
 public:
  MemorySource(const uint8_t* data, size_t size) : next_(data), left_(size) {}
  size_t read(uint8_t* out, size_t n) override {
    n = peek(out, n);
    next_ += n;
    left_ -= n;
    return n;
  }
  size_t peek(uint8_t* out, size_t n) override {
    n = std::min(n, left_);
    if (n > 0) std::memcpy(out, next_, n);
    return n;
  }
  uint64_t remaining() const override { return left_; }

 private:
  const uint8_t* next_;
  size_t left_;
};

// A regular file, read with stdio as the caller asks for bytes.
class FileSource final : public FileBytes {
 public:
  explicit FileSource(const std::string& path) : path_(path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      fail_in(path, "cannot read: is a directory, not an IDX file");
    file_ = std::fopen(path.c_str(), "rb");
    if (!file_) fail_in(path, "cannot open: " + errno_text());
    struct stat st;
    if (fstat(fileno(file_), &st) != 0) fail_in(path, "cannot stat: " + errno_text());
    if (!S_ISREG(st.st_mode)) fail_in(path, "cannot read: not a regular file");
    left_ = static_cast<uint64_t>(st.st_size);
  }
  ~FileSource() override { std::fclose(file_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  size_t read(uint8_t* out, size_t n) override {
    size_t got = n > 0 ? std::fread(out, 1, n, file_) : 0;
    if (got < n && std::ferror(file_)) fail_in(path_, "read error: " + errno_text());
    left_ -= std::min<uint64_t>(left_, got);
    return got;
  }
  size_t peek(uint8_t* out, size_t n) override {
    uint64_t left_before = left_;
    size_t got = read(out, n);
    if (got > 0 && std::fseek(file_, -static_cast<long>(got), SEEK_CUR) != 0)
      fail_in(path_, "cannot seek: " + errno_text());
    left_ = left_before;
    return got;
  }
  uint64_t remaining() const override { return left_; }

 private:
  std::string path_;
  FILE* file_ = nullptr;
  uint64_t left_ = 0;
};

// The inflated bytes of a gzip file, pulled from the compressed bytes 64 KiB at a time. Several concatenated
// gzip members (as `cat a.gz b.gz` makes) read as one; anything else after the last member is an error, and
// so are a stream cut short and corrupt data (zlib checks each member's CRC and length).
class GzipSource final : public ByteSource {
 public:
  GzipSource(ByteSource& compressed, const std::string& source) : compressed_(compressed), source_(source) {
    std::memset(&zs_, 0, sizeof zs_);
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) fail_in(source_, "zlib could not start inflating");
  }
  ~GzipSource() override { inflateEnd(&zs_); }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  size_t read(uint8_t* out, size_t n) override {
    size_t written = 0;
    while (written < n && !ended_) {
      if (zs_.avail_in == 0) refill();
      zs_.next_out = out + written;
      zs_.avail_out = static_cast<uInt>(std::min<size_t>(n - written, UINT_MAX));
      const uInt out_before = zs_.avail_out, in_before = zs_.avail_in;
      int ret = inflate(&zs_, Z_NO_FLUSH);
      written += out_before - zs_.avail_out;
      const bool progress = zs_.avail_out != out_before || zs_.avail_in != in_before;
      if (ret == Z_STREAM_END) {
        end_of_member();
      } else if (ret == Z_BUF_ERROR && zs_.avail_in == 0 && input_exhausted_) {
        fail_in(source_, "truncated gzip stream: the compressed data ends before the end of the stream");
      } else if ((ret != Z_OK && ret != Z_BUF_ERROR) || !progress) {
        fail_in(source_, std::string("corrupt gzip data: ") +
                             (zs_.msg ? zs_.msg : "zlib error " + std::to_string(ret)));
      }
    }
    return written;
  }
  uint64_t remaining() const override {
    return (zs_.avail_in + compressed_.remaining()) * kDeflateMaxRatio + kInflateSlack;
  }

 private:
  void refill() {
    size_t got = compressed_.read(in_, sizeof in_);
    zs_.next_in = in_;
    zs_.avail_in = static_cast<uInt>(got);
    if (got == 0) input_exhausted_ = true;
  }

  // After a member's end: the input ends, or another member starts.
  void end_of_member() {
    if (zs_.avail_in == 0) refill();
    if (zs_.avail_in == 0) {
      ended_ = true;
    } else if (zs_.next_in[0] == 0x1f) {
      inflateReset(&zs_);  // zlib checks the rest of the next member's header
    } else {
      fail_in(source_, "trailing bytes after the gzip stream: " +
                           std::to_string(zs_.avail_in + compressed_.remaining()) +
                           " bytes that are not another gzip member");
    }
  }

  ByteSource& compressed_;
  const std::string& source_;
  z_stream zs_;
  uint8_t in_[64 << 10];
  bool input_exhausted_ = false;
  bool ended_ = false;
};

}  // namespace

std::unique_ptr<FileBytes> memory_bytes(const uint8_t* data, size_t size) {
  return std::make_unique<MemorySource>(data, size);
}
std::unique_ptr<FileBytes> file_bytes(const std::string& path) { return std::make_unique<FileSource>(path); }
std::unique_ptr<ByteSource> gzip_bytes(ByteSource& compressed, const std::string& source) {
  return std::make_unique<GzipSource>(compressed, source);
}

}  // namespace gg::idx_bytes

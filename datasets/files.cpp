#include "datasets/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "engine/core.h"

namespace gg {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string sys_error() { return std::strerror(errno); }

std::string cannot_write(const std::string& path) { return "cannot write '" + path + "': "; }

void write_all(int fd, std::string_view bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    GG_CHECK(n > 0, cannot_write(path) + "write failed: " + sys_error());
    done += size_t(n);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view bytes) {
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : ".";
  std::string tmp = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  GG_CHECK(fd >= 0, cannot_write(path) + "cannot create a temporary file in " + dir.string() + ": " + sys_error());
  try {
    GG_CHECK(::fchmod(fd, 0644) == 0, cannot_write(path) + "chmod failed: " + sys_error());
    write_all(fd, bytes, path);
    GG_CHECK(::fsync(fd) == 0, cannot_write(path) + "fsync failed: " + sys_error());
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const std::string why = sys_error();
    ::unlink(tmp.c_str());
    fail(cannot_write(path) + "close failed: " + why);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = sys_error();
    ::unlink(tmp.c_str());
    fail(cannot_write(path) + "rename failed: " + why);
  }
  // Make the rename itself durable.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

int remove_stale_temporaries(const std::string& dir) {
  static const std::regex ours(R"(\..+\.tmp\.[A-Za-z0-9]{6})");  // ".<name>.tmp.XXXXXX", as mkstemp fills it
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && std::regex_match(entry.path().filename().string(), ours))
      removed += fs::remove(entry.path(), ec) ? 1 : 0;
  }
  return removed;
}

std::string read_file(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  GG_CHECK(!ec, path + ": cannot open: " + ec.message());  // a missing file, a folder
  GG_CHECK(size <= max_bytes, path + ": cannot read: " + std::to_string(size) + " bytes, more than the " +
                                  std::to_string(max_bytes) + " such a file may have");
  std::ifstream in(path, std::ios::binary);
  GG_CHECK(in.good(), path + ": cannot open: " + sys_error());
  std::ostringstream s;
  s << in.rdbuf();
  GG_CHECK(!in.bad(), path + ": read error");
  return s.str();
}

uint32_t crc32_of(std::string_view bytes) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  for (size_t done = 0; done < bytes.size();) {  // zlib takes 32-bit lengths
    const uInt len = static_cast<uInt>(std::min<size_t>(bytes.size() - done, size_t{1} << 30));
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + done), len);
    done += len;
  }
  return static_cast<uint32_t>(crc);
}

json parse_json(const std::string& text, const std::string& what, const JsonParseEvent& on_event) {
  int depth = 0;
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    using E = json::parse_event_t;
    if (event == E::object_start || event == E::array_start) {
      GG_CHECK(++depth <= kMaxJsonDepth, what + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                                             " levels (refused: no file of gradgrad's nests so deep)");
    }
    if (event == E::object_end || event == E::array_end) --depth;
    if (on_event) on_event(event, parsed);
    return true;
  };
  try {
    return json::parse(text, callback);
  } catch (const json::exception& e) {  // parse errors, and a number out of range such as 1e400
    fail(what + " is not valid JSON: " + e.what());
  }
}

std::string json_brief(const json& value) {
  if (value.is_structured()) {
    auto short_scalar = [](const json& v) {
      return v.is_primitive() && (!v.is_string() || v.get_ref<const std::string&>().size() <= 20);
    };
    const bool flat_and_short = value.size() <= 8 && std::all_of(value.begin(), value.end(), short_scalar);
    if (flat_and_short) return value.dump(-1, ' ', false, json::error_handler_t::replace);  // [2, 3] as it is
    return (value.is_object() ? "an object of " : "an array of ") + std::to_string(value.size()) +
           (value.is_object() ? " keys" : " values");
  }
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    return s.size() <= 60 ? json(s).dump(-1, ' ', false, json::error_handler_t::replace)
                          : json(s.substr(0, 60)).dump(-1, ' ', false, json::error_handler_t::replace) + "...";
  }
  return value.dump();
}

}  // namespace gg

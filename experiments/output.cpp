#include "experiments/output.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "datasets/files.h"
#include "datasets/share_dir.h"
#include "engine/core.h"

namespace gg {

namespace fs = std::filesystem;
using nlohmann::json;

void write_run_file(const std::string& path, std::string_view text) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  write_file_atomic(path, text);
}

RunFolderLock::RunFolderLock(const std::string& dir) {
  fs::create_directories(dir);
  const std::string path = dir + "/.gradgrad.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  GG_CHECK(fd_ >= 0, "cannot lock the run folder " + dir + ": cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int why = errno;
    char holder[32] = {0};
    const ssize_t got = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (why != EWOULDBLOCK) fail("cannot lock the run folder " + dir + ": " + std::strerror(why));
    fail(dir + " is in use by another gradgrad run (pid " + std::string(got > 0 ? holder : "unknown") +
         "): wait for it to end, or give this run another folder");
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size()))
    std::fprintf(stderr, "warning: could not record this run's pid in %s\n", path.c_str());
  if (const int removed = remove_stale_temporaries(dir))
    std::fprintf(stderr, "%s: removed %d temporary file(s) that an interrupted run left\n", dir.c_str(), removed);
}

RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

json read_json_file(const std::string& path) { return parse_json(read_file(path), "'" + path + "'"); }

void write_json(const std::string& path, const json& j) { write_run_file(path, j.dump(2) + "\n"); }

void write_points_csv(const std::string& path, const Dataset& d) {
  const int64_t n = d.size(), dim = d.x.numel() / std::max<int64_t>(n, 1);
  std::ostringstream csv;
  for (int64_t j = 0; j < dim; ++j) csv << (j ? "," : "") << "x" << j;
  if (!d.labels.empty()) csv << ",label";
  csv << "\n";
  const auto v = d.x.to_vector();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < dim; ++j) csv << (j ? "," : "") << v[i * dim + j];
    if (!d.labels.empty()) csv << "," << d.labels[i];
    csv << "\n";
  }
  write_run_file(path, csv.str());
}

json json_number(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

namespace {
// Debian's python3 is the one with matplotlib; a pyenv or venv python3 earlier on PATH may lack it.
std::string python() {
  if (const char* env = std::getenv("GRADGRAD_PYTHON")) return env;
  return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}
}  // namespace

std::string shell_quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

int run_shell(const std::string& command, std::string& output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  GG_CHECK(pipe, "cannot start " + command);
  std::array<char, 4096> buf;
  while (size_t got = fread(buf.data(), 1, buf.size(), pipe)) output.append(buf.data(), got);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void write_run_info(const std::string& dir, const std::string& kind, const std::string& command) {
  write_json(dir + "/run.json", {{"kind", kind}, {"command", command.empty() ? "gradgrad " + kind : command}});
}

void draw_figures(const std::string& dir) {
  // python3 runs a folder by its __main__.py: plots/__main__.py puts its parent folder on sys.path.
  const std::string package = fs::path(share_path("plots/__main__.py", "the plotting package")).parent_path();
  const std::string cmd = python() + " " + shell_quoted(package) + " " + shell_quoted(dir);
  std::string out;
  GG_CHECK(run_shell(cmd, out) == 0, "drawing the figures failed (" + cmd + "):\n" + out +
                            "(scripts/setup installs python3-matplotlib; `gradgrad plot` redraws a finished run)");
}

}  // namespace gg

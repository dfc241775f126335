#include "experiments/output.h"

#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "datasets/share_dir.h"
#include "engine/core.h"

namespace gg {

namespace fs = std::filesystem;
using nlohmann::json;

void write_file_atomic(const std::string& path, const std::string& text) {
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    GG_CHECK(out.good(), "cannot write " + tmp);
    out << text;
    out.close();
    GG_CHECK(out.good(), "writing " + tmp + " failed (disk full?)");
  }
  fs::rename(tmp, target);
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  GG_CHECK(in.good(), "cannot read " + path);
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    fail(path + " is not valid JSON: " + e.what());
  }
}

void write_json(const std::string& path, const json& j) { write_file_atomic(path, j.dump(2) + "\n"); }

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
  write_file_atomic(path, csv.str());
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

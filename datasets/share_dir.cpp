#include "datasets/share_dir.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "engine/core.h"

namespace gg {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> share_candidates() {
  std::vector<fs::path> places;
  if (const char* home = std::getenv("GRADGRAD_HOME"); home && *home) places.emplace_back(home);
  const fs::path bin = executable_dir();
  places.push_back(bin.parent_path() / "share" / "gradgrad");
  places.push_back(bin / "share" / "gradgrad");
  return places;
}

std::string listed(const std::vector<fs::path>& places, const std::string& relative) {
  std::string s;
  for (const fs::path& p : places) s += (s.empty() ? "" : ", ") + (p / relative).string();
  return s;
}

}  // namespace

std::string share_dir() {
  const std::vector<fs::path> places = share_candidates();
  for (const fs::path& p : places) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) return p.string();
  }
  fail("gradgrad's share folder was not found: looked in " + listed(places, "") +
       "; set GRADGRAD_HOME to the source tree or to an installed share/gradgrad");
}

std::string share_path(const std::string& relative, const std::string& what) {
  const std::vector<fs::path> places = share_candidates();
  for (const fs::path& p : places) {
    std::error_code ec;
    if (fs::exists(p / relative, ec)) return (p / relative).string();
  }
  fail(what + " was not found: looked in " + listed(places, relative) +
       "; set GRADGRAD_HOME to the source tree or to an installed share/gradgrad");
}

}  // namespace gg

// How `gradgrad bench jacobian` measures (bench/jacobian_bench.h): each case in a forked child, and the
// rounds of a case pooled into one result.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "bench/jacobian_bench.h"
#include "bench/timing.h"

namespace gg {

using json = nlohmann::json;

json run_in_child(const std::function<json()>& f) {
  int fd[2];
  GG_CHECK(pipe(fd) == 0, "bench: pipe() failed");
  std::fflush(nullptr);
  const pid_t pid = fork();
  GG_CHECK(pid >= 0, "bench: fork() failed");
  if (pid == 0) {
    close(fd[0]);
    std::string text;
    try {
      text = f().dump();
    } catch (const std::exception& e) {
      text = json{{"error", e.what()}}.dump();
    }
    for (size_t done = 0; done < text.size();) {
      const ssize_t n = write(fd[1], text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += size_t(n);
    }
    close(fd[1]);
    _exit(0);
  }
  close(fd[1]);
  std::string text;
  char buf[65536];
  for (ssize_t n; (n = read(fd[0], buf, sizeof buf)) > 0;) text.append(buf, size_t(n));
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (text.empty())
    return {{"error", "the child process died (status " + std::to_string(status) + ", signal " +
                          std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0) + ")"}};
  return json::parse(text);
}

// One case measured in several rounds: the repeats of every round pooled (median, extremes, p90), memory
// and faults the worst round's, and each round's median kept for the spread of the ratio.
json pool_rounds(const std::vector<json>& rounds) {
  for (const json& r : rounds)
    if (r.contains("error") || r.contains("skipped")) return r;
  json out = rounds.front();
  std::vector<double> all, medians;
  for (const json& r : rounds) {
    for (double t : r["times_ms"]) all.push_back(t);
    medians.push_back(r["median_ms"]);
    for (const char* key : {"rss_growth_mb", "rss_peak_mb", "tensor_peak_mb", "faults_per_step"})
      if (r.contains(key)) out[key] = std::max(out[key].get<double>(), r[key].get<double>());
  }
  const bench::Stats s = bench::summarize(all);
  out["median_ms"] = s.median_ms, out["min_ms"] = s.min_ms, out["max_ms"] = s.max_ms, out["p90_ms"] = s.p90_ms;
  out["repeats"] = s.repeats, out["times_ms"] = all, out["round_medians_ms"] = medians;
  return out;
}

// The peer's runs of every round as one: each case pooled; an exact case's ways pooled way by way and the
// fastest pooled way reported, as a single run reports its fastest.
json pool_peer_rounds(const std::vector<json>& rounds) {
  if (rounds.empty() || rounds.front().is_null()) return nullptr;
  json out = rounds.front();
  for (const auto& [key, first] : rounds.front()["cases"].items()) {
    auto pooled = [&](const std::function<json(const json&)>& pick) {
      std::vector<json> each;
      for (const json& r : rounds)
        each.push_back(r.is_null() ? json{{"error", "the peer failed in a round"}} : pick(r["cases"][key]));
      return pool_rounds(each);
    };
    if (!first.contains("ways")) {
      out["cases"][key] = pooled([](const json& c) { return c; });
      continue;
    }
    json ways = json::object(), best = nullptr;
    for (const auto& [way, unused] : first["ways"].items()) {
      ways[way] = pooled([&, w = way](const json& c) { return c["ways"].value(w, json{{"error", "missing"}}); });
      if (ways[way].contains("median_ms") && (best.is_null() || ways[way]["median_ms"] < best["median_ms"]))
        best = ways[way];
    }
    out["cases"][key] = best.is_null() ? json{{"error", "no way of computing the exact penalty ran"}} : best;
    out["cases"][key]["ways"] = ways;
  }
  return out;
}

}  // namespace gg

// A progress bar on stderr for long work: position, the caller's numbers (loss...), items per second and
// time left. On a terminal it redraws one line; into a log it prints a line every few seconds instead. And a
// stopwatch for the seconds an experiment records per stage.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace gg {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total_steps, int64_t items_per_step);
  // Advance to `done` steps; `status` is shown after the bar (e.g. "epoch 3/20 loss 0.0123").
  void update(int64_t done, const std::string& status);
  // Final line with the total time.
  void finish(const std::string& status);

 private:
  std::string line(int64_t done, const std::string& status) const;
  std::string label_;
  int64_t total_, items_per_step_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// One progress bar per stage of a longer measurement, as a callback's stage name changes: "<label> <stage>",
// over that stage's own total (memorization_report's runs of starts: train, test, noise, ...). A stage's bar
// is closed when the stage reaches its total or the next stage begins.
class StageProgress {
 public:
  explicit StageProgress(std::string label) : label_(std::move(label)) {}
  void operator()(const std::string& stage, int64_t done, int64_t total);

 private:
  std::string label_, stage_;
  std::unique_ptr<ProgressBar> bar_;
};

// Seconds since construction or since the last lap.
class Stopwatch {
 public:
  double lap() {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace gg

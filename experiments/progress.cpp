#include "experiments/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace gg {

namespace {
std::string clock_str(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
                  (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  return buf;
}
}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t total_steps, int64_t items_per_step)
    : label_(std::move(label)),
      total_(std::max<int64_t>(total_steps, 1)),
      items_per_step_(items_per_step),
      terminal_(isatty(fileno(stderr))),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string ProgressBar::line(int64_t done, const std::string& status) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double fraction = std::min(1.0, double(done) / double(total_));
  const int width = 24, filled = static_cast<int>(std::lround(fraction * width));
  const double rate = elapsed > 0 ? done * items_per_step_ / elapsed : 0;
  const double left = done > 0 ? elapsed * (total_ - done) / done : 0;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s [%s%s] %3.0f%% %s | %.0f items/s | %s elapsed, %s left", label_.c_str(),
                std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), 100 * fraction,
                status.c_str(), rate, clock_str(elapsed).c_str(), clock_str(left).c_str());
  return buf;
}

void ProgressBar::update(int64_t done, const std::string& status) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (terminal_ ? since < 0.1 : since < 5.0) return;
  last_draw_ = now;
  if (terminal_)
    std::fprintf(stderr, "\r%s\033[K", line(done, status).c_str());
  else
    std::fprintf(stderr, "%s\n", line(done, status).c_str());
}

void ProgressBar::finish(const std::string& status) {
  std::fprintf(stderr, terminal_ ? "\r%s\033[K\n" : "%s\n", line(total_, status).c_str());
}

void StageProgress::operator()(const std::string& stage, int64_t done, int64_t total) {
  if (!bar_ || stage != stage_) {
    stage_ = stage;
    bar_ = std::make_unique<ProgressBar>(label_ + " " + stage, total, 1);
  }
  if (done < total) {
    bar_->update(done, std::to_string(done) + "/" + std::to_string(total) + " starts done");
    return;
  }
  bar_->finish(std::to_string(total) + " starts done");
  bar_.reset();
}

}  // namespace gg

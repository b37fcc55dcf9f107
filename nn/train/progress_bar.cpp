// ProgressBar: the two drawing styles (a redrawn terminal line, or plain log lines at percentage steps) and
// the rate, ETA and running-loss arithmetic they share.
#include "nn/train/progress_bar.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace tandem::nn {

namespace {

/// Whether `stream` is the standard output or error stream and that descriptor is a terminal (not TERM=dumb).
bool is_terminal(const std::ostream* stream) {
  int fd = -1;
  if (stream == &std::cout) fd = STDOUT_FILENO;
  else if (stream == &std::cerr || stream == &std::clog) fd = STDERR_FILENO;
  if (fd < 0 || ::isatty(fd) == 0) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

std::string format_fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

/// "  7", " 45", "100": a percentage right-aligned in three characters.
std::string percent_text(double fraction) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%3.0f", 100.0 * fraction);
  return buffer;
}

}  // namespace

ProgressBar::ProgressBar(int64_t total, std::string label, ProgressBarOptions options)
    : total_(total), label_(std::move(label)), options_(std::move(options)) {
  TD_CHECK(total >= -1, "ProgressBar: total must be >= 0, or -1 when unknown; got ", total);
  TD_CHECK(options_.stream() != nullptr, "ProgressBar: null stream");
  TD_CHECK(options_.width() >= 1, "ProgressBar: width must be at least 1, got ", options_.width());
  TD_CHECK(options_.plain_every_percent() > 0 && options_.plain_every_percent() <= 100,
           "ProgressBar: plain_every_percent must be in (0, 100], got ", options_.plain_every_percent());
  TD_CHECK(options_.redraw_interval() >= 0, "ProgressBar: redraw_interval must be >= 0, got ", options_.redraw_interval());
  switch (options_.style()) {
    case ProgressStyle::Auto: interactive_ = is_terminal(options_.stream()); break;
    case ProgressStyle::Interactive: interactive_ = true; break;
    case ProgressStyle::Plain: interactive_ = false; break;
  }
  start_ = now();
  next_plain_percent_ = options_.plain_every_percent();
}

ProgressBar::~ProgressBar() {
  try {
    finish();
  } catch (...) {  // a destructor must not throw; a failing stream only loses the last line
  }
}

double ProgressBar::now() const {
  if (options_.clock()) return options_.clock()();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double ProgressBar::elapsed() const { return now() - start_; }

double ProgressBar::rate() const {
  const double seconds = elapsed();
  return seconds > 0 ? static_cast<double>(count_) / seconds : 0.0;
}

std::optional<double> ProgressBar::mean_loss() const {
  if (loss_count_ == 0) return std::nullopt;
  return loss_sum_ / static_cast<double>(loss_count_);
}

std::string ProgressBar::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  char buffer[64];
  if (h > 0) std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", static_cast<long long>(h),
                           static_cast<long long>(m), static_cast<long long>(s));
  else std::snprintf(buffer, sizeof(buffer), "%02lld:%02lld", static_cast<long long>(m), static_cast<long long>(s));
  return buffer;
}

void ProgressBar::update(int64_t n) {
  TD_CHECK(n >= 0, "ProgressBar::update: negative step ", n);
  TD_CHECK(!finished_, "ProgressBar::update: the bar '", label_, "' is already finished");
  count_ += n;
  maybe_draw();
}

void ProgressBar::update(int64_t n, double loss) {
  loss_sum_ += loss;
  ++loss_count_;
  update(n);
}

void ProgressBar::maybe_draw() {
  if (interactive_) {
    const double t = now();
    if (!drawn_ || t - last_draw_ >= options_.redraw_interval() || (total_ >= 0 && count_ >= total_)) {
      draw_interactive();
      last_draw_ = t;
      drawn_ = true;
    }
    return;
  }
  if (total_ <= 0) return;  // unknown (or zero) total: only the final line
  const double percent = 100.0 * static_cast<double>(count_) / static_cast<double>(total_);
  if (percent + 1e-9 >= next_plain_percent_) {
    draw_plain();
    const double step = options_.plain_every_percent();
    next_plain_percent_ = (std::floor(percent / step + 1e-9) + 1) * step;
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (interactive_) {
    draw_interactive();
    *options_.stream() << '\n' << std::flush;
  } else if (plain_printed_count_ != count_) {
    draw_plain();
  }
}

void ProgressBar::draw_interactive() {
  std::ostringstream line;
  line << '\r' << label_;
  const double seconds = elapsed();
  const double r = rate();
  if (total_ >= 0) {
    const double fraction = total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(count_) / static_cast<double>(total_));
    const auto width = options_.width();
    const auto filled = static_cast<int64_t>(std::floor(fraction * static_cast<double>(width)));
    line << " [" << std::string(static_cast<size_t>(filled), '=');
    if (filled < width) line << '>' << std::string(static_cast<size_t>(width - filled - 1), ' ');
    line << "] " << percent_text(fraction) << "% " << count_ << '/' << total_ << " [" << format_duration(seconds) << '<'
         << (r > 0 ? format_duration(static_cast<double>(std::max<int64_t>(total_ - count_, 0)) / r) : std::string("?"));
  } else {
    line << ' ' << count_ << " [" << format_duration(seconds);
  }
  line << ", " << (r > 0 ? format_fixed(r, 2) : std::string("?")) << " it/s";
  if (auto loss = mean_loss()) line << ", loss=" << format_fixed(*loss, 4);
  if (!postfix_.empty()) line << ", " << postfix_;
  line << "]\x1b[K";
  *options_.stream() << line.str() << std::flush;
}

void ProgressBar::draw_plain() {
  std::ostringstream line;
  line << label_ << ':';
  const double seconds = elapsed();
  const double r = rate();
  if (total_ >= 0) {
    const double fraction = total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(count_) / static_cast<double>(total_));
    line << ' ' << percent_text(fraction) << "% " << count_ << '/' << total_;
  } else {
    line << ' ' << count_;
  }
  line << " [" << format_duration(seconds) << " elapsed";
  if (total_ > 0 && count_ < total_)
    line << ", " << (r > 0 ? format_duration(static_cast<double>(total_ - count_) / r) : std::string("?")) << " left";
  line << ", " << (r > 0 ? format_fixed(r, 2) : std::string("?")) << " it/s";
  if (auto loss = mean_loss()) line << ", loss " << format_fixed(*loss, 4);
  if (!postfix_.empty()) line << ", " << postfix_;
  line << "]\n";
  *options_.stream() << line.str() << std::flush;
  plain_printed_count_ = count_;
}

}  // namespace tandem::nn

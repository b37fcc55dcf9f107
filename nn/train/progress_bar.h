// ProgressBar: progress of a loop (an epoch's batches) on a terminal or in a log.
//
//   tandem::nn::ProgressBar bar(loader.size(), "epoch 3");
//   for (auto& batch : loader) { ...; bar.update(1, loss.item<double>()); }
//   bar.finish();
//
// On a terminal (the stream is std::cout or std::cerr/std::clog and that file descriptor is a TTY) it redraws
// one line in place, at most every redraw_interval seconds:
//   epoch 3 [=============>                ]  45% 45/100 [00:03<00:04, 12.50 it/s, loss=0.4321]
// Anywhere else (a file, a pipe, a std::ostringstream) it writes plain lines without control characters, one
// each time the progress crosses a multiple of plain_every_percent and one at the end:
//   epoch 3:  50% 50/100 [00:04 elapsed, 00:04 left, 12.50 it/s, loss 0.4321]
// The loss shown is the mean of the values passed to update() so far.
#pragma once

#include <cstdint>
#include <functional>
#include <iostream>
#include <optional>
#include <string>

#include "nn/options.h"

namespace tandem::nn {

/// How a ProgressBar draws itself.
enum class ProgressStyle {
  Auto,         ///< Interactive on a terminal (std::cout/std::cerr/std::clog attached to a TTY), Plain otherwise
  Interactive,  ///< one line redrawn in place with '\r'
  Plain,        ///< separate lines, no control characters
};

/// The stream a ProgressBar writes to (an alias, so that TANDEM_ARG's `const T&` is a const pointer).
using OutputStreamPointer = std::ostream*;

struct ProgressBarOptions {
  /// Where the bar is written.
  TANDEM_ARG(OutputStreamPointer, stream) = &std::cerr;
  TANDEM_ARG(ProgressStyle, style) = ProgressStyle::Auto;
  /// Characters between the brackets of the interactive bar.
  TANDEM_ARG(int64_t, width) = 30;
  /// Plain style: a line each time the progress crosses a multiple of this percentage (and at the end).
  TANDEM_ARG(double, plain_every_percent) = 10;
  /// Interactive style: the least time between two redraws, in seconds (the end is always drawn).
  TANDEM_ARG(double, redraw_interval) = 0.1;
  /// The time in seconds (any origin); empty: a steady clock. Tests pass a fake one.
  TANDEM_ARG(std::function<double()>, clock);
};

class ProgressBar {
 public:
  /// `total` steps (>= 0), or -1 when unknown (then no percentage, bar or ETA is shown).
  ProgressBar(int64_t total, std::string label, ProgressBarOptions options = ProgressBarOptions());
  /// Finishes the bar if finish() was not called.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Advances by n steps.
  void update(int64_t n = 1);
  /// Advances by n steps and adds `loss` to the running mean shown.
  void update(int64_t n, double loss);
  /// Extra text shown after the loss, e.g. "acc=0.93".
  void set_postfix(std::string text) { postfix_ = std::move(text); }
  /// Draws the final state (and, interactively, ends the line). Further calls do nothing.
  void finish();

  int64_t count() const { return count_; }
  int64_t total() const { return total_; }
  /// Mean of the losses passed to update() (nullopt before the first).
  std::optional<double> mean_loss() const;
  bool interactive() const { return interactive_; }
  /// Seconds since construction.
  double elapsed() const;
  /// Steps per second so far (0 before any time has passed).
  double rate() const;

  /// "mm:ss", or "h:mm:ss" from one hour on; "?" for a negative or non-finite time.
  static std::string format_duration(double seconds);

 private:
  void maybe_draw();
  void draw_interactive();
  void draw_plain();
  double now() const;

  int64_t total_;
  std::string label_;
  ProgressBarOptions options_;
  bool interactive_ = false;
  bool finished_ = false;
  int64_t count_ = 0;
  double loss_sum_ = 0;
  int64_t loss_count_ = 0;
  std::string postfix_;
  double start_ = 0;
  double last_draw_ = 0;
  bool drawn_ = false;
  double next_plain_percent_ = 0;
  int64_t plain_printed_count_ = -1;  ///< the count shown by the last plain line (-1: none yet)
};

}  // namespace tandem::nn

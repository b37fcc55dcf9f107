// ProgressBar with a fake clock: the exact plain lines (percentage steps, elapsed, ETA, rate, running loss, no
// control characters), early finish, unknown and zero totals, the interactive line (bar, redraw throttling,
// final newline), automatic style selection, duration formatting and misuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "nn/train/progress_bar.h"

namespace {

using namespace tandem;
using namespace tandem::nn;

/// Options writing to `os` in the given style, reading the time from `*clock_seconds`.
ProgressBarOptions fake(std::ostringstream& os, ProgressStyle style, const double* clock_seconds) {
  return ProgressBarOptions().stream(&os).style(style).clock([clock_seconds] { return *clock_seconds; });
}

bool has_control_characters(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return c != '\n' && static_cast<unsigned char>(c) < 0x20; });
}

TEST(NnProgressBar, PlainLinesAtPercentageSteps) {
  std::ostringstream os;
  double t = 0;
  {
    ProgressBar bar(10, "epoch 1", fake(os, ProgressStyle::Plain, &t).plain_every_percent(25));
    EXPECT_FALSE(bar.interactive());
    for (int i = 1; i <= 10; ++i) {
      t = 0.5 * i;
      bar.update(1, static_cast<double>(i));  // losses 1, 2, 3, ...
    }
    bar.finish();
    EXPECT_DOUBLE_EQ(*bar.mean_loss(), 5.5);
    EXPECT_DOUBLE_EQ(bar.rate(), 2.0);
  }
  EXPECT_EQ(os.str(),
            "epoch 1:  30% 3/10 [00:02 elapsed, 00:04 left, 2.00 it/s, loss 2.0000]\n"
            "epoch 1:  50% 5/10 [00:03 elapsed, 00:03 left, 2.00 it/s, loss 3.0000]\n"
            "epoch 1:  80% 8/10 [00:04 elapsed, 00:01 left, 2.00 it/s, loss 4.5000]\n"
            "epoch 1: 100% 10/10 [00:05 elapsed, 2.00 it/s, loss 5.5000]\n");
  EXPECT_FALSE(has_control_characters(os.str()));
}

TEST(NnProgressBar, PlainDefaultIsEveryTenPercent) {
  std::ostringstream os;
  double t = 0;
  ProgressBar bar(1000, "x", fake(os, ProgressStyle::Plain, &t));
  for (int i = 0; i < 1000; ++i) bar.update();
  bar.finish();
  const std::string out = os.str();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 10);
  EXPECT_NE(out.find("x:  10% 100/1000 [00:00 elapsed, ? left, ? it/s]\n"), std::string::npos);
}

TEST(NnProgressBar, EarlyFinishAndDestructorPrintTheLastState) {
  std::ostringstream os;
  double t = 0;
  {
    ProgressBar bar(10, "val", fake(os, ProgressStyle::Plain, &t).plain_every_percent(50));
    t = 1;
    bar.update(2, 0.25);
    bar.set_postfix("acc=0.91");
  }  // destroyed without finish()
  EXPECT_EQ(os.str(), "val:  20% 2/10 [00:01 elapsed, 00:04 left, 2.00 it/s, loss 0.2500, acc=0.91]\n");
}

TEST(NnProgressBar, UnknownAndZeroTotals) {
  std::ostringstream unknown, zero;
  double t = 0;
  ProgressBar a(-1, "stream", fake(unknown, ProgressStyle::Plain, &t));
  t = 2;
  a.update(4);
  EXPECT_EQ(unknown.str(), "");  // no percentage to step on: only the final line
  a.finish();
  a.finish();  // idempotent
  EXPECT_EQ(unknown.str(), "stream: 4 [00:02 elapsed, 2.00 it/s]\n");

  ProgressBar b(0, "empty", fake(zero, ProgressStyle::Plain, &t));
  b.finish();
  EXPECT_EQ(zero.str(), "empty: 100% 0/0 [00:00 elapsed, ? it/s]\n");
}

TEST(NnProgressBar, InteractiveRedrawsOneLine) {
  std::ostringstream os;
  double t = 0;
  ProgressBar bar(10, "train", fake(os, ProgressStyle::Interactive, &t).width(10).redraw_interval(1.0));
  EXPECT_TRUE(bar.interactive());
  for (int i = 1; i <= 5; ++i) {
    t = 0.25 * i;  // draws at the first update (t = 0.25) and once a second has passed since (t = 1.25)
    bar.update(1, 0.5);
  }
  const std::string mid = os.str();
  EXPECT_EQ(std::count(mid.begin(), mid.end(), '\r'), 2);
  EXPECT_NE(mid.find("\rtrain [=====>    ]  50% 5/10 [00:01<00:01, 4.00 it/s, loss=0.5000]\x1b[K"), std::string::npos)
      << mid;
  EXPECT_EQ(mid.find('\n'), std::string::npos);
  for (int i = 6; i <= 10; ++i) bar.update(1, 0.5);  // reaching the total always draws
  bar.finish();
  const std::string out = os.str();
  EXPECT_NE(out.find("\rtrain [==========] 100% 10/10 [00:01<00:00, 8.00 it/s, loss=0.5000]\x1b[K\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

TEST(NnProgressBar, AutoStyleIsPlainOffATerminal) {
  std::ostringstream os;
  ProgressBar bar(3, "auto", ProgressBarOptions().stream(&os));
  EXPECT_FALSE(bar.interactive());
  bar.update(3);
  bar.finish();
  EXPECT_FALSE(has_control_characters(os.str()));
}

TEST(NnProgressBar, FormatDuration) {
  EXPECT_EQ(ProgressBar::format_duration(0), "00:00");
  EXPECT_EQ(ProgressBar::format_duration(59.4), "00:59");
  EXPECT_EQ(ProgressBar::format_duration(61), "01:01");
  EXPECT_EQ(ProgressBar::format_duration(3661), "1:01:01");
  EXPECT_EQ(ProgressBar::format_duration(-1), "?");
  EXPECT_EQ(ProgressBar::format_duration(std::numeric_limits<double>::quiet_NaN()), "?");
  EXPECT_EQ(ProgressBar::format_duration(std::numeric_limits<double>::infinity()), "?");
}

TEST(NnProgressBar, Misuse) {
  std::ostringstream os;
  EXPECT_THROW(ProgressBar(-2, "x", ProgressBarOptions().stream(&os)), Error);
  EXPECT_THROW(ProgressBar(3, "x", ProgressBarOptions().stream(nullptr)), Error);
  EXPECT_THROW(ProgressBar(3, "x", ProgressBarOptions().stream(&os).width(0)), Error);
  EXPECT_THROW(ProgressBar(3, "x", ProgressBarOptions().stream(&os).plain_every_percent(0)), Error);
  EXPECT_THROW(ProgressBar(3, "x", ProgressBarOptions().stream(&os).redraw_interval(-1)), Error);
  ProgressBar bar(3, "x", ProgressBarOptions().stream(&os));
  EXPECT_THROW(bar.update(-1), Error);
  bar.finish();
  EXPECT_THROW(bar.update(), Error);
}

}  // namespace

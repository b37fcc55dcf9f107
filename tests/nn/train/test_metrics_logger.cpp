// MetricsLogger: exact CSV and JSON Lines contents (header once, quoting, shortest round-trip numbers, omitted
// cells, NaN), resuming onto an existing file, one file only, the append() helper, and rejected rows.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "nn/train/metrics_logger.h"
#include "backends/types.h"

namespace {

using namespace tandem;
using namespace tandem::nn;

class NnMetricsLogger : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           (std::string("tandem_logger_") + info->name() + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static std::string read(const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::filesystem::path dir_;
};

TEST_F(NnMetricsLogger, WritesCsvAndJsonLines) {
  MetricsLogger logger(dir_ / "run.csv", dir_ / "run.jsonl");
  logger.log({{"epoch", 1}, {"loss", 0.5}, {"note", "a, \"b\""}});
  logger.log({{"epoch", 2}, {"loss", 0.1}});  // the note is left empty
  logger.log({{"loss", std::numeric_limits<double>::quiet_NaN()}, {"epoch", int64_t{3}}, {"note", "x"}});
  EXPECT_EQ(logger.columns(), (std::vector<std::string>{"epoch", "loss", "note"}));
  EXPECT_EQ(read(dir_ / "run.csv"),
            "epoch,loss,note\n"
            "1,0.5,\"a, \"\"b\"\"\"\n"
            "2,0.1,\n"
            "3,nan,x\n");
  EXPECT_EQ(read(dir_ / "run.jsonl"),
            "{\"epoch\":1,\"loss\":0.5,\"note\":\"a, \\\"b\\\"\"}\n"
            "{\"epoch\":2,\"loss\":0.1}\n"
            "{\"loss\":null,\"epoch\":3,\"note\":\"x\"}\n");
}

TEST_F(NnMetricsLogger, NumbersUseTheShortestExactForm) {
  EXPECT_EQ(LogValue(0.1).csv(), "0.1");
  EXPECT_EQ(LogValue(1.0 / 3).csv(), "0.3333333333333333");
  EXPECT_EQ(LogValue(1e-7).csv(), "1e-07");
  EXPECT_EQ(LogValue(2.0).csv(), "2");
  EXPECT_EQ(LogValue(0.1f).csv(), "0.10000000149011612");  // the float's exact value as a double
  EXPECT_EQ(LogValue(-std::numeric_limits<double>::infinity()).csv(), "-inf");
  EXPECT_EQ(LogValue(size_t{42}).csv(), "42");
  EXPECT_EQ(LogValue("plain").csv(), "plain");
  EXPECT_EQ(LogValue("two\nlines").csv(), "\"two\nlines\"");
}

TEST_F(NnMetricsLogger, ResumingKeepsTheHeader) {
  {
    MetricsLogger first(dir_ / "run.csv");
    first.log({{"epoch", 1}, {"val loss, mean", 0.75}});
  }
  MetricsLogger resumed(dir_ / "run.csv");
  EXPECT_EQ(resumed.columns(), (std::vector<std::string>{"epoch", "val loss, mean"}));
  resumed.log({{"val loss, mean", 0.5}, {"epoch", 2}});  // any order: written in header order
  EXPECT_EQ(read(dir_ / "run.csv"), "epoch,\"val loss, mean\"\n1,0.75\n2,0.5\n");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "run.jsonl"));
}

TEST_F(NnMetricsLogger, JsonLinesOnlyAndEmptyExistingFile) {
  MetricsLogger json_only("", dir_ / "only.jsonl");
  json_only.log({{"a", 1}});
  json_only.log({{"b", "new keys are fine in JSON"}});
  EXPECT_EQ(read(dir_ / "only.jsonl"), "{\"a\":1}\n{\"b\":\"new keys are fine in JSON\"}\n");

  std::ofstream(dir_ / "empty.csv").close();
  MetricsLogger empty(dir_ / "empty.csv");
  EXPECT_TRUE(empty.columns().empty());
  empty.log({{"x", 1}});
  EXPECT_EQ(read(dir_ / "empty.csv"), "x\n1\n");
}

TEST_F(NnMetricsLogger, AppendPrefixesSummaries) {
  LogRow row{{"epoch", 4}};
  append(row, "val_", {{"loss", 0.25}, {"accuracy", 0.875}});
  ASSERT_EQ(row.size(), 3u);
  EXPECT_EQ(row[1].first, "val_loss");
  EXPECT_EQ(row[2].first, "val_accuracy");
  EXPECT_EQ(row[2].second.csv(), "0.875");
}

TEST_F(NnMetricsLogger, RejectedRowsWriteNothing) {
  MetricsLogger logger(dir_ / "run.csv", dir_ / "run.jsonl");
  logger.log({{"epoch", 1}, {"loss", 0.5}});
  const std::string csv = read(dir_ / "run.csv"), jsonl = read(dir_ / "run.jsonl");
  try {
    logger.log({{"epoch", 2}, {"accuracy", 0.9}});
    ADD_FAILURE() << "expected tandem::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("column 'accuracy' is not in the header (epoch,loss)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(logger.log({{"epoch", 2}, {"epoch", 3}}), Error);
  EXPECT_THROW(logger.log({}), Error);
  EXPECT_THROW(logger.log({{"", 1}}), Error);
  EXPECT_EQ(read(dir_ / "run.csv"), csv);
  EXPECT_EQ(read(dir_ / "run.jsonl"), jsonl);

  EXPECT_THROW(MetricsLogger("", ""), Error);
  MetricsLogger nowhere(dir_ / "no" / "such" / "dir.csv");
  EXPECT_THROW(nowhere.log({{"a", 1}}), Error);
}

}  // namespace

// MetricsLogger: one row per epoch appended to a CSV file (for spreadsheets and plotting scripts) and/or a JSON
// Lines file (one JSON object per line, for programs).
//
//   tandem::nn::MetricsLogger logger("runs/mnist.csv", "runs/mnist.jsonl");
//   logger.log({{"epoch", epoch}, {"train_loss", train.loss}, {"val_accuracy", val.accuracy()}, {"note", "warmup"}});
//
// The first row fixes the CSV columns and writes the header; a file that already has a header (a resumed run)
// keeps it, and rows are appended under it. A later row may leave columns out (empty cells) but may not add
// new ones: log every column in the first row (NaN for a value not computed yet). Each row is written and
// flushed when log() returns, so a crash loses at most the row being written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace tandem::nn {

/// A value in a log row: a number (integer or floating point) or a string.
class LogValue {
 public:
  LogValue(double value) : value_(value) {}                       // NOLINT: implicit, for row literals
  LogValue(float value) : value_(static_cast<double>(value)) {}   // NOLINT
  LogValue(int value) : value_(static_cast<int64_t>(value)) {}    // NOLINT
  LogValue(long value) : value_(static_cast<int64_t>(value)) {}   // NOLINT
  LogValue(long long value) : value_(static_cast<int64_t>(value)) {}  // NOLINT
  LogValue(unsigned value) : value_(static_cast<int64_t>(value)) {}   // NOLINT
  LogValue(unsigned long value) : value_(static_cast<int64_t>(value)) {}  // NOLINT
  LogValue(const char* value) : value_(std::string(value)) {}     // NOLINT
  LogValue(std::string value) : value_(std::move(value)) {}       // NOLINT
  LogValue(bool) = delete;  // ambiguous in a CSV: log 0/1 or a string

  const std::variant<double, int64_t, std::string>& value() const { return value_; }
  /// The CSV cell: integers in decimal, doubles in the shortest form that reads back exactly ("nan", "inf"
  /// for non-finite values), strings quoted when they contain a comma, a quote or a line break.
  std::string csv() const;

 private:
  std::variant<double, int64_t, std::string> value_;
};

/// One row: (column, value) pairs in column order.
using LogRow = std::vector<std::pair<std::string, LogValue>>;

/// Appends `values` (e.g. a metrics summary) to `row`, each name prefixed: append(row, "val_", report.summary()).
void append(LogRow& row, const std::string& prefix, const std::vector<std::pair<std::string, double>>& values);

class MetricsLogger {
 public:
  /// Either path may be empty to skip that file. Throws tandem::Error when an existing CSV file cannot be read.
  MetricsLogger(std::filesystem::path csv_path, std::filesystem::path jsonl_path = {});

  /// Appends one row to each file. Throws tandem::Error (writing nothing) when the row repeats a column or
  /// has one that the CSV header lacks, or when a file cannot be written.
  void log(const LogRow& row);

  /// The CSV columns (empty until the first row, unless the file already had a header).
  const std::vector<std::string>& columns() const { return columns_; }
  const std::filesystem::path& csv_path() const { return csv_path_; }
  const std::filesystem::path& jsonl_path() const { return jsonl_path_; }

 private:
  std::filesystem::path csv_path_;
  std::filesystem::path jsonl_path_;
  std::vector<std::string> columns_;
  bool header_written_ = false;
};

}  // namespace tandem::nn

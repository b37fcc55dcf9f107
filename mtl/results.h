// How multi-task results are reported: each task's metrics, and Δm% — the average relative change of every
// metric against single-task learning (STL) with the same backbone and budget — as mean ± std over seeds.
//
//   Δm% = (100 / K) Σ_k (−1)^{δ_k} (M_k − B_k) / B_k,   δ_k = 1 when metric k is higher-is-better,
// so lower is better and a negative Δm% means the multi-task model beats STL.
//
//   mtl::ResultsTable table({{"left acc", true}, {"right acc", true}});   // or ResultsTable::for_tasks(tasks)
//   table.add_run("stl", {0.85, 0.84});
//   table.add_run("hps + pcgrad", {0.86, 0.83});          // Δm% against the "stl" row's mean, computed
//   table.add_run("hps + ew", {0.84, 0.82}, /*delta_m=*/1.8);  // or given
//   table.print(std::cout);  table.write("results/multi_fashion");  // results/multi_fashion.{md,csv}
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "mtl/task.h"

namespace tandem::mtl {

/// Δm% of `values` against `baselines` (one per metric). Throws a tandem::Error when the three lists differ in
/// length, are empty, or a baseline is zero.
double delta_m(const std::vector<double>& values, const std::vector<double>& baselines,
               const std::vector<bool>& higher_is_better);

/// Mean and sample standard deviation (n − 1 in the denominator; 0 for a single value) of a set of runs.
struct MeanStd {
  double mean = 0;
  double std = 0;
  size_t count = 0;
};
/// Throws a tandem::Error for an empty list.
MeanStd mean_std(const std::vector<double>& values);

/// A metric column of a ResultsTable.
struct ResultsColumn {
  std::string name;  ///< e.g. "left acc"; the header adds ↑ or ↓
  bool higher_is_better = true;
};

struct ResultsTableOptions {
  /// The row that Δm% is measured against and that is shown first.
  std::string baseline_row = "stl";
  /// Digits after the decimal point for the metrics and for Δm%.
  int metric_precision = 4;
  int delta_precision = 2;
};

/// A table of results: one row per method, one column per metric of each task then Δm%, each cell the mean ±
/// std over the runs (seeds) added to the row. The baseline row (STL) is shown first when present; the others
/// keep the order in which they were first added.
class ResultsTable {
 public:
  using Column = ResultsColumn;
  using Options = ResultsTableOptions;

  explicit ResultsTable(std::vector<Column> columns, Options options = {});
  /// One column per metric of each task, named "<task> <metric>" (e.g. "left accuracy").
  static ResultsTable for_tasks(const std::vector<Task>& tasks, Options options = {});

  /// Adds one run (seed) to `row`: one value per metric column and, optionally, its Δm%. A row's runs either
  /// all give Δm% or none does; when none does, each run's Δm% is computed at output time against the mean of
  /// the baseline row (and the Δm% cell stays empty while there is no baseline row).
  void add_run(const std::string& row, const std::vector<double>& values, std::optional<double> delta_m = std::nullopt);

  const std::vector<Column>& columns() const { return columns_; }
  /// The row names in display order (the baseline first).
  std::vector<std::string> rows() const;
  bool has_row(const std::string& row) const;
  /// Mean ± std of metric column `column` of `row`.
  MeanStd cell(const std::string& row, size_t column) const;
  /// Mean ± std of the Δm% of `row`; nullopt when it cannot be computed (no baseline row).
  std::optional<MeanStd> delta_m_cell(const std::string& row) const;

  /// A Markdown table (header "method | left acc ↑ | … | Δm% ↓", cells "0.8500 ± 0.0100", columns padded).
  std::string to_markdown() const;
  /// Comma-separated values: method, seeds, then "<column> mean" and "<column> std" for each metric column and
  /// for Δm%, every number with the digits needed to read it back exactly (an empty field for a missing Δm%).
  std::string to_csv() const;
  /// The table as aligned plain text.
  void print(std::ostream& os) const;
  /// Writes <path>.md and <path>.csv, each to a temporary file first and then renamed over the target, so a
  /// crash never leaves a half-written table; creates the parent folder when it does not exist.
  void write(const std::string& path_without_extension) const;

 private:
  struct Row {
    std::string name;
    std::vector<std::vector<double>> values;  ///< per run
    std::vector<double> delta_m;              ///< per run, when given
  };
  const Row& find(const std::string& row) const;
  std::vector<const Row*> ordered_rows() const;
  std::vector<std::string> header() const;
  /// The formatted cells of one row (without the method name).
  std::vector<std::string> formatted(const Row& row) const;

  std::vector<Column> columns_;
  Options options_;
  std::vector<Row> rows_;
};

}  // namespace tandem::mtl

// Δm%, mean ± std over seeds, and the results table in Markdown, CSV and aligned text (see results.h).
#include "mtl/results.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "backends/types.h"

namespace tandem::mtl {

double delta_m(const std::vector<double>& values, const std::vector<double>& baselines,
               const std::vector<bool>& higher_is_better) {
  TD_CHECK(values.size() == baselines.size() && values.size() == higher_is_better.size(), "delta_m: ", values.size(),
           " values, ", baselines.size(), " baselines and ", higher_is_better.size(),
           " higher_is_better flags; there must be one of each per metric");
  TD_CHECK(!values.empty(), "delta_m: no metrics");
  double total = 0;
  for (size_t k = 0; k < values.size(); ++k) {
    TD_CHECK(baselines[k] != 0, "delta_m: the baseline of metric ", k, " is zero (the relative change is undefined)");
    const double relative = (values[k] - baselines[k]) / baselines[k];
    total += higher_is_better[k] ? -relative : relative;
  }
  return 100.0 * total / static_cast<double>(values.size());
}

MeanStd mean_std(const std::vector<double>& values) {
  TD_CHECK(!values.empty(), "mean_std: no values");
  MeanStd out;
  out.count = values.size();
  double sum = 0;
  for (double v : values) sum += v;
  out.mean = sum / static_cast<double>(values.size());
  if (values.size() > 1) {
    double squares = 0;
    for (double v : values) squares += (v - out.mean) * (v - out.mean);
    out.std = std::sqrt(squares / static_cast<double>(values.size() - 1));
  }
  return out;
}

namespace {

constexpr const char* kMethodHeader = "method";
constexpr const char* kDeltaHeader = "Δm% ↓";
constexpr const char* kMissingCell = "—";

std::string fixed(double value, int precision) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", precision, value);
  std::string text = buffer;
  // A value that rounds to zero prints without a sign.
  if (text.front() == '-' && text.find_first_not_of("-0.") == std::string::npos) text.erase(0, 1);
  return text;
}

std::string format_cell(const MeanStd& cell, int precision) {
  return fixed(cell.mean, precision) + " ± " + fixed(cell.std, precision);
}

/// The shortest text that reads back as exactly `value`.
std::string exact(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

/// Display width: the number of UTF-8 code points (every character used here is one column wide).
size_t display_width(const std::string& text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string pad_right(const std::string& text, size_t width) {
  return text + std::string(width - std::min(width, display_width(text)), ' ');
}
std::string pad_left(const std::string& text, size_t width) {
  return std::string(width - std::min(width, display_width(text)), ' ') + text;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string markdown_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

/// Writes `text` to `path` through a temporary file in the same folder and a rename.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    TD_CHECK(out.is_open(), "ResultsTable::write: cannot open ", temporary, " for writing");
    out << text;
    out.flush();
    TD_CHECK(out.good(), "ResultsTable::write: writing ", temporary, " failed");
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::filesystem::remove(temporary, ec);
    throw Error(detail::concat("ResultsTable::write: cannot rename ", temporary, " to ", path, ": ", ec.message()));
  }
}

}  // namespace

ResultsTable::ResultsTable(std::vector<Column> columns, Options options)
    : columns_(std::move(columns)), options_(std::move(options)) {
  TD_CHECK(!columns_.empty(), "ResultsTable: no metric columns");
  TD_CHECK(options_.metric_precision >= 0 && options_.metric_precision <= 17 && options_.delta_precision >= 0 &&
               options_.delta_precision <= 17,
           "ResultsTable: precisions must lie in [0, 17], got ", options_.metric_precision, " and ",
           options_.delta_precision);
}

ResultsTable ResultsTable::for_tasks(const std::vector<Task>& tasks, Options options) {
  std::vector<Column> columns;
  for (const Task& task : tasks)
    for (const Metric& metric : task.metrics)
      columns.push_back({task.name + " " + metric.name, metric.higher_is_better});
  TD_CHECK(!columns.empty(), "ResultsTable::for_tasks: the ", tasks.size(), " tasks have no metrics");
  return ResultsTable(std::move(columns), std::move(options));
}

void ResultsTable::add_run(const std::string& row, const std::vector<double>& values, std::optional<double> delta) {
  TD_CHECK(!row.empty(), "ResultsTable::add_run: empty row name");
  TD_CHECK(values.size() == columns_.size(), "ResultsTable::add_run: row \"", row, "\" got ", values.size(),
           " values for ", columns_.size(), " metric columns");
  auto it = std::find_if(rows_.begin(), rows_.end(), [&](const Row& r) { return r.name == row; });
  if (it == rows_.end()) {
    rows_.push_back(Row{row, {}, {}});
    it = std::prev(rows_.end());
  } else {
    TD_CHECK(delta.has_value() == (it->delta_m.size() == it->values.size()), "ResultsTable::add_run: row \"", row,
             "\" mixes runs with and without a given delta_m (", it->delta_m.size(), " of its ", it->values.size(),
             " runs gave one)");
  }
  it->values.push_back(values);
  if (delta) it->delta_m.push_back(*delta);
}

const ResultsTable::Row& ResultsTable::find(const std::string& row) const {
  auto it = std::find_if(rows_.begin(), rows_.end(), [&](const Row& r) { return r.name == row; });
  if (it == rows_.end()) {
    std::string known;
    for (const Row& r : rows_) known += (known.empty() ? "" : ", ") + r.name;
    throw Error(detail::concat("ResultsTable: no row \"", row, "\" (rows: ", known.empty() ? "none" : known, ")"));
  }
  return *it;
}

bool ResultsTable::has_row(const std::string& row) const {
  return std::any_of(rows_.begin(), rows_.end(), [&](const Row& r) { return r.name == row; });
}

std::vector<const ResultsTable::Row*> ResultsTable::ordered_rows() const {
  std::vector<const Row*> ordered;
  for (const Row& r : rows_)
    if (r.name == options_.baseline_row) ordered.push_back(&r);
  for (const Row& r : rows_)
    if (r.name != options_.baseline_row) ordered.push_back(&r);
  return ordered;
}

std::vector<std::string> ResultsTable::rows() const {
  std::vector<std::string> names;
  for (const Row* r : ordered_rows()) names.push_back(r->name);
  return names;
}

MeanStd ResultsTable::cell(const std::string& row, size_t column) const {
  TD_CHECK(column < columns_.size(), "ResultsTable::cell: column ", column, " out of range for ", columns_.size(),
           " metric columns");
  const Row& r = find(row);
  std::vector<double> values;
  for (const auto& run : r.values) values.push_back(run[column]);
  return mean_std(values);
}

std::optional<MeanStd> ResultsTable::delta_m_cell(const std::string& row) const {
  const Row& r = find(row);
  if (!r.delta_m.empty()) return mean_std(r.delta_m);
  if (!has_row(options_.baseline_row)) return std::nullopt;
  std::vector<double> baselines;
  std::vector<bool> higher_is_better;
  for (size_t c = 0; c < columns_.size(); ++c) {
    baselines.push_back(cell(options_.baseline_row, c).mean);
    higher_is_better.push_back(columns_[c].higher_is_better);
    if (baselines.back() == 0 || !std::isfinite(baselines.back())) return std::nullopt;
  }
  std::vector<double> deltas;
  for (const auto& run : r.values) deltas.push_back(delta_m(run, baselines, higher_is_better));
  return mean_std(deltas);
}

std::vector<std::string> ResultsTable::header() const {
  std::vector<std::string> names{kMethodHeader};
  for (const Column& c : columns_) names.push_back(c.name + (c.higher_is_better ? " ↑" : " ↓"));
  names.emplace_back(kDeltaHeader);
  return names;
}

std::vector<std::string> ResultsTable::formatted(const Row& row) const {
  std::vector<std::string> cells;
  for (size_t c = 0; c < columns_.size(); ++c)
    cells.push_back(format_cell(cell(row.name, c), options_.metric_precision));
  const auto delta = delta_m_cell(row.name);
  cells.push_back(delta ? format_cell(*delta, options_.delta_precision) : kMissingCell);
  return cells;
}

std::string ResultsTable::to_markdown() const {
  std::vector<std::vector<std::string>> lines{header()};
  for (const Row* r : ordered_rows()) {
    std::vector<std::string> line{markdown_escape(r->name)};
    for (std::string& cell_text : formatted(*r)) line.push_back(std::move(cell_text));
    lines.push_back(std::move(line));
  }
  std::vector<size_t> widths(lines[0].size(), 3);  // a separator cell needs at least ":--"
  for (const auto& line : lines)
    for (size_t c = 0; c < line.size(); ++c) widths[c] = std::max(widths[c], display_width(line[c]));

  std::ostringstream out;
  for (size_t l = 0; l < lines.size(); ++l) {
    out << '|';
    for (size_t c = 0; c < lines[l].size(); ++c)
      out << ' ' << (c == 0 ? pad_right(lines[l][c], widths[c]) : pad_left(lines[l][c], widths[c])) << " |";
    out << '\n';
    if (l == 0) {  // the method column left-aligned, the numbers right-aligned
      out << '|';
      for (size_t c = 0; c < widths.size(); ++c) {
        const std::string dashes(widths[c] + 1, '-');
        if (c == 0)
          out << ':' << dashes << '|';
        else
          out << dashes << ":|";
      }
      out << '\n';
    }
  }
  return out.str();
}

std::string ResultsTable::to_csv() const {
  std::ostringstream out;
  out << "method,seeds";
  for (const Column& c : columns_) out << ',' << csv_field(c.name + " mean") << ',' << csv_field(c.name + " std");
  out << ",delta_m% mean,delta_m% std\n";
  for (const Row* r : ordered_rows()) {
    out << csv_field(r->name) << ',' << r->values.size();
    for (size_t c = 0; c < columns_.size(); ++c) {
      const MeanStd m = cell(r->name, c);
      out << ',' << exact(m.mean) << ',' << exact(m.std);
    }
    const auto delta = delta_m_cell(r->name);
    if (delta)
      out << ',' << exact(delta->mean) << ',' << exact(delta->std);
    else
      out << ",,";
    out << '\n';
  }
  return out.str();
}

void ResultsTable::print(std::ostream& os) const {
  std::vector<std::vector<std::string>> lines{header()};
  for (const Row* r : ordered_rows()) {
    std::vector<std::string> line{r->name};
    for (std::string& cell_text : formatted(*r)) line.push_back(std::move(cell_text));
    lines.push_back(std::move(line));
  }
  std::vector<size_t> widths(lines[0].size(), 0);
  for (const auto& line : lines)
    for (size_t c = 0; c < line.size(); ++c) widths[c] = std::max(widths[c], display_width(line[c]));
  for (size_t l = 0; l < lines.size(); ++l) {
    std::string text;
    for (size_t c = 0; c < lines[l].size(); ++c) {
      if (c > 0) text += "  ";
      text += c == 0 ? pad_right(lines[l][c], widths[c]) : pad_left(lines[l][c], widths[c]);
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    os << text << '\n';
    if (l == 0) {
      std::string rule;
      for (size_t c = 0; c < widths.size(); ++c) rule += (c > 0 ? "  " : "") + std::string(widths[c], '-');
      os << rule << '\n';
    }
  }
}

void ResultsTable::write(const std::string& path_without_extension) const {
  TD_CHECK(!path_without_extension.empty(), "ResultsTable::write: empty path");
  const std::filesystem::path base(path_without_extension);
  if (base.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(base.parent_path(), ec);
    TD_CHECK(!ec, "ResultsTable::write: cannot create the folder ", base.parent_path().string(), ": ", ec.message());
  }
  const std::string markdown = to_markdown(), csv = to_csv();
  write_atomically(path_without_extension + ".md", markdown);
  write_atomically(path_without_extension + ".csv", csv);
}

}  // namespace tandem::mtl

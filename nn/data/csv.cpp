// The CSV parser (a single pass over the text with a small state machine for quoted fields, counting lines for
// the messages) and the conversions of CsvTable columns to tensors.
#include "nn/data/csv.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string_view>
#include <unordered_set>

#include "tensor/functions.h"

namespace tandem::nn::data {
namespace {

std::string printable(char c) {
  if (c == '\t') return "'\\t'";
  if (c >= 32 && c < 127) return std::string("'") + c + "'";
  return detail::concat("byte ", static_cast<int>(static_cast<unsigned char>(c)));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

// ---- parsing ----------------------------------------------------------------------------------------------------

CsvTable parse_csv(const std::string& text, const CsvOptions& options, const std::string& source) {
  const char delim = options.delimiter(), quote = options.quote();
  TD_CHECK(delim != quote, "read_csv: the delimiter and the quote character are both ", printable(delim));
  TD_CHECK(delim != '\n' && delim != '\r' && quote != '\n' && quote != '\r',
           "read_csv: the delimiter and quote character cannot be line breaks");

  std::vector<std::vector<std::string>> records;
  std::vector<size_t> record_lines;
  const size_t n = text.size();
  size_t i = 0, line = 1;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // a UTF-8 byte order mark is not part of the first name

  auto at_line_end = [&](size_t k) {
    return k >= n || text[k] == '\n' || (text[k] == '\r' && (k + 1 == n || text[k + 1] == '\n'));
  };
  while (i < n) {
    if (at_line_end(i)) {  // a blank line
      i += text[i] == '\r' ? 2 : 1;
      ++line;
      continue;
    }
    const size_t record_line = line;
    std::vector<std::string> fields;
    for (;;) {
      std::string field;
      const size_t column = fields.size() + 1;
      if (i < n && text[i] == quote) {
        const size_t open_line = line;
        ++i;
        for (;;) {
          TD_CHECK(i < n, "read_csv: ", source, " line ", open_line, ", column ", column,
                   ": the quoted field opened here is never closed (no matching ", printable(quote), ")");
          const char c = text[i];
          if (c == quote) {
            if (i + 1 < n && text[i + 1] == quote) {  // a doubled quote stands for one
              field += quote;
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++i;
        }
        TD_CHECK(i >= n || text[i] == delim || at_line_end(i), "read_csv: ", source, " line ", line, ", column ",
                 column, ": unexpected ", printable(text[i]), " after the closing quote of a field (expected ",
                 printable(delim), " or the end of the line)");
      } else {
        const size_t start = i;
        while (i < n && text[i] != delim && !at_line_end(i)) ++i;
        field.assign(text, start, i - start);
      }
      fields.push_back(std::move(field));
      if (i < n && text[i] == delim) {
        ++i;
        continue;
      }
      if (i < n) {  // the end of the line
        i += text[i] == '\r' ? 2 : 1;
        ++line;
      }
      break;
    }
    records.push_back(std::move(fields));
    record_lines.push_back(record_line);
  }

  std::vector<std::string> names;
  size_t first_row = 0;
  if (options.header()) {
    TD_CHECK(!records.empty(), "read_csv: ", source, " is empty but a header row was expected");
    names = records[0];
    first_row = 1;
    std::unordered_set<std::string> seen;
    for (size_t c = 0; c < names.size(); ++c)
      TD_CHECK(seen.insert(names[c]).second, "read_csv: ", source, " line ", record_lines[0], ", column ", c + 1,
               ": the column name \"", names[c], "\" appears twice in the header");
  } else if (!records.empty()) {
    for (size_t c = 0; c < records[0].size(); ++c) names.push_back(std::to_string(c));
  }

  const size_t cols = names.size();
  std::vector<std::vector<std::string>> columns(cols);
  std::vector<size_t> row_lines;
  for (auto& column : columns) column.reserve(records.size() - first_row);
  for (size_t r = first_row; r < records.size(); ++r) {
    std::vector<std::string>& fields = records[r];
    TD_CHECK(fields.size() == cols, "read_csv: ", source, " line ", record_lines[r], ", column ",
             std::min(fields.size(), cols) + 1, ": the row has ", fields.size(), " field(s) but ",
             options.header() ? "the header has " : "the first row has ", cols);
    for (size_t c = 0; c < cols; ++c) columns[c].push_back(std::move(fields[c]));
    row_lines.push_back(record_lines[r]);
  }
  return CsvTable(std::move(names), std::move(columns), source, std::move(row_lines), options.na_values());
}

CsvTable read_csv(const std::string& path, const CsvOptions& options) {
  std::ifstream in(path, std::ios::binary);
  TD_CHECK(in.good(), "read_csv: cannot open ", path, ": ", std::strerror(errno));
  std::ostringstream contents;
  contents << in.rdbuf();
  TD_CHECK(!in.bad(), "read_csv: reading ", path, " failed");
  return parse_csv(contents.str(), options, path);
}

// ---- CsvTable ---------------------------------------------------------------------------------------------------

CsvTable::CsvTable(std::vector<std::string> names, std::vector<std::vector<std::string>> columns, std::string source,
                   std::vector<size_t> row_lines, std::vector<std::string> na_values)
    : names_(std::move(names)),
      columns_(std::move(columns)),
      row_lines_(std::move(row_lines)),
      na_values_(std::move(na_values)),
      source_(std::move(source)) {
  TD_CHECK(names_.size() == columns_.size(), "CsvTable: ", names_.size(), " column names for ", columns_.size(),
           " columns");
  rows_ = columns_.empty() ? 0 : columns_[0].size();
  for (size_t c = 0; c < columns_.size(); ++c)
    TD_CHECK(columns_[c].size() == rows_, "CsvTable: column \"", names_[c], "\" has ", columns_[c].size(),
             " values but column \"", names_[0], "\" has ", rows_);
  if (row_lines_.empty())
    for (size_t r = 0; r < rows_; ++r) row_lines_.push_back(r + 1);
  TD_CHECK(row_lines_.size() == rows_, "CsvTable: ", row_lines_.size(), " row line numbers for ", rows_, " rows");
}

bool CsvTable::has_column(const std::string& name) const {
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

size_t CsvTable::column_index(const std::string& name) const {
  auto it = std::find(names_.begin(), names_.end(), name);
  if (it != names_.end()) return static_cast<size_t>(it - names_.begin());
  std::string known;
  for (size_t c = 0; c < names_.size(); ++c) known += (c ? ", \"" : "\"") + names_[c] + "\"";
  throw Error(detail::concat("CsvTable: ", source_, " has no column \"", name, "\" (its columns: ", known, ")"));
}

size_t CsvTable::line_of_row(size_t row) const {
  TD_CHECK(row < rows_, "CsvTable: row ", row, " is out of range for ", source_, " with ", rows_, " rows");
  return row_lines_[row];
}

bool CsvTable::is_missing(const std::string& field) const {
  const std::string_view value = trim(field);
  if (value.empty()) return true;
  for (const std::string& na : na_values_)
    if (value == na || field == na) return true;
  return false;
}

double CsvTable::parse_number(size_t col, size_t row) const {
  const std::string& field = columns_[col][row];
  if (is_missing(field)) return std::numeric_limits<double>::quiet_NaN();
  std::string_view value = trim(field);
  if (value.size() > 1 && value.front() == '+') value.remove_prefix(1);
  double result = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), result);
  TD_CHECK(ec == std::errc() && end == value.data() + value.size(), "CsvTable: ", source_, " line ", row_lines_[row],
           ", column \"", names_[col], "\" (", col + 1, "): \"", field, "\" is ",
           ec == std::errc::result_out_of_range ? "out of the range of a float64" : "not a number");
  return result;
}

Tensor CsvTable::column(const std::string& name) const { return column(column_index(name)); }

Tensor CsvTable::column(size_t index) const {
  TD_CHECK(index < cols(), "CsvTable: column ", index, " is out of range for ", source_, " with ", cols(), " columns");
  std::vector<double> values(rows_);
  for (size_t r = 0; r < rows_; ++r) values[r] = parse_number(index, r);
  return tensor(values, TensorOptions(kFloat64));
}

Tensor CsvTable::columns(const std::vector<std::string>& names, ScalarType dtype) const {
  TD_CHECK(dtype == kFloat32 || dtype == kFloat64 || dtype == kInt64,
           "CsvTable: columns can be read as float32, float64 or int64, not ", dtype);
  std::vector<size_t> indices;
  for (const std::string& name : names) indices.push_back(column_index(name));
  const size_t k = indices.size();
  const Dims shape{static_cast<int64_t>(rows_), static_cast<int64_t>(k)};
  if (dtype != kInt64) {
    std::vector<double> values(rows_ * k);
    for (size_t j = 0; j < k; ++j)
      for (size_t r = 0; r < rows_; ++r) values[r * k + j] = parse_number(indices[j], r);
    return tensor(values, TensorOptions(dtype)).reshape(shape);
  }
  std::vector<int64_t> values(rows_ * k);
  for (size_t j = 0; j < k; ++j) {
    const size_t c = indices[j];
    for (size_t r = 0; r < rows_; ++r) {
      const std::string& field = columns_[c][r];
      auto where = [&] {
        return detail::concat("CsvTable: ", source_, " line ", row_lines_[r], ", column \"", names_[c], "\" (", c + 1,
                              "): ");
      };
      TD_CHECK(!is_missing(field), where(), "the value is missing, which int64 cannot represent");
      std::string_view value = trim(field);
      if (value.size() > 1 && value.front() == '+') value.remove_prefix(1);
      int64_t v = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec == std::errc() && end == value.data() + value.size()) {
        values[r * k + j] = v;
        continue;
      }
      const double d = parse_number(c, r);  // "3.0" or "1e3" are whole numbers too
      TD_CHECK(std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.2e18, where(), "\"", field,
               "\" is not a whole number that fits int64");
      values[r * k + j] = static_cast<int64_t>(d);
    }
  }
  return tensor(values, TensorOptions(kInt64)).reshape(shape);
}

const std::vector<std::string>& CsvTable::string_column(const std::string& name) const {
  return columns_[column_index(name)];
}

Categorical CsvTable::categorical(const std::string& name) const {
  const std::vector<std::string>& fields = columns_[column_index(name)];
  std::map<std::string, int64_t> codes;
  for (const std::string& f : fields)
    if (!is_missing(f)) codes.emplace(f, 0);
  Categorical result;
  for (auto& [value, code] : codes) {
    code = static_cast<int64_t>(result.categories.size());
    result.categories.push_back(value);
  }
  std::vector<int64_t> values(rows_);
  for (size_t r = 0; r < rows_; ++r) values[r] = is_missing(fields[r]) ? -1 : codes.at(fields[r]);
  result.codes = tensor(values, TensorOptions(kInt64));
  return result;
}

}  // namespace tandem::nn::data

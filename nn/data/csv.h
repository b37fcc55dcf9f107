// A CSV reader for tabular data: read_csv parses the whole file (RFC 4180 quoting: fields in double quotes may
// hold the delimiter, line breaks and doubled quotes) into a CsvTable of named string columns, which are
// converted on request — column(name) to a float64 tensor, columns({...}) to a [rows, k] matrix,
// categorical(name) to int64 codes — so one file can hold numbers, labels and free text side by side.
//
//   auto table = nn::data::read_csv("houses.csv");                       // header row, ',' delimiter
//   Tensor x = table.columns({"area", "rooms", "age"}, kFloat32);        // [rows, 3]
//   auto city = table.categorical("city");                               // codes int64 [rows] + names
//
// Missing values (empty fields, and the strings in na_values) read as NaN in numeric columns. Every problem
// is a tandem::Error naming the file, the line and the column: a row with the wrong number of fields, a quote
// that is never closed, text where a number is asked for.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "nn/options.h"
#include "tensor/tensor.h"

namespace tandem::nn::data {

using StringList = std::vector<std::string>;

struct CsvOptions {
  /// The field separator.
  TANDEM_ARG(char, delimiter) = ',';
  /// The character that quotes fields.
  TANDEM_ARG(char, quote) = '"';
  /// Whether the first row holds the column names. Without it, columns are named "0", "1", ...
  TANDEM_ARG(bool, header) = true;
  /// Fields that mean "missing" (NaN when read as numbers). The empty field always does.
  TANDEM_ARG(StringList, na_values) = {"NA", "N/A", "NaN", "nan", "null"};
};

/// Integer codes for a text column: codes[r] indexes categories (sorted, distinct); -1 marks a missing value.
struct Categorical {
  Tensor codes;  ///< int64 [rows]
  std::vector<std::string> categories;
};

/// The parsed contents of a CSV file: a header and rows of string fields, stored by column.
class CsvTable {
 public:
  CsvTable() = default;
  /// Builds a table from column names and the fields of each column (all of the same length). `source` names
  /// the data in messages; `row_lines` gives the line in the source where each row starts (empty: 1, 2, ...).
  CsvTable(std::vector<std::string> names, std::vector<std::vector<std::string>> columns, std::string source = "table",
           std::vector<size_t> row_lines = {}, std::vector<std::string> na_values = {});

  size_t rows() const { return rows_; }
  size_t cols() const { return names_.size(); }
  const std::vector<std::string>& column_names() const { return names_; }
  bool has_column(const std::string& name) const;
  /// Position of a column; throws naming the known columns when there is none of that name.
  size_t column_index(const std::string& name) const;

  /// A numeric column as float64 [rows]; missing values become NaN. Throws naming the file, line and column of
  /// the first field that is not a number.
  Tensor column(const std::string& name) const;
  Tensor column(size_t index) const;
  /// Several numeric columns as one [rows, k] matrix, in the order given, converted to dtype (float32,
  /// float64, or int64 — whose fields must hold whole numbers and may not be missing).
  Tensor columns(const std::vector<std::string>& names, ScalarType dtype = kFloat64) const;
  /// A column's raw fields (quotes removed).
  const std::vector<std::string>& string_column(const std::string& name) const;
  /// A text column as integer codes into its sorted distinct values; missing values get code -1.
  Categorical categorical(const std::string& name) const;
  /// The line of the source file where row r starts (1-based, counting the header line).
  size_t line_of_row(size_t row) const;
  const std::string& source() const { return source_; }

 private:
  bool is_missing(const std::string& field) const;
  /// The value of one field as a number; throws naming source, line and column.
  double parse_number(size_t col, size_t row) const;

  std::vector<std::string> names_;
  std::vector<std::vector<std::string>> columns_;
  std::vector<size_t> row_lines_;
  std::vector<std::string> na_values_;
  std::string source_;
  size_t rows_ = 0;
};

/// Reads and parses a CSV file. Lines may end in \n or \r\n; blank lines are skipped. Throws tandem::Error
/// naming the file (and the line and column) when it cannot be read, a quote is left open, a row has a different
/// number of fields from the header, or two columns have the same name.
CsvTable read_csv(const std::string& path, const CsvOptions& options = CsvOptions());

/// Parses CSV text already in memory; `source` names it in messages.
CsvTable parse_csv(const std::string& text, const CsvOptions& options = CsvOptions(),
                   const std::string& source = "<string>");

}  // namespace tandem::nn::data

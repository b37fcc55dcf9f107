// Tests of the CSV reader on files written here: named numeric columns, quoting (delimiters, doubled quotes and
// line breaks inside fields), missing values, line endings, header-less files, other delimiters, the
// conversions (columns with a dtype, string columns, categorical codes) and every malformed-input error with
// its file, line and column.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/data/csv.h"
#include "tensor/functions.h"
#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem::nn::data;
using tandem_test::expect_error;
using tandem_test::TempDir;
using tandem_test::write_text;

/// Writes `text` to <dir>/<name> and reads it back with `options`.
CsvTable csv(const TempDir& dir, const std::string& text, const CsvOptions& options = CsvOptions(),
             const std::string& name = "data.csv") {
  write_text(dir.file(name), text);
  return read_csv(dir.file(name), options);
}

TEST(NnDataCsv, NumericColumnsByName) {
  TempDir dir;
  CsvTable t = csv(dir, "x,y,label\n1,2.5,0\n-3,1e2,1\n+4, 0.125 ,1\n");
  EXPECT_EQ(t.rows(), 3u);
  EXPECT_EQ(t.cols(), 3u);
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"x", "y", "label"}));
  EXPECT_TRUE(t.has_column("y"));
  EXPECT_FALSE(t.has_column("z"));
  EXPECT_EQ(t.column_index("label"), 2u);
  Tensor y = t.column("y");
  EXPECT_EQ(y.dtype(), kFloat64);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{2.5, 100, 0.125}));
  EXPECT_EQ(t.column(size_t{0}).to_vector<double>(), (std::vector<double>{1, -3, 4}));
  Tensor xy = t.columns({"y", "x"}, kFloat32);
  EXPECT_EQ(xy.sizes(), Dims({3, 2}));
  EXPECT_EQ(xy.dtype(), kFloat32);
  EXPECT_EQ(xy.to_vector<float>(), (std::vector<float>{2.5f, 1, 100, -3, 0.125f, 4}));
  EXPECT_EQ(t.columns({"label", "x"}, kInt64).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1, -3, 1, 4}));
  EXPECT_EQ(t.columns({"x"}).dtype(), kFloat64);
  EXPECT_EQ(t.line_of_row(0), 2u);
  EXPECT_EQ(t.source(), dir.file("data.csv"));
}

TEST(NnDataCsv, QuotedFields) {
  TempDir dir;
  CsvTable t = csv(dir,
                   "name,comment,score\n"
                   "\"Smith, J.\",\"said \"\"hi\"\"\",3\n"
                   "Doe,\"two\nlines\",\"4.5\"\n"
                   "\"\",plain,5\n");
  EXPECT_EQ(t.rows(), 3u);
  EXPECT_EQ(t.string_column("name"), (std::vector<std::string>{"Smith, J.", "Doe", ""}));
  EXPECT_EQ(t.string_column("comment"), (std::vector<std::string>{"said \"hi\"", "two\nlines", "plain"}));
  EXPECT_EQ(t.column("score").to_vector<double>(), (std::vector<double>{3, 4.5, 5}));
  EXPECT_EQ(t.line_of_row(2), 5u);  // the quoted line break moved the third row to line 5
}

TEST(NnDataCsv, MissingValuesAreNaN) {
  TempDir dir;
  CsvTable t = csv(dir, "a,b\n1,\n,NA\n3,4\n  ,nan\n");
  const std::vector<double> a = t.column("a").to_vector<double>(), b = t.column("b").to_vector<double>();
  EXPECT_EQ(a[0], 1);
  EXPECT_TRUE(std::isnan(a[1]));
  EXPECT_EQ(a[2], 3);
  EXPECT_TRUE(std::isnan(a[3]));
  EXPECT_TRUE(std::isnan(b[0]));
  EXPECT_TRUE(std::isnan(b[1]));
  EXPECT_EQ(b[2], 4);
  EXPECT_TRUE(std::isnan(b[3]));
  expect_error([&] { t.columns({"a"}, kInt64); }, {"line 3", "column \"a\"", "missing", "int64"});
  // with na_values emptied, "NA" is text
  CsvTable strict = csv(dir, "a\nNA\n", CsvOptions().na_values({}));
  expect_error([&] { strict.column("a"); }, {"\"NA\" is not a number"});
}

TEST(NnDataCsv, LineEndingsBlankLinesAndByteOrderMark) {
  TempDir dir;
  CsvTable t = csv(dir, "\xEF\xBB\xBFid,v\r\n1,\"a\"\r\n\r\n\n2,b\r\n3,c");
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"id", "v"}));
  EXPECT_EQ(t.string_column("v"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(t.column("id").to_vector<double>(), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(t.line_of_row(1), 5u);
}

TEST(NnDataCsv, NoHeaderAndOtherDelimiters) {
  TempDir dir;
  CsvTable t = csv(dir, "1;2;3\n4;5;6\n", CsvOptions().header(false).delimiter(';'));
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(t.columns({"2", "0"}).to_vector<double>(), (std::vector<double>{3, 1, 6, 4}));
  CsvTable tabs = csv(dir, "a\tb\n'x\ty'\t2\n", CsvOptions().delimiter('\t').quote('\''));
  EXPECT_EQ(tabs.string_column("a"), std::vector<std::string>{"x\ty"});
  // header only: zero rows
  CsvTable empty_rows = csv(dir, "a,b\n");
  EXPECT_EQ(empty_rows.rows(), 0u);
  EXPECT_EQ(empty_rows.columns({"a", "b"}).sizes(), Dims({0, 2}));
}

TEST(NnDataCsv, CategoricalCodes) {
  TempDir dir;
  CsvTable t = csv(dir, "city,n\nParis,1\nBerlin,2\n,3\nParis,4\nAthens,5\n");
  Categorical city = t.categorical("city");
  EXPECT_EQ(city.categories, (std::vector<std::string>{"Athens", "Berlin", "Paris"}));
  EXPECT_EQ(city.codes.dtype(), kInt64);
  EXPECT_EQ(city.codes.to_vector<int64_t>(), (std::vector<int64_t>{2, 1, -1, 2, 0}));
}

TEST(NnDataCsv, InMemoryTableAndParseCsv) {
  CsvTable t = parse_csv("a,b\n1,2\n", CsvOptions(), "inline");
  EXPECT_EQ(t.source(), "inline");
  EXPECT_EQ(t.column("b").item<double>(), 2.0);
  CsvTable built({"p", "q"}, {{"1", "2"}, {"x", "y"}});
  EXPECT_EQ(built.line_of_row(1), 2u);
  EXPECT_EQ(built.categorical("q").codes.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
  expect_error([] { CsvTable({"p"}, {{"1"}, {"2"}}); }, {"1 column names for 2 columns"});
  expect_error([] { CsvTable({"p", "q"}, {{"1"}, {"2", "3"}}); }, {"column \"q\" has 2 values"});
}

TEST(NnDataCsv, MalformedFilesNameFileLineAndColumn) {
  TempDir dir;
  const std::string path = dir.file("bad.csv");
  write_text(path, "a,b,c\n1,2,3\n4,5\n");
  expect_error([&] { read_csv(path); }, {path, "line 3", "column 3", "2 field(s)", "header has 3"});
  write_text(path, "a,b\n1,2\n3,4,5\n");
  expect_error([&] { read_csv(path); }, {path, "line 3", "column 3", "3 field(s)"});
  write_text(path, "a,b\n1,2\n3,\"open\n4,5\n");
  expect_error([&] { read_csv(path); }, {path, "line 3", "column 2", "never closed"});
  write_text(path, "a,b\n1,\"x\"y\n");
  expect_error([&] { read_csv(path); }, {path, "line 2", "column 2", "'y' after the closing quote"});
  write_text(path, "a,a\n1,2\n");
  expect_error([&] { read_csv(path); }, {path, "line 1", "column 2", "\"a\" appears twice"});
  write_text(path, "");
  expect_error([&] { read_csv(path); }, {path, "empty"});
  write_text(path, "a,b\n1,2\n\"3\nx\",abc\n");
  CsvTable t = read_csv(path);
  expect_error([&] { t.column("a"); }, {path, "line 3", "column \"a\" (1)", "\"3\nx\" is not a number"});
  expect_error([&] { t.columns({"b"}); }, {path, "line 3", "column \"b\" (2)", "\"abc\" is not a number"});
  expect_error([&] { t.columns({"b"}, kInt64); }, {path, "line 3", "\"abc\" is not a number"});
  expect_error([&] { t.column("zzz"); }, {path, "no column \"zzz\"", "\"a\", \"b\""});
  expect_error([&] { t.string_column("zzz"); }, {"no column \"zzz\""});
  expect_error([&] { t.columns({"a"}, kBool); }, {"float32, float64 or int64", "bool"});
  expect_error([&] { t.line_of_row(2); }, {"row 2", "2 rows"});
  write_text(path, "a\n1.5\n");
  expect_error([&] { read_csv(path).columns({"a"}, kInt64); }, {"line 2", "\"1.5\" is not a whole number"});
  write_text(path, "a\n1e999\n");
  expect_error([&] { read_csv(path).column("a"); }, {"line 2", "out of the range"});
  expect_error([&] { read_csv(dir.file("absent.csv")); }, {dir.file("absent.csv"), "cannot open"});
  expect_error([] { parse_csv("a", CsvOptions().delimiter('"')); }, {"delimiter", "quote"});
}

}  // namespace

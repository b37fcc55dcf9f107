// Δm% on hand examples, mean ± std over seeds, and the results table as Markdown, CSV, aligned text and files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mtl/results.h"

namespace {

using namespace tandem;
using mtl::delta_m;
using mtl::ResultsTable;

TEST(MtlDeltaM, HigherIsBetterMetrics) {
  // Left 10 % better than STL, right unchanged: Δm = (100/2)(−0.10 + 0) = −5 (negative: the MTL model wins).
  EXPECT_NEAR(delta_m({0.88, 0.8}, {0.8, 0.8}, {true, true}), -5.0, 1e-12);
  // One better by 10 %, one worse by 5 %: (100/2)(−0.10 + 0.05) = −2.5.
  EXPECT_NEAR(delta_m({0.88, 0.76}, {0.8, 0.8}, {true, true}), -2.5, 1e-12);
  // Both worse: positive.
  EXPECT_NEAR(delta_m({0.72, 0.76}, {0.8, 0.8}, {true, true}), 7.5, 1e-12);
  EXPECT_NEAR(delta_m({0.8, 0.8}, {0.8, 0.8}, {true, true}), 0.0, 1e-12);
}

TEST(MtlDeltaM, LowerIsBetterMetricsFlipTheSign) {
  // An error 25 % higher than STL is worse: +25.
  EXPECT_NEAR(delta_m({0.5}, {0.4}, {false}), 25.0, 1e-12);
  // An error 25 % lower is better: −25.
  EXPECT_NEAR(delta_m({0.3}, {0.4}, {false}), -25.0, 1e-12);
  // Mixed: accuracy +12.5 % (−12.5) and MSE −25 % (−25): mean −18.75.
  EXPECT_NEAR(delta_m({0.9, 0.3}, {0.8, 0.4}, {true, false}), -18.75, 1e-12);
  // Accuracy better, error worse by the same relative amount: they cancel.
  EXPECT_NEAR(delta_m({0.88, 0.44}, {0.8, 0.4}, {true, false}), 0.0, 1e-12);
}

TEST(MtlDeltaM, Errors) {
  EXPECT_THROW(delta_m({0.9, 0.8}, {0.8}, {true, true}), Error);
  EXPECT_THROW(delta_m({0.9}, {0.8}, {true, false}), Error);
  EXPECT_THROW(delta_m({}, {}, {}), Error);
  EXPECT_THROW(delta_m({0.9, 0.1}, {0.8, 0.0}, {true, false}), Error);
}

TEST(MtlMeanStd, SampleStandardDeviation) {
  const mtl::MeanStd m = mtl::mean_std({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(m.mean, 2.5);
  EXPECT_NEAR(m.std, std::sqrt(5.0 / 3.0), 1e-12);  // n − 1 = 3 in the denominator
  EXPECT_EQ(m.count, 4u);
  const mtl::MeanStd one = mtl::mean_std({0.7});
  EXPECT_DOUBLE_EQ(one.mean, 0.7);
  EXPECT_DOUBLE_EQ(one.std, 0.0);
  EXPECT_THROW(mtl::mean_std({}), Error);
}

/// Two methods x two seeds; the STL row is added second but shown first.
ResultsTable two_by_two() {
  ResultsTable table({{"left acc", true}, {"right acc", true}});
  table.add_run("hps + pcgrad", {0.86, 0.83});
  table.add_run("stl", {0.85, 0.84});
  table.add_run("hps + pcgrad", {0.88, 0.85});
  table.add_run("stl", {0.85, 0.82});
  return table;
}

TEST(MtlResultsTable, CellsAndComputedDeltaM) {
  const ResultsTable table = two_by_two();
  EXPECT_EQ(table.rows(), (std::vector<std::string>{"stl", "hps + pcgrad"}));
  EXPECT_NEAR(table.cell("hps + pcgrad", 0).mean, 0.87, 1e-12);
  EXPECT_NEAR(table.cell("hps + pcgrad", 0).std, std::sqrt(2.0) * 0.01, 1e-12);
  EXPECT_EQ(table.cell("stl", 1).count, 2u);
  // Each pcgrad run against the STL means (0.85, 0.83): −(100/2)(0.01/0.85) and −(100/2)(0.03/0.85 + 0.02/0.83).
  const double run1 = -50.0 * (0.01 / 0.85), run2 = -50.0 * (0.03 / 0.85 + 0.02 / 0.83);
  const auto delta = table.delta_m_cell("hps + pcgrad");
  ASSERT_TRUE(delta.has_value());
  EXPECT_NEAR(delta->mean, (run1 + run2) / 2, 1e-9);
  EXPECT_NEAR(delta->std, std::abs(run1 - run2) / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(table.delta_m_cell("stl")->mean, 0.0, 1e-12);
  EXPECT_THROW(table.cell("mgda", 0), Error);
  EXPECT_THROW(table.cell("stl", 2), Error);
}

TEST(MtlResultsTable, Markdown) {
  EXPECT_EQ(two_by_two().to_markdown(),
            "| method       |      left acc ↑ |     right acc ↑ |        Δm% ↓ |\n"
            "|:-------------|----------------:|----------------:|-------------:|\n"
            "| stl          | 0.8500 ± 0.0000 | 0.8300 ± 0.0141 |  0.00 ± 0.85 |\n"
            "| hps + pcgrad | 0.8700 ± 0.0141 | 0.8400 ± 0.0141 | -1.78 ± 1.68 |\n");
}

TEST(MtlResultsTable, AlignedText) {
  std::ostringstream out;
  two_by_two().print(out);
  EXPECT_EQ(out.str(),
            "method             left acc ↑      right acc ↑         Δm% ↓\n"
            "------------  ---------------  ---------------  ------------\n"
            "stl           0.8500 ± 0.0000  0.8300 ± 0.0141   0.00 ± 0.85\n"
            "hps + pcgrad  0.8700 ± 0.0141  0.8400 ± 0.0141  -1.78 ± 1.68\n");
}

TEST(MtlResultsTable, CsvIsParseableAndExact) {
  const ResultsTable table = two_by_two();
  std::istringstream csv(table.to_csv());
  std::string line;
  std::vector<std::vector<std::string>> rows;
  while (std::getline(csv, line)) {
    std::vector<std::string> fields;
    std::stringstream split(line);
    std::string field;
    while (std::getline(split, field, ',')) fields.push_back(field);
    rows.push_back(fields);
  }
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"method", "seeds", "left acc mean", "left acc std", "right acc mean",
                                               "right acc std", "delta_m% mean", "delta_m% std"}));
  EXPECT_EQ(rows[1][0], "stl");
  EXPECT_EQ(rows[2][0], "hps + pcgrad");
  for (size_t r = 1; r < rows.size(); ++r) {
    ASSERT_EQ(rows[r].size(), rows[0].size());
    EXPECT_EQ(rows[r][1], "2");
    for (size_t c = 2; c < rows[r].size(); ++c) {
      char* end = nullptr;
      std::strtod(rows[r][c].c_str(), &end);
      EXPECT_EQ(*end, '\0') << "field " << rows[r][c] << " of row " << r;
    }
  }
  // Numbers read back exactly.
  EXPECT_EQ(std::strtod(rows[2][2].c_str(), nullptr), table.cell("hps + pcgrad", 0).mean);
  EXPECT_EQ(std::strtod(rows[2][7].c_str(), nullptr), table.delta_m_cell("hps + pcgrad")->std);
}

TEST(MtlResultsTable, GivenDeltaMAndLowerIsBetterColumns) {
  ResultsTable table({{"price mse", false}, {"price mae", false}});
  table.add_run("hps + ew", {0.25, 0.4}, 1.5);
  table.add_run("hps + ew", {0.27, 0.42}, 2.5);
  table.add_run("mmoe, 8 experts", {0.2, 0.35}, -3.0);
  std::ostringstream text;
  table.print(text);
  EXPECT_EQ(table.to_markdown(),
            "| method          |     price mse ↓ |     price mae ↓ |        Δm% ↓ |\n"
            "|:----------------|----------------:|----------------:|-------------:|\n"
            "| hps + ew        | 0.2600 ± 0.0141 | 0.4100 ± 0.0141 |  2.00 ± 0.71 |\n"
            "| mmoe, 8 experts | 0.2000 ± 0.0000 | 0.3500 ± 0.0000 | -3.00 ± 0.00 |\n");
  // A comma in a row name is quoted in the CSV.
  EXPECT_NE(table.to_csv().find("\n\"mmoe, 8 experts\",1,0.2,0,0.35,0,-3,0\n"), std::string::npos) << table.to_csv();
  // A row either gives Δm for every run or for none.
  EXPECT_THROW(table.add_run("hps + ew", {0.3, 0.5}), Error);
}

TEST(MtlResultsTable, NoBaselineLeavesDeltaMEmpty) {
  ResultsTable table({{"acc", true}});
  table.add_run("hps + ew", {0.5});
  EXPECT_FALSE(table.delta_m_cell("hps + ew").has_value());
  EXPECT_EQ(table.to_markdown(),
            "| method   |           acc ↑ | Δm% ↓ |\n"
            "|:---------|----------------:|------:|\n"
            "| hps + ew | 0.5000 ± 0.0000 |     — |\n");
  EXPECT_EQ(table.to_csv(), "method,seeds,acc mean,acc std,delta_m% mean,delta_m% std\nhps + ew,1,0.5,0,,\n");
  // Adding the baseline later fills it in; a custom baseline name and precision.
  ResultsTable custom({{"acc", true}}, {.baseline_row = "single task", .metric_precision = 2, .delta_precision = 1});
  custom.add_run("hps + ew", {0.5});
  custom.add_run("single task", {0.4});
  EXPECT_EQ(custom.rows(), (std::vector<std::string>{"single task", "hps + ew"}));
  EXPECT_NEAR(custom.delta_m_cell("hps + ew")->mean, -25.0, 1e-12);
  EXPECT_NE(custom.to_markdown().find("| hps + ew    | 0.50 ± 0.00 | -25.0 ± 0.0 |"), std::string::npos)
      << custom.to_markdown();
}

TEST(MtlResultsTable, ForTasksUsesMetricNamesAndDirections) {
  std::vector<mtl::Task> tasks = {
      {"left", mtl::losses::cross_entropy(), {mtl::metrics::accuracy()}, std::nullopt},
      {"price", mtl::losses::mse(), {mtl::metrics::mse(), mtl::metrics::mae()}, std::nullopt}};
  const ResultsTable table = ResultsTable::for_tasks(tasks);
  ASSERT_EQ(table.columns().size(), 3u);
  EXPECT_EQ(table.columns()[0].name, "left accuracy");
  EXPECT_TRUE(table.columns()[0].higher_is_better);
  EXPECT_EQ(table.columns()[2].name, "price mae");
  EXPECT_FALSE(table.columns()[2].higher_is_better);
}

TEST(MtlResultsTable, Errors) {
  EXPECT_THROW(ResultsTable(std::vector<mtl::ResultsColumn>{}), Error);
  EXPECT_THROW(ResultsTable({{"acc", true}}, {.metric_precision = -1}), Error);
  ResultsTable table({{"left acc", true}, {"right acc", true}});
  EXPECT_THROW(table.add_run("hps", {0.5}), Error);
  EXPECT_THROW(table.add_run("", {0.5, 0.5}), Error);
  EXPECT_THROW(table.delta_m_cell("hps"), Error);
}

TEST(MtlResultsTable, WritesMarkdownAndCsvFiles) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("tandem-results-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
       std::to_string(std::rand()));
  std::filesystem::remove_all(dir);
  const ResultsTable table = two_by_two();
  const std::string base = (dir / "nested" / "multi_fashion").string();  // the folders are created
  table.write(base);
  auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  EXPECT_EQ(read(base + ".md"), table.to_markdown());
  EXPECT_EQ(read(base + ".csv"), table.to_csv());
  // Writing again replaces the files; no temporary file is left behind.
  ResultsTable other({{"acc", true}});
  other.add_run("stl", {0.9});
  other.write(base);
  EXPECT_EQ(read(base + ".md"), other.to_markdown());
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "nested")) {
    ++files;
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
  EXPECT_EQ(files, 2u);
  // A path below a regular file cannot be written.
  EXPECT_THROW(table.write(base + ".md/inside"), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace

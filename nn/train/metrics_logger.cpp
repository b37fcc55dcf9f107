// MetricsLogger: CSV cells and header handling (including reading back the header of an existing file) and
// JSON Lines rows written with nlohmann-json.
#include "nn/train/metrics_logger.h"

#include <charconv>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "backends/types.h"

namespace tandem::nn {

namespace {

std::string quote_csv(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

/// Splits one CSV line (RFC 4180 quoting; the line holds no line breaks) into its cells.
std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cells.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

std::string join_csv(const std::vector<std::string>& cells) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + cells[i];
  return line;
}

}  // namespace

std::string LogValue::csv() const {
  if (const auto* d = std::get_if<double>(&value_)) {
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), *d);
    return std::string(buffer, result.ptr);
  }
  if (const auto* i = std::get_if<int64_t>(&value_)) return std::to_string(*i);
  return quote_csv(std::get<std::string>(value_));
}

void append(LogRow& row, const std::string& prefix, const std::vector<std::pair<std::string, double>>& values) {
  for (const auto& [name, value] : values) row.emplace_back(prefix + name, value);
}

MetricsLogger::MetricsLogger(std::filesystem::path csv_path, std::filesystem::path jsonl_path)
    : csv_path_(std::move(csv_path)), jsonl_path_(std::move(jsonl_path)) {
  TD_CHECK(!csv_path_.empty() || !jsonl_path_.empty(), "MetricsLogger: both paths are empty");
  if (csv_path_.empty() || !std::filesystem::exists(csv_path_)) return;
  std::ifstream in(csv_path_);
  TD_CHECK(in.good(), "MetricsLogger: ", csv_path_.string(), ": cannot open the existing file to read its header");
  std::string header;
  std::getline(in, header);
  if (!header.empty() && header.back() == '\r') header.pop_back();
  if (header.empty()) return;  // an empty file: the first row writes the header
  columns_ = split_csv_line(header);
  header_written_ = true;
}

void MetricsLogger::log(const LogRow& row) {
  TD_CHECK(!row.empty(), "MetricsLogger::log: empty row");
  std::set<std::string> names;
  for (const auto& [name, value] : row) {
    (void)value;
    TD_CHECK(!name.empty(), "MetricsLogger::log: a column has an empty name");
    TD_CHECK(names.insert(name).second, "MetricsLogger::log: column '", name, "' appears twice in the row");
  }

  if (!csv_path_.empty()) {
    if (columns_.empty())
      for (const auto& [name, value] : row) columns_.push_back(name);
    std::vector<std::string> cells(columns_.size());
    for (const auto& [name, value] : row) {
      size_t at = 0;
      while (at < columns_.size() && columns_[at] != name) ++at;
      TD_CHECK(at < columns_.size(), "MetricsLogger::log: ", csv_path_.string(), ": column '", name,
               "' is not in the header (", join_csv(columns_),
               "); log every column in the first row, with NaN for values not computed yet");
      cells[at] = value.csv();
    }
    std::ofstream out(csv_path_, std::ios::app);
    TD_CHECK(out.good(), "MetricsLogger::log: cannot open ", csv_path_.string(), " for appending");
    if (!header_written_) {
      std::vector<std::string> quoted;
      for (const auto& c : columns_) quoted.push_back(quote_csv(c));
      out << join_csv(quoted) << '\n';
    }
    out << join_csv(cells) << '\n';
    out.flush();
    TD_CHECK(out.good(), "MetricsLogger::log: writing ", csv_path_.string(), " failed");
    header_written_ = true;
  }

  if (!jsonl_path_.empty()) {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (const auto& [name, value] : row)
      std::visit([&, &key = name](const auto& v) { object[key] = v; }, value.value());
    std::ofstream out(jsonl_path_, std::ios::app);
    TD_CHECK(out.good(), "MetricsLogger::log: cannot open ", jsonl_path_.string(), " for appending");
    out << object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
    out.flush();
    TD_CHECK(out.good(), "MetricsLogger::log: writing ", jsonl_path_.string(), " failed");
  }
}

}  // namespace tandem::nn

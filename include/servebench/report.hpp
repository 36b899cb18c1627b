// servebench — reading results: a text or markdown table over any number of targets and levels, with a column that
// relates each target to a baseline (nanobench's relative(): "6.6x" is that target's throughput over the
// baseline's at the same level); the failures and warnings under it; and the charts of the same results, grouped by
// target label. Nothing here measures; everything reads LevelResults as the schedulers return them.
//
//   servebench::print_comparison(std::cout, sweep.levels, {"hf"});      // baseline "hf"
//   servebench::chart::write_svg("throughput.svg", render_grouped_bars(servebench::throughput_chart(levels)));
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "artifact.hpp"
#include "chart.hpp"
#include "result.hpp"

namespace servebench {

// A plain text table: a header row, aligned columns (numbers right, text left), a rule under the header.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}

  Table& row(std::vector<std::string> cells) {
    cells.resize(header_.size());
    rows_.push_back(std::move(cells));
    return *this;
  }
  // A rule between groups of rows (e.g. one concurrency level and the next).
  Table& separator() {
    rows_.emplace_back();
    return *this;
  }

  // Markdown (GitHub's pipe tables): numbers right-aligned, group rules left out.
  void print_markdown(std::ostream& out) const {
    const auto numeric = numeric_columns();
    auto line = [&](const std::vector<std::string>& cells) {
      out << "|";
      for (const auto& c : cells) {
        std::string cell = c;
        for (std::size_t pos = cell.find('|'); pos != std::string::npos; pos = cell.find('|', pos + 2))
          cell.replace(pos, 1, "\\|");
        out << " " << cell << " |";
      }
      out << "\n";
    };
    line(header_);
    out << "|";
    for (std::size_t c = 0; c < header_.size(); ++c) out << (numeric[c] ? " ---: |" : " --- |");
    out << "\n";
    for (const auto& r : rows_)
      if (!r.empty()) line(r);
  }

  void print(std::ostream& out) const {
    std::vector<std::size_t> width(header_.size(), 0);
    const auto numeric = numeric_columns();
    for (std::size_t c = 0; c < header_.size(); ++c) width[c] = display_width(header_[c]);
    for (const auto& r : rows_)
      for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], display_width(r[c]));
    auto line = [&](const std::vector<std::string>& cells) {
      std::string text;
      for (std::size_t c = 0; c < cells.size(); ++c) {
        const std::string pad(width[c] - display_width(cells[c]), ' ');
        text += (c ? "  " : "") + (numeric[c] ? pad + cells[c] : cells[c] + pad);
      }
      while (!text.empty() && text.back() == ' ') text.pop_back();
      out << text << "\n";
    };
    std::size_t total = 0;
    for (std::size_t c = 0; c < width.size(); ++c) total += width[c] + (c ? 2 : 0);
    line(header_);
    out << std::string(total, '-') << "\n";
    for (const auto& r : rows_) {
      if (r.empty())
        out << std::string(total, '-') << "\n";
      else
        line(r);
    }
  }

 private:
  std::vector<bool> numeric_columns() const {
    std::vector<bool> numeric(header_.size(), true);
    for (const auto& r : rows_)
      for (std::size_t c = 0; c < r.size(); ++c)
        if (!r[c].empty() && !looks_numeric(r[c])) numeric[c] = false;
    return numeric;
  }
  // Code points, so "±" or "≈" do not push a column out of line.
  static std::size_t display_width(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  // "12", "0.31", "6.6x", "-", "n/a": aligned right like numbers.
  static bool looks_numeric(const std::string& s) {
    if (s == "-" || s == "n/a") return true;
    const std::size_t n = (s.back() == 'x' || s.back() == '%') ? s.size() - 1 : s.size();
    if (n == 0) return false;
    for (std::size_t i = 0; i < n; ++i)
      if (!(std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == '-' || s[i] == '+')) return false;
    return true;
  }

  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

struct ReportOptions {
  std::string baseline;                       // the target others are related to; empty: the first target
  std::map<std::string, std::string> colors;  // per target label; others take the palette in order
  std::string subtitle;                       // charts' second line (model, hardware, time scale, ...)
};

namespace detail {

inline std::string fixed(double v, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

inline std::string level_text(double level) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", level);
  return text;
}

inline std::string baseline_of(const std::vector<LevelResult>& levels, const ReportOptions& options) {
  if (!options.baseline.empty()) return options.baseline;
  const auto labels = target_labels(levels);
  return labels.empty() ? std::string{} : labels.front();
}

// The distinct levels in ascending order (a sweep's levels, whatever order they ran in).
inline std::vector<double> level_values(const std::vector<LevelResult>& levels) {
  std::vector<double> out;
  for (const auto& l : levels)
    if (std::find(out.begin(), out.end(), l.summary.level) == out.end()) out.push_back(l.summary.level);
  std::sort(out.begin(), out.end());
  return out;
}

inline const LevelResult* find_level(const std::vector<LevelResult>& levels, const std::string& label, double level) {
  for (const auto& l : levels)
    if (l.target.label == label && l.summary.level == level) return &l;
  return nullptr;
}

// What the x axis and the table call the level: "concurrency" for closed loops, "rate (req/s)" for open ones.
inline std::string level_name(const std::vector<LevelResult>& levels, bool for_axis) {
  bool closed = false, open = false;
  for (const auto& l : levels) (l.config.mode == LoopMode::open_loop ? open : closed) = true;
  if (closed && !open) return for_axis ? "concurrent requests" : "concurrency";
  if (open && !closed) return for_axis ? "requests per second (offered)" : "rate";
  return "level";
}

inline std::string color_of(const ReportOptions& options, const std::vector<std::string>& labels,
                            const std::string& label) {
  if (const auto it = options.colors.find(label); it != options.colors.end()) return it->second;
  const auto& palette = chart::detail::palette();
  const auto at = std::find(labels.begin(), labels.end(), label) - labels.begin();
  return palette[static_cast<std::size_t>(at) % palette.size()];
}

// Labels with the baseline first, then the others in order of appearance.
inline std::vector<std::string> ordered_labels(const std::vector<LevelResult>& levels, const std::string& baseline) {
  auto labels = target_labels(levels);
  const auto it = std::find(labels.begin(), labels.end(), baseline);
  if (it != labels.end()) std::rotate(labels.begin(), it, it + 1);
  return labels;
}

}  // namespace detail

// `level`'s throughput over the baseline's at the same level; empty when the baseline did not run that level or
// served nothing.
inline std::optional<double> relative_throughput(const std::vector<LevelResult>& levels, const LevelResult& level,
                                                 const std::string& baseline) {
  const auto* base = detail::find_level(levels, baseline, level.summary.level);
  if (!base || base->summary.throughput_req_per_sec <= 0) return std::nullopt;
  return level.summary.throughput_req_per_sec / base->summary.throughput_req_per_sec;
}

// One row per (level, target): requests that succeeded and failed, the failure rate, the load the server saw
// (requests in flight, mean/peak, beside the level asked for), throughput, latency, streaming times when any target
// streamed, and the throughput relative to the baseline. Levels ascend; a rule separates them.
template <class Levels = std::vector<LevelResult>>
Table comparison_table(const Levels& levels, const ReportOptions& options = {}) {
  const std::string baseline = detail::baseline_of(levels, options);
  bool streamed = false;
  for (const auto& l : levels) streamed = streamed || l.summary.ttft.has_value();
  std::vector<std::string> header = {detail::level_name(levels, false),
                                     "target",
                                     "ok",
                                     "failed",
                                     "fail %",
                                     "in flight",
                                     "req/s",
                                     "in tok/s",
                                     "out tok/s",
                                     "mean s",
                                     "p95 s"};
  if (streamed) header.insert(header.end(), {"TTFT p95 ms", "TPOT mean ms"});
  header.push_back("vs " + baseline);
  Table table(header);
  bool first = true;
  for (double value : detail::level_values(levels)) {
    if (!first) table.separator();
    first = false;
    for (const auto& label : detail::ordered_labels(levels, baseline)) {
      const auto* l = detail::find_level(levels, label, value);
      if (!l) continue;
      const auto& s = l->summary;
      std::vector<std::string> row = {detail::level_text(value),
                                      label,
                                      std::to_string(s.successful),
                                      std::to_string(s.failed + s.interrupted),
                                      s.sent ? detail::fixed(100.0 * static_cast<double>(s.failed) / s.sent, 1) : "-",
                                      detail::fixed(s.mean_in_flight, 1) + "/" + std::to_string(s.peak_in_flight),
                                      detail::fixed(s.throughput_req_per_sec, 2),
                                      s.input_tokens_reported ? detail::fixed(s.input_tokens_per_sec, 1) : "-",
                                      detail::fixed(s.output_tokens_per_sec, 1),
                                      s.latency ? detail::fixed(s.latency->mean, 3) : "-",
                                      s.latency ? detail::fixed(s.latency->p95, 3) : "-"};
      if (streamed) {
        row.push_back(s.ttft ? detail::fixed(s.ttft->p95 * 1e3, 1) : "-");
        row.push_back(s.tpot ? detail::fixed(s.tpot->mean * 1e3, 2) : "-");
      }
      const auto ratio = relative_throughput(levels, *l, baseline);
      row.push_back(ratio ? detail::fixed(*ratio, 2) + "x" : "-");
      table.row(std::move(row));
    }
  }
  return table;
}

// Lines for a person under a table: every level with failures (counted by kind, the first message quoted) and
// every warning a level raised.
template <class Levels = std::vector<LevelResult>>
std::vector<std::string> failure_lines(const Levels& levels) {
  std::vector<std::string> out;
  for (const auto& l : levels) {
    const auto& s = l.summary;
    if (s.failed == 0 && s.interrupted == 0) continue;
    std::string line = l.target.label + " at " + detail::level_name({l}, false) + " " + detail::level_text(s.level) +
                       ":";
    if (s.failed) line += " " + std::to_string(s.failed) + " failed";
    for (const auto& [kind, count] : s.failed_by_kind) line += ", " + std::to_string(count) + " " + kind;
    if (s.interrupted) line += std::string(s.failed ? ";" : "") + " " + std::to_string(s.interrupted) + " interrupted";
    for (const auto& r : l.records)
      if (!r.ok() && !r.interrupted()) {
        line += " (first: " + r.error_message + ")";
        break;
      }
    out.push_back(line);
  }
  for (const auto& l : levels)
    for (const auto& w : l.warnings) out.push_back("warning: " + w);
  return out;
}

// The table, then the failure and warning lines, indented.
inline void print_comparison(std::ostream& out, const std::vector<LevelResult>& levels,
                             const ReportOptions& options = {}) {
  comparison_table(levels, options).print(out);
  for (const auto& line : failure_lines(levels)) out << "  " << line << "\n";
}

// A markdown report of an artifact: what ran (version, time, host, command, targets), the table, failures and
// warnings.
template <class A = Artifact>
void print_markdown_report(std::ostream& out, const A& artifact, const ReportOptions& options = {}) {
  const auto& m = artifact.metadata;
  out << "# servebench report\n\n";
  out << "- servebench " << m.servebench_version << ", " << m.utc_time << ", host `" << m.hostname << "`\n";
  if (!m.command_line.empty()) {
    std::string command;
    for (const auto& a : m.command_line) command += (command.empty() ? "" : " ") + a;
    out << "- command: `" << command << "`\n";
  }
  for (const auto& t : artifact.targets())
    out << "- target `" << t.label << "`: " << (t.url.empty() ? "-" : t.url) << " (" << t.dialect
        << (t.model.empty() ? "" : ", model " + t.model) << ")\n";
  if (m.time_scale)
    out << "- simulated servers ran " << detail::level_text(*m.time_scale) << "x faster than real time\n";
  if (artifact.interrupted()) out << "- **interrupted**: the levels below are what completed\n";
  out << "\n";
  comparison_table(artifact.levels, options).print_markdown(out);
  const auto lines = failure_lines(artifact.levels);
  if (!lines.empty()) out << "\n";
  for (const auto& line : lines) out << "- " << line << "\n";
}

namespace detail {

// Sets a chart's subtitle, x axis and categories from the levels; returns the level values in category order.
template <class Chart>
std::vector<double> level_axis(Chart& c, const std::vector<LevelResult>& levels, const ReportOptions& options) {
  c.subtitle = options.subtitle;
  c.x_label = level_name(levels, true);
  const auto values = level_values(levels);
  for (double v : values) c.categories.push_back(level_text(v));
  return values;
}

// `get(summary)` for each of `label`'s levels at `values` (0 where it did not run or had no sample).
template <class Get>
std::vector<double> per_level(const std::vector<LevelResult>& levels, const std::string& label,
                              const std::vector<double>& values, Get get) {
  std::vector<double> out;
  for (double v : values) {
    const auto* l = find_level(levels, label, v);
    out.push_back(l ? get(l->summary) : 0.0);
  }
  return out;
}

}  // namespace detail

// Throughput per level, one bar per target (the baseline first), each group labelled with the last target's
// ratio to the baseline.
inline chart::BarChart throughput_chart(const std::vector<LevelResult>& levels, const ReportOptions& options = {}) {
  const auto labels = detail::ordered_labels(levels, detail::baseline_of(levels, options));
  chart::BarChart c;
  c.title = "Throughput";
  for (std::size_t i = 0; i < labels.size(); ++i) c.title += (i ? " vs " : ": ") + labels[i];
  c.y_label = "throughput (requests/s)";
  const auto values = detail::level_axis(c, levels, options);
  for (const auto& label : labels)
    c.series.push_back(
        {label,
         detail::per_level(levels, label, values, [](const LevelSummary& s) { return s.throughput_req_per_sec; }),
         detail::color_of(options, target_labels(levels), label), false});
  return c;
}

// Mean (solid) and p95 (dashed) latency per level, one colour per target.
inline chart::LineChart latency_chart(const std::vector<LevelResult>& levels, const ReportOptions& options = {}) {
  chart::LineChart c;
  c.title = "Latency per request: mean and p95";
  c.y_label = "latency (s)";
  const auto values = detail::level_axis(c, levels, options);
  for (const auto& label : detail::ordered_labels(levels, detail::baseline_of(levels, options))) {
    const std::string color = detail::color_of(options, target_labels(levels), label);
    c.series.push_back({label + " mean",
                        detail::per_level(levels, label, values,
                                          [](const LevelSummary& s) { return s.latency ? s.latency->mean : 0.0; }),
                        color, false});
    c.series.push_back({label + " p95",
                        detail::per_level(levels, label, values,
                                          [](const LevelSummary& s) { return s.latency ? s.latency->p95 : 0.0; }),
                        color, true});
  }
  return c;
}

// Mean TTFT and TPOT (ms) per level for every target that streamed; empty when none did.
inline std::optional<chart::TtftTpotChart> ttft_tpot_chart(const std::vector<LevelResult>& levels,
                                                           const ReportOptions& options = {}) {
  std::vector<LevelResult> streamed;
  for (const auto& l : levels)
    if (l.summary.ttft) streamed.push_back(l);
  if (streamed.empty()) return std::nullopt;
  chart::TtftTpotChart c;
  c.title = "Streaming: time to first token and time per output token";
  const auto values = detail::level_axis(c, streamed, options);
  for (const auto& label : detail::ordered_labels(streamed, detail::baseline_of(levels, options))) {
    const std::string color = detail::color_of(options, target_labels(levels), label);
    c.ttft.push_back({label,
                      detail::per_level(streamed, label, values,
                                        [](const LevelSummary& s) { return s.ttft ? s.ttft->mean * 1e3 : 0.0; }),
                      color, false});
    c.tpot.push_back({label,
                      detail::per_level(streamed, label, values,
                                        [](const LevelSummary& s) { return s.tpot ? s.tpot->mean * 1e3 : 0.0; }),
                      color, false});
  }
  return c;
}

}  // namespace servebench

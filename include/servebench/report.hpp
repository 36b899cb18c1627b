// servebench — reading results: a text or markdown table over any number of targets and levels, with a column that
// relates each target to a baseline (nanobench's relative(): "6.6x" is that target's throughput over the
// baseline's at the same level; with repetitions "1.80x [1.50, 2.10] *", its 95% interval and whether that
// excludes 1); the failures and warnings under it; and the charts of the same results, grouped by
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
#include "modelled_time.hpp"
#include "repetitions.hpp"
#include "result.hpp"

namespace servebench {

// A plain text table: a header row, aligned columns (numbers right, text left), a rule under the header. The
// class is a template so that its body is built only where a table is (see "Deferred" in serialize.hpp): callers
// name it Table and never name its parameter.
template <class = void>
class BasicTable {
 public:
  explicit BasicTable(std::vector<std::string> header) : header_(std::move(header)) {}

  BasicTable& row(std::vector<std::string> cells) {
    cells.resize(header_.size());
    rows_.push_back(std::move(cells));
    return *this;
  }
  // A rule between groups of rows (e.g. one concurrency level and the next).
  BasicTable& separator() {
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
using Table = BasicTable<>;

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

template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::string baseline_of(const Levels& levels, const ReportOptions& options) {
  if (!options.baseline.empty()) return options.baseline;
  const auto labels = target_labels(levels);
  return labels.empty() ? std::string{} : labels.front();
}

// The distinct levels in ascending order (a sweep's levels, whatever order they ran in).
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::vector<double> level_values(const Levels& levels) {
  std::vector<double> out;
  for (const auto& l : levels)
    if (std::find(out.begin(), out.end(), l.summary.level) == out.end()) out.push_back(l.summary.level);
  std::sort(out.begin(), out.end());
  return out;
}

template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
const LevelResult* find_level(const Levels& levels, const std::string& label, double level) {
  for (const auto& l : levels)
    if (l.target.label == label && l.summary.level == level) return &l;
  return nullptr;
}

// What the x axis and the table call the level: "concurrency" for closed loops, "rate (req/s)" for open ones.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::string level_name(const Levels& levels, bool for_axis) {
  bool closed = false, open = false;
  for (const auto& l : levels) (l.config.mode == LoopMode::open_loop ? open : closed) = true;
  if (closed && !open) return for_axis ? "concurrent requests" : "concurrency";
  if (open && !closed) return for_axis ? "requests per second (offered)" : "rate";
  return "level";
}

template <class = void>  // deferred: see serialize.hpp
std::string color_of(const ReportOptions& options, const std::vector<std::string>& labels, const std::string& label) {
  if (const auto it = options.colors.find(label); it != options.colors.end()) return it->second;
  const auto& palette = chart::detail::palette();
  const auto at = std::find(labels.begin(), labels.end(), label) - labels.begin();
  return palette[static_cast<std::size_t>(at) % palette.size()];
}

// Labels with the baseline first, then the others in order of appearance.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::vector<std::string> ordered_labels(const Levels& levels, const std::string& baseline) {
  auto labels = target_labels(levels);
  const auto it = std::find(labels.begin(), labels.end(), baseline);
  if (it != labels.end()) std::rotate(labels.begin(), it, it + 1);
  return labels;
}

}  // namespace detail

// `level`'s throughput over the baseline's at the same level; empty when the baseline did not run that level or
// served nothing.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::optional<double> relative_throughput(const Levels& levels, const LevelResult& level, const std::string& baseline) {
  const auto* base = detail::find_level(levels, baseline, level.summary.level);
  if (!base || base->summary.throughput_req_per_sec <= 0) return std::nullopt;
  return level.summary.throughput_req_per_sec / base->summary.throughput_req_per_sec;
}

// `level`'s throughput over the baseline's at the same level over their repetitions, with its interval: paired by
// repetition index when both ran the same repetitions (an interleaved sweep), else unpaired (see RatioInterval).
// Empty when the baseline did not run that level or served nothing.
template <class Levels = std::vector<LevelResult>>
std::optional<deferred<RatioInterval, Levels>> relative_throughput_interval(const Levels& levels,
                                                                            const LevelResult& level,
                                                                            const std::string& baseline,
                                                                            double confidence = 0.95) {
  std::vector<double> a, b;
  std::vector<std::size_t> index_a, index_b;
  for (const auto* r : repetitions_of(levels, level.target.label, level.summary.level))
    a.push_back(r->summary.throughput_req_per_sec), index_a.push_back(r->repetition);
  for (const auto* r : repetitions_of(levels, baseline, level.summary.level))
    b.push_back(r->summary.throughput_req_per_sec), index_b.push_back(r->repetition);
  return ratio_interval(a, b, index_a == index_b, confidence);
}

namespace detail {

// The figures of one (level, target) over its repetitions, as one summary: counts are totals, the peak in flight
// the highest, every other figure the mean over the repetitions.
template <class Runs>  // deferred: see serialize.hpp
LevelSummary mean_over_repetitions(const Runs& runs) {
  LevelSummary s = runs.front()->summary;
  if (runs.size() == 1) return s;
  const double k = static_cast<double>(runs.size());
  auto mean_of = [&](auto get) {
    double sum = 0;
    for (const auto* r : runs) sum += get(r->summary);
    return sum / k;
  };
  s.sent = s.successful = s.failed = s.interrupted = 0;
  s.failed_by_kind.clear();
  for (const auto* r : runs) {
    s.sent += r->summary.sent;
    s.successful += r->summary.successful;
    s.failed += r->summary.failed;
    s.interrupted += r->summary.interrupted;
    s.peak_in_flight = std::max(s.peak_in_flight, r->summary.peak_in_flight);
    for (const auto& [kind, count] : r->summary.failed_by_kind) s.failed_by_kind[kind] += count;
  }
  s.mean_in_flight = mean_of([](const LevelSummary& x) { return x.mean_in_flight; });
  s.throughput_req_per_sec = mean_of([](const LevelSummary& x) { return x.throughput_req_per_sec; });
  s.output_tokens_per_sec = mean_of([](const LevelSummary& x) { return x.output_tokens_per_sec; });
  for (auto member : {&LevelSummary::latency, &LevelSummary::ttft, &LevelSummary::tpot}) {
    std::vector<deferred<const Summary*, Runs>> have;
    for (const auto* r : runs)
      if (r->summary.*member) have.push_back(&*(r->summary.*member));
    if (have.empty()) continue;
    Summary m;
    for (const auto* h : have)
      for (auto f : {&Summary::mean, &Summary::p50, &Summary::p90, &Summary::p95, &Summary::p99})
        m.*f += h->*f / static_cast<double>(have.size());
    s.*member = m;
  }
  return s;
}

// The relative column's cell: "1.80x"; with repetitions "1.80x [1.50, 2.10] *" when the interval excludes 1 and
// "1.02x [0.95, 1.10] ~" when it includes 1.
template <class Ratio = RatioInterval>  // deferred: see serialize.hpp
std::string relative_cell(const std::optional<Ratio>& r, bool is_baseline) {
  if (!r) return "-";
  std::string cell = fixed(r->ratio, 2) + "x";
  if (is_baseline || !r->has_interval()) return cell;
  return cell + " [" + fixed(r->low, 2) + ", " + fixed(r->high, 2) + "] " + (r->excludes_one() ? "*" : "~");
}

}  // namespace detail

// One row per (level, target): requests that succeeded and failed, the failure rate, the load the server saw
// (requests in flight, mean/peak, beside the level asked for), throughput, latency, streaming times when any target
// streamed, and the throughput relative to the baseline. Levels ascend; a rule separates them. With repetitions a
// row stands for all of them (detail::mean_over_repetitions), req/s shows its interval's half width ("±0.31") and
// the relative column its ratio's interval (relative_throughput_interval).
template <class Levels = std::vector<LevelResult>>
Table comparison_table(const Levels& levels, const ReportOptions& options = {}) {
  const std::string baseline = detail::baseline_of(levels, options);
  bool streamed = false;
  bool per_token = false;  // a server counted every chunk's tokens (continuous usage stats)
  for (const auto& l : levels) streamed = streamed || l.summary.ttft.has_value();
  for (const auto& l : levels) per_token = per_token || l.summary.itl_per_token.has_value();
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
  if (per_token) header.insert(header.end(), {"ITL/event p95 ms", "ITL/token p95 ms"});
  header.push_back("vs " + baseline);
  Table table(header);
  bool first = true;
  for (double value : detail::level_values(levels)) {
    if (!first) table.separator();
    first = false;
    for (const auto& label : detail::ordered_labels(levels, baseline)) {
      const auto runs = repetitions_of(levels, label, value);
      if (runs.empty()) continue;
      const auto* l = runs.front();
      const LevelSummary s = detail::mean_over_repetitions(runs);
      std::string req_per_sec = detail::fixed(s.throughput_req_per_sec, 2);
      if (runs.size() > 1) {
        const auto m = summarize_repetitions(runs).throughput_req_per_sec;
        if (m.has_interval()) req_per_sec += " ±" + detail::fixed(m.half_width, 2);
      }
      std::vector<std::string> row = {detail::level_text(value),
                                      label,
                                      std::to_string(s.successful),
                                      std::to_string(s.failed + s.interrupted),
                                      s.sent ? detail::fixed(100.0 * static_cast<double>(s.failed) / s.sent, 1) : "-",
                                      detail::fixed(s.mean_in_flight, 1) + "/" + std::to_string(s.peak_in_flight),
                                      req_per_sec,
                                      s.input_tokens_reported ? detail::fixed(s.input_tokens_per_sec, 1) : "-",
                                      detail::fixed(s.output_tokens_per_sec, 1),
                                      s.latency ? detail::fixed(s.latency->mean, 3) : "-",
                                      s.latency ? detail::fixed(s.latency->p95, 3) : "-"};
      if (streamed) {
        row.push_back(s.ttft ? detail::fixed(s.ttft->p95 * 1e3, 1) : "-");
        row.push_back(s.tpot ? detail::fixed(s.tpot->mean * 1e3, 2) : "-");
      }
      if (per_token) {
        row.push_back(s.itl ? detail::fixed(s.itl->p95 * 1e3, 2) : "-");
        row.push_back(s.itl_per_token ? detail::fixed(s.itl_per_token->p95 * 1e3, 2) : "-");
      }
      row.push_back(detail::relative_cell(relative_throughput_interval(levels, *l, baseline), label == baseline));
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

// What a table of repeated levels means, for a line under it; empty without repetitions.
template <class Levels = std::vector<LevelResult>>
std::optional<std::string> repetition_note(const Levels& levels) {
  std::size_t most = 0;
  for (const auto& r : repeated_levels(levels)) most = std::max(most, r.repetitions);
  if (most < 2) return std::nullopt;
  return std::to_string(most) + " repetitions per row: counts are totals, other figures means over the " +
         "repetitions; ± and [low, high] are 95% confidence intervals (Student's t, repetitions - 1 degrees of " +
         "freedom); * the ratio's interval excludes 1, ~ it includes 1 (the difference may be noise)";
}

// The table, then the repetition note, the failure and warning lines, indented.
template <class Levels = std::vector<LevelResult>>
void print_comparison(std::ostream& out, const Levels& levels, const ReportOptions& options = {}) {
  const std::string note = modelled_time_note(levels);
  if (!note.empty()) out << note << "\n";
  comparison_table(levels, options).print(out);
  if (const auto note = repetition_note(levels)) out << "  " << *note << "\n";
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
  const std::string note = modelled_time_note(artifact.levels);
  if (!note.empty())
    out << "- " << note << "\n";
  else if (m.time_scale)  // an artifact of before modelled time: its times are the accelerated wall-clock ones
    out << "- simulated servers ran " << detail::level_text(*m.time_scale) << "x faster than real time (times are "
        << "wall-clock)\n";
  if (artifact.interrupted()) out << "- **interrupted**: the levels below are what completed\n";
  out << "\n";
  comparison_table(artifact.levels, options).print_markdown(out);
  if (const auto note = repetition_note(artifact.levels)) out << "\n" << *note << "\n";
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

// `get(summary)` for each of `label`'s levels at `values` (0 where it did not run or had no sample); of repeated
// levels, the mean over their repetitions.
template <class Get>
std::vector<double> per_level(const std::vector<LevelResult>& levels, const std::string& label,
                              const std::vector<double>& values, Get get) {
  std::vector<double> out;
  for (double v : values) {
    const auto runs = repetitions_of(levels, label, v);
    out.push_back(runs.empty() ? 0.0 : get(mean_over_repetitions(runs)));
  }
  return out;
}

}  // namespace detail

// Throughput per level, one bar per target (the baseline first), each group labelled with the last target's
// ratio to the baseline.
template <class Levels = std::vector<LevelResult>>
chart::BarChart throughput_chart(const Levels& levels, const ReportOptions& options = {}) {
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
template <class Levels = std::vector<LevelResult>>
chart::LineChart latency_chart(const Levels& levels, const ReportOptions& options = {}) {
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
template <class Levels = std::vector<LevelResult>>
std::optional<deferred<chart::TtftTpotChart, Levels>> ttft_tpot_chart(const Levels& levels,
                                                                      const ReportOptions& options = {}) {
  Levels streamed;
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

// servebench 0.1.0 -- single-header edition of the HTML report.
//
// GENERATED FILE, DO NOT EDIT. Made by tools/amalgamate.py from include/servebench/html_report.hpp and the headers it
// includes; edit those and run `python3 tools/amalgamate.py`. In place of the headers of other parts it
// includes "servebench.hpp": keep the files in one directory.
// Dependencies stay external:
//   g++ -std=c++17 -I single_include app.cpp $(pkg-config --cflags --libs cpp-httplib nlohmann_json) -pthread
//
// Contents, in order:
//   servebench/html_report.hpp
#pragma once

// ---- begin servebench/html_report.hpp ----
// servebench — the HTML report of a run: one self-contained file (inline SVG charts and inline CSS, no script, no
// font, no image, nothing fetched), readable offline and printable. It holds what ran (version, time, host,
// command, targets, configuration), the comparison table, failures by kind and warnings, the throughput, latency and
// streaming charts, and per level the timeline of every request beside the server's own running and waiting counts
// when they were scraped (metrics/scrape.hpp), with a table of what the scrapes saw and cost.
//
//   servebench::write_html_report("artifacts/report.html", artifact);            // next to the artifact

#include <algorithm>
#include <cstddef>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "servebench.hpp"  // servebench/artifact.hpp and the rest of the core

namespace servebench {

namespace detail {

inline std::string html(const std::string& text) { return chart::xml_escape(text); }

// An SVG document as an element inside HTML: its XML declaration dropped.
inline std::string inline_svg(const std::string& svg) {
  const auto at = svg.find("<svg");
  return "<figure>" + (at == std::string::npos ? svg : svg.substr(at)) + "</figure>\n";
}

inline std::string html_table(const Table& table) {
  std::ostringstream text;
  table.print_markdown(text);
  // The markdown form is the table's one rendering of its cells; rows of it become rows here.
  std::string out = "<table>\n";
  std::istringstream lines(text.str());
  std::string line;
  std::size_t row = 0;
  while (std::getline(lines, line)) {
    if (row++ == 1) continue;  // the alignment row
    out += "<tr>";
    std::vector<std::string> cells;
    std::string cell;
    for (std::size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
        cell += '|';
        ++i;
      } else if (line[i] == '|') {
        cells.push_back(cell.size() >= 2 ? cell.substr(1, cell.size() - 2) : cell);
        cell.clear();
      } else {
        cell += line[i];
      }
    }
    const char* tag = row == 1 ? "th" : "td";
    for (const auto& c : cells) out += std::string("<") + tag + ">" + html(c) + "</" + tag + ">";
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

inline std::string fixed_or_dash(const MetricSeries* s, bool use_max) {
  if (!s || s->values.empty()) return "-";
  double v = 0;
  if (use_max) {
    v = *std::max_element(s->values.begin(), s->values.end());
  } else {
    for (double x : s->values) v += x;
    v /= static_cast<double>(s->values.size());
  }
  return fixed(v, 2);
}

}  // namespace detail

// The timeline of one level: one column per target that ran it, on one time axis.
template <class Levels = std::vector<LevelResult>>
chart::TimelineChart timeline_chart(const Levels& levels, double level, const ReportOptions& options = {}) {
  chart::TimelineChart c;
  c.title = "Every request at " + detail::level_name(levels, false) + " " + detail::level_text(level);
  c.subtitle = options.subtitle;
  for (const auto& label : detail::ordered_labels(levels, detail::baseline_of(levels, options)))
    if (const auto* l = detail::find_level(levels, label, level)) c.lanes.push_back(chart::timeline_lane(*l));
  return c;
}

// The report as HTML text.
template <class A = Artifact>
std::string html_report(const A& artifact, const ReportOptions& options = {}) {
  const auto& m = artifact.metadata;
  const auto& levels = artifact.levels;
  std::string title = "servebench report";
  const auto labels = target_labels(levels);
  for (std::size_t i = 0; i < labels.size(); ++i) title += (i ? " vs " : ": ") + labels[i];
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + detail::html(title) +
         "</title>\n<style>\n"
         "body{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;color:#222;background:#fff;margin:24px;"
         "max-width:1100px}\n"
         "h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}\n"
         "table{border-collapse:collapse;font-size:13px;margin:8px 0}\n"
         "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f2f2f2}\n"
         "td:nth-child(2){text-align:left}\n"
         "figure{margin:12px 0}figure svg{max-width:100%;height:auto}\n"
         "pre{background:#f6f6f6;padding:8px;font-size:12px;white-space:pre-wrap}\n"
         ".warn{color:#8a4b00}\n"
         "@media print{body{margin:0}figure,table{page-break-inside:avoid}}\n"
         "</style>\n</head>\n<body>\n";
  out += "<h1>" + detail::html(title) + "</h1>\n<ul>\n";
  out += "<li>servebench " + detail::html(m.servebench_version) + ", " + detail::html(m.utc_time) + ", host " +
         detail::html(m.hostname) + "</li>\n";
  if (!m.command_line.empty()) {
    std::string command;
    for (const auto& a : m.command_line) command += (command.empty() ? "" : " ") + a;
    out += "<li>command: <code>" + detail::html(command) + "</code></li>\n";
  }
  for (const auto& t : artifact.targets())
    out += "<li>target <b>" + detail::html(t.label) + "</b>: " + detail::html(t.url.empty() ? "-" : t.url) + " (" +
           detail::html(t.dialect) + (t.model.empty() ? "" : ", model " + detail::html(t.model)) + ")</li>\n";
  if (!m.model.empty()) out += "<li>model: " + detail::html(m.model) + "</li>\n";
  if (!m.gpu.empty()) out += "<li>GPU: " + detail::html(m.gpu) + "</li>\n";
  if (m.time_scale)
    out += "<li>simulated servers ran " + detail::level_text(*m.time_scale) + "x faster than real time</li>\n";
  if (artifact.interrupted())
    out += "<li class=\"warn\"><b>interrupted</b>: the levels below are what completed</li>\n";
  out += "</ul>\n";

  out += "<h2>Results</h2>\n" + detail::html_table(comparison_table(levels, options));
  const auto lines = failure_lines(levels);
  out += "<h2>Failures and warnings</h2>\n";
  if (lines.empty())
    out += "<p>None.</p>\n";
  else {
    out += "<ul>\n";
    for (const auto& line : lines) out += "<li class=\"warn\">" + detail::html(line) + "</li>\n";
    out += "</ul>\n";
  }

  out += "<h2>Charts</h2>\n";
  if (!levels.empty()) {
    out += detail::inline_svg(chart::render_grouped_bars(throughput_chart(levels, options)));
    out += detail::inline_svg(chart::render_lines(latency_chart(levels, options)));
    if (const auto streaming = ttft_tpot_chart(levels, options))
      out += detail::inline_svg(chart::render_ttft_tpot(*streaming));
  }

  out += "<h2>Timelines</h2>\n<p>One bar per request from send to last token, its first token marked; under it the "
         "requests in flight as the client saw them and, where the server's metrics were scraped, its running and "
         "waiting counts.</p>\n";
  for (double value : detail::level_values(levels))
    out += detail::inline_svg(chart::render_timeline(timeline_chart(levels, value, options)));

  bool scraped = false;
  for (const auto& l : levels) scraped = scraped || l.server_metrics.has_value();
  if (scraped) {
    Table t({detail::level_name(levels, false), "target", "scrapes", "failed", "scrape ms mean", "scrape ms max",
             "running max", "waiting max", "KV usage mean", "preemptions"});
    for (const auto& l : levels) {
      if (!l.server_metrics) continue;
      const auto& s = *l.server_metrics;
      const auto* preempt = server_metric(s, ServerMetric::preemptions);
      t.row({detail::level_text(l.summary.level), l.target.label, std::to_string(s.scrapes), std::to_string(s.failed),
             detail::fixed(s.scrape_ms_mean, 2), detail::fixed(s.scrape_ms_max, 2),
             detail::fixed_or_dash(server_metric(s, ServerMetric::running), true),
             detail::fixed_or_dash(server_metric(s, ServerMetric::waiting), true),
             detail::fixed_or_dash(server_metric(s, ServerMetric::kv_cache_usage), false),
             preempt ? detail::fixed(preempt->delta, 0) : "-"});
    }
    out += "<h2>Server metrics</h2>\n" + detail::html_table(t);
  }

  out += "<h2>Configuration</h2>\n<pre>" + detail::html(m.configuration.dump(2)) + "</pre>\n";
  out += "</body>\n</html>\n";
  return out;
}

// Writes the report atomically (never half a file). Throws std::runtime_error naming the path.
template <class A = Artifact>
void write_html_report(const std::string& path, const A& artifact, const ReportOptions& options = {}) {
  write_file_atomic(path, html_report(artifact, options));
}

}  // namespace servebench
// ---- end servebench/html_report.hpp ----

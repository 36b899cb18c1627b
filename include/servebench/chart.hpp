// servebench — self-contained SVG charts: grouped bars (throughput per level with speedup labels), lines (mean and
// p95 latency per level), a TTFT/TPOT pair of panels, latency CDFs from raw samples, and the timeline of every
// request next to the server's running and waiting counts (chart/timeline.hpp).
//
// Charts are plain data; render_* are free functions returning the SVG text. The SVG has no scripts, no CSS and no
// external fonts or images (system sans-serif fonts only), a white background and dark text of at least 11px, so it
// reads the same in a browser, an image viewer and on paper. Values must be finite and >= 0 (throughput, latency
// and times are never negative); anything else throws std::invalid_argument naming the series and index.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "chart/primitives.hpp"
#include "chart/timeline.hpp"
#include "files.hpp"

namespace servebench {
namespace chart {

// Grouped bars: one group per category, one bar per series (values[i] belongs to categories[i]).
struct BarChart {
  std::string title, subtitle, x_label, y_label;
  std::vector<std::string> categories;
  std::vector<Series> series;
  bool value_labels = true;  // the value above each bar (skipped when bars are too narrow to hold it)
  // With >= 2 series: the last/first ratio per group ("6.6x"), over the last bar as the lab places it and higher
  // than every bar and value label of its group; none where the first value is 0.
  bool speedup_labels = true;
  int width = 800, height = 500;
};

// Lines over categorical x positions (e.g. concurrency levels), y from 0.
struct LineChart {
  std::string title, subtitle, x_label, y_label;
  std::vector<std::string> categories;
  std::vector<Series> series;
  bool markers = true;
  int width = 800, height = 500;
};

// Time to first token and time per output token side by side, as lines per category; one shared legend.
struct TtftTpotChart {
  std::string title, subtitle;
  std::string x_label = "concurrent requests";
  std::string unit = "ms";  // shown in both y-axis labels; values are taken to be in this unit already
  std::vector<std::string> categories;
  std::vector<Series> ttft;
  std::vector<Series> tpot;
  bool markers = true;
  int width = 800, height = 500;
};

// Empirical CDF per series from raw samples (values = one sample each, any order); dashed guides at p50 and p95.
struct CdfChart {
  std::string title, subtitle;
  std::string x_label = "latency (s)";
  std::string y_label = "fraction of requests";
  std::vector<Series> series;
  int width = 800, height = 500;
};

template <class Chart = BarChart>
std::string render_grouped_bars(const Chart& chart);
template <class Chart = LineChart>
std::string render_lines(const Chart& chart);
template <class Chart = TtftTpotChart>
std::string render_ttft_tpot(const Chart& chart);
template <class Chart = CdfChart>
std::string render_cdf(const Chart& chart);

// Writes a rendered chart atomically (temporary file, fsync, rename; parent directories created), so a viewer
// never sees half a chart. Throws std::runtime_error naming the path.
template <class = void>  // deferred: see serialize.hpp
void write_svg(const std::string& path, const std::string& svg) {
  write_file_atomic(path, svg);
}

template <class Chart>
std::string render_grouped_bars(const Chart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::check_category_series(chart.categories, chart.series, "render_grouped_bars");
  detail::Svg svg(chart.width, chart.height, chart.title);
  const auto styles = detail::resolve_styles(detail::pointers(chart.series));
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, styles, detail::Swatch::box, false);
  if (chart.categories.empty() || chart.series.empty()) return detail::no_data(svg, top);

  const std::size_t ncat = chart.categories.size(), nser = chart.series.size();
  const bool speedups = chart.speedup_labels && nser >= 2;
  // Layout: first guess the plot, then the ticks (which set the left margin), then the final plot.
  double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const double guess_slot = (chart.width - 100.0) / static_cast<double>(ncat);
  const double rotated = detail::category_label_room(chart.categories, guess_slot);
  bottom -= rotated;
  const double headroom = (chart.value_labels ? 18.0 : 4.0) + (speedups ? 20.0 : 0.0);
  auto ticks = detail::zero_based_ticks(detail::max_value(chart.series), headroom, bottom - top);
  const double left = 8 + (chart.y_label.empty() ? 0 : 24) + detail::y_tick_label_width(ticks) + 10;
  const detail::Rect plot{left, top, chart.width - 20.0, bottom};
  detail::draw_y_axis(svg, plot, ticks, chart.y_label);

  const double slot = plot.width() / static_cast<double>(ncat);
  const double group = std::min(slot * 0.72, 90.0 * static_cast<double>(nser));  // no slabs for few categories
  const double bar = group / static_cast<double>(nser);
  const double ymax = ticks.back();
  // A value label is drawn only if every one fits above its bar, so labels never overlap their neighbours.
  bool labels = chart.value_labels;
  for (const auto& s : chart.series)
    for (double v : s.values) labels = labels && detail::text_width(detail::format_value(v), 11) <= bar + 2;
  for (std::size_t c = 0; c < ncat; ++c) {
    const double x0 = plot.left + slot * static_cast<double>(c) + (slot - group) / 2;
    double group_top = plot.bottom;
    for (std::size_t s = 0; s < nser; ++s) {
      const double v = chart.series[s].values[c];
      const double h = v / ymax * plot.height();
      const double x = x0 + bar * static_cast<double>(s);
      const double inset = bar > 8 ? 1.0 : 0.0;  // a hairline gap between neighbouring bars
      if (h > 0) svg.rect(x + inset, plot.bottom - h, bar - 2 * inset, h, styles[s].color);
      if (labels) svg.text(x + bar / 2, plot.bottom - h - 5, detail::format_value(v), 11, "middle");
      group_top = std::min(group_top, plot.bottom - h - (labels ? 16.0 : 0.0));
    }
    if (speedups) {
      const double first = chart.series.front().values[c], last = chart.series.back().values[c];
      if (first > 0)
        svg.text(x0 + bar * (static_cast<double>(nser) - 0.5), group_top - 6, detail::fmt("%.1f", last / first) + "x",
                 13, "middle", true, "#111111");
    }
  }
  detail::draw_x_categories(svg, plot, chart.categories, chart.x_label, rotated);
  return svg.finish();
}

template <class Chart>
std::string render_lines(const Chart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::check_category_series(chart.categories, chart.series, "render_lines");
  detail::Svg svg(chart.width, chart.height, chart.title);
  const auto styles = detail::resolve_styles(detail::pointers(chart.series));
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, styles, detail::Swatch::line, chart.markers);
  if (chart.categories.empty() || chart.series.empty()) return detail::no_data(svg, top);

  double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const double rotated = detail::category_label_room(
      chart.categories, (chart.width - 100.0) / static_cast<double>(chart.categories.size()));
  bottom -= rotated;
  const auto ticks = detail::zero_based_ticks(detail::max_value(chart.series), 0, bottom - top);
  const double left = 8 + (chart.y_label.empty() ? 0 : 24) + detail::y_tick_label_width(ticks) + 10;
  const detail::Rect plot{left, top, chart.width - 20.0, bottom};
  detail::draw_y_axis(svg, plot, ticks, chart.y_label);
  detail::draw_x_categories(svg, plot, chart.categories, chart.x_label, rotated);
  detail::draw_line_series(svg, plot, ticks, chart.series, styles, 0, chart.markers);
  return svg.finish();
}

template <class Chart>
std::string render_ttft_tpot(const Chart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::check_category_series(chart.categories, chart.ttft, "render_ttft_tpot");
  detail::check_category_series(chart.categories, chart.tpot, "render_ttft_tpot");
  detail::Svg svg(chart.width, chart.height, chart.title);
  auto all = detail::pointers(chart.ttft);
  for (const Series* s : detail::pointers(chart.tpot)) all.push_back(s);
  const auto legend = detail::merged_styles(all);
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, legend, detail::Swatch::line, chart.markers);
  if (chart.categories.empty() || all.empty()) return detail::no_data(svg, top);

  const double panel_title_h = 20;
  double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const double half = chart.width / 2.0;
  const double rotated = detail::category_label_room(chart.categories,
                                                     (half - 90.0) / static_cast<double>(chart.categories.size()));
  bottom -= rotated;
  struct Panel {
    const std::vector<Series>* series;
    std::string title, y_label;
  };
  const Panel panels[2] = {{&chart.ttft, "Time to first token", "TTFT (" + chart.unit + ")"},
                           {&chart.tpot, "Time per output token", "TPOT (" + chart.unit + ")"}};
  for (int p = 0; p < 2; ++p) {
    const double x_off = p * half;
    const double plot_top = top + panel_title_h;
    const auto ticks = detail::zero_based_ticks(detail::max_value(*panels[p].series), 0, bottom - plot_top);
    const double left = x_off + 8 + 24 + detail::y_tick_label_width(ticks) + 10;
    const detail::Rect plot{left, plot_top, x_off + half - 16, bottom};
    svg.text((plot.left + plot.right) / 2, top + 6, panels[p].title, 13, "middle", true);
    // The rotated y label sits at a fixed x in draw_y_axis; draw this panel's own instead.
    detail::draw_y_axis(svg, plot, ticks, "");
    svg.text(x_off + 18, (plot.top + plot.bottom) / 2, panels[p].y_label, 13, "middle", false, "#222222", -90);
    detail::draw_x_categories(svg, plot, chart.categories, chart.x_label, rotated);
    if (panels[p].series->empty()) {
      svg.text((plot.left + plot.right) / 2, (plot.top + plot.bottom) / 2, "No data", 14, "middle", false, "#555555");
      continue;
    }
    detail::draw_line_series(svg, plot, ticks, *panels[p].series, detail::styles_for(*panels[p].series, legend), 0,
                             chart.markers);
  }
  return svg.finish();
}

template <class Chart>
std::string render_cdf(const Chart& chart) {
  detail::check_size(chart.width, chart.height);
  for (const Series& s : chart.series) detail::check_values(s, "render_cdf");
  detail::Svg svg(chart.width, chart.height, chart.title);
  // The legend says how many samples each curve has: a CDF of 5 samples reads very differently from one of 5000.
  std::vector<Series> labelled;
  for (const Series& s : chart.series) {
    Series l = s;
    l.name = s.name + (s.values.empty() ? " (no samples)" : " (n=" + std::to_string(s.values.size()) + ")");
    l.values.clear();
    labelled.push_back(std::move(l));
  }
  const auto styles = detail::resolve_styles(detail::pointers(labelled));
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, styles, detail::Swatch::line, false);
  const double max = detail::max_value(chart.series);
  bool any = false;
  for (const Series& s : chart.series) any = any || !s.values.empty();
  if (!any) return detail::no_data(svg, top);

  const double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const auto yt = nice_ticks(0, 1, 6);
  const auto xt = nice_ticks(0, max, 8);
  const double left = 8 + (chart.y_label.empty() ? 0 : 24) + detail::y_tick_label_width(yt, true) + 10;
  const detail::Rect plot{left, top + 6, chart.width - 40.0, bottom};
  detail::draw_y_axis(svg, plot, yt, chart.y_label, true);
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  const double xmax = xt.back();
  auto px = [&](double v) { return plot.left + v / xmax * plot.width(); };
  auto py = [&](double f) { return plot.bottom - f * plot.height(); };
  svg.line(plot.left, plot.bottom, plot.right, plot.bottom, "#444444", 1);
  for (double t : xt) {
    svg.line(px(t), plot.bottom, px(t), plot.bottom + 4, "#444444", 1);
    svg.text(px(t), plot.bottom + 18, format_tick(t, xstep), 12, "middle");
  }
  if (!chart.x_label.empty()) svg.text((plot.left + plot.right) / 2, plot.bottom + 40, chart.x_label, 13, "middle");
  // Guides at the two fractions the toolkit reports, labelled at the right edge.
  for (double f : {0.5, 0.95}) {
    svg.line(plot.left, py(f), plot.right, py(f), "#9a9a9a", 1, true);
    svg.text(plot.right + 3, py(f) + 4, f == 0.5 ? "p50" : "p95", 11, "start", false, "#444444");
  }
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    std::vector<double> v = chart.series[s].values;
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    // A step function: at sample i (0-based) the fraction jumps from i/n to (i+1)/n. Thousands of samples are
    // thinned to about 1000 steps, far below what 800 pixels can show.
    const std::size_t stride = std::max<std::size_t>(1, n / 1000);
    std::vector<std::pair<double, double>> points{{px(v[0]), py(0)}};
    for (std::size_t i = 0; i < n; i += stride) {
      const std::size_t j = std::min(n - 1, i + stride - 1);  // last sample of this thinned step
      points.push_back({px(v[i]), points.back().second});
      points.push_back({px(v[i]), py(static_cast<double>(j + 1) / static_cast<double>(n))});
    }
    points.push_back({plot.right, py(1)});
    svg.polyline(points, styles[s].color, styles[s].dashed);
  }
  return svg.finish();
}

}  // namespace chart
}  // namespace servebench

// servebench — the timeline chart: what each request did and what the server was doing meanwhile. One column per
// target (the lab's HF-like and vLLM-like side by side, on one time axis): a horizontal bar per request from send to
// last token with its first token marked and failures in another colour; under it the requests in flight as the
// client saw them and, where the server's /metrics were scraped, its running and waiting counts.
//
// Plain data like the other charts; timeline_lane() builds a column from a LevelResult.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../metrics/series.hpp"
#include "../result.hpp"
#include "primitives.hpp"

namespace servebench {
namespace chart {

struct TimelineRequest {
  double start_s = 0;         // sent, seconds from the column's origin
  double first_token_s = -1;  // first token of a streamed reply (< 0: none, or not streamed)
  double end_s = 0;           // last token, or when it failed
  bool failed = false;
};

// A step function: the value holds from each point's time until the next point's.
using Steps = std::vector<std::pair<double, double>>;

struct TimelineLane {
  std::string name;
  std::vector<TimelineRequest> requests;  // drawn top to bottom in this order
  Steps in_flight;                        // requests in flight as the client saw them
  Steps server_running, server_waiting;   // scraped from the server (empty: not scraped)
};

struct TimelineChart {
  std::string title, subtitle;
  std::vector<TimelineLane> lanes;
  int width = 1000, height = 560;
};

namespace detail {

template <class = void>  // deferred: see serialize.hpp
Steps to_steps(const MetricSeries* series, Nanos origin) {
  Steps out;
  if (!series) return out;
  for (std::size_t i = 0; i < series->t.size() && i < series->values.size(); ++i)
    out.push_back({static_cast<double>(series->t[i] - origin) / 1e9, series->values[i]});
  return out;
}

}  // namespace detail

// A column from one level: times from the level's first send; the in-flight count from the records; the server's
// running and waiting counts from its scraped metrics, when any.
template <class Level = LevelResult>
TimelineLane timeline_lane(const Level& level, std::string name = {}) {
  TimelineLane lane;
  lane.name = name.empty() ? level.target.label : std::move(name);
  Nanos origin = std::numeric_limits<Nanos>::max();
  for (const auto& r : level.records)
    if (r.t_send > 0) origin = std::min(origin, r.t_send);
  if (origin == std::numeric_limits<Nanos>::max()) return lane;
  std::vector<std::pair<double, int>> changes;
  for (const auto& r : level.records) {
    if (r.t_send <= 0) continue;
    TimelineRequest q;
    q.start_s = static_cast<double>(r.t_send - origin) / 1e9;
    q.end_s = std::max(q.start_s, static_cast<double>((r.t_end > 0 ? r.t_end : r.t_send) - origin) / 1e9);
    if (r.ok() && r.streamed && r.t_first_token > 0)
      q.first_token_s = static_cast<double>(r.t_first_token - origin) / 1e9;
    q.failed = !r.ok();
    lane.requests.push_back(q);
    changes.push_back({q.start_s, +1});
    changes.push_back({q.end_s, -1});
  }
  std::sort(lane.requests.begin(), lane.requests.end(),
            [](const TimelineRequest& a, const TimelineRequest& b) { return a.start_s < b.start_s; });
  std::sort(changes.begin(), changes.end());  // at one instant, ends (-1) before starts (+1)
  int n = 0;
  lane.in_flight.push_back({0, 0});
  for (const auto& c : changes) {
    n += c.second;
    if (!lane.in_flight.empty() && lane.in_flight.back().first == c.first)
      lane.in_flight.back().second = n;
    else
      lane.in_flight.push_back({c.first, static_cast<double>(n)});
  }
  if (level.server_metrics) {
    lane.server_running = detail::to_steps(server_metric(*level.server_metrics, ServerMetric::running), origin);
    lane.server_waiting = detail::to_steps(server_metric(*level.server_metrics, ServerMetric::waiting), origin);
  }
  return lane;
}

template <class Chart = TimelineChart>
std::string render_timeline(const Chart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::Svg svg(chart.width, chart.height, chart.title);
  const char* ok_color = "#4e79a7";
  const char* fail_color = "#e15759";
  const char* first_color = "#111111";
  const std::vector<detail::Style> legend = {
      {"request (send to last token)", ok_color, false},
      {"failed", fail_color, false},
      {"first token", first_color, false},
  };
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, legend, detail::Swatch::box, false);
  bool any = false;
  double t_max = 0, count_max = 1;
  for (const auto& lane : chart.lanes) {
    for (const auto& q : lane.requests) {
      for (double v : {q.start_s, q.end_s, q.first_token_s})
        if (!std::isfinite(v))
          throw std::invalid_argument("render_timeline: '" + lane.name + "' has a non-finite time");
      t_max = std::max(t_max, q.end_s);
      any = true;
    }
    for (const Steps* s : {&lane.in_flight, &lane.server_running, &lane.server_waiting})
      for (const auto& p : *s)
        if (std::isfinite(p.second)) count_max = std::max(count_max, p.second);
  }
  if (!any) return detail::no_data(svg, top);
  const auto xt = nice_ticks(0, t_max, 6);
  const double xmax = xt.back() > 0 ? xt.back() : 1;
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  const auto yt = nice_ticks(0, count_max, 4);
  const double bottom = chart.height - 46.0;
  const double counts_h = std::max(70.0, (bottom - top) * 0.3);
  const double bars_bottom = bottom - counts_h - 34;
  const double column_w = chart.width / static_cast<double>(chart.lanes.size());
  const char* series_colors[] = {"#59a14f", "#f28e2b", "#b07aa1"};
  const char* series_names[] = {"in flight (client)", "running (server)", "waiting (server)"};
  for (std::size_t c = 0; c < chart.lanes.size(); ++c) {
    const auto& lane = chart.lanes[c];
    const double x0 = column_w * static_cast<double>(c);
    const detail::Rect bars{x0 + 44, top + 20, x0 + column_w - 16, bars_bottom};
    const detail::Rect counts{bars.left, bars_bottom + 26, bars.right, bottom};
    auto px = [&](double t) { return bars.left + std::min(t, xmax) / xmax * bars.width(); };
    svg.text((bars.left + bars.right) / 2, top + 8, detail::fit_text(lane.name, 13, bars.width()), 13, "middle", true);
    for (double t : xt) svg.line(px(t), bars.top, px(t), bars.bottom, "#eeeeee", 1);
    // Bars: one row per request, at most 14 px high so a few requests do not become slabs.
    const std::size_t n = lane.requests.size();
    const double row = n ? std::min(14.0, bars.height() / static_cast<double>(n)) : 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& q = lane.requests[i];
      const double y = bars.top + row * static_cast<double>(i);
      const double h = std::max(1.0, row * 0.75);
      svg.rect(px(q.start_s), y, std::max(1.0, px(q.end_s) - px(q.start_s)), h, q.failed ? fail_color : ok_color);
      if (q.first_token_s >= 0) svg.rect(px(q.first_token_s) - 1, y, 2.5, h, first_color);
    }
    svg.text(bars.left - 6, (bars.top + bars.bottom) / 2, "requests", 12, "middle", false, "#444444", -90);
    svg.line(bars.left, bars.bottom, bars.right, bars.bottom, "#444444", 1);
    // Counts panel: gridlines, ticks, step lines.
    auto py = [&](double v) { return counts.bottom - v / yt.back() * counts.height(); };
    for (double t : yt) {
      svg.line(counts.left, py(t), counts.right, py(t), "#e3e3e3", 1);
      svg.text(counts.left - 4, py(t) + 4, format_tick(t, yt.size() > 1 ? yt[1] - yt[0] : 1), 11, "end");
    }
    const Steps* steps[] = {&lane.in_flight, &lane.server_running, &lane.server_waiting};
    double legend_x = counts.left;
    for (int s = 0; s < 3; ++s) {
      const Steps& st = *steps[s];
      if (st.empty()) continue;
      std::vector<std::pair<double, double>> points;
      for (std::size_t i = 0; i < st.size(); ++i) {
        if (!std::isfinite(st[i].second) || st[i].first < 0) continue;
        if (!points.empty()) points.push_back({px(st[i].first), points.back().second});
        points.push_back({px(st[i].first), py(st[i].second)});
      }
      if (points.empty()) continue;
      svg.polyline(points, series_colors[s], s == 2);
      svg.line(legend_x, counts.top - 8, legend_x + 16, counts.top - 8, series_colors[s], 2.5, s == 2);
      svg.text(legend_x + 20, counts.top - 4, series_names[s], 11);
      legend_x += 28 + detail::text_width(series_names[s], 11);
    }
    svg.line(counts.left, counts.bottom, counts.right, counts.bottom, "#444444", 1);
    for (double t : xt) {
      svg.line(px(t), counts.bottom, px(t), counts.bottom + 4, "#444444", 1);
      svg.text(px(t), counts.bottom + 17, format_tick(t, xstep), 11, "middle");
    }
    svg.text((counts.left + counts.right) / 2, counts.bottom + 36, "seconds from the level's first request", 12,
             "middle");
  }
  return svg.finish();
}

}  // namespace chart
}  // namespace servebench

// servebench — modelled time: a level measured against a simulated server that runs `time_scale` times faster than
// the GPU it models, restated in the time of that GPU. It is done once, where a program knows the target is such a
// server (to_modelled_time), and the level says so (LevelResult::time_scale): every summary, table, chart and
// artifact read from it is then in modelled time, and nothing downstream multiplies again. Levels against real
// servers are never touched. The measured wall-clock durations are the modelled ones divided by time_scale.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "record.hpp"
#include "result.hpp"

namespace servebench {

namespace detail {
inline Nanos stretch(Nanos t, Nanos origin, double factor) {
  if (t == 0) return 0;  // "never" stays never
  return origin + static_cast<Nanos>(std::llround(static_cast<double>(t - origin) * factor));
}
}  // namespace detail

// `measured` in modelled time: every timestamp of every record stretched by `time_scale` about `origin` (0: the
// level's first scheduled or sent request; a program converting several levels passes one origin for all, so that
// their order in time stays as it was), and the summary computed again from those records with the level's own
// percentile method and SLOs (so durations are multiplied by time_scale and rates divided by it, SLOs judged in GPU
// time). Throws std::invalid_argument for a scale not > 0, or a level already in modelled time.
template <class Level = LevelResult>  // deferred: see serialize.hpp
Level to_modelled_time(Level measured, double time_scale, Nanos origin = 0) {
  if (!(time_scale > 0) || !std::isfinite(time_scale))
    throw std::invalid_argument("to_modelled_time: time_scale must be a finite number > 0");
  if (measured.time_scale)
    throw std::invalid_argument("to_modelled_time: the level is already in modelled time (time_scale set)");
  if (origin == 0)
    for (const auto& r : measured.records)
      for (Nanos t : {r.t_sched, r.t_send})
        if (t != 0) origin = origin == 0 ? t : std::min(origin, t);
  const auto s = [&](Nanos t) { return detail::stretch(t, origin, time_scale); };
  for (auto& r : measured.records) {
    r.t_sched = s(r.t_sched);
    r.t_send = s(r.t_send);
    r.t_first_token = s(r.t_first_token);
    r.t_end = s(r.t_end);
    if (r.t_first_answer_token) r.t_first_answer_token = s(*r.t_first_answer_token);
    if (r.t_connect) r.t_connect = s(*r.t_connect);
    for (auto& t : r.event_times) t = s(t);
    if (r.server_timing) {
      r.server_timing->first_token = s(r.server_timing->first_token);
      r.server_timing->last_token = s(r.server_timing->last_token);
      if (r.server_timing->first_answer_token)
        r.server_timing->first_answer_token = s(*r.server_timing->first_answer_token);
    }
  }
  if (measured.server_metrics) {  // scraped on the same steady clock: the same stretch keeps it beside the records
    measured.server_metrics->interval_s *= time_scale;
    for (auto& series : measured.server_metrics->series)
      for (auto& t : series.t) t = s(t);
  }
  const LevelSummary before = measured.summary;
  SummarizeOptions options;
  options.method = measured.config.percentile_method;
  options.slo = measured.config.slo;
  measured.summary = summarize(measured.records, options);
  measured.summary.level = before.level;
  measured.summary.target = before.target;
  measured.time_scale = time_scale;
  return measured;
}

// The time scale of the levels in modelled time, when they share one; nullopt when none is.
// Throws std::invalid_argument when they were measured at different scales (one table cannot say both).
template <class Levels = std::vector<LevelResult>>
std::optional<double> modelled_time_scale(const Levels& levels) {
  std::optional<double> scale;
  for (const auto& l : levels) {
    if (!l.time_scale) continue;
    if (scale && *scale != *l.time_scale)
      throw std::invalid_argument("levels in modelled time measured at different time scales");
    scale = l.time_scale;
  }
  return scale;
}

// The one line that says so, for the head of a table or report: "times are modelled GPU time (simulated servers
// ran 20x faster than real time)". Empty when no level is in modelled time.
template <class Levels = std::vector<LevelResult>>
std::string modelled_time_note(const Levels& levels) {
  const auto scale = modelled_time_scale(levels);
  if (!scale) return {};
  char factor[32];
  std::snprintf(factor, sizeof factor, "%g", *scale);
  const bool all = std::all_of(levels.begin(), levels.end(), [](const auto& l) { return l.time_scale.has_value(); });
  return std::string("times are modelled GPU time") + (all ? "" : " for the simulated servers") +
         " (simulated servers ran " + factor + "x faster than real time)";
}

}  // namespace servebench

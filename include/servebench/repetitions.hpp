// servebench — repetitions: a sweep run k times (Sweep::repeat) gives k LevelResults per (target, level); this
// summarizes them as a mean with a confidence interval by Student's t with k - 1 degrees of freedom, for
// throughput (requests/s, output tokens/s) and the latency percentiles (TTFT and latency, p50 and p99), and relates
// two targets' throughputs by a ratio with its own interval. Plain data, written into the artifact
// ("repetitions"); docs/metrics.md defines every interval.
//
//   for (const auto& r : servebench::repeated_levels(sweep.levels))
//     std::printf("%s @ %g: %.2f req/s [%.2f, %.2f]\n", r.target.c_str(), r.level, r.throughput_req_per_sec.mean,
//                 r.throughput_req_per_sec.low, r.throughput_req_per_sec.high);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "result.hpp"
#include "serialize.hpp"
#include "stats.hpp"

namespace servebench {

// One (target, level) over its repetitions. Each interval is over the per-repetition values (one number per
// repetition, from that repetition's LevelSummary); a percentile interval counts only repetitions that had the
// sample (no TTFT when nothing streamed, no latency when every request failed), so its n may be smaller.
struct RepeatedLevel {
  std::string target;
  double level = 0;
  LoopMode mode = LoopMode::closed_loop;
  std::size_t repetitions = 0;  // LevelResults found for this (target, level)
  MeanInterval throughput_req_per_sec, output_tokens_per_sec;
  std::optional<MeanInterval> ttft_p50, ttft_p99, latency_p50, latency_p99;  // seconds
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const RepeatedLevel*) {
  using R = RepeatedLevel;
  return field_list<Deferred>(required("target", &R::target), required("level", &R::level), field("mode", &R::mode),
                              required("repetitions", &R::repetitions),
                              required("throughput_req_per_sec", &R::throughput_req_per_sec),
                              required("output_tokens_per_sec", &R::output_tokens_per_sec),
                              field("ttft_p50", &R::ttft_p50), field("ttft_p99", &R::ttft_p99),
                              field("latency_p50", &R::latency_p50), field("latency_p99", &R::latency_p99));
}

// True when any level is a repetition after the first: the levels came from a repeated sweep.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
bool has_repetitions(const Levels& levels) {
  return std::any_of(levels.begin(), levels.end(), [](const LevelResult& l) { return l.repetition > 0; });
}

// Every repetition of `label` at `level`, by repetition index.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::vector<const typename Levels::value_type*> repetitions_of(const Levels& levels, const std::string& label,
                                                               double level) {
  std::vector<const typename Levels::value_type*> out;
  for (const auto& l : levels)
    if (l.target.label == label && l.summary.level == level) out.push_back(&l);
  std::stable_sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->repetition < b->repetition; });
  return out;
}

// The intervals of one (target, level) from its repetitions (non-empty, all of one target and level).
template <class Runs>  // deferred: see serialize.hpp
RepeatedLevel summarize_repetitions(const Runs& runs, double confidence = 0.95) {
  RepeatedLevel r;
  if (runs.empty()) return r;
  r.target = runs.front()->target.label;
  r.level = runs.front()->summary.level;
  r.mode = runs.front()->config.mode;
  r.repetitions = runs.size();
  auto over = [&](auto get) {
    std::vector<double> values;
    for (const auto* run : runs)
      if (const auto v = get(run->summary)) values.push_back(*v);
    return values.empty() ? std::nullopt : std::optional<MeanInterval>(mean_interval(values, confidence));
  };
  using S = const LevelSummary&;
  using O = std::optional<double>;
  r.throughput_req_per_sec = *over([](S s) { return O(s.throughput_req_per_sec); });
  r.output_tokens_per_sec = *over([](S s) { return O(s.output_tokens_per_sec); });
  r.ttft_p50 = over([](S s) { return s.ttft ? O(s.ttft->p50) : std::nullopt; });
  r.ttft_p99 = over([](S s) { return s.ttft ? O(s.ttft->p99) : std::nullopt; });
  r.latency_p50 = over([](S s) { return s.latency ? O(s.latency->p50) : std::nullopt; });
  r.latency_p99 = over([](S s) { return s.latency ? O(s.latency->p99) : std::nullopt; });
  return r;
}

// One RepeatedLevel per (target, level), in order of first appearance.
template <class Levels = std::vector<LevelResult>>
std::vector<RepeatedLevel> repeated_levels(const Levels& levels, double confidence = 0.95) {
  std::vector<RepeatedLevel> out;
  for (const auto& l : levels) {
    const bool seen = std::any_of(out.begin(), out.end(), [&](const RepeatedLevel& r) {
      return r.target == l.target.label && r.level == l.summary.level;
    });
    if (!seen)
      out.push_back(summarize_repetitions(repetitions_of(levels, l.target.label, l.summary.level), confidence));
  }
  return out;
}

// A ratio of two targets' figures (a over b) with its confidence interval.
//  paired   : both ran the same repetitions (interleaved, so each pair shared the machine's state): the interval of
//             the mean of the per-repetition log ratios ln(a_i / b_i), Student's t with n - 1 degrees of freedom,
//             taken back by exp; `ratio` is their geometric mean.
//  unpaired : otherwise: the ratio of the means, its log's standard error by the delta method
//             (s_a^2 / (n_a mean_a^2) + s_b^2 / (n_b mean_b^2)) and Welch-Satterthwaite degrees of freedom.
// Logs keep the interval positive and symmetric in a and b (b over a is exactly its reciprocal).
struct RatioInterval {
  double ratio = 0, low = 0, high = 0;
  std::size_t n = 0;  // pairs (paired) or the smaller sample (unpaired); 1: no interval
  bool paired = false;
  double confidence = 0.95;

  bool has_interval() const noexcept { return n >= 2; }
  // The interval lies wholly above or below 1: the difference is unlikely to be noise alone.
  bool excludes_one() const noexcept { return has_interval() && (low > 1 || high < 1); }
};

// `a` and `b`: per-repetition values; `paired`: a[i] and b[i] come from the same repetition. Empty when a b is not
// positive or a value not finite (no ratio to take); an `a` of 0 (a side that served nothing) gives the plain ratio
// of the means and no interval (no log to take).
template <class Values = std::vector<double>>
std::optional<deferred<RatioInterval, Values>> ratio_interval(const Values& a, const Values& b, bool paired,
                                                              double confidence = 0.95) {
  if (a.empty() || b.empty() || (paired && a.size() != b.size())) return std::nullopt;
  bool zero = false;
  for (double v : b)
    if (!(v > 0) || !std::isfinite(v)) return std::nullopt;
  for (double v : a) {
    if (!(v >= 0) || !std::isfinite(v)) return std::nullopt;
    zero = zero || v == 0;
  }
  RatioInterval r;
  r.paired = paired;
  r.confidence = confidence;
  if (zero) {
    r.n = 1;
    r.ratio = r.low = r.high = mean_interval(a).mean / mean_interval(b).mean;
    return r;
  }
  if (paired) {
    std::vector<double> logs;
    for (std::size_t i = 0; i < a.size(); ++i) logs.push_back(std::log(a[i] / b[i]));
    const MeanInterval m = mean_interval(logs, confidence);
    r.n = m.n;
    if (r.n == 1) {  // one pair: the plain ratio, exactly
      r.ratio = r.low = r.high = a[0] / b[0];
      return r;
    }
    r.ratio = std::exp(m.mean);
    r.low = std::exp(m.low);
    r.high = std::exp(m.high);
    return r;
  }
  const MeanInterval ma = mean_interval(a, confidence), mb = mean_interval(b, confidence);
  r.n = std::min(ma.n, mb.n);
  r.ratio = ma.mean / mb.mean;
  r.low = r.high = r.ratio;
  if (!r.has_interval()) return r;
  const double va = ma.stddev * ma.stddev / (static_cast<double>(ma.n) * ma.mean * ma.mean);
  const double vb = mb.stddev * mb.stddev / (static_cast<double>(mb.n) * mb.mean * mb.mean);
  const double se = std::sqrt(va + vb);
  if (se == 0) return r;  // every repetition gave the same value: no spread to widen the ratio by
  const double df = (va + vb) * (va + vb) /
                    (va * va / static_cast<double>(ma.n - 1) + vb * vb / static_cast<double>(mb.n - 1));
  const double half = student_t_quantile((1 + confidence) / 2, df) * se;
  r.low = r.ratio * std::exp(-half);
  r.high = r.ratio * std::exp(half);
  return r;
}

}  // namespace servebench

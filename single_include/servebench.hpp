// servebench 0.1.0 -- single-header edition.
//
// GENERATED FILE, DO NOT EDIT. Made by tools/amalgamate.py from include/servebench.hpp and the headers it
// includes; edit those and run `python3 tools/amalgamate.py`. Dependencies stay external: compile with
// -std=c++17 and the flags of nlohmann_json and cpp-httplib, e.g.
//   g++ -std=c++17 -I single_include app.cpp $(pkg-config --cflags --libs cpp-httplib nlohmann_json) -pthread
//
// Contents, in order:
//   servebench.hpp
//   servebench/version.hpp
//   servebench/stats.hpp
//   servebench/record.hpp
//   servebench/artifact.hpp
//   servebench/workload.hpp
//   servebench/sse.hpp
//   servebench/api.hpp
#pragma once

// ---- begin servebench.hpp ----
// servebench — umbrella header: includes the whole toolkit.

// ---- begin servebench/version.hpp ----
// servebench — version macros. CMake and Meson read these numbers; a test checks they agree.

#define SERVEBENCH_VERSION_MAJOR 0
#define SERVEBENCH_VERSION_MINOR 1
#define SERVEBENCH_VERSION_PATCH 0
#define SERVEBENCH_VERSION_STRING "0.1.0"

namespace servebench {
inline constexpr const char* version_string() noexcept { return SERVEBENCH_VERSION_STRING; }
}  // namespace servebench
// ---- end servebench/version.hpp ----
// ---- begin servebench/stats.hpp ----
// servebench — statistics: percentiles by three named methods, sample summaries, and a mergeable
// log-bucketed histogram for runs too long to keep every sample.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace servebench {

// How a percentile is read off a sorted sample.
//  linear       : interpolate between the closest ranks (numpy's default; what vLLM's benchmark reports).
//  nearest_rank : the smallest sample with at least p% of the samples at or below it.
//  lab          : sorted[floor(n * p / 100)], clamped to the last sample — what the lab's Python scripts compute,
//                 so their numbers can be reproduced. (The lab prints 0 for a single sample; we report the sample.)
enum class PercentileMethod { linear, nearest_rank, lab };

inline const char* to_string(PercentileMethod method) noexcept {
  switch (method) {
    case PercentileMethod::linear: return "linear";
    case PercentileMethod::nearest_rank: return "nearest_rank";
    case PercentileMethod::lab: return "lab";
  }
  return "linear";
}

inline PercentileMethod percentile_method_from_string(const std::string& name) {
  if (name == "linear") return PercentileMethod::linear;
  if (name == "nearest_rank") return PercentileMethod::nearest_rank;
  if (name == "lab") return PercentileMethod::lab;
  throw std::invalid_argument("unknown percentile method '" + name + "' (use linear, nearest_rank or lab)");
}

inline void to_json(nlohmann::json& j, PercentileMethod method) { j = to_string(method); }
inline void from_json(const nlohmann::json& j, PercentileMethod& method) {
  method = percentile_method_from_string(j.get<std::string>());
}

namespace detail {
inline void check_percentile_rank(double p) {
  if (!(p >= 0.0 && p <= 100.0))
    throw std::invalid_argument("percentile must be within [0, 100], got " + std::to_string(p));
}
inline void check_samples(const std::vector<double>& values) {
  if (values.empty()) throw std::invalid_argument("cannot summarize an empty sample set");
  for (double v : values)
    if (std::isnan(v)) throw std::invalid_argument("sample set contains NaN");
}
}  // namespace detail

// p in [0, 100]; `sorted` must be sorted ascending and non-empty.
inline double percentile_of_sorted(const std::vector<double>& sorted, double p,
                                   PercentileMethod method = PercentileMethod::linear) {
  detail::check_percentile_rank(p);
  if (sorted.empty()) throw std::invalid_argument("cannot take a percentile of an empty sample set");
  const std::size_t n = sorted.size();
  switch (method) {
    case PercentileMethod::linear: {
      const double h = static_cast<double>(n - 1) * p / 100.0;
      const auto lower = static_cast<std::size_t>(std::floor(h));
      if (lower + 1 >= n) return sorted[n - 1];
      return sorted[lower] + (h - static_cast<double>(lower)) * (sorted[lower + 1] - sorted[lower]);
    }
    case PercentileMethod::nearest_rank: {
      auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
      rank = std::max<std::size_t>(rank, 1);
      return sorted[std::min(rank, n) - 1];
    }
    case PercentileMethod::lab: {
      // The lab computes int(len * 0.95): multiply by the fraction (not by p then divide) so the rounding is the
      // same as Python's for every n; int() truncates, which for non-negative values is floor.
      auto index = static_cast<std::size_t>(std::floor(static_cast<double>(n) * (p / 100.0)));
      return sorted[std::min(index, n - 1)];
    }
  }
  return sorted[0];
}

inline double percentile(std::vector<double> values, double p, PercentileMethod method = PercentileMethod::linear) {
  detail::check_samples(values);
  std::sort(values.begin(), values.end());
  return percentile_of_sorted(values, p, method);
}

struct Quantile {
  double p = 0;      // in [0, 100]
  double value = 0;
};

// A summary of one sample set. `stddev` is the sample standard deviation (n - 1 in the denominator; 0 for one
// sample). `extra` holds any further percentiles asked for.
struct Summary {
  std::size_t count = 0;
  double mean = 0, stddev = 0, min = 0, max = 0;
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0;
  std::vector<Quantile> extra;
  PercentileMethod method = PercentileMethod::linear;
};

inline Summary summarize_samples(std::vector<double> values, PercentileMethod method = PercentileMethod::linear,
                                 const std::vector<double>& extra_percentiles = {}) {
  detail::check_samples(values);
  std::sort(values.begin(), values.end());
  Summary s;
  s.method = method;
  s.count = values.size();
  s.min = values.front();
  s.max = values.back();
  // Welford's update keeps the variance exact for large sets of nearly equal values.
  double mean = 0, m2 = 0;
  std::size_t k = 0;
  for (double v : values) {
    ++k;
    const double delta = v - mean;
    mean += delta / static_cast<double>(k);
    m2 += delta * (v - mean);
  }
  s.mean = mean;
  s.stddev = s.count > 1 ? std::sqrt(m2 / static_cast<double>(s.count - 1)) : 0.0;
  s.p50 = percentile_of_sorted(values, 50, method);
  s.p90 = percentile_of_sorted(values, 90, method);
  s.p95 = percentile_of_sorted(values, 95, method);
  s.p99 = percentile_of_sorted(values, 99, method);
  for (double p : extra_percentiles) s.extra.push_back({p, percentile_of_sorted(values, p, method)});
  return s;
}

inline void to_json(nlohmann::json& j, const Quantile& q) { j = nlohmann::json{{"p", q.p}, {"value", q.value}}; }
inline void from_json(const nlohmann::json& j, Quantile& q) {
  j.at("p").get_to(q.p);
  j.at("value").get_to(q.value);
}

inline void to_json(nlohmann::json& j, const Summary& s) {
  j = nlohmann::json{{"count", s.count}, {"mean", s.mean}, {"stddev", s.stddev}, {"min", s.min},
                     {"max", s.max},     {"p50", s.p50},   {"p90", s.p90},       {"p95", s.p95},
                     {"p99", s.p99},     {"extra", s.extra}, {"method", s.method}};
}
inline void from_json(const nlohmann::json& j, Summary& s) {
  j.at("count").get_to(s.count);
  j.at("mean").get_to(s.mean);
  j.at("stddev").get_to(s.stddev);
  j.at("min").get_to(s.min);
  j.at("max").get_to(s.max);
  j.at("p50").get_to(s.p50);
  j.at("p90").get_to(s.p90);
  j.at("p95").get_to(s.p95);
  j.at("p99").get_to(s.p99);
  s.extra = j.value("extra", std::vector<Quantile>{});
  s.method = j.value("method", PercentileMethod::linear);
}

// A log-bucketed histogram of positive values (DDSketch's bucketing): bucket i holds values in
// (gamma^(i-1), gamma^i] with gamma = (1 + a) / (1 - a), so every percentile it reports is within a relative
// error `a` (1% by default) of the sample at rank floor(q * (n - 1)). Memory is fixed by [min_value, max_value]:
// about 1,700 counters for the default 1 ns .. 10^6 s range in seconds. Values at or below zero (or below
// min_value) count in a zero bucket; values above max_value in an overflow bucket that reports the exact maximum.
// Two histograms with the same parameters merge by adding counts, which equals the histogram of both sample sets.
class LogHistogram {
 public:
  explicit LogHistogram(double relative_accuracy = 0.01, double min_value = 1e-9, double max_value = 1e6)
      : relative_accuracy_(relative_accuracy), min_value_(min_value), max_value_(max_value) {
    if (!(relative_accuracy > 0 && relative_accuracy < 1))
      throw std::invalid_argument("LogHistogram: relative accuracy must be within (0, 1)");
    if (!(min_value > 0 && max_value > min_value))
      throw std::invalid_argument("LogHistogram: need 0 < min_value < max_value");
    gamma_ = (1 + relative_accuracy) / (1 - relative_accuracy);
    log_gamma_ = std::log(gamma_);
    offset_ = key_of(min_value);
    counts_.assign(static_cast<std::size_t>(key_of(max_value) - offset_ + 1), 0);
  }

  void add(double value, std::uint64_t times = 1) {
    if (std::isnan(value)) throw std::invalid_argument("LogHistogram: cannot add NaN");
    if (times == 0) return;
    if (count_ == 0) {
      min_ = max_ = value;
    } else {
      min_ = std::min(min_, value);
      max_ = std::max(max_, value);
    }
    count_ += times;
    sum_ += value * static_cast<double>(times);
    if (value < min_value_)
      zero_count_ += times;
    else if (value > max_value_)
      overflow_count_ += times;
    else
      counts_[static_cast<std::size_t>(key_of(value) - offset_)] += times;
  }

  // The value at percentile p in [0, 100]. Throws on an empty histogram.
  double percentile(double p) const {
    detail::check_percentile_rank(p);
    if (count_ == 0) throw std::invalid_argument("LogHistogram: cannot take a percentile of an empty histogram");
    const auto rank = static_cast<std::uint64_t>(std::floor(p / 100.0 * static_cast<double>(count_ - 1)));
    std::uint64_t seen = zero_count_;
    if (rank < seen) return std::max(min_, std::min(0.0, max_));
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (rank < seen) {
        const double estimate = 2 * std::pow(gamma_, static_cast<double>(static_cast<long>(i) + offset_)) / (gamma_ + 1);
        return std::min(std::max(estimate, min_), max_);
      }
    }
    return max_;
  }

  void merge(const LogHistogram& other) {
    if (other.relative_accuracy_ != relative_accuracy_ || other.min_value_ != min_value_ ||
        other.max_value_ != max_value_)
      throw std::invalid_argument("LogHistogram: cannot merge histograms with different parameters");
    if (other.count_ == 0) return;
    if (count_ == 0) {
      min_ = other.min_;
      max_ = other.max_;
    } else {
      min_ = std::min(min_, other.min_);
      max_ = std::max(max_, other.max_);
    }
    count_ += other.count_;
    sum_ += other.sum_;
    zero_count_ += other.zero_count_;
    overflow_count_ += other.overflow_count_;
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  }

  std::uint64_t count() const noexcept { return count_; }
  double sum() const noexcept { return sum_; }
  double mean() const noexcept { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  double min() const noexcept { return min_; }
  double max() const noexcept { return max_; }
  double relative_accuracy() const noexcept { return relative_accuracy_; }
  std::size_t bucket_count() const noexcept { return counts_.size(); }

  friend bool operator==(const LogHistogram& a, const LogHistogram& b) {
    return a.relative_accuracy_ == b.relative_accuracy_ && a.min_value_ == b.min_value_ &&
           a.max_value_ == b.max_value_ && a.count_ == b.count_ && a.zero_count_ == b.zero_count_ &&
           a.overflow_count_ == b.overflow_count_ && a.counts_ == b.counts_ && a.min_ == b.min_ &&
           a.max_ == b.max_ && std::abs(a.sum_ - b.sum_) <= 1e-9 * std::max(1.0, std::abs(a.sum_));
  }
  friend bool operator!=(const LogHistogram& a, const LogHistogram& b) { return !(a == b); }

  friend void to_json(nlohmann::json& j, const LogHistogram& h) {
    // Sparse: only non-empty buckets, as [index, count] pairs.
    nlohmann::json buckets = nlohmann::json::array();
    for (std::size_t i = 0; i < h.counts_.size(); ++i)
      if (h.counts_[i]) buckets.push_back({i, h.counts_[i]});
    j = nlohmann::json{{"relative_accuracy", h.relative_accuracy_},
                       {"min_value", h.min_value_},
                       {"max_value", h.max_value_},
                       {"count", h.count_},
                       {"sum", h.sum_},
                       {"min", h.min_},
                       {"max", h.max_},
                       {"zero_count", h.zero_count_},
                       {"overflow_count", h.overflow_count_},
                       {"buckets", buckets}};
  }
  friend void from_json(const nlohmann::json& j, LogHistogram& h) {
    h = LogHistogram(j.at("relative_accuracy").get<double>(), j.at("min_value").get<double>(),
                     j.at("max_value").get<double>());
    j.at("count").get_to(h.count_);
    j.at("sum").get_to(h.sum_);
    j.at("min").get_to(h.min_);
    j.at("max").get_to(h.max_);
    j.at("zero_count").get_to(h.zero_count_);
    j.at("overflow_count").get_to(h.overflow_count_);
    std::uint64_t total = h.zero_count_ + h.overflow_count_;
    for (const auto& pair : j.at("buckets")) {
      const auto index = pair.at(0).get<std::size_t>();
      if (index >= h.counts_.size()) throw std::invalid_argument("LogHistogram: bucket index out of range in JSON");
      h.counts_[index] = pair.at(1).get<std::uint64_t>();
      total += h.counts_[index];
    }
    if (total != h.count_) throw std::invalid_argument("LogHistogram: bucket counts do not add up to count in JSON");
  }

 private:
  long key_of(double value) const { return static_cast<long>(std::ceil(std::log(value) / log_gamma_)); }

  double relative_accuracy_, min_value_, max_value_;
  double gamma_ = 0, log_gamma_ = 0;
  long offset_ = 0;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0, zero_count_ = 0, overflow_count_ = 0;
  double sum_ = 0, min_ = 0, max_ = 0;
};

inline LogHistogram merge(LogHistogram a, const LogHistogram& b) {
  a.merge(b);
  return a;
}

}  // namespace servebench
// ---- end servebench/stats.hpp ----
// ---- begin servebench/record.hpp ----
// servebench — one request's record, and the summary of a level (one concurrency level or rate, one target).
// Metric definitions follow docs/metrics.md exactly; they are the same in code, docs and artifacts.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>


namespace servebench {

// steady_clock nanoseconds. Every timestamp in a record is on this clock.
using Nanos = std::int64_t;

inline Nanos now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline double ns_to_s(Nanos ns) noexcept { return static_cast<double>(ns) * 1e-9; }

// How a request ended. `none` is success; `interrupted` is neither success nor failure (the run was stopped).
enum class ErrorKind {
  none,
  connect_refused,      // nothing listens at the address
  name_resolution,      // the host name does not resolve
  connect_timeout,      // no TCP connection within the connect timeout
  read_timeout,         // the server went silent longer than the read timeout
  write_failed,         // the request could not be written
  deadline_exceeded,    // the whole-request deadline (or the level timeout) passed
  http_status,          // HTTP status >= 400; status and start of body kept
  invalid_json,         // a reply body or stream event was not valid JSON
  missing_field,        // valid JSON without the field the dialect needs
  incomplete_stream,    // the stream ended cleanly but without its terminator ([DONE] or final event)
  closed_mid_stream,    // the connection dropped after some of the reply arrived
  empty_reply,          // the server closed the connection without a reply
  interrupted,          // the run was stopped (Ctrl-C, SIGTERM) while this request was in flight
  other,
};

inline const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::none: return "none";
    case ErrorKind::connect_refused: return "connect_refused";
    case ErrorKind::name_resolution: return "name_resolution";
    case ErrorKind::connect_timeout: return "connect_timeout";
    case ErrorKind::read_timeout: return "read_timeout";
    case ErrorKind::write_failed: return "write_failed";
    case ErrorKind::deadline_exceeded: return "deadline_exceeded";
    case ErrorKind::http_status: return "http_status";
    case ErrorKind::invalid_json: return "invalid_json";
    case ErrorKind::missing_field: return "missing_field";
    case ErrorKind::incomplete_stream: return "incomplete_stream";
    case ErrorKind::closed_mid_stream: return "closed_mid_stream";
    case ErrorKind::empty_reply: return "empty_reply";
    case ErrorKind::interrupted: return "interrupted";
    case ErrorKind::other: return "other";
  }
  return "other";
}

inline ErrorKind error_kind_from_string(const std::string& name) {
  for (int k = static_cast<int>(ErrorKind::none); k <= static_cast<int>(ErrorKind::other); ++k)
    if (name == to_string(static_cast<ErrorKind>(k))) return static_cast<ErrorKind>(k);
  throw std::invalid_argument("unknown error kind '" + name + "'");
}

// Where n_out came from. Never a silent guess from words.
enum class TokenSource {
  none,    // unknown: the server reported no count and there were no stream events
  usage,   // the server's usage.completion_tokens (or the dialect's equivalent)
  events,  // the number of text-carrying stream events (the server sent no usage)
};

inline const char* to_string(TokenSource source) noexcept {
  switch (source) {
    case TokenSource::none: return "none";
    case TokenSource::usage: return "usage";
    case TokenSource::events: return "events";
  }
  return "none";
}

inline TokenSource token_source_from_string(const std::string& name) {
  if (name == "none") return TokenSource::none;
  if (name == "usage") return TokenSource::usage;
  if (name == "events") return TokenSource::events;
  throw std::invalid_argument("unknown token source '" + name + "'");
}

inline void to_json(nlohmann::json& j, ErrorKind kind) { j = to_string(kind); }
inline void from_json(const nlohmann::json& j, ErrorKind& kind) { kind = error_kind_from_string(j.get<std::string>()); }
inline void to_json(nlohmann::json& j, TokenSource source) { j = to_string(source); }
inline void from_json(const nlohmann::json& j, TokenSource& source) {
  source = token_source_from_string(j.get<std::string>());
}

struct RequestRecord {
  std::string target;         // label of the server it went to ("hf", "vllm", ...)
  std::uint64_t index = 0;    // position in the workload
  bool warmup = false;        // sent to warm the server; never enters statistics
  bool streamed = false;      // the reply was a stream of events (TTFT, TPOT and ITL are defined only then)

  Nanos t_sched = 0;          // when it was meant to go
  Nanos t_send = 0;           // just before the first request byte was written (0: never sent)
  Nanos t_first_token = 0;    // first text-carrying event (streaming) or t_end (not streaming)
  Nanos t_end = 0;            // last text-carrying event, or the last byte of a non-streaming reply
  std::vector<Nanos> event_times;  // arrival of every text-carrying event (streaming only)

  std::int64_t n_in = -1;     // prompt tokens when the server reported them, else -1
  std::int64_t n_out = 0;
  TokenSource token_source = TokenSource::none;

  int http_status = 0;
  ErrorKind error_kind = ErrorKind::none;
  std::string error_message;  // what went wrong, for a person
  std::string body_start;     // first 512 bytes of the reply body when it failed

  std::string text;           // the generated text (may be left empty to save memory)

  // Ground truth from a servebench::sim server, on the same steady clock when client and server share a process:
  // when it wrote its first and last token. 0 when the server does not report them.
  Nanos server_first_token = 0;
  Nanos server_end = 0;

  bool ok() const noexcept { return error_kind == ErrorKind::none; }
  bool interrupted() const noexcept { return error_kind == ErrorKind::interrupted; }

  double latency_s() const noexcept { return ns_to_s(t_end - t_send); }
  double latency_from_sched_s() const noexcept { return ns_to_s(t_end - t_sched); }
  double client_queue_s() const noexcept { return ns_to_s(t_send - t_sched); }
  double ttft_s() const noexcept { return ns_to_s(t_first_token - t_send); }
  // (latency - ttft) / (n_out - 1); only meaningful when n_out > 1.
  std::optional<double> tpot_s() const noexcept {
    if (n_out <= 1) return std::nullopt;
    return ns_to_s(t_end - t_first_token) / static_cast<double>(n_out - 1);
  }
};

inline void to_json(nlohmann::json& j, const RequestRecord& r) {
  j = nlohmann::json{{"target", r.target},
                     {"index", r.index},
                     {"warmup", r.warmup},
                     {"streamed", r.streamed},
                     {"t_sched", r.t_sched},
                     {"t_send", r.t_send},
                     {"t_first_token", r.t_first_token},
                     {"t_end", r.t_end},
                     {"event_times", r.event_times},
                     {"n_in", r.n_in},
                     {"n_out", r.n_out},
                     {"token_source", r.token_source},
                     {"http_status", r.http_status},
                     {"error_kind", r.error_kind},
                     {"error_message", r.error_message},
                     {"body_start", r.body_start},
                     {"text", r.text},
                     {"server_first_token", r.server_first_token},
                     {"server_end", r.server_end}};
}

inline void from_json(const nlohmann::json& j, RequestRecord& r) {
  j.at("target").get_to(r.target);
  j.at("index").get_to(r.index);
  r.warmup = j.value("warmup", false);
  r.streamed = j.value("streamed", false);
  j.at("t_sched").get_to(r.t_sched);
  j.at("t_send").get_to(r.t_send);
  j.at("t_first_token").get_to(r.t_first_token);
  j.at("t_end").get_to(r.t_end);
  r.event_times = j.value("event_times", std::vector<Nanos>{});
  r.n_in = j.value("n_in", std::int64_t{-1});
  j.at("n_out").get_to(r.n_out);
  r.token_source = j.value("token_source", TokenSource::none);
  r.http_status = j.value("http_status", 0);
  j.at("error_kind").get_to(r.error_kind);
  r.error_message = j.value("error_message", std::string{});
  r.body_start = j.value("body_start", std::string{});
  r.text = j.value("text", std::string{});
  r.server_first_token = j.value("server_first_token", Nanos{0});
  r.server_end = j.value("server_end", Nanos{0});
}

// Service-level objectives for goodput: a request counts as good when it succeeded and meets every one given.
struct Slo {
  std::optional<double> ttft_s;
  std::optional<double> tpot_s;
  std::optional<double> latency_s;

  bool any() const noexcept { return ttft_s || tpot_s || latency_s; }
  bool met_by(const RequestRecord& r) const noexcept {
    if (!r.ok()) return false;
    if (ttft_s && r.ttft_s() > *ttft_s) return false;
    if (tpot_s) {
      const auto tpot = r.tpot_s();
      if (tpot && *tpot > *tpot_s) return false;
    }
    if (latency_s && r.latency_s() > *latency_s) return false;
    return true;
  }
};

struct SummarizeOptions {
  PercentileMethod method = PercentileMethod::linear;
  Slo slo;
};

// One level of one target. Durations in the summaries are seconds. A summary is absent (null in JSON) when it has
// no samples: for example TTFT when nothing was streamed, or latency when every request failed.
struct LevelSummary {
  std::string target;
  double level = 0;           // concurrency, or the request rate for open loop; set by whoever ran the level
  std::size_t sent = 0;       // successful + failed + interrupted
  std::size_t successful = 0;
  std::size_t failed = 0;
  std::size_t interrupted = 0;
  std::map<std::string, std::size_t> failed_by_kind;
  double wall_s = 0;          // first t_send to last t_end
  double throughput_req_per_sec = 0;
  double output_tokens_per_sec = 0;
  std::int64_t total_output_tokens = 0;
  std::optional<double> goodput_req_per_sec;  // only when SLOs were given
  std::optional<Summary> latency, latency_from_sched, client_queue, ttft, tpot, itl;
};

inline LevelSummary summarize(const std::vector<RequestRecord>& records, const SummarizeOptions& options = {}) {
  LevelSummary s;
  std::vector<double> latency, latency_from_sched, client_queue, ttft, tpot, itl;
  Nanos first_send = 0, last_end = 0;
  bool any_sent = false;
  std::size_t good = 0;
  for (const auto& r : records) {
    if (r.warmup) continue;
    if (s.target.empty()) s.target = r.target;
    ++s.sent;
    if (r.t_send > 0) {
      first_send = any_sent ? std::min(first_send, r.t_send) : r.t_send;
      last_end = any_sent ? std::max(last_end, std::max(r.t_end, r.t_send)) : std::max(r.t_end, r.t_send);
      any_sent = true;
    }
    if (r.interrupted()) {
      ++s.interrupted;
      continue;
    }
    if (!r.ok()) {
      ++s.failed;
      ++s.failed_by_kind[to_string(r.error_kind)];
      continue;
    }
    ++s.successful;
    s.total_output_tokens += r.n_out;
    latency.push_back(r.latency_s());
    latency_from_sched.push_back(r.latency_from_sched_s());
    client_queue.push_back(r.client_queue_s());
    if (r.streamed) {
      ttft.push_back(r.ttft_s());
      if (auto t = r.tpot_s()) tpot.push_back(*t);
      for (std::size_t i = 1; i < r.event_times.size(); ++i)
        itl.push_back(ns_to_s(r.event_times[i] - r.event_times[i - 1]));
    }
    if (options.slo.met_by(r)) ++good;
  }
  s.wall_s = any_sent ? ns_to_s(last_end - first_send) : 0.0;
  if (s.wall_s > 0) {
    s.throughput_req_per_sec = static_cast<double>(s.successful) / s.wall_s;
    s.output_tokens_per_sec = static_cast<double>(s.total_output_tokens) / s.wall_s;
    if (options.slo.any()) s.goodput_req_per_sec = static_cast<double>(good) / s.wall_s;
  } else if (options.slo.any()) {
    s.goodput_req_per_sec = 0.0;
  }
  auto maybe = [&](std::vector<double>& v) -> std::optional<Summary> {
    if (v.empty()) return std::nullopt;
    return summarize_samples(std::move(v), options.method);
  };
  s.latency = maybe(latency);
  s.latency_from_sched = maybe(latency_from_sched);
  s.client_queue = maybe(client_queue);
  s.ttft = maybe(ttft);
  s.tpot = maybe(tpot);
  s.itl = maybe(itl);
  return s;
}

// One level's outcome: its summary and (optionally) every record. What schedulers return and artifacts hold.
struct LevelResult {
  LevelSummary summary;
  std::vector<RequestRecord> records;
};

namespace detail {
template <class T>
void put_optional(nlohmann::json& j, const char* key, const std::optional<T>& value) {
  if (value)
    j[key] = *value;
  else
    j[key] = nullptr;
}
template <class T>
void get_optional(const nlohmann::json& j, const char* key, std::optional<T>& value) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    value.reset();
  else
    value = it->template get<T>();
}
}  // namespace detail

inline void to_json(nlohmann::json& j, const LevelSummary& s) {
  j = nlohmann::json{{"target", s.target},
                     {"level", s.level},
                     {"sent", s.sent},
                     {"successful", s.successful},
                     {"failed", s.failed},
                     {"interrupted", s.interrupted},
                     {"failed_by_kind", s.failed_by_kind},
                     {"wall_s", s.wall_s},
                     {"throughput_req_per_sec", s.throughput_req_per_sec},
                     {"output_tokens_per_sec", s.output_tokens_per_sec},
                     {"total_output_tokens", s.total_output_tokens}};
  detail::put_optional(j, "goodput_req_per_sec", s.goodput_req_per_sec);
  detail::put_optional(j, "latency", s.latency);
  detail::put_optional(j, "latency_from_sched", s.latency_from_sched);
  detail::put_optional(j, "client_queue", s.client_queue);
  detail::put_optional(j, "ttft", s.ttft);
  detail::put_optional(j, "tpot", s.tpot);
  detail::put_optional(j, "itl", s.itl);
}

inline void from_json(const nlohmann::json& j, LevelSummary& s) {
  j.at("target").get_to(s.target);
  j.at("level").get_to(s.level);
  j.at("sent").get_to(s.sent);
  j.at("successful").get_to(s.successful);
  j.at("failed").get_to(s.failed);
  s.interrupted = j.value("interrupted", std::size_t{0});
  s.failed_by_kind = j.value("failed_by_kind", std::map<std::string, std::size_t>{});
  j.at("wall_s").get_to(s.wall_s);
  j.at("throughput_req_per_sec").get_to(s.throughput_req_per_sec);
  j.at("output_tokens_per_sec").get_to(s.output_tokens_per_sec);
  s.total_output_tokens = j.value("total_output_tokens", std::int64_t{0});
  detail::get_optional(j, "goodput_req_per_sec", s.goodput_req_per_sec);
  detail::get_optional(j, "latency", s.latency);
  detail::get_optional(j, "latency_from_sched", s.latency_from_sched);
  detail::get_optional(j, "client_queue", s.client_queue);
  detail::get_optional(j, "ttft", s.ttft);
  detail::get_optional(j, "tpot", s.tpot);
  detail::get_optional(j, "itl", s.itl);
}

inline void to_json(nlohmann::json& j, const LevelResult& r) {
  j = nlohmann::json{{"summary", r.summary}, {"records", r.records}};
}
inline void from_json(const nlohmann::json& j, LevelResult& r) {
  j.at("summary").get_to(r.summary);
  r.records = j.value("records", std::vector<RequestRecord>{});
}

}  // namespace servebench
// ---- end servebench/record.hpp ----
// ---- begin servebench/artifact.hpp ----
// servebench — JSON artifacts: the full record of a run (metadata, level summaries, optionally every request),
// written atomically so a crash or Ctrl-C never leaves half a file where the artifact should be.

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>


namespace servebench {

// The schema name every artifact carries; the reader refuses files without it.
inline constexpr const char* artifact_schema = "servebench.artifact/1";

namespace detail {

inline std::string errno_text(int error) { return std::generic_category().message(error); }

inline void make_parent_directories(const std::string& path) {
  // mkdir -p of everything before the last '/'.
  for (std::size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    const std::string dir = path.substr(0, pos);
    if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
      throw std::runtime_error("cannot create directory '" + dir + "' for '" + path + "': " + errno_text(errno) +
                               " (choose another output path, or fix its permissions)");
    struct stat info {};
    if (::stat(dir.c_str(), &info) == 0 && !S_ISDIR(info.st_mode))
      throw std::runtime_error("cannot write '" + path + "': '" + dir + "' exists and is not a directory");
  }
}

inline std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace detail

// Writes `contents` to `path` atomically: a temporary file in the same directory, written, flushed, fsync'ed, then
// renamed over `path` (and the directory fsync'ed). Readers see the old file or the new one, never a mix. Parent
// directories are created. Throws std::runtime_error naming the path and the reason.
inline void write_file_atomic(const std::string& path, const std::string& contents) {
  if (path.empty()) throw std::runtime_error("cannot write a file with an empty path");
  if (path.back() == '/') throw std::runtime_error("cannot write '" + path + "': the path names a directory");
  detail::make_parent_directories(path);
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0)
    throw std::runtime_error("cannot write '" + path + "': " + detail::errno_text(errno) +
                             " (choose another output path, or fix its permissions)");
  auto fail = [&](const char* step) {
    const int error = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    throw std::runtime_error("cannot write '" + path + "' (" + step + "): " + detail::errno_text(error));
  };
  const char* data = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  // mkstemp creates 0600; an artifact is ordinary user data.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0) fail("chmod");
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw std::runtime_error("cannot write '" + path + "' (close): " + detail::errno_text(error));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw std::runtime_error("cannot write '" + path + "' (rename): " + detail::errno_text(error));
  }
  const int dir = ::open(detail::directory_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: makes the rename itself durable
    ::close(dir);
  }
}

inline void write_json_atomic(const std::string& path, const nlohmann::json& value, int indent = 2) {
  write_file_atomic(path, value.dump(indent) + "\n");
}

// Reads a whole file; throws std::runtime_error naming the path and the reason.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "': " + detail::errno_text(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Current UTC time as ISO 8601 ("2026-11-28T22:53:56Z").
inline std::string utc_now_iso8601() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

inline std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

struct TargetInfo {
  std::string label;  // "hf", "vllm", ...
  std::string url;
  std::string api;    // dialect name
  std::string model;
};

inline void to_json(nlohmann::json& j, const TargetInfo& t) {
  j = nlohmann::json{{"label", t.label}, {"url", t.url}, {"api", t.api}, {"model", t.model}};
}
inline void from_json(const nlohmann::json& j, TargetInfo& t) {
  j.at("label").get_to(t.label);
  t.url = j.value("url", std::string{});
  t.api = j.value("api", std::string{});
  t.model = j.value("model", std::string{});
}

struct RunMetadata {
  std::string servebench_version = SERVEBENCH_VERSION_STRING;
  std::string utc_time = utc_now_iso8601();   // when the run started
  std::string hostname = host_name();
  std::vector<std::string> command_line;
  nlohmann::json configuration = nlohmann::json::object();  // whatever the program was asked to do
  std::vector<TargetInfo> targets;
  std::optional<double> time_scale;           // set when simulated servers ran faster than real time
  std::string percentile_method = "linear";
  bool interrupted = false;                   // the run was stopped early; levels hold what completed
  std::string model;                          // for chart titles, when known
  std::string gpu;                            // for chart titles, when known
};

inline void to_json(nlohmann::json& j, const RunMetadata& m) {
  j = nlohmann::json{{"servebench_version", m.servebench_version},
                     {"utc_time", m.utc_time},
                     {"hostname", m.hostname},
                     {"command_line", m.command_line},
                     {"configuration", m.configuration},
                     {"targets", m.targets},
                     {"percentile_method", m.percentile_method},
                     {"interrupted", m.interrupted},
                     {"model", m.model},
                     {"gpu", m.gpu}};
  detail::put_optional(j, "time_scale", m.time_scale);
}
inline void from_json(const nlohmann::json& j, RunMetadata& m) {
  j.at("servebench_version").get_to(m.servebench_version);
  j.at("utc_time").get_to(m.utc_time);
  m.hostname = j.value("hostname", std::string{});
  m.command_line = j.value("command_line", std::vector<std::string>{});
  m.configuration = j.value("configuration", nlohmann::json::object());
  m.targets = j.value("targets", std::vector<TargetInfo>{});
  detail::get_optional(j, "time_scale", m.time_scale);
  m.percentile_method = j.value("percentile_method", std::string("linear"));
  m.interrupted = j.value("interrupted", false);
  m.model = j.value("model", std::string{});
  m.gpu = j.value("gpu", std::string{});
}

struct Artifact {
  RunMetadata metadata;
  std::vector<LevelResult> levels;
  nlohmann::json extra = nlohmann::json::object();  // program-specific results (e.g. single-request comparison)
};

inline nlohmann::json artifact_to_json(const Artifact& artifact, bool include_records = true) {
  nlohmann::json levels = nlohmann::json::array();
  for (const auto& level : artifact.levels) {
    nlohmann::json entry{{"summary", level.summary}};
    if (include_records) entry["records"] = level.records;
    levels.push_back(std::move(entry));
  }
  return nlohmann::json{
      {"schema", artifact_schema}, {"metadata", artifact.metadata}, {"levels", levels}, {"extra", artifact.extra}};
}

inline void to_json(nlohmann::json& j, const Artifact& artifact) { j = artifact_to_json(artifact); }
inline void from_json(const nlohmann::json& j, Artifact& artifact) {
  j.at("metadata").get_to(artifact.metadata);
  j.at("levels").get_to(artifact.levels);
  artifact.extra = j.value("extra", nlohmann::json::object());
}

inline void write_artifact(const std::string& path, const Artifact& artifact, bool include_records = true) {
  write_json_atomic(path, artifact_to_json(artifact, include_records));
}

// Parses an artifact from text; `origin` names it in errors. Throws std::runtime_error that says what is wrong.
inline Artifact parse_artifact(const std::string& text, const std::string& origin = "artifact") {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error("'" + origin + "' is not valid JSON (truncated or not an artifact?): " + e.what());
  }
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string())
    throw std::runtime_error("'" + origin + "' is not a servebench artifact (no \"schema\" field; expected \"" +
                             artifact_schema + "\")");
  if (j["schema"].get<std::string>() != artifact_schema)
    throw std::runtime_error("'" + origin + "' has schema \"" + j["schema"].get<std::string>() +
                             "\"; this servebench reads \"" + artifact_schema + "\"");
  try {
    return j.get<Artifact>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("'" + origin + "' is a damaged servebench artifact: " + e.what());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("'" + origin + "' is a damaged servebench artifact: " + e.what());
  }
}

inline Artifact read_artifact(const std::string& path) { return parse_artifact(read_file(path), path); }

}  // namespace servebench
// ---- end servebench/artifact.hpp ----
// ---- begin servebench/workload.hpp ----
// servebench — workloads: where prompts come from.
//
// A Workload is a random-access source of prompts: `at(index)` gives the prompt for request `index`. Schedulers pull
// from it by index from several threads at once, so every workload is immutable once built and `at` is const. A
// workload is either finite (`size()` has a value; `at` wraps around, so a three-prompt list can feed a hundred
// requests) or infinite (`size()` is empty: templates and synthetic prompts). Everything is deterministic: the same
// workload (and seed) gives the same prompt at the same index on every run and every platform.
//
//   auto lab    = servebench::lab_single_request_workload();            // the lab's three prompts, 100 tokens
//   auto conc   = servebench::template_prompts("Question {i}: Explain concept {i} briefly.", 50);
//   auto file   = servebench::jsonl_prompts("prompts.jsonl");           // {"prompt": "...", "max_tokens": 64}
//   auto synth  = servebench::synthetic_prompts(200, 128, /*seed=*/1);  // 200-word prompts

#include <array>
#include <cstdint>
#include <fstream>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace servebench {

// One request to make: the prompt and its generation length.
struct Prompt {
  std::string text;
  int max_tokens = 100;
};

// The lab's prompts, so a program can reproduce its numbers without retyping them.
// Part 2.2 (single-request comparison): three prompts, 100 tokens each.
inline constexpr std::array<const char*, 3> lab_prompts{
    "Write a detailed explanation of how transformers work:",
    "Explain the concept of attention mechanism in neural networks:",
    "What are the key differences between GPT and BERT architectures?",
};
inline constexpr int lab_prompt_max_tokens = 100;
// Part 2.3 (concurrency experiment): f"Question {i}: Explain concept {i} briefly." for i in range(n), 50 tokens.
inline constexpr const char* lab_question_template = "Question {i}: Explain concept {i} briefly.";
inline constexpr int lab_question_max_tokens = 50;

// Thrown when a workload cannot be built: a file that cannot be read, a bad JSONL line (the message names the file
// and the 1-based line number), an empty list.
struct WorkloadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Workload {
 public:
  using Generator = std::function<Prompt(std::uint64_t index)>;

  // `generator` must be safe to call from several threads at once (schedulers do) and must depend only on the index.
  // `size` empty: infinite. A finite workload calls the generator with index % size.
  Workload(Generator generator, std::optional<std::uint64_t> size = std::nullopt, std::string name = {})
      : generator_(std::make_shared<const Generator>(std::move(generator))), size_(size), name_(std::move(name)) {
    if (!*generator_) throw std::invalid_argument("servebench::Workload: empty generator");
    if (size_ && *size_ == 0) throw WorkloadError("servebench::Workload '" + name_ + "' has no prompts");
  }

  Prompt at(std::uint64_t index) const { return (*generator_)(size_ ? index % *size_ : index); }
  std::optional<std::uint64_t> size() const noexcept { return size_; }
  bool infinite() const noexcept { return !size_; }
  const std::string& name() const noexcept { return name_; }

  // The first `count` prompts (wrapping for a finite workload), e.g. to print or save what a run will send.
  std::vector<Prompt> take(std::uint64_t count) const {
    std::vector<Prompt> out;
    out.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) out.push_back(at(i));
    return out;
  }

 private:
  std::shared_ptr<const Generator> generator_;  // shared: copies of a workload are cheap and see the same prompts
  std::optional<std::uint64_t> size_;
  std::string name_;
};

namespace detail {

// splitmix64: a tiny, fully specified mixer, so seeded prompts are the same on every standard library (the
// distributions of <random> are not).
inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

inline void replace_all(std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
}

inline void check_max_tokens(int max_tokens, const char* who) {
  if (max_tokens <= 0) throw std::invalid_argument(std::string("servebench::") + who + ": max_tokens must be > 0");
}

// Ordinary English words, so synthetic prompts tokenize roughly like prose (about 1.3 tokens per word on
// Llama-family tokenizers) rather than like random characters, which would inflate the token count.
inline constexpr std::array<const char*, 64> synthetic_vocabulary{
    "the",      "model",   "server",  "request", "answer",   "question", "data",     "system",
    "time",     "network", "memory",  "layer",   "attention", "token",   "batch",    "engine",
    "explain",  "simple",  "large",   "small",   "quickly",  "slowly",   "because",  "which",
    "between",  "about",   "through", "under",   "after",    "before",   "while",    "where",
    "people",   "learn",   "build",   "measure", "compare",  "result",   "number",   "value",
    "history",  "science", "river",   "mountain", "city",    "language", "music",    "garden",
    "write",    "read",    "think",   "describe", "example", "detail",   "reason",   "method",
    "every",    "other",   "first",   "second",  "several",  "many",     "often",    "always",
};

}  // namespace detail

// A fixed list of prompts, used in order and wrapped around.
inline Workload fixed_prompts(std::vector<Prompt> prompts, std::string name = "fixed") {
  if (prompts.empty()) throw WorkloadError("servebench::fixed_prompts: the list is empty");
  for (const auto& p : prompts) detail::check_max_tokens(p.max_tokens, "fixed_prompts");
  auto shared = std::make_shared<const std::vector<Prompt>>(std::move(prompts));
  const auto size = static_cast<std::uint64_t>(shared->size());
  return Workload([shared](std::uint64_t i) { return (*shared)[static_cast<std::size_t>(i)]; }, size,
                  std::move(name));
}

inline Workload fixed_prompts(const std::vector<std::string>& texts, int max_tokens, std::string name = "fixed") {
  std::vector<Prompt> prompts;
  prompts.reserve(texts.size());
  for (const auto& t : texts) prompts.push_back(Prompt{t, max_tokens});
  return fixed_prompts(std::move(prompts), std::move(name));
}

// `pattern` with every "{i}" replaced by the request index (0, 1, 2, ...), like the lab's f-string. Infinite unless
// `count` is given, in which case it wraps after `count` prompts.
inline Workload template_prompts(std::string pattern, int max_tokens, std::optional<std::uint64_t> count = std::nullopt,
                                 std::string name = "template") {
  detail::check_max_tokens(max_tokens, "template_prompts");
  return Workload(
      [pattern = std::move(pattern), max_tokens](std::uint64_t i) {
        Prompt p{pattern, max_tokens};
        detail::replace_all(p.text, "{i}", std::to_string(i));
        return p;
      },
      count, std::move(name));
}

// The lab's part 2.2 prompts (three, 100 tokens each).
inline Workload lab_single_request_workload() {
  return fixed_prompts(std::vector<std::string>(lab_prompts.begin(), lab_prompts.end()), lab_prompt_max_tokens,
                       "lab-single-request");
}

// The lab's part 2.3 prompts: "Question {i}: Explain concept {i} briefly.", 50 tokens.
inline Workload lab_concurrent_workload() {
  return template_prompts(lab_question_template, lab_question_max_tokens, std::nullopt, "lab-concurrent");
}

// Parses JSON Lines: one object per line, {"prompt": string, "max_tokens": positive integer (optional, else
// `default_max_tokens`)}. Blank lines are skipped. `source_name` names the input in error messages.
inline std::vector<Prompt> parse_jsonl_prompts(std::istream& in, const std::string& source_name,
                                               int default_max_tokens = 100) {
  detail::check_max_tokens(default_max_tokens, "parse_jsonl_prompts");
  std::vector<Prompt> prompts;
  std::string line;
  std::size_t line_number = 0;
  auto fail = [&](const std::string& why) {
    throw WorkloadError(source_name + ":" + std::to_string(line_number) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // files written on Windows
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail(std::string("not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) fail("expected a JSON object with a \"prompt\" field");
    auto prompt = j.find("prompt");
    if (prompt == j.end()) fail("missing \"prompt\"");
    if (!prompt->is_string()) fail("\"prompt\" must be a string");
    Prompt p{prompt->get<std::string>(), default_max_tokens};
    auto max_tokens = j.find("max_tokens");
    if (max_tokens != j.end() && !max_tokens->is_null()) {
      if (!max_tokens->is_number_integer()) fail("\"max_tokens\" must be an integer");
      const auto value = max_tokens->get<std::int64_t>();
      if (value <= 0 || value > 1'000'000'000) fail("\"max_tokens\" must be a positive integer");
      p.max_tokens = static_cast<int>(value);
    }
    prompts.push_back(std::move(p));
  }
  if (in.bad()) throw WorkloadError(source_name + ": read error");
  if (prompts.empty()) throw WorkloadError(source_name + ": no prompts");
  return prompts;
}

// A JSONL file of {"prompt", "max_tokens"} records, read once up front (a bad line fails here, not mid-run).
inline Workload jsonl_prompts(const std::string& path, int default_max_tokens = 100) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw WorkloadError(path + ": cannot open");
  return fixed_prompts(parse_jsonl_prompts(in, path, default_max_tokens), path);
}

// Prompts of exactly `words` words drawn from a fixed vocabulary, different for every index, the same for the same
// (seed, index) on every platform. Infinite. For input-length experiments without a data set.
inline Workload synthetic_prompts(std::size_t words, int max_tokens, std::uint64_t seed = 0,
                                  std::string name = "synthetic") {
  detail::check_max_tokens(max_tokens, "synthetic_prompts");
  if (words == 0) throw std::invalid_argument("servebench::synthetic_prompts: words must be > 0");
  return Workload(
      [words, max_tokens, seed](std::uint64_t i) {
        // One independent stream per (seed, index): random access, no shared state between threads.
        std::uint64_t state = seed;
        state = detail::splitmix64(state) ^ (i * 0xD1B54A32D192ED03ULL);
        Prompt p{{}, max_tokens};
        p.text.reserve(words * 8);
        for (std::size_t w = 0; w < words; ++w) {
          if (w) p.text += ' ';
          p.text += detail::synthetic_vocabulary[detail::splitmix64(state) % detail::synthetic_vocabulary.size()];
        }
        return p;
      },
      std::nullopt, std::move(name));
}

}  // namespace servebench
// ---- end servebench/workload.hpp ----
// ---- begin servebench/sse.hpp ----
// servebench — an incremental Server-Sent-Events parser that yields the same events however the byte stream was
// split: a read may end inside a field name, inside `data:`, or between the CR and LF of one line break.
// Follows the WHATWG event-stream rules (https://html.spec.whatwg.org/multipage/server-sent-events.html), with one
// deliberate difference: finish() dispatches a final event that lacks its trailing blank line, because a benchmark
// would rather see the last token than silently drop it.

#include <string>
#include <string_view>
#include <utility>

namespace servebench {

// One dispatched event. `event` is empty when the stream gave no `event:` field (the spec's "message").
// `data` joins multi-line data with '\n' and has no trailing newline. `id` is the last `id:` seen on the stream so
// far (the spec's last-event-ID, which persists across events). "[DONE]" is ordinary data here; dialects decide
// what it means.
struct SseEvent {
  std::string event;
  std::string data;
  std::string id;
};

class SseParser {
 public:
  // Feeds the next bytes of the stream; calls on_event(const SseEvent&) for every event completed by them.
  template <class F>
  void feed(std::string_view bytes, F&& on_event) {
    std::size_t i = 0;
    while (i < bytes.size()) {
      // A CR ended the previous line; an LF right after it (possibly in this new read) belongs to the same break.
      if (skip_lf_) {
        skip_lf_ = false;
        if (bytes[i] == '\n') {
          ++i;
          continue;
        }
      }
      const std::size_t end = bytes.find_first_of("\r\n", i);
      if (end == std::string_view::npos) {
        line_.append(bytes.data() + i, bytes.size() - i);
        break;
      }
      line_.append(bytes.data() + i, end - i);
      skip_lf_ = bytes[end] == '\r';
      i = end + 1;
      process_line(on_event);
      line_.clear();
    }
  }

  // The stream ended: a pending line counts as complete and a pending event is dispatched even without its
  // trailing blank line. The parser is then ready for a new stream.
  template <class F>
  void finish(F&& on_event) {
    if (!line_.empty()) process_line(on_event);
    line_.clear();
    dispatch(on_event);
    reset();
  }

  // Forgets everything, including the last event id: ready for a new stream.
  void reset() {
    line_.clear();
    data_.clear();
    event_.clear();
    id_.clear();
    has_data_ = false;
    skip_lf_ = false;
    first_line_ = true;
  }

 private:
  template <class F>
  void process_line(F& on_event) {
    std::string_view line = line_;
    if (first_line_) {
      first_line_ = false;
      // A UTF-8 byte-order mark may open the stream; it is not part of the first field name.
      if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    }
    if (line.empty()) {
      dispatch(on_event);
      return;
    }
    if (line.front() == ':') return;  // a comment (servers send them as keep-alive pings)
    std::string_view field = line, value;
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      field = line.substr(0, colon);
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      if (has_data_) data_.push_back('\n');
      data_.append(value.data(), value.size());
      has_data_ = true;
    } else if (field == "event") {
      event_.assign(value.data(), value.size());
    } else if (field == "id") {
      if (value.find('\0') == std::string_view::npos) id_.assign(value.data(), value.size());
    }
    // `retry` and unknown fields are ignored, as the spec says.
  }

  template <class F>
  void dispatch(F& on_event) {
    // The spec dispatches nothing for an event without data (an `event:` line alone), and resets its type.
    if (has_data_) {
      SseEvent ev{std::move(event_), std::move(data_), id_};
      on_event(static_cast<const SseEvent&>(ev));
    }
    data_.clear();
    event_.clear();
    has_data_ = false;
  }

  std::string line_;
  std::string data_;
  std::string event_;
  std::string id_;
  bool has_data_ = false;
  bool skip_lf_ = false;
  bool first_line_ = true;
};

}  // namespace servebench
// ---- end servebench/sse.hpp ----
// ---- begin servebench/api.hpp ----
// servebench — request/response dialects: how a prompt becomes an HTTP request body, and how a reply (a whole JSON
// body, or one Server-Sent-Event at a time) becomes text and token counts.
//
// A dialect is a small struct a user can write themselves (examples/custom_dialect.cpp shows one):
//
//   struct my_server {
//     api::HttpCall request(const Prompt&, const GenerationOptions&) const;  // path + JSON body
//     api::Reply reply(const nlohmann::json& body) const;                   // a whole non-streaming reply
//     api::Event event(const nlohmann::json& data) const;                   // optional: one stream event's data
//   };
//
// A dialect without `event` does not stream: the driver then sends a plain request even when streaming was asked
// for, and the record says `streamed = false`. Dialects read JSON with `.at(...)` and `.get<T>()`; the exceptions
// those throw become ErrorKind::missing_field, and text that is not JSON at all becomes ErrorKind::invalid_json,
// in api::read_reply / api::read_event — a dialect never parses or classifies errors itself. Those two functions
// also handle what every dialect shares: the `[DONE]` stream terminator and the simulated server's `sim_timing`.

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>


namespace servebench {

// Generation settings shared by every request of a run (the prompt and its max_tokens come from Prompt).
struct GenerationOptions {
  std::string model;               // empty: not sent (servers with one model use it)
  double temperature = 0;          // 0: greedy, so runs are repeatable
  bool stream = false;             // ask for a stream of events (only dialects with `event` can)
  bool ignore_eos = false;         // vLLM extension: generate exactly max_tokens
  std::optional<int> min_tokens;   // vLLM extension
};

namespace api {

// What to send: a path below the base URL's prefix, and a JSON body to POST there.
struct HttpCall {
  std::string path;
  nlohmann::json body;
};

// A whole non-streaming reply.
struct Reply {
  std::string text;
  std::optional<std::int64_t> completion_tokens;  // the server's count of generated tokens, when it sends one
  std::optional<std::int64_t> prompt_tokens;
  // Filled by read_reply from `sim_timing` (servebench::sim servers only); 0 otherwise.
  Nanos server_first_token = 0;
  Nanos server_end = 0;
};

// One stream event.
struct Event {
  bool carries_text = false;  // it delivered generated text (role-only deltas, usage chunks, [DONE] do not)
  std::string text;
  std::optional<std::int64_t> completion_tokens;
  std::optional<std::int64_t> prompt_tokens;
  bool terminator = false;    // the stream is complete after this event
  Nanos server_first_token = 0;
  Nanos server_end = 0;
};

// A parse outcome: the value, or why there is none.
template <class T>
struct Parsed {
  T value;
  ErrorKind error = ErrorKind::none;
  std::string message;
  bool ok() const noexcept { return error == ErrorKind::none; }
};

// True when the dialect can read stream events (has `Event event(const nlohmann::json&) const`).
template <class Api, class = void>
struct streams : std::false_type {};
template <class Api>
struct streams<Api, std::void_t<decltype(std::declval<const Api&>().event(std::declval<const nlohmann::json&>()))>>
    : std::true_type {};
template <class Api>
inline constexpr bool streams_v = streams<Api>::value;

// Helpers for dialect writers: an optional integer that may be absent or null.
inline std::optional<std::int64_t> optional_int(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  return it->get<std::int64_t>();
}

namespace detail {

// The OpenAI-style `usage` object (absent or null in all but the last chunk of a stream).
template <class Out>
void read_usage(const nlohmann::json& body, Out& out) {
  const auto it = body.find("usage");
  if (it == body.end() || it->is_null()) return;
  out.completion_tokens = optional_int(*it, "completion_tokens");
  out.prompt_tokens = optional_int(*it, "prompt_tokens");
}

// servebench::sim adds {"sim_timing": {"first_token_ns", "last_token_ns"}}; any other server does not, and a
// malformed one is ignored rather than failing a request over a field no real server sends.
template <class Out>
void read_sim_timing(const nlohmann::json& body, Out& out) {
  if (!body.is_object()) return;
  const auto it = body.find("sim_timing");
  if (it == body.end() || !it->is_object()) return;
  const auto first = it->find("first_token_ns");
  const auto last = it->find("last_token_ns");
  if (first != it->end() && first->is_number_integer()) out.server_first_token = first->get<Nanos>();
  if (last != it->end() && last->is_number_integer()) out.server_end = last->get<Nanos>();
}

inline std::string excerpt(std::string_view text, std::size_t limit = 120) {
  std::string out(text.substr(0, limit));
  if (text.size() > limit) out += "...";
  return out;
}

template <class T, class Read>
Parsed<T> parse_with(std::string_view text, const char* what, Read&& read) {
  Parsed<T> out;
  // Parsing without exceptions keeps the common failure (a truncated or HTML body) cheap and exact.
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) {
    out.error = ErrorKind::invalid_json;
    out.message = std::string(what) + " is not valid JSON: " + excerpt(text);
    return out;
  }
  try {
    out.value = read(j);
  } catch (const nlohmann::json::exception& e) {
    // out_of_range: a key is missing; type_error: it is there but null or of another type. Both mean the
    // dialect's field is not where it must be.
    out.error = ErrorKind::missing_field;
    out.message = std::string(what) + " lacks a field the dialect needs (" + e.what() + "): " + excerpt(text);
    return out;
  } catch (const std::exception& e) {
    out.error = ErrorKind::other;
    out.message = std::string(what) + ": " + e.what();
    return out;
  }
  read_sim_timing(j, out.value);
  return out;
}

// The first element of `choices`, or nullptr when the list is empty (a usage-only chunk).
inline const nlohmann::json* first_choice(const nlohmann::json& body) {
  const auto& choices = body.at("choices");
  if (!choices.is_array()) throw nlohmann::json::type_error::create(302, "choices is not an array", &choices);
  return choices.empty() ? nullptr : &choices.front();
}

// A text field that may be absent or null in a delta (role-only chunk, tool call): empty then.
inline std::string optional_text(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  return it->get<std::string>();
}

inline void put_openai_options(nlohmann::json& body, const Prompt& prompt, const GenerationOptions& g) {
  if (!g.model.empty()) body["model"] = g.model;
  body["max_tokens"] = prompt.max_tokens;
  body["temperature"] = g.temperature;
  if (g.ignore_eos) body["ignore_eos"] = true;
  if (g.min_tokens) body["min_tokens"] = *g.min_tokens;
  if (g.stream) {
    body["stream"] = true;
    // Without it an OpenAI-style stream carries no token count and n_out would fall back to counting events.
    body["stream_options"] = {{"include_usage", true}};
  }
}

}  // namespace detail

// Reads a whole non-streaming reply body with `api`.
template <class Api>
Parsed<Reply> read_reply(const Api& api, std::string_view body) {
  return detail::parse_with<Reply>(body, "reply", [&](const nlohmann::json& j) { return api.reply(j); });
}

// Reads one stream event's data with `api`. `[DONE]` ends every dialect's stream and is never passed to it.
template <class Api>
Parsed<Event> read_event(const Api& api, std::string_view data) {
  if (data == "[DONE]") {
    Parsed<Event> out;
    out.value.terminator = true;
    return out;
  }
  return detail::parse_with<Event>(data, "stream event", [&](const nlohmann::json& j) { return api.event(j); });
}

// The lab's Flask server around transformers' model.generate: POST /v1/completions {"prompt", "max_tokens"} ->
// {"text", "usage": {"completion_tokens"}, "elapsed_sec"}. It does not stream, and reads nothing else.
struct hf_simple {
  HttpCall request(const Prompt& prompt, const GenerationOptions&) const {
    return {"/v1/completions", {{"prompt", prompt.text}, {"max_tokens", prompt.max_tokens}}};
  }
  Reply reply(const nlohmann::json& body) const {
    Reply r;
    r.text = body.at("text").get<std::string>();
    detail::read_usage(body, r);
    return r;
  }
};

// OpenAI /v1/completions as vLLM serves it.
struct openai_completions {
  HttpCall request(const Prompt& prompt, const GenerationOptions& g) const {
    HttpCall call{"/v1/completions", {{"prompt", prompt.text}}};
    detail::put_openai_options(call.body, prompt, g);
    return call;
  }
  Reply reply(const nlohmann::json& body) const {
    Reply r;
    const auto* choice = detail::first_choice(body);
    if (!choice) throw nlohmann::json::out_of_range::create(401, "choices is empty", &body);
    r.text = choice->at("text").get<std::string>();
    detail::read_usage(body, r);
    return r;
  }
  Event event(const nlohmann::json& data) const {
    Event e;
    if (const auto* choice = detail::first_choice(data)) {
      e.text = choice->at("text").get<std::string>();
      e.carries_text = !e.text.empty();
    }
    detail::read_usage(data, e);
    return e;
  }
};

// OpenAI /v1/chat/completions: one user message; streamed text arrives in choices[0].delta.content.
struct openai_chat {
  HttpCall request(const Prompt& prompt, const GenerationOptions& g) const {
    HttpCall call{"/v1/chat/completions",
                  {{"messages", nlohmann::json::array({{{"role", "user"}, {"content", prompt.text}}})}}};
    detail::put_openai_options(call.body, prompt, g);
    return call;
  }
  Reply reply(const nlohmann::json& body) const {
    Reply r;
    const auto* choice = detail::first_choice(body);
    if (!choice) throw nlohmann::json::out_of_range::create(401, "choices is empty", &body);
    r.text = detail::optional_text(choice->at("message"), "content");
    detail::read_usage(body, r);
    return r;
  }
  Event event(const nlohmann::json& data) const {
    Event e;
    if (const auto* choice = detail::first_choice(data)) {
      e.text = detail::optional_text(choice->at("delta"), "content");  // the first delta often has only a role
      e.carries_text = !e.text.empty();
    }
    detail::read_usage(data, e);
    return e;
  }
};

// Hugging Face text-generation-inference: POST /generate and /generate_stream. Its stream has no [DONE]: the
// event whose `generated_text` is set is the last one, and with `details` it carries the token count.
struct tgi {
  HttpCall request(const Prompt& prompt, const GenerationOptions& g) const {
    nlohmann::json parameters = {{"max_new_tokens", prompt.max_tokens}, {"details", true}};
    // TGI rejects temperature 0; greedy decoding is do_sample = false.
    if (g.temperature > 0) {
      parameters["temperature"] = g.temperature;
      parameters["do_sample"] = true;
    } else {
      parameters["do_sample"] = false;
    }
    return {g.stream ? "/generate_stream" : "/generate", {{"inputs", prompt.text}, {"parameters", parameters}}};
  }
  Reply reply(const nlohmann::json& body) const {
    // Older TGI releases answer with a one-element list.
    const nlohmann::json& result = body.is_array() ? body.at(0) : body;
    Reply r;
    r.text = result.at("generated_text").get<std::string>();
    read_details(result, r);
    return r;
  }
  Event event(const nlohmann::json& data) const {
    Event e;
    const auto& token = data.at("token");
    const bool special = token.value("special", false);
    e.text = token.at("text").get<std::string>();
    if (special) e.text.clear();  // an end-of-sequence token is a token but not text
    e.carries_text = !e.text.empty();
    const auto generated = data.find("generated_text");
    e.terminator = generated != data.end() && !generated->is_null();
    read_details(data, e);
    return e;
  }

 private:
  template <class Out>
  static void read_details(const nlohmann::json& body, Out& out) {
    const auto it = body.find("details");
    if (it == body.end() || it->is_null()) return;
    out.completion_tokens = optional_int(*it, "generated_tokens");
  }
};

}  // namespace api
}  // namespace servebench
// ---- end servebench/api.hpp ----
// ---- end servebench.hpp ----

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
//   servebench/scheduler.hpp
//   servebench/sse.hpp
//   servebench/api.hpp
//   servebench/chart.hpp
//   servebench/driver.hpp
//   servebench/sim.hpp
//   servebench/cli.hpp
//   servebench/lab.hpp
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

namespace detail {

// Keys whose values servebench reads into integer types (RequestRecord, LevelSummary, Summary). nlohmann's get<>()
// converts a float to an integer with a plain cast: 1e30 or -5.0 into an unsigned count is undefined behaviour, so
// such a file must be refused before conversion (found by fuzzing). Keep this list in step with record.hpp and
// stats.hpp; the artifact fuzz target (tests/fuzz/fuzz_artifact.cpp) finds a missed one under UBSan.
inline bool is_integer_field(const std::string& key) {
  static const char* const keys[] = {"index",  "t_sched",     "t_send",    "t_first_token", "t_end",
                                     "n_in",   "n_out",       "http_status", "server_first_token", "server_end",
                                     "sent",   "successful",  "failed",    "interrupted",   "total_output_tokens",
                                     "count",  "event_times", "failed_by_kind"};
  for (const char* k : keys)
    if (key == k) return true;
  return false;
}

// The JSON pointer of the first float stored where an integer belongs, or "" when there is none. Free-form parts
// (metadata.configuration, extra) are the program's own and are not checked. Every integer field lies within 8
// levels of the root (/levels/0/records/0/event_times/0 is 5 deep), so deeper nesting is not walked: a hostile file
// nested a million deep must not overflow the stack here.
inline std::string find_float_in_integer_field(const nlohmann::json& j, const std::string& pointer,
                                               bool integer_context = false, int depth = 0) {
  if (j.is_number_float()) return integer_context ? pointer : std::string{};
  if (depth >= 8) return {};
  if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      auto found = find_float_in_integer_field(j[i], pointer + "/" + std::to_string(i), integer_context, depth + 1);
      if (!found.empty()) return found;
    }
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (pointer.empty() && it.key() == "extra") continue;
      if (pointer == "/metadata" && it.key() == "configuration") continue;
      auto found = find_float_in_integer_field(it.value(), pointer + "/" + it.key(),
                                               integer_context || is_integer_field(it.key()), depth + 1);
      if (!found.empty()) return found;
    }
  }
  return {};
}

}  // namespace detail

// Parses an artifact from text; `origin` names it in errors. Throws std::runtime_error that says what is wrong.
inline Artifact parse_artifact(const std::string& text, const std::string& origin = "artifact") {
  nlohmann::json j;
  // Copying and printing a json value recurse once per nesting level, so a hostile file nested a hundred thousand
  // deep would overflow the stack after parsing; no artifact comes near this depth.
  constexpr int max_depth = 256;
  const nlohmann::json::parser_callback_t limit_depth = [](int depth, nlohmann::json::parse_event_t,
                                                           nlohmann::json&) {
    if (depth > max_depth)
      throw std::runtime_error("nested deeper than " + std::to_string(max_depth) + " levels");
    return true;
  };
  try {
    j = nlohmann::json::parse(text, limit_depth);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("'" + origin + "' is not a servebench artifact: " + e.what());
  } catch (const nlohmann::json::exception& e) {
    // Not only parse_error: a number too large for a double (1e400) is out_of_range (found by fuzzing).
    throw std::runtime_error("'" + origin + "' is not valid JSON (truncated or not an artifact?): " + e.what());
  }
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string())
    throw std::runtime_error("'" + origin + "' is not a servebench artifact (no \"schema\" field; expected \"" +
                             artifact_schema + "\")");
  if (j["schema"].get<std::string>() != artifact_schema)
    throw std::runtime_error("'" + origin + "' has schema \"" + j["schema"].get<std::string>() +
                             "\"; this servebench reads \"" + artifact_schema + "\"");
  const std::string misplaced_float = detail::find_float_in_integer_field(j, "");
  if (!misplaced_float.empty())
    throw std::runtime_error("'" + origin + "' is a damaged servebench artifact: " + misplaced_float +
                             " must be an integer");
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
    } catch (const nlohmann::json::exception& e) {
      // Not only parse_error: a number too large for a double (1e400) is out_of_range (found by fuzzing).
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
// ---- begin servebench/scheduler.hpp ----
// servebench — the scheduler: turns single requests into experiments.
//
//   * ThreadPool: a plain pool; `submit` returns a future, `detach` returns nothing, `wait` blocks until idle.
//   * Closed loop (run_closed_loop): exactly N requests in flight until a request count or a duration is reached —
//     the lab's concurrency experiment. Each of the N workers owns one sender (one connection, kept alive).
//   * Open loop (run_open_loop): arrivals at a rate, constant / Poisson / gamma with a burstiness factor, computed up
//     front from a seed so a run repeats exactly. A request keeps its arrival time as `t_sched`, so a late send shows
//     up in `client_queue` and `latency_from_sched` instead of hiding (coordinated omission).
//   * Sweep (run_sweep): a list of concurrency levels or rates against one or more targets, one after another (as the
//     lab does) or interleaved level by level (so machine noise hits every target alike).
//   * Warm-up requests are sent and kept out of the statistics; a level timeout abandons what is still in flight as
//     `deadline_exceeded`; Ctrl-C / SIGTERM stop sending, give in-flight requests a grace period, and return every
//     record gathered so far, marked interrupted. A second Ctrl-C exits at once.
//
// A *sender* is anything with
//     RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched);
//     void cancel(ErrorKind reason);   // thread-safe; aborts the request in flight and every later one (sticky)
// servebench::Driver<Api> is one; tests use in-process fakes. The scheduler never builds one itself: it calls a
// factory you give it once per worker (never from two threads at once), so each worker keeps its own connection.
// AnySender holds any sender, so a sweep can compare targets that speak different dialects.
//
//   auto result = servebench::run_closed_loop(
//       servebench::ClosedLoop().concurrency(10).requests(100).warmup(2).timeout(std::chrono::seconds(60)),
//       servebench::lab_concurrent_workload(), [] { return servebench::Driver<hf_simple>(options); });
//   print(result.summary);   // result.records holds every request, warm-ups marked

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(_WIN32)
#include <io.h>
#else
#include <signal.h>
#include <unistd.h>
#endif

#include <nlohmann/json.hpp>


namespace servebench {

// ---------------------------------------------------------------------------------------------------------------
// Thread pool
// ---------------------------------------------------------------------------------------------------------------

// A fixed set of threads taking tasks from one queue. The destructor runs what is queued, then joins.
class ThreadPool {
 public:
  explicit ThreadPool(std::size_t threads = std::max<std::size_t>(1, std::thread::hardware_concurrency())) {
    if (threads == 0) throw std::invalid_argument("servebench::ThreadPool: needs at least one thread");
    threads_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    task_ready_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // Runs f(args...) on a pool thread; the future gives its result or rethrows its exception.
  template <class F, class... Args>
  auto submit(F&& f, Args&&... args) -> std::future<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>> {
    using Result = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;
    auto task = std::make_shared<std::packaged_task<Result()>>(
        [f = std::forward<F>(f), arguments = std::make_tuple(std::forward<Args>(args)...)]() mutable {
          return std::apply(std::move(f), std::move(arguments));
        });
    auto future = task->get_future();
    push([task] { (*task)(); });
    return future;
  }

  // Runs f on a pool thread and gives nothing back. An exception escaping f is dropped (use submit to see it).
  template <class F>
  void detach(F&& f) {
    auto shared = std::make_shared<std::decay_t<F>>(std::forward<F>(f));
    push([shared] {
      try {
        (*shared)();
      } catch (...) {
      }
    });
  }

  // Blocks until the queue is empty and no task is running.
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
  }

  std::size_t size() const noexcept { return threads_.size(); }

  // Tasks queued or running now.
  std::size_t pending() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.size() + running_;
  }

 private:
  void push(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(task));
    }
    task_ready_.notify_one();
  }

  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        task_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left to run
        task = std::move(queue_.front());
        queue_.pop_front();
        ++running_;
      }
      task();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --running_;
        if (queue_.empty() && running_ == 0) idle_.notify_all();
      }
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable task_ready_, idle_;
  std::deque<std::function<void()>> queue_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------------------------------------------------------
// Senders and targets
// ---------------------------------------------------------------------------------------------------------------

// Holds any sender (see the top of this file) behind one type. Move-only; an empty AnySender throws on send.
class AnySender {
 public:
  AnySender() = default;

  template <class Sender, class = std::enable_if_t<!std::is_same<std::decay_t<Sender>, AnySender>::value>>
  AnySender(Sender&& sender)  // NOLINT(google-explicit-constructor): wrapping is the whole point
      : self_(std::make_unique<Model<std::decay_t<Sender>>>(std::forward<Sender>(sender))) {}

  // Builds the sender in place, for senders that cannot be moved.
  template <class Sender, class... Args>
  static AnySender make(Args&&... args) {
    AnySender any;
    any.self_ = std::make_unique<Model<Sender>>(std::forward<Args>(args)...);
    return any;
  }

  RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched) {
    if (!self_) throw std::logic_error("servebench::AnySender: empty");
    return self_->send(prompt, index, t_sched);
  }
  void cancel(ErrorKind reason = ErrorKind::interrupted) {
    if (self_) self_->cancel(reason);
  }
  explicit operator bool() const noexcept { return static_cast<bool>(self_); }

 private:
  struct Interface {
    virtual ~Interface() = default;
    virtual RequestRecord send(const Prompt&, std::uint64_t, Nanos) = 0;
    virtual void cancel(ErrorKind) = 0;
  };
  template <class Sender>
  struct Model final : Interface {
    template <class... Args>
    explicit Model(Args&&... args) : sender(std::forward<Args>(args)...) {}
    RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched) override {
      return sender.send(prompt, index, t_sched);
    }
    void cancel(ErrorKind reason) override { sender.cancel(reason); }
    Sender sender;
  };
  std::unique_ptr<Interface> self_;
};

// One server under test in a sweep. `make_sender` is called once per worker per level. url / api / model are not
// used to send (the sender knows those); they are carried into results for the artifact's metadata.
struct Target {
  std::string label;  // "hf", "vllm": becomes RequestRecord::target and LevelSummary::target
  std::function<AnySender()> make_sender;
  std::string url;
  std::string api;
  std::string model;
};

// ---------------------------------------------------------------------------------------------------------------
// Arrival processes (open loop)
// ---------------------------------------------------------------------------------------------------------------

enum class Arrival {
  constant,  // evenly spaced: 1/rate apart
  poisson,   // exponential gaps with mean 1/rate (coefficient of variation 1)
  gamma,     // gamma gaps with mean 1/rate and shape = burstiness: CV = 1/sqrt(burstiness); 1 is Poisson
};

inline const char* to_string(Arrival arrival) noexcept {
  switch (arrival) {
    case Arrival::constant: return "constant";
    case Arrival::poisson: return "poisson";
    case Arrival::gamma: return "gamma";
  }
  return "poisson";
}

namespace detail {

// The sampling is written out here rather than taken from <random>: the standard fixes mt19937's output but not
// what exponential_distribution or gamma_distribution make of it, and a seed must repeat a run on any platform.
class ArrivalSampler {
 public:
  ArrivalSampler(double rate, Arrival arrival, double burstiness, std::uint64_t seed)
      : rate_(rate), arrival_(arrival), burstiness_(burstiness), state_(seed) {
    if (!(rate > 0) || !std::isfinite(rate)) throw std::invalid_argument("servebench: arrival rate must be > 0");
    if (arrival == Arrival::gamma && (!(burstiness > 0) || !std::isfinite(burstiness)))
      throw std::invalid_argument("servebench: gamma burstiness must be > 0");
  }

  // The next inter-arrival gap, seconds.
  double next_gap_s() {
    switch (arrival_) {
      case Arrival::constant: return 1.0 / rate_;
      case Arrival::poisson: return -std::log(uniform_open()) / rate_;
      case Arrival::gamma: return gamma(burstiness_) / (rate_ * burstiness_);
    }
    return 1.0 / rate_;
  }

 private:
  // Uniform on (0, 1), never 0 or 1, from the top 53 bits.
  double uniform_open() { return (static_cast<double>(splitmix64(state_) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

  double standard_normal() {  // Box–Muller, one value per pair: simple and deterministic
    const double u1 = uniform_open(), u2 = uniform_open();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  // Marsaglia & Tsang (2000), with the shape < 1 boost: Gamma(a) = Gamma(a + 1) * U^(1/a). Unit scale.
  double gamma(double shape) {
    if (shape < 1.0) return gamma(shape + 1.0) * std::pow(uniform_open(), 1.0 / shape);
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = standard_normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniform_open();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }

  double rate_;
  Arrival arrival_;
  double burstiness_;
  std::uint64_t state_;
};

}  // namespace detail

// `count` inter-arrival gaps in seconds, exactly what an open loop with these settings waits between arrivals.
inline std::vector<double> inter_arrival_gaps_s(std::size_t count, double rate, Arrival arrival,
                                                double burstiness = 1.0, std::uint64_t seed = 0) {
  detail::ArrivalSampler sampler(rate, arrival, burstiness, seed);
  std::vector<double> gaps(count);
  for (auto& g : gaps) g = sampler.next_gap_s();
  return gaps;
}

// ---------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------

// A request sent more than this long after its t_sched counts as late (open loop: the client fell behind).
inline constexpr Nanos late_send_threshold_ns = 1'000'000;

namespace detail {

// What closed and open loops share. Setters return the derived object so chains keep their type.
template <class Derived>
class RunOptions {
 public:
  // Stop after this many measured requests (0: no count limit). With neither a count nor a duration, a finite
  // workload runs once through; an infinite one is an error.
  Derived& requests(std::uint64_t count) { requests_ = count; return self(); }
  std::uint64_t requests() const noexcept { return requests_; }

  // Stop starting requests once this long has passed since the measured phase began (0: no limit). Requests in
  // flight then finish (bounded by timeout()). Whichever of requests() and duration() comes first ends the run.
  template <class Rep, class Period>
  Derived& duration(std::chrono::duration<Rep, Period> d) {
    duration_ = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    return self();
  }
  std::chrono::nanoseconds duration() const noexcept { return duration_; }

  // Requests sent before the measured ones to warm the server and the connections; they reuse the workload's first
  // prompts and are marked RequestRecord::warmup, so summarize() skips them. The measured phase starts once every
  // warm-up request has finished.
  Derived& warmup(std::uint64_t count) { warmup_ = count; return self(); }
  std::uint64_t warmup() const noexcept { return warmup_; }

  // Keep warm-up records in the result (marked warmup) or drop them. Default: keep.
  Derived& keep_warmup_records(bool keep) { keep_warmup_records_ = keep; return self(); }
  bool keep_warmup_records() const noexcept { return keep_warmup_records_; }

  // The whole level (warm-up included) may take this long; then requests still in flight are cancelled and
  // recorded as ErrorKind::deadline_exceeded. 0: no timeout.
  template <class Rep, class Period>
  Derived& timeout(std::chrono::duration<Rep, Period> d) {
    timeout_ = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    return self();
  }
  std::chrono::nanoseconds timeout() const noexcept { return timeout_; }

  // After Ctrl-C / SIGTERM, how long requests in flight may still finish before they are cancelled as
  // ErrorKind::interrupted. Short by default: a person pressing Ctrl-C wants the prompt back.
  template <class Rep, class Period>
  Derived& grace_period(std::chrono::duration<Rep, Period> d) {
    grace_period_ = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    return self();
  }
  std::chrono::nanoseconds grace_period() const noexcept { return grace_period_; }

  // Label for every record and the summary ("hf", "vllm"). Empty: keep what the sender wrote.
  Derived& target(std::string label) { target_ = std::move(label); return self(); }
  const std::string& target() const noexcept { return target_; }

  // No progress line and no warnings on stderr (warnings still go into the result).
  Derived& quiet(bool q) { quiet_ = q; return self(); }
  bool quiet() const noexcept { return quiet_; }

  // Install SIGINT/SIGTERM handlers while the run is active (the previous ones are restored after). Turn off when
  // the program handles signals itself; request_interrupt() still stops a run.
  Derived& handle_signals(bool handle) { handle_signals_ = handle; return self(); }
  bool handle_signals() const noexcept { return handle_signals_; }

  // Percentile method and SLOs for the summary in the result.
  Derived& summarize_options(SummarizeOptions options) { summarize_options_ = std::move(options); return self(); }
  const SummarizeOptions& summarize_options() const noexcept { return summarize_options_; }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }

  std::uint64_t requests_ = 0;
  std::chrono::nanoseconds duration_{0};
  std::uint64_t warmup_ = 0;
  bool keep_warmup_records_ = true;
  std::chrono::nanoseconds timeout_{0};
  std::chrono::nanoseconds grace_period_ = std::chrono::seconds(2);
  std::string target_;
  bool quiet_ = false;
  bool handle_signals_ = true;
  SummarizeOptions summarize_options_;
};

}  // namespace detail

// Closed loop: `concurrency` workers, each sending its next request as soon as its last one ends.
class ClosedLoop : public detail::RunOptions<ClosedLoop> {
 public:
  ClosedLoop& concurrency(std::size_t workers) { concurrency_ = workers; return *this; }
  std::size_t concurrency() const noexcept { return concurrency_; }

 private:
  std::size_t concurrency_ = 1;
};

// Open loop: requests arrive at `rate` per second whatever the server does; an arrival that finds no free worker
// waits (and its lateness is recorded). max_in_flight caps concurrent requests (0: no cap, workers are added as
// needed).
class OpenLoop : public detail::RunOptions<OpenLoop> {
 public:
  OpenLoop& rate(double requests_per_second) { rate_ = requests_per_second; return *this; }
  double rate() const noexcept { return rate_; }

  OpenLoop& distribution(Arrival arrival) { distribution_ = arrival; return *this; }
  Arrival distribution() const noexcept { return distribution_; }

  // Gamma shape: below 1 burstier than Poisson, above 1 more regular. Used only by Arrival::gamma.
  OpenLoop& burstiness(double shape) { burstiness_ = shape; return *this; }
  double burstiness() const noexcept { return burstiness_; }

  OpenLoop& seed(std::uint64_t value) { seed_ = value; return *this; }
  std::uint64_t seed() const noexcept { return seed_; }

  OpenLoop& max_in_flight(std::size_t cap) { max_in_flight_ = cap; return *this; }
  std::size_t max_in_flight() const noexcept { return max_in_flight_; }

 private:
  double rate_ = 1.0;
  Arrival distribution_ = Arrival::poisson;
  double burstiness_ = 1.0;
  std::uint64_t seed_ = 0;
  std::size_t max_in_flight_ = 0;
};

// Arrival times of the measured requests, nanoseconds after the start of the measured phase: the first at 0, then
// the sampled gaps; as many as requests(), or those before duration(). `workload_size` stands in for requests() when
// neither a count nor a duration is set.
inline std::vector<Nanos> arrival_offsets(const OpenLoop& options,
                                          std::optional<std::uint64_t> workload_size = std::nullopt) {
  std::uint64_t count = options.requests();
  const Nanos duration = options.duration().count();
  if (count == 0 && duration == 0) {
    if (!workload_size)
      throw std::invalid_argument("servebench: an open loop over an infinite workload needs requests() or duration()");
    count = *workload_size;
  }
  detail::ArrivalSampler sampler(options.rate(), options.distribution(), options.burstiness(), options.seed());
  std::vector<Nanos> offsets;
  double t = 0;  // accumulated in seconds, rounded once per arrival, so rounding errors never add up
  for (;;) {
    if (count > 0 && offsets.size() >= count) break;
    const auto at = static_cast<Nanos>(std::llround(t * 1e9));
    if (duration > 0 && at >= duration) break;
    offsets.push_back(at);
    t += sampler.next_gap_s();
  }
  return offsets;
}

// The lab's concurrency levels.
inline const std::vector<std::size_t> lab_concurrency_levels{1, 5, 10, 20};

enum class TargetOrder {
  sequential,   // every level of the first target, then every level of the next (what the lab does)
  interleaved,  // level 1 of every target, then level 2 of every target, ...: drift in the machine hits all alike
};

// ---------------------------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------------------------

// One level against one target: the summary and records (LevelResult) plus how the run went.
struct RunResult : LevelResult {
  std::string mode;                  // "closed_loop" or "open_loop"
  bool interrupted = false;          // stopped by SIGINT / SIGTERM / request_interrupt(): records are partial
  bool deadline_exceeded = false;    // the level timeout cancelled requests still in flight
  std::size_t warmup_sent = 0;       // warm-up requests made (kept in records only with keep_warmup_records)
  std::size_t not_sent = 0;          // open loop: arrivals never sent (run stopped first); not in records
  std::size_t late_sends = 0;        // measured requests sent more than 1 ms after t_sched
  double late_send_share = 0;        // late_sends / measured requests actually sent
  std::vector<std::string> warnings; // for a person: late sends, interruption
};

inline void to_json(nlohmann::json& j, const RunResult& r) {
  to_json(j, static_cast<const LevelResult&>(r));
  j["mode"] = r.mode;
  j["interrupted"] = r.interrupted;
  j["deadline_exceeded"] = r.deadline_exceeded;
  j["warmup_sent"] = r.warmup_sent;
  j["not_sent"] = r.not_sent;
  j["late_sends"] = r.late_sends;
  j["late_send_share"] = r.late_send_share;
  j["warnings"] = r.warnings;
}

inline void from_json(const nlohmann::json& j, RunResult& r) {
  from_json(j, static_cast<LevelResult&>(r));
  r.mode = j.value("mode", std::string{});
  r.interrupted = j.value("interrupted", false);
  r.deadline_exceeded = j.value("deadline_exceeded", false);
  r.warmup_sent = j.value("warmup_sent", std::size_t{0});
  r.not_sent = j.value("not_sent", std::size_t{0});
  r.late_sends = j.value("late_sends", std::size_t{0});
  r.late_send_share = j.value("late_send_share", 0.0);
  r.warnings = j.value("warnings", std::vector<std::string>{});
}

// ---------------------------------------------------------------------------------------------------------------
// Interruption (SIGINT / SIGTERM)
// ---------------------------------------------------------------------------------------------------------------

namespace detail {

// Signal handlers may touch only lock-free atomics; everything else polls these.
inline std::atomic<int> interrupt_signals{0};
inline std::atomic<int> interrupt_signal_number{0};
inline std::atomic<bool> interrupt_requested_by_call{false};

inline void on_interrupt_signal(int signal_number) {
  if (interrupt_signals.fetch_add(1) >= 1) std::_Exit(128 + signal_number);  // a second Ctrl-C: leave now (130)
  interrupt_signal_number.store(signal_number);
}

// Installs the handlers for the outermost active run only (a sweep's levels share the sweep's) and restores what was
// there before when that run ends. Also clears the interrupt state at the start of the outermost run.
class InterruptScope {
 public:
  explicit InterruptScope(bool install) {
    std::lock_guard<std::mutex> lock(mutex());
    if (depth()++ > 0) return;
    interrupt_signals.store(0);
    interrupt_signal_number.store(0);
    interrupt_requested_by_call.store(false);
    if (!install) return;
    installed_ = true;
#if defined(_WIN32)
    previous_int_ = std::signal(SIGINT, &on_interrupt_signal);
    previous_term_ = std::signal(SIGTERM, &on_interrupt_signal);
#else
    struct sigaction action {};
    action.sa_handler = &on_interrupt_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // other threads' blocking reads carry on; the scheduler polls the flag
    ::sigaction(SIGINT, &action, &previous_int_);
    ::sigaction(SIGTERM, &action, &previous_term_);
#endif
  }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
  ~InterruptScope() {
    std::lock_guard<std::mutex> lock(mutex());
    --depth();
    if (!installed_) return;
#if defined(_WIN32)
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
#else
    ::sigaction(SIGINT, &previous_int_, nullptr);
    ::sigaction(SIGTERM, &previous_term_, nullptr);
#endif
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static int& depth() {
    static int d = 0;
    return d;
  }
  bool installed_ = false;
#if defined(_WIN32)
  void (*previous_int_)(int) = nullptr;
  void (*previous_term_)(int) = nullptr;
#else
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
#endif
};

}  // namespace detail

// True once the active run has been asked to stop (a signal or request_interrupt()).
inline bool interrupt_requested() noexcept {
  return detail::interrupt_signals.load() > 0 || detail::interrupt_requested_by_call.load();
}

// Stops the active run as a first Ctrl-C would (for programs that handle signals themselves, or a GUI's button).
inline void request_interrupt() noexcept { detail::interrupt_requested_by_call.store(true); }

// ---------------------------------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------------------------------

namespace detail {

inline bool stderr_is_terminal() noexcept {
#if defined(_WIN32)
  return _isatty(_fileno(stderr)) != 0;
#else
  return ::isatty(::fileno(stderr)) != 0;
#endif
}

// "vllm c=10: 45/100 done, 12.3 req/s, 2 failed, ETA 4s". total 0: unknown (a duration-bound run).
inline std::string format_progress(const std::string& label, std::uint64_t done, std::uint64_t total,
                                   std::uint64_t failed, double elapsed_s, std::optional<double> eta_s) {
  char buffer[256];
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  std::string counts = std::to_string(done) + (total ? "/" + std::to_string(total) : std::string{});
  std::string eta = eta_s ? std::to_string(static_cast<long long>(std::ceil(std::max(0.0, *eta_s)))) + "s" : "?";
  std::snprintf(buffer, sizeof buffer, "%s: %s done, %.1f req/s, %llu failed, ETA %s", label.c_str(), counts.c_str(),
                rate, static_cast<unsigned long long>(failed), eta.c_str());
  return buffer;
}

// One line per level, rewritten in place on a terminal; silent otherwise.
class ProgressLine {
 public:
  ProgressLine(bool enabled, std::string label) : enabled_(enabled), label_(std::move(label)) {}

  void update(std::uint64_t done, std::uint64_t total, std::uint64_t failed, Nanos start, Nanos planned_end,
              bool final_line = false) {
    if (!enabled_) return;
    const Nanos now = now_ns();
    if (!final_line && now - last_print_ < 200'000'000) return;  // five times a second is plenty for a person
    last_print_ = now;
    const double elapsed = ns_to_s(now - start);
    std::optional<double> eta;
    if (final_line) {
      eta = 0.0;
    } else if (total && done > 0) {
      eta = elapsed / static_cast<double>(done) * static_cast<double>(total - std::min(total, done));
    } else if (planned_end > 0) {
      eta = ns_to_s(planned_end - now);
    }
    std::fprintf(stderr, "\r%s\x1b[K%s", format_progress(label_, done, total, failed, elapsed, eta).c_str(),
                 final_line ? "\n" : "");
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  std::string label_;
  Nanos last_print_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------
// The machinery both loops share: sender registry, counters, the supervisor's stop decisions.
// ---------------------------------------------------------------------------------------------------------------

inline std::string level_label(const std::string& target, const char* what, double level) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s=%g", what, level);
  return target.empty() ? std::string(buffer) : target + " " + buffer;
}

template <class Options>
class Level {
 public:
  Level(const Options& options, const Workload& workload) : options_(options), workload_(workload) {}

  const Options& options() const noexcept { return options_; }

  // A sender registers so the supervisor can cancel it; one registered after a cancel-all is cancelled at once.
  std::size_t register_canceller(std::function<void(ErrorKind)> cancel) {
    std::lock_guard<std::mutex> lock(registry_mutex_);
    if (cancelled_with_) cancel(*cancelled_with_);
    cancellers_.push_back(std::move(cancel));
    return cancellers_.size() - 1;
  }
  void unregister_canceller(std::size_t slot) {
    std::lock_guard<std::mutex> lock(registry_mutex_);
    cancellers_[slot] = nullptr;
  }
  void cancel_all(ErrorKind reason) {
    std::lock_guard<std::mutex> lock(registry_mutex_);
    if (!cancelled_with_) cancelled_with_ = reason;
    for (auto& c : cancellers_)
      if (c) c(reason);
  }

  // Sends one request and stamps what the scheduler knows. A sender that throws yields a failed record, not a
  // crashed run.
  template <class Sender>
  void send_one(Sender& sender, std::uint64_t index, Nanos t_sched, bool warmup) {
    RequestRecord record;
    in_flight_.fetch_add(1);
    try {
      const Prompt prompt = workload_.at(index);
      if (t_sched == 0) t_sched = now_ns();
      record = sender.send(prompt, index, t_sched);
    } catch (const std::exception& e) {
      record = RequestRecord{};
      record.error_kind = ErrorKind::other;
      record.error_message = std::string("sender threw: ") + e.what();
    } catch (...) {
      record = RequestRecord{};
      record.error_kind = ErrorKind::other;
      record.error_message = "sender threw a non-standard exception";
    }
    in_flight_.fetch_sub(1);
    record.index = index;
    record.warmup = warmup;
    if (record.t_sched == 0) record.t_sched = t_sched;
    if (!options_.target().empty()) record.target = options_.target();
    if (warmup) {
      warmup_done_.fetch_add(1);
    } else {
      done_.fetch_add(1);
      if (!record.ok() && !record.interrupted()) failed_.fetch_add(1);
    }
    {
      std::lock_guard<std::mutex> lock(records_mutex_);
      if (!warmup || options_.keep_warmup_records()) records_.push_back(std::move(record));
    }
    // Only the end of a warm-up request is waited on (the open loop starts its clock after the last); waking the
    // supervisor for every measured request cost a context switch each (bench/bench_client_overhead), and it looks
    // every 20 ms anyway.
    if (warmup) notify();
  }

  // Builds a worker's sender; factories are never called from two threads at once.
  template <class MakeSender>
  auto make_sender(MakeSender& factory) {
    std::lock_guard<std::mutex> lock(factory_mutex_);
    return factory();
  }

  void fail(std::exception_ptr error) {
    {
      std::lock_guard<std::mutex> lock(records_mutex_);
      if (!error_) error_ = error;
    }
    stop_sending_.store(true);
    notify();
  }

  // Sleeps until something happened or `until` (steady nanoseconds), whichever is first.
  void wait_for_change(Nanos until) {
    std::unique_lock<std::mutex> lock(wake_mutex_);
    const auto seen = changes_;
    wake_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(until)),
                     [&] { return changes_ != seen; });
  }
  // Something happened (a request ended, a worker left): wakes the supervising thread.
  void notify() {
    {
      std::lock_guard<std::mutex> lock(wake_mutex_);
      ++changes_;
    }
    wake_.notify_all();
  }

  // One look at the world by the supervising thread: interrupt, grace period, timeout. Returns false once nothing
  // more may be sent.
  bool supervise(Nanos level_start) {
    const Nanos now = now_ns();
    if (!interrupted_ && interrupt_requested()) {
      interrupted_ = true;
      stop_sending_.store(true);
      grace_end_ = now + options_.grace_period().count();
    }
    if (interrupted_ && !cancelled_for_interrupt_ && now >= grace_end_) {
      cancelled_for_interrupt_ = true;
      cancel_all(ErrorKind::interrupted);
    }
    if (!deadline_exceeded_ && options_.timeout().count() > 0 && now >= level_start + options_.timeout().count()) {
      deadline_exceeded_ = true;
      stop_sending_.store(true);
      cancel_all(ErrorKind::deadline_exceeded);
    }
    return !stop_sending_.load();
  }

  // When the supervisor should look again: soon, and exactly at the timeout or the end of the grace period.
  Nanos next_look(Nanos level_start, Nanos wanted) const {
    Nanos at = std::min(wanted, now_ns() + 20'000'000);
    if (options_.timeout().count() > 0 && !deadline_exceeded_)
      at = std::min(at, level_start + options_.timeout().count());
    if (interrupted_ && !cancelled_for_interrupt_) at = std::min(at, grace_end_);
    return at;
  }

  bool stopping() const noexcept { return stop_sending_.load(); }
  void stop_sending() noexcept { stop_sending_.store(true); }
  std::uint64_t done() const noexcept { return done_.load(); }
  std::uint64_t failed() const noexcept { return failed_.load(); }
  std::uint64_t warmup_done() const noexcept { return warmup_done_.load(); }
  std::size_t in_flight() const noexcept { return in_flight_.load(); }

  // Sorted records and the run's verdicts; rethrows a factory's exception.
  RunResult finish(const char* mode, double level, std::size_t not_sent) {
    if (error_) std::rethrow_exception(error_);
    RunResult result;
    result.mode = mode;
    result.interrupted = interrupted_;
    result.deadline_exceeded = deadline_exceeded_;
    result.warmup_sent = static_cast<std::size_t>(warmup_done_.load());
    result.not_sent = not_sent;
    result.records = std::move(records_);
    std::stable_sort(result.records.begin(), result.records.end(), [](const RequestRecord& a, const RequestRecord& b) {
      if (a.warmup != b.warmup) return a.warmup;  // warm-ups first: they were sent first
      return a.t_sched < b.t_sched || (a.t_sched == b.t_sched && a.index < b.index);
    });
    result.summary = summarize(result.records, options_.summarize_options());
    result.summary.level = level;
    if (!options_.target().empty()) result.summary.target = options_.target();

    std::size_t measured_sent = 0;
    for (const auto& r : result.records) {
      if (r.warmup || r.t_send == 0) continue;
      ++measured_sent;
      if (r.t_send - r.t_sched > late_send_threshold_ns) ++result.late_sends;
    }
    result.late_send_share = measured_sent ? static_cast<double>(result.late_sends) / measured_sent : 0.0;
    const bool open_loop = std::string(mode) == "open_loop";
    const std::string label = level_label(options_.target(), open_loop ? "rate" : "c", level);
    // Only an open loop has a schedule to fall behind; a closed loop's share is kept as a figure, not a warning.
    if (open_loop && result.late_send_share > 0.01) {
      char buffer[320];
      std::snprintf(buffer, sizeof buffer,
                    "%s: %.1f%% of requests were sent more than 1 ms after their scheduled time; the client, not the "
                    "server, limited this run (see client_queue and latency_from_sched)",
                    label.c_str(), 100.0 * result.late_send_share);
      result.warnings.push_back(buffer);
    }
    if (interrupted_) {
      const int signal_number = interrupt_signal_number.load();
      result.warnings.push_back(label + ": interrupted" +
                                (signal_number == SIGTERM  ? std::string(" by SIGTERM")
                                 : signal_number == SIGINT ? std::string(" by SIGINT")
                                                           : std::string{}) +
                                "; " + std::to_string(result.records.size()) + " records gathered before stopping");
    }
    if (deadline_exceeded_)
      result.warnings.push_back(label + ": level timeout reached; requests in flight recorded as deadline_exceeded");
    if (!options_.quiet())
      for (const auto& w : result.warnings) std::fprintf(stderr, "servebench: warning: %s\n", w.c_str());
    return result;
  }

 private:
  const Options& options_;
  const Workload& workload_;

  std::mutex registry_mutex_;
  std::vector<std::function<void(ErrorKind)>> cancellers_;
  std::optional<ErrorKind> cancelled_with_;

  std::mutex factory_mutex_;

  std::mutex records_mutex_;
  std::vector<RequestRecord> records_;
  std::exception_ptr error_;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::uint64_t changes_ = 0;

  std::atomic<bool> stop_sending_{false};
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::uint64_t> done_{0}, failed_{0}, warmup_done_{0};

  // Touched only by the supervising thread.
  bool interrupted_ = false;
  bool cancelled_for_interrupt_ = false;
  bool deadline_exceeded_ = false;
  Nanos grace_end_ = 0;
};

// Keeps a sender registered for cancellation exactly as long as it is alive.
class CancelRegistration {
 public:
  template <class Options, class Sender>
  CancelRegistration(Level<Options>& level, Sender& sender)
      : unregister_([&level, slot = level.register_canceller([&sender](ErrorKind reason) { sender.cancel(reason); })] {
          level.unregister_canceller(slot);
        }) {}
  CancelRegistration(const CancelRegistration&) = delete;
  CancelRegistration& operator=(const CancelRegistration&) = delete;
  ~CancelRegistration() { unregister_(); }

 private:
  std::function<void()> unregister_;
};

// All workers meet here after warm-up; the last to arrive starts the measured phase's clock.
class PhaseBarrier {
 public:
  explicit PhaseBarrier(std::size_t parties) : waiting_for_(parties) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (--waiting_for_ == 0) {
      measured_start_ = now_ns();
      open_.notify_all();
      return;
    }
    open_.wait(lock, [this] { return waiting_for_ == 0; });
  }
  Nanos measured_start() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return measured_start_;
  }
  bool opened() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return waiting_for_ == 0;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable open_;
  std::size_t waiting_for_;
  Nanos measured_start_ = 0;
};

template <class Options>
std::uint64_t planned_requests(const Options& options, const Workload& workload, const char* who) {
  if (options.requests() > 0 || options.duration().count() > 0) return options.requests();
  if (workload.infinite())
    throw std::invalid_argument(std::string("servebench::") + who +
                                ": an infinite workload needs requests() or duration()");
  return *workload.size();
}

inline bool progress_enabled(bool quiet) { return !quiet && stderr_is_terminal(); }

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------------
// Closed loop
// ---------------------------------------------------------------------------------------------------------------

// Runs `options.concurrency()` workers until requests() measured requests have been made or duration() has passed.
// make_sender() is called once per worker and returns a sender (see the top of this file). Returns every record,
// the summary (level = concurrency), and whether the run was interrupted or hit its timeout.
template <class MakeSender>
RunResult run_closed_loop(const ClosedLoop& options, const Workload& workload, MakeSender&& make_sender) {
  if (options.concurrency() == 0) throw std::invalid_argument("servebench::run_closed_loop: concurrency must be > 0");
  const std::uint64_t request_limit = detail::planned_requests(options, workload, "run_closed_loop");
  const Nanos duration = options.duration().count();
  const std::size_t workers = options.concurrency();

  detail::InterruptScope interrupt_scope(options.handle_signals());
  detail::Level<ClosedLoop> level(options, workload);
  detail::PhaseBarrier after_warmup(workers);
  std::atomic<std::uint64_t> next_warmup{0}, next_request{0};
  std::atomic<std::size_t> running{workers};
  const Nanos level_start = now_ns();

  {
    ThreadPool pool(workers);
    for (std::size_t w = 0; w < workers; ++w) {
      pool.detach([&] {
        // The sender lives on this worker's stack for the whole level: one connection, kept alive.
        auto run_worker = [&] {
          auto sender = level.make_sender(make_sender);
          detail::CancelRegistration registration(level, sender);
          for (;;) {
            if (level.stopping()) break;
            const std::uint64_t i = next_warmup.fetch_add(1);
            if (i >= options.warmup()) break;
            level.send_one(sender, i, 0, true);
          }
          after_warmup.arrive_and_wait();
          const Nanos end = duration > 0 ? after_warmup.measured_start() + duration : 0;
          for (;;) {
            if (level.stopping()) break;
            if (end > 0 && now_ns() >= end) break;
            const std::uint64_t i = next_request.fetch_add(1);
            if (request_limit > 0 && i >= request_limit) break;
            level.send_one(sender, i, 0, false);
          }
        };
        bool arrived = false;
        try {
          run_worker();
          arrived = true;
        } catch (...) {
          level.fail(std::current_exception());
        }
        // A worker whose factory threw must still arrive, or the others would wait for it forever.
        if (!arrived && !after_warmup.opened()) after_warmup.arrive_and_wait();
        running.fetch_sub(1);
        level.notify();
      });
    }

    detail::ProgressLine progress(detail::progress_enabled(options.quiet()),
                                  detail::level_label(options.target(), "c", static_cast<double>(workers)));
    while (running.load() > 0) {
      level.supervise(level_start);
      const Nanos measured_start = after_warmup.opened() ? after_warmup.measured_start() : 0;
      if (measured_start)
        progress.update(level.done(), request_limit, level.failed(), measured_start,
                        duration > 0 ? measured_start + duration : 0);
      level.wait_for_change(level.next_look(level_start, now_ns() + 200'000'000));
    }
    if (after_warmup.opened())
      progress.update(level.done(), request_limit, level.failed(), after_warmup.measured_start(), 0, true);
  }  // the pool joins its threads here
  return level.finish("closed_loop", static_cast<double>(workers), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Open loop
// ---------------------------------------------------------------------------------------------------------------

// Sends requests at the arrival times of arrival_offsets(options) (t_sched = arrival time), whatever the server's
// pace. A worker thread (with its own sender from make_sender()) carries each request; workers are added when an
// arrival finds none free, up to max_in_flight(). Warm-up requests go first, all at once (up to the cap), and the
// arrival clock starts when they have all finished.
template <class MakeSender>
RunResult run_open_loop(const OpenLoop& options, const Workload& workload, MakeSender&& make_sender) {
  const std::vector<Nanos> offsets = arrival_offsets(options, workload.size());
  const std::size_t cap = options.max_in_flight();

  detail::InterruptScope interrupt_scope(options.handle_signals());
  detail::Level<OpenLoop> level(options, workload);

  struct Job {
    std::uint64_t index;
    Nanos t_sched;  // 0: warm-up, now
    bool warmup;
  };
  std::mutex jobs_mutex;
  std::condition_variable job_ready;
  std::deque<Job> jobs;
  std::size_t idle_workers = 0;
  bool no_more_jobs = false;
  std::vector<std::thread> threads;
  std::atomic<std::size_t> running{0};

  // A worker counts as idle (able to take a job) from the moment it is started, so a burst of arrivals does not
  // start more threads than it needs.
  auto worker = [&] {
    bool idle = true;
    try {
      auto sender = level.make_sender(make_sender);
      detail::CancelRegistration registration(level, sender);
      for (;;) {
        Job job{};
        {
          std::unique_lock<std::mutex> lock(jobs_mutex);
          if (!idle) ++idle_workers;
          idle = true;
          job_ready.wait(lock, [&] { return !jobs.empty() || no_more_jobs || level.stopping(); });
          --idle_workers;
          idle = false;
          if (level.stopping() || jobs.empty()) break;  // queued jobs left when stopping are never sent
          job = jobs.front();
          jobs.pop_front();
        }
        // Jobs arrive a little ahead of time (see dispatch_lead_ns): this worker's own timed wake-up then decides
        // the send time, rather than the dispatcher's wake-up followed by a hand-off to this thread.
        if (job.t_sched > now_ns()) {
          std::this_thread::sleep_until(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(job.t_sched)));
          if (level.stopping()) break;
        }
        level.send_one(sender, job.index, job.t_sched, job.warmup);
      }
    } catch (...) {
      if (idle) {
        std::lock_guard<std::mutex> lock(jobs_mutex);
        --idle_workers;
      }
      level.fail(std::current_exception());
      job_ready.notify_all();
    }
    running.fetch_sub(1);
    level.notify();
  };
  // Called with jobs_mutex held: adds a worker when the queue is longer than the idle workers can take.
  auto add_worker_if_needed = [&] {
    if (jobs.size() > idle_workers && (cap == 0 || threads.size() < cap)) {
      running.fetch_add(1);
      ++idle_workers;
      threads.emplace_back(worker);
    }
  };
  auto push = [&](Job job) {
    {
      std::lock_guard<std::mutex> lock(jobs_mutex);
      jobs.push_back(job);
      add_worker_if_needed();
    }
    job_ready.notify_one();
  };
  auto stop_workers = [&] {
    {
      std::lock_guard<std::mutex> lock(jobs_mutex);
      no_more_jobs = true;
    }
    job_ready.notify_all();
  };

  const Nanos level_start = now_ns();
  std::size_t pushed = 0;
  {
    // Workers exist before the first arrival, so it does not pay for a thread start: as many as the cap (it bounds
    // the workers anyway), else a few; more are added on demand.
    std::lock_guard<std::mutex> lock(jobs_mutex);
    const std::size_t initial = cap ? std::min<std::size_t>(cap, 64) : 4;
    for (std::size_t i = 0; i < initial; ++i) {
      running.fetch_add(1);
      ++idle_workers;
      threads.emplace_back(worker);
    }
  }

  const auto label = detail::level_label(options.target(), "rate", options.rate());
  detail::ProgressLine progress(detail::progress_enabled(options.quiet()), label);

  // Warm-up: all at once (within the cap), and wait until they are done.
  for (std::uint64_t i = 0; i < options.warmup(); ++i) push(Job{i, 0, true});
  while (level.warmup_done() < options.warmup() && level.supervise(level_start))
    level.wait_for_change(level.next_look(level_start, now_ns() + 200'000'000));

  // Measured phase: the calling thread is the dispatcher and the supervisor.
  const Nanos t0 = now_ns();
  const Nanos planned_end = offsets.empty() ? t0 : t0 + offsets.back();
  // Each job is handed to a worker dispatch_lead_ns before its arrival time; the worker waits out the rest. A late
  // hand-off then costs nothing, and one thread wake-up, not two, stands between the schedule and the send.
  constexpr Nanos dispatch_lead_ns = 2'000'000;
  while (pushed < offsets.size() && level.supervise(level_start)) {
    const Nanos now = now_ns();
    while (pushed < offsets.size() && t0 + offsets[pushed] <= now + dispatch_lead_ns) {
      push(Job{static_cast<std::uint64_t>(pushed), t0 + offsets[pushed], false});
      ++pushed;
    }
    progress.update(level.done(), offsets.size(), level.failed(), t0, planned_end);
    if (pushed < offsets.size())
      level.wait_for_change(level.next_look(level_start, t0 + offsets[pushed] - dispatch_lead_ns));
  }
  stop_workers();
  while (running.load() > 0) {
    level.supervise(level_start);
    if (level.stopping()) job_ready.notify_all();  // idle workers must see the stop
    progress.update(level.done(), offsets.size(), level.failed(), t0, planned_end);
    level.wait_for_change(level.next_look(level_start, now_ns() + 200'000'000));
  }
  for (auto& t : threads) t.join();
  progress.update(level.done(), offsets.size(), level.failed(), t0, 0, true);
  const std::size_t never_sent = offsets.size() - static_cast<std::size_t>(level.done());
  return level.finish("open_loop", options.rate(), never_sent);
}

// ---------------------------------------------------------------------------------------------------------------
// Sweep
// ---------------------------------------------------------------------------------------------------------------

// Which levels to run, and how. The base ClosedLoop / OpenLoop supplies everything but the level (requests,
// warm-up, timeout, ...); concurrency or rate is replaced by each level, target() by each target's label.
//   Sweep().concurrency_levels({1, 5, 10, 20}).closed_loop(ClosedLoop().requests(20).warmup(1))
//   Sweep().rates({5, 10, 20}).open_loop(OpenLoop().duration(std::chrono::seconds(30)).seed(1))
class Sweep {
 public:
  Sweep& concurrency_levels(std::vector<std::size_t> levels) { concurrency_levels_ = std::move(levels); return *this; }
  const std::vector<std::size_t>& concurrency_levels() const noexcept { return concurrency_levels_; }

  Sweep& rates(std::vector<double> rates) { rates_ = std::move(rates); return *this; }
  const std::vector<double>& rates() const noexcept { return rates_; }

  Sweep& closed_loop(ClosedLoop base) { closed_loop_ = std::move(base); return *this; }
  const ClosedLoop& closed_loop() const noexcept { return closed_loop_; }

  Sweep& open_loop(OpenLoop base) { open_loop_ = std::move(base); return *this; }
  const OpenLoop& open_loop() const noexcept { return open_loop_; }

  Sweep& order(TargetOrder o) { order_ = o; return *this; }
  TargetOrder order() const noexcept { return order_; }

  // A pause between levels, so one level's tail (server queues, TCP TIME_WAIT) does not spill into the next.
  template <class Rep, class Period>
  Sweep& cooldown(std::chrono::duration<Rep, Period> d) {
    cooldown_ = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    return *this;
  }
  std::chrono::nanoseconds cooldown() const noexcept { return cooldown_; }

  // Called after each level (for example to write a partial artifact, so a crash later loses little).
  Sweep& on_level_done(std::function<void(const RunResult&)> callback) {
    on_level_done_ = std::move(callback);
    return *this;
  }
  const std::function<void(const RunResult&)>& on_level_done() const noexcept { return on_level_done_; }

 private:
  std::vector<std::size_t> concurrency_levels_;
  std::vector<double> rates_;
  ClosedLoop closed_loop_;
  OpenLoop open_loop_;
  TargetOrder order_ = TargetOrder::sequential;
  std::chrono::nanoseconds cooldown_{0};
  std::function<void(const RunResult&)> on_level_done_;
};

struct SweepResult {
  std::vector<RunResult> runs;  // in the order they ran, one per (level, target) that started
  bool interrupted = false;     // stopped early: the interrupted level is the last in runs, later ones are absent

  // The run for a target's level, or nullptr.
  const RunResult* find(const std::string& target, double level) const {
    for (const auto& r : runs)
      if (r.summary.target == target && r.summary.level == level) return &r;
    return nullptr;
  }
  std::vector<LevelSummary> summaries() const {
    std::vector<LevelSummary> out;
    for (const auto& r : runs) out.push_back(r.summary);
    return out;
  }
  std::vector<LevelResult> level_results() const {
    return std::vector<LevelResult>(runs.begin(), runs.end());
  }
};

// Runs every level against every target, in the sweep's order. Each level builds fresh senders from the target's
// make_sender. On Ctrl-C the current level returns its partial records and the sweep stops there.
inline SweepResult run_sweep(const Sweep& sweep, const Workload& workload, const std::vector<Target>& targets) {
  const bool closed = !sweep.concurrency_levels().empty();
  if (closed == !sweep.rates().empty())
    throw std::invalid_argument("servebench::run_sweep: give either concurrency_levels() or rates(), not both");
  if (targets.empty()) throw std::invalid_argument("servebench::run_sweep: no targets");
  for (const auto& t : targets)
    if (!t.make_sender) throw std::invalid_argument("servebench::run_sweep: target '" + t.label + "' has no make_sender");
  const std::size_t level_count = closed ? sweep.concurrency_levels().size() : sweep.rates().size();

  detail::InterruptScope interrupt_scope(closed ? sweep.closed_loop().handle_signals()
                                                : sweep.open_loop().handle_signals());
  SweepResult result;
  auto run_one = [&](std::size_t level_index, const Target& target) {
    if (!result.runs.empty() && sweep.cooldown().count() > 0) {
      const Nanos until = now_ns() + sweep.cooldown().count();
      while (now_ns() < until && !interrupt_requested())
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<Nanos>(20, (until - now_ns()) / 1'000'000 + 1)));
      if (interrupt_requested()) {
        result.interrupted = true;
        return;
      }
    }
    auto make = [&target] { return target.make_sender(); };
    RunResult run;
    if (closed) {
      auto options = sweep.closed_loop();
      options.concurrency(sweep.concurrency_levels()[level_index]).target(target.label);
      run = run_closed_loop(options, workload, make);
    } else {
      auto options = sweep.open_loop();
      options.rate(sweep.rates()[level_index]).target(target.label);
      run = run_open_loop(options, workload, make);
    }
    if (run.interrupted) result.interrupted = true;
    result.runs.push_back(std::move(run));
    if (sweep.on_level_done()) sweep.on_level_done()(result.runs.back());
  };

  if (sweep.order() == TargetOrder::sequential) {
    for (const auto& target : targets)
      for (std::size_t l = 0; l < level_count && !result.interrupted; ++l) run_one(l, target);
  } else {
    for (std::size_t l = 0; l < level_count && !result.interrupted; ++l)
      for (const auto& target : targets) {
        if (result.interrupted) break;
        run_one(l, target);
      }
  }
  return result;
}

}  // namespace servebench
// ---- end servebench/scheduler.hpp ----
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

// Helpers for dialect writers: an optional integer that may be absent or null. A count that is not an integer of
// int64 range (1e30, 5.5, 2^64 - 1) is a type_error, i.e. missing_field: nlohmann's get<std::int64_t>() would convert
// a float out of range with undefined behaviour and wrap a large unsigned into a negative count (found by fuzzing).
inline std::optional<std::int64_t> optional_int(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)))
    throw nlohmann::json::type_error::create(302, std::string(key) + " is not an integer count", &*it);
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

// The first element of `choices` in a whole reply, where an empty list means the field the dialect needs is missing.
inline const nlohmann::json& required_first_choice(const nlohmann::json& body) {
  const auto* choice = first_choice(body);
  if (!choice) throw nlohmann::json::out_of_range::create(401, "choices is empty", &body);
  return *choice;
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
    r.text = detail::required_first_choice(body).at("text").get<std::string>();
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
    r.text = detail::optional_text(detail::required_first_choice(body).at("message"), "content");
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
// ---- begin servebench/chart.hpp ----
// servebench — self-contained SVG charts: grouped bars (throughput per level with speedup labels), lines (mean and
// p95 latency per level), a TTFT/TPOT pair of panels, and latency CDFs from raw samples.
//
// Charts are plain data; render_* are free functions returning the SVG text. The SVG has no scripts, no CSS and no
// external fonts or images (system sans-serif fonts only), a white background and dark text of at least 11px, so it
// reads the same in a browser, an image viewer and on paper. Values must be finite and >= 0 (throughput, latency
// and times are never negative); anything else throws std::invalid_argument naming the series and index.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>


namespace servebench {
namespace chart {

// One named series. `color` empty: the lab's colours for series named like the engines (a name starting with "hf"
// or containing "hugging" -> '#ff6b6b', containing "vllm" -> '#4ecdc4', case-insensitive), else a palette colour
// in order of appearance. `dashed` draws a line series dashed (e.g. p95 beside a solid mean); bars ignore it.
struct Series {
  std::string name;
  std::vector<double> values;
  std::string color;
  bool dashed = false;
};

// Grouped bars: one group per category, one bar per series (values[i] belongs to categories[i]).
struct BarChart {
  std::string title, subtitle, x_label, y_label;
  std::vector<std::string> categories;
  std::vector<Series> series;
  bool value_labels = true;    // the value above each bar (skipped when bars are too narrow to hold it)
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

// Round axis ticks covering [lo, hi]: step is 1, 2 or 5 times a power of ten, the smallest such step that needs at
// most `max_ticks` ticks when lo is a multiple of it; first tick <= lo, last tick >= hi. lo == hi widens the range
// (0..1 for 0; v..v becomes v/2..3v/2). Throws std::invalid_argument for non-finite bounds, lo > hi or max_ticks < 2.
inline std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 7);

// A tick value printed with as many decimals as the step needs ("0", "0.5", "0.25"), never "-0".
inline std::string format_tick(double value, double step);

inline std::string render_grouped_bars(const BarChart& chart);
inline std::string render_lines(const LineChart& chart);
inline std::string render_ttft_tpot(const TtftTpotChart& chart);
inline std::string render_cdf(const CdfChart& chart);

// Writes a rendered chart atomically (temporary file, fsync, rename; parent directories created), so a viewer
// never sees half a chart. Throws std::runtime_error naming the path.
inline void write_svg(const std::string& path, const std::string& svg) { write_file_atomic(path, svg); }

// The default colour for a series name ("" when the name does not match an engine, i.e. the palette applies).
inline std::string lab_color_for(const std::string& series_name);

// XML text/attribute escaping (& < > " '); control characters XML 1.0 forbids and invalid UTF-8 become '?'.
inline std::string xml_escape(const std::string& text);

namespace detail {

inline const std::vector<std::string>& palette() {
  // Tableau-10-like: distinct in colour and in lightness, so series stay apart on a grey-scale printout.
  static const std::vector<std::string> colors = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1",
                                                  "#9c755f", "#e15759", "#76b7b2", "#edc948"};
  return colors;
}

inline std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

inline std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// Coordinates with one decimal: enough for a crisp 800x500 picture, small files.
inline std::string num(double v) {
  std::string s = fmt("%.1f", v);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

// Bar and guide values: 3 significant-ish digits without trailing noise.
inline std::string format_value(double v) {
  const double a = std::fabs(v);
  if (a >= 100 || v == std::floor(v)) return fmt("%.0f", v);
  if (a >= 10) return fmt("%.1f", v);
  if (a >= 0.01) return fmt("%.2f", v);
  return fmt("%.3g", v);
}

// Rough advance width of text in a sans-serif font (DejaVu Sans averages ~0.6em); used only for layout decisions.
inline double text_width(const std::string& s, double font_px) {
  std::size_t chars = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++chars;  // count UTF-8 code points, not bytes
  return static_cast<double>(chars) * font_px * 0.6;
}

// Shortens text to fit `max_px`, ending it with an ellipsis.
inline std::string fit_text(const std::string& s, double font_px, double max_px) {
  if (text_width(s, font_px) <= max_px) return s;
  std::string out = s;
  while (!out.empty() && text_width(out + "...", font_px) > max_px) {
    out.pop_back();
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0xC0) out.pop_back();
  }
  return out + "...";
}

inline void check_size(int width, int height) {
  if (width < 320 || height < 240 || width > 10000 || height > 10000)
    throw std::invalid_argument("chart size must be between 320x240 and 10000x10000, got " +
                                std::to_string(width) + "x" + std::to_string(height));
}

inline void check_values(const Series& s, const char* what) {
  for (std::size_t i = 0; i < s.values.size(); ++i) {
    const double v = s.values[i];
    if (!std::isfinite(v) || v < 0)
      throw std::invalid_argument(std::string(what) + ": series '" + s.name + "' value " + std::to_string(i) +
                                  " is " + (std::isnan(v) ? std::string("NaN") : std::to_string(v)) +
                                  "; chart values must be finite and >= 0");
  }
}

inline void check_category_series(const std::vector<std::string>& categories, const std::vector<Series>& series,
                                   const char* what) {
  for (const Series& s : series) {
    if (s.values.size() != categories.size())
      throw std::invalid_argument(std::string(what) + ": series '" + s.name + "' has " +
                                  std::to_string(s.values.size()) + " values for " +
                                  std::to_string(categories.size()) + " categories");
    check_values(s, what);
  }
}

// Resolved drawing style of one legend entry.
struct Style {
  std::string name, color;
  bool dashed = false;
};

// Explicit colour, else the lab's engine colour, else the next palette colour not already taken.
inline std::vector<Style> resolve_styles(const std::vector<const Series*>& series) {
  std::vector<Style> out;
  std::size_t next = 0;
  for (const Series* s : series) {
    std::string color = s->color.empty() ? lab_color_for(s->name) : s->color;
    if (color.empty()) color = palette()[next++ % palette().size()];
    out.push_back({s->name, color, s->dashed});
  }
  return out;
}

struct Rect {
  double left, top, right, bottom;
  double width() const { return right - left; }
  double height() const { return bottom - top; }
};

// Builds the SVG document; every text goes through xml_escape here, so no caller can forget it.
class Svg {
 public:
  Svg(int width, int height, const std::string& title) : width_(width), height_(height) {
    out_ += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out_ += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + std::to_string(width) +
            "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
            std::to_string(height) +
            "\" font-family=\"DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif\" fill=\"#222222\">\n";
    out_ += "<title>" + xml_escape(title) + "</title>\n";
    out_ += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) +
            "\" fill=\"#ffffff\"/>\n";
  }
  int width() const { return width_; }
  int height() const { return height_; }

  void text(double x, double y, const std::string& s, double size, const char* anchor = "start",
            bool bold = false, const char* fill = "#222222", double rotate = 0) {
    out_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) + "\" text-anchor=\"" +
            anchor + "\"";
    if (bold) out_ += " font-weight=\"bold\"";
    if (std::string(fill) != "#222222") out_ += std::string(" fill=\"") + fill + "\"";
    if (rotate != 0) out_ += " transform=\"rotate(" + num(rotate) + " " + num(x) + " " + num(y) + ")\"";
    out_ += ">" + xml_escape(s) + "</text>\n";
  }
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width,
            bool dashed = false) {
    out_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) +
            "\" stroke=\"" + xml_escape(stroke) + "\" stroke-width=\"" + num(width) + "\"" +
            (dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
  }
  void rect(double x, double y, double w, double h, const std::string& fill) {
    out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) +
            "\" fill=\"" + xml_escape(fill) + "\"/>\n";
  }
  void circle(double x, double y, double r, const std::string& fill) {
    out_ += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"" + num(r) + "\" fill=\"" +
            xml_escape(fill) + "\" stroke=\"#ffffff\" stroke-width=\"1.5\"/>\n";
  }
  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke, bool dashed) {
    out_ += "<polyline fill=\"none\" stroke=\"" + xml_escape(stroke) +
            "\" stroke-width=\"2.5\" stroke-linejoin=\"round\"" +
            (dashed ? std::string(" stroke-dasharray=\"8 5\"") : std::string()) + " points=\"";
    for (std::size_t i = 0; i < points.size(); ++i)
      out_ += (i ? " " : "") + num(points[i].first) + "," + num(points[i].second);
    out_ += "\"/>\n";
  }
  std::string finish() {
    out_ += "</svg>\n";
    return std::move(out_);
  }

 private:
  int width_, height_;
  std::string out_;
};

enum class Swatch { box, line };

// Title, subtitle and a legend row (wrapping if needed); returns the y where the plot area may start.
inline double draw_header(Svg& svg, const std::string& title, const std::string& subtitle,
                          const std::vector<Style>& legend, Swatch swatch, bool markers) {
  const double max_w = svg.width() - 32.0;
  double y = 30;
  if (!title.empty()) {
    double size = 18;
    const double title_w = max_w / 1.1;  // bold glyphs run about 10% wider than text_width's estimate
    while (size > 13 && text_width(title, size) > title_w) size -= 1;  // shrink long titles before cutting them
    svg.text(svg.width() / 2.0, y, fit_text(title, size, title_w), size, "middle", true, "#111111");
    y += 22;
  }
  if (!subtitle.empty()) {
    svg.text(svg.width() / 2.0, y - 2, fit_text(subtitle, 13, max_w), 13, "middle", false, "#444444");
    y += 20;
  }
  if (legend.empty()) return y + 4;
  // Lay entries out in rows, each row centred.
  const double font = 12, swatch_w = swatch == Swatch::box ? 12 : 26, gap = 20;
  std::vector<std::vector<std::pair<std::size_t, double>>> rows(1);
  double row_w = 0;
  for (std::size_t i = 0; i < legend.size(); ++i) {
    const std::string label = fit_text(legend[i].name.empty() ? "(unnamed)" : legend[i].name, font, max_w / 2);
    const double w = swatch_w + 6 + text_width(label, font);
    if (!rows.back().empty() && row_w + gap + w > max_w) {
      rows.emplace_back();
      row_w = 0;
    }
    row_w += (rows.back().empty() ? 0 : gap) + w;
    rows.back().push_back({i, w});
  }
  y += 4;
  for (const auto& row : rows) {
    double total = 0;
    for (const auto& e : row) total += e.second;
    total += gap * static_cast<double>(row.size() - 1);
    double x = (svg.width() - total) / 2.0;
    for (const auto& e : row) {
      const Style& s = legend[e.first];
      if (swatch == Swatch::box) {
        svg.rect(x, y - 10, 12, 12, s.color);
      } else {
        svg.line(x, y - 4, x + swatch_w, y - 4, s.color, 2.5, s.dashed);
        if (markers) svg.circle(x + swatch_w / 2, y - 4, 3.5, s.color);
      }
      svg.text(x + swatch_w + 6, y, fit_text(s.name.empty() ? "(unnamed)" : s.name, font, max_w / 2), font);
      x += e.second + gap;
    }
    y += 18;
  }
  return y + 4;
}

// Vertical axis: gridlines, tick labels and the rotated axis label; ticks span plot.top..plot.bottom.
inline void draw_y_axis(Svg& svg, const Rect& plot, const std::vector<double>& ticks, const std::string& label,
                        bool percent = false) {
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  const double lo = ticks.front(), hi = ticks.back();
  for (double t : ticks) {
    const double y = plot.bottom - (t - lo) / (hi - lo) * plot.height();
    if (t != lo) svg.line(plot.left, y, plot.right, y, "#e3e3e3", 1);
    const std::string text = percent ? format_tick(t * 100, step * 100) + "%" : format_tick(t, step);
    svg.text(plot.left - 8, y + 4, text, 12, "end");
  }
  svg.line(plot.left, plot.top, plot.left, plot.bottom, "#444444", 1);
  if (!label.empty()) {
    const double x = 18, y = (plot.top + plot.bottom) / 2;
    svg.text(x, y, fit_text(label, 13, plot.height()), 13, "middle", false, "#222222", -90);
  }
}

inline double y_tick_label_width(const std::vector<double>& ticks, bool percent = false) {
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  double w = 0;
  for (double t : ticks)
    w = std::max(w, text_width(percent ? format_tick(t * 100, step * 100) + "%" : format_tick(t, step), 12));
  return w;
}

// Categorical horizontal axis; labels are rotated when they do not fit their slot. Returns the extra height the
// rotated labels need (0 when horizontal) — callers lay out with label_room() first.
inline double category_label_room(const std::vector<std::string>& categories, double slot_w) {
  double widest = 0;
  for (const auto& c : categories) widest = std::max(widest, text_width(c, 12));
  if (widest <= slot_w - 4) return 0;
  return std::min(widest, 160.0) * 0.5;  // sin(30 deg): height of a label rotated by -30 degrees
}

inline void draw_x_categories(Svg& svg, const Rect& plot, const std::vector<std::string>& categories,
                              const std::string& label, double rotated_room) {
  const double slot = plot.width() / static_cast<double>(categories.size());
  svg.line(plot.left, plot.bottom, plot.right, plot.bottom, "#444444", 1);
  for (std::size_t i = 0; i < categories.size(); ++i) {
    const double x = plot.left + slot * (static_cast<double>(i) + 0.5);
    svg.line(x, plot.bottom, x, plot.bottom + 4, "#444444", 1);
    if (rotated_room > 0)
      svg.text(x + 4, plot.bottom + 16, fit_text(categories[i], 12, 160), 12, "end", false, "#222222", -30);
    else
      svg.text(x, plot.bottom + 18, categories[i], 12, "middle");
  }
  if (!label.empty())
    svg.text((plot.left + plot.right) / 2, plot.bottom + 40 + rotated_room, fit_text(label, 13, plot.width()), 13,
             "middle");
}

// An empty chart still shows its frame, so it reads as "nothing measured" rather than as a broken picture.
inline std::string no_data(Svg& svg, double top) {
  const double left = 40, right = svg.width() - 40.0, bottom = svg.height() - 40.0;
  svg.line(left, top, right, top, "#bbbbbb", 1, true);
  svg.line(left, bottom, right, bottom, "#bbbbbb", 1, true);
  svg.line(left, top, left, bottom, "#bbbbbb", 1, true);
  svg.line(right, top, right, bottom, "#bbbbbb", 1, true);
  svg.text(svg.width() / 2.0, (top + bottom) / 2.0 + 8, "No data", 22, "middle", true, "#555555");
  return svg.finish();
}

inline std::vector<const Series*> pointers(const std::vector<Series>& series) {
  std::vector<const Series*> out;
  for (const Series& s : series) out.push_back(&s);
  return out;
}

inline double max_value(const std::vector<Series>& series) {
  double m = 0;
  for (const Series& s : series)
    for (double v : s.values) m = std::max(m, v);
  return m;
}

// Ticks from 0 whose top leaves `headroom_px` above `max` in a plot `plot_h` tall (room for value labels).
inline std::vector<double> zero_based_ticks(double max, double headroom_px, double plot_h) {
  const double fraction = std::min(0.5, headroom_px / std::max(plot_h, 1.0));
  return nice_ticks(0, max / (1 - fraction));
}

// Draws line series over categorical slots inside `plot` (ticks give the y range).
inline void draw_line_series(Svg& svg, const Rect& plot, const std::vector<double>& ticks,
                             const std::vector<Series>& series, const std::vector<Style>& styles,
                             std::size_t first_style, bool markers) {
  const double lo = ticks.front(), hi = ticks.back();
  for (std::size_t s = 0; s < series.size(); ++s) {
    const Style& style = styles[first_style + s];
    const std::size_t n = series[s].values.size();
    const double slot = plot.width() / static_cast<double>(n);
    std::vector<std::pair<double, double>> points;
    for (std::size_t i = 0; i < n; ++i)
      points.push_back({plot.left + slot * (static_cast<double>(i) + 0.5),
                        plot.bottom - (series[s].values[i] - lo) / (hi - lo) * plot.height()});
    if (points.size() > 1) svg.polyline(points, style.color, style.dashed);
    if (markers || points.size() == 1)
      for (const auto& p : points) svg.circle(p.first, p.second, 4, style.color);
  }
}

// Legend entries by name: series sharing a name (TTFT and TPOT panels) share one entry and one colour.
inline std::vector<Style> merged_styles(const std::vector<const Series*>& all) {
  std::vector<const Series*> unique;
  for (const Series* s : all) {
    bool seen = false;
    for (const Series* u : unique) seen = seen || u->name == s->name;
    if (!seen) unique.push_back(s);
  }
  return resolve_styles(unique);
}

inline std::vector<Style> styles_for(const std::vector<Series>& series, const std::vector<Style>& legend) {
  std::vector<Style> out;
  for (const Series& s : series)
    for (const Style& l : legend)
      if (l.name == s.name) {
        out.push_back(l);
        break;
      }
  return out;
}

}  // namespace detail

inline std::string lab_color_for(const std::string& series_name) {
  const std::string n = detail::lower(series_name);
  if (n.rfind("hf", 0) == 0 || n.find("hugging") != std::string::npos) return "#ff6b6b";
  if (n.find("vllm") != std::string::npos) return "#4ecdc4";
  return "";
}

inline std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default: out += (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ? '?' : static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // Copy a well-formed UTF-8 sequence whole; a stray byte would make the document unparseable.
    std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = len != 0 && i + len <= text.size();
    for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (ok && len == 2) ok = c >= 0xC2;  // overlong encodings
    if (ok && len == 3) {
      const unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, UTF-16 surrogates
      if (ok && c == 0xEF && c1 == 0xBF) ok = static_cast<unsigned char>(text[i + 2]) < 0xBE;  // U+FFFE/FFFF
    }
    if (ok && len == 4) {
      const unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

inline std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) throw std::invalid_argument("nice_ticks: bounds must be finite");
  if (lo > hi) throw std::invalid_argument("nice_ticks: lo must not exceed hi");
  if (max_ticks < 2) throw std::invalid_argument("nice_ticks: max_ticks must be at least 2");
  if (lo == hi) {
    if (lo == 0) {
      hi = 1;
    } else {
      const double pad = std::fabs(lo) * 0.5;
      lo -= pad;
      hi += pad;
    }
  }
  // Smallest 1/2/5 x 10^k step such that the floor/ceil-aligned range needs at most max_ticks ticks.
  const double raw = (hi - lo) / static_cast<double>(max_ticks - 1);
  double step = std::pow(10.0, std::floor(std::log10(raw)));
  const double mults[] = {1, 2, 5, 10, 20, 50, 100};
  double chosen = step * 100;
  double first = 0, last = 0;
  for (double m : mults) {
    const double s = step * m;
    // Small tolerance so 0.30000000000000004 / 0.1 does not become 4 intervals.
    const double f = std::floor(lo / s + 1e-9), l = std::ceil(hi / s - 1e-9);
    if (l - f + 1 <= max_ticks) {
      chosen = s;
      first = f;
      last = l;
      break;
    }
  }
  if (chosen == step * 100) {
    first = std::floor(lo / chosen + 1e-9);
    last = std::ceil(hi / chosen - 1e-9);
  }
  // Round each tick to the step's decimals so 3 * 0.1 prints and compares as 0.3.
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(chosen) + 1e-9)));
  const double scale = std::pow(10.0, decimals);
  std::vector<double> ticks;
  for (double k = first; k <= last + 0.5; k += 1) {
    double v = std::round(k * chosen * scale) / scale;
    if (v == 0) v = 0;  // no -0
    ticks.push_back(v);
  }
  return ticks;
}

inline std::string format_tick(double value, double step) {
  int decimals = 0;
  if (step > 0 && std::isfinite(step)) decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  // A step of 0.25 or 2.5 needs one more decimal than its order of magnitude says.
  const double scaled = step * std::pow(10.0, decimals);
  if (std::fabs(scaled - std::round(scaled)) > 1e-6) ++decimals;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 12), value);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // "-0.0" -> "0.0"
  return s;
}

inline std::string render_grouped_bars(const BarChart& chart) {
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
        svg.text(x0 + bar * (static_cast<double>(nser) - 0.5), group_top - 6, detail::fmt("%.1f", last / first) + "x", 13, "middle", true,
                 "#111111");
    }
  }
  detail::draw_x_categories(svg, plot, chart.categories, chart.x_label, rotated);
  return svg.finish();
}

inline std::string render_lines(const LineChart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::check_category_series(chart.categories, chart.series, "render_lines");
  detail::Svg svg(chart.width, chart.height, chart.title);
  const auto styles = detail::resolve_styles(detail::pointers(chart.series));
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, styles, detail::Swatch::line,
                                         chart.markers);
  if (chart.categories.empty() || chart.series.empty()) return detail::no_data(svg, top);

  double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const double rotated =
      detail::category_label_room(chart.categories, (chart.width - 100.0) / static_cast<double>(chart.categories.size()));
  bottom -= rotated;
  const auto ticks = detail::zero_based_ticks(detail::max_value(chart.series), 0, bottom - top);
  const double left = 8 + (chart.y_label.empty() ? 0 : 24) + detail::y_tick_label_width(ticks) + 10;
  const detail::Rect plot{left, top, chart.width - 20.0, bottom};
  detail::draw_y_axis(svg, plot, ticks, chart.y_label);
  detail::draw_x_categories(svg, plot, chart.categories, chart.x_label, rotated);
  detail::draw_line_series(svg, plot, ticks, chart.series, styles, 0, chart.markers);
  return svg.finish();
}

inline std::string render_ttft_tpot(const TtftTpotChart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::check_category_series(chart.categories, chart.ttft, "render_ttft_tpot");
  detail::check_category_series(chart.categories, chart.tpot, "render_ttft_tpot");
  detail::Svg svg(chart.width, chart.height, chart.title);
  auto all = detail::pointers(chart.ttft);
  for (const Series* s : detail::pointers(chart.tpot)) all.push_back(s);
  const auto legend = detail::merged_styles(all);
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, legend, detail::Swatch::line,
                                         chart.markers);
  if (chart.categories.empty() || all.empty()) return detail::no_data(svg, top);

  const double panel_title_h = 20;
  double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const double half = chart.width / 2.0;
  const double rotated =
      detail::category_label_room(chart.categories, (half - 90.0) / static_cast<double>(chart.categories.size()));
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
      svg.text((plot.left + plot.right) / 2, (plot.top + plot.bottom) / 2, "No data", 14, "middle", false,
               "#555555");
      continue;
    }
    detail::draw_line_series(svg, plot, ticks, *panels[p].series, detail::styles_for(*panels[p].series, legend), 0,
                             chart.markers);
  }
  return svg.finish();
}

inline std::string render_cdf(const CdfChart& chart) {
  detail::check_size(chart.width, chart.height);
  for (const Series& s : chart.series) detail::check_values(s, "render_cdf");
  detail::Svg svg(chart.width, chart.height, chart.title);
  // The legend says how many samples each curve has: a CDF of 5 samples reads very differently from one of 5000.
  std::vector<Series> labelled;
  for (const Series& s : chart.series) {
    Series l = s;
    l.name = s.name + (s.values.empty() ? " (no samples)" : " (n=" + std::to_string(s.values.size()) + ")");
    if (l.color.empty()) l.color = lab_color_for(s.name);
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
  if (!chart.x_label.empty())
    svg.text((plot.left + plot.right) / 2, plot.bottom + 40, chart.x_label, 13, "middle");
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
// ---- end servebench/chart.hpp ----
// ---- begin servebench/driver.hpp ----
// servebench — Driver<Api>: one HTTP exchange with an inference server becomes one RequestRecord, timed at the
// moments docs/metrics.md defines; and wait_until_ready(), which replaces a fixed `sleep 60` before a run.
//
// One Driver per worker thread: it owns one cpp-httplib Client (keep-alive, TCP_NODELAY) and one small watchdog
// thread that enforces the whole-request deadline and cancel() by stopping the client from outside.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <sys/socket.h>
#endif

#include <httplib.h>
#include <nlohmann/json.hpp>


namespace servebench {

// How to reach a server and what to ask of it. Fluent: setters return *this; a getter of the same name reads.
class DriverOptions {
 public:
  using Duration = std::chrono::milliseconds;

  // "http://host:port/prefix"; the dialect's path is appended to the prefix.
  DriverOptions& base_url(std::string url) { base_url_ = std::move(url); return *this; }
  const std::string& base_url() const noexcept { return base_url_; }
  // Sent as "Authorization: Bearer <key>" when not empty.
  DriverOptions& api_key(std::string key) { api_key_ = std::move(key); return *this; }
  const std::string& api_key() const noexcept { return api_key_; }
  DriverOptions& model(std::string name) { generation_.model = std::move(name); return *this; }
  const std::string& model() const noexcept { return generation_.model; }
  // The label records carry ("hf", "vllm", ...).
  DriverOptions& target(std::string label) { target_ = std::move(label); return *this; }
  const std::string& target() const noexcept { return target_; }
  DriverOptions& stream(bool on) { generation_.stream = on; return *this; }
  bool stream() const noexcept { return generation_.stream; }
  DriverOptions& temperature(double t) { generation_.temperature = t; return *this; }
  double temperature() const noexcept { return generation_.temperature; }
  DriverOptions& ignore_eos(bool on) { generation_.ignore_eos = on; return *this; }
  bool ignore_eos() const noexcept { return generation_.ignore_eos; }
  DriverOptions& min_tokens(std::optional<int> n) { generation_.min_tokens = n; return *this; }
  std::optional<int> min_tokens() const noexcept { return generation_.min_tokens; }
  DriverOptions& connect_timeout(Duration d) { connect_timeout_ = d; return *this; }
  Duration connect_timeout() const noexcept { return connect_timeout_; }
  // The longest the server may stay silent (between two reads), not the length of a whole reply.
  DriverOptions& read_timeout(Duration d) { read_timeout_ = d; return *this; }
  Duration read_timeout() const noexcept { return read_timeout_; }
  DriverOptions& write_timeout(Duration d) { write_timeout_ = d; return *this; }
  Duration write_timeout() const noexcept { return write_timeout_; }
  // The longest one whole request may take, from t_send; zero means none. A connect in progress is not
  // interrupted (cpp-httplib holds its socket lock while connecting): connect_timeout bounds that part.
  DriverOptions& deadline(Duration d) { deadline_ = d; return *this; }
  Duration deadline() const noexcept { return deadline_; }
  // Keep the generated text in each record; off saves memory in long runs.
  DriverOptions& keep_text(bool on) { keep_text_ = on; return *this; }
  bool keep_text() const noexcept { return keep_text_; }

  // The generation settings as dialects take them.
  const GenerationOptions& generation() const noexcept { return generation_; }

 private:
  std::string base_url_ = "http://127.0.0.1:8000";
  std::string api_key_;
  std::string target_;
  GenerationOptions generation_;
  Duration connect_timeout_ = std::chrono::seconds(10);
  Duration read_timeout_ = std::chrono::seconds(600);  // a non-streaming reply from a busy server is silent for long
  Duration write_timeout_ = std::chrono::seconds(30);
  Duration deadline_ = Duration::zero();
  bool keep_text_ = true;
};

namespace detail {

struct BaseUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without IPv6 brackets
  int port = 0;
  std::string prefix;  // "" or "/something", no trailing slash
};

// Parses "http://host[:port][/prefix]"; throws std::invalid_argument with what is wrong.
inline BaseUrl parse_base_url(const std::string& url) {
  BaseUrl out;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    throw std::invalid_argument("base URL '" + url + "' has no scheme (expected http://host:port/prefix)");
  out.scheme = url.substr(0, scheme_end);
  if (out.scheme != "http" && out.scheme != "https")
    throw std::invalid_argument("base URL '" + url + "': scheme must be http or https");
  std::string rest = url.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.prefix = rest.substr(slash);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  std::string port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) throw std::invalid_argument("base URL '" + url + "': unclosed '['");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw std::invalid_argument("base URL '" + url + "': junk after ']'");
      has_port = true;
      port_text = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }
  if (out.host.empty()) throw std::invalid_argument("base URL '" + url + "' has no host");
  if (!has_port) {
    out.port = out.scheme == "https" ? 443 : 80;
  } else {
    std::size_t used = 0;
    int port = -1;
    try {
      port = std::stoi(port_text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != port_text.size() || port <= 0 || port > 65535)
      throw std::invalid_argument("base URL '" + url + "': bad port '" + port_text + "'");
    out.port = port;
  }
  return out;
}

inline std::unique_ptr<httplib::Client> make_client(const BaseUrl& url) {
  if (url.scheme == "http") return std::make_unique<httplib::Client>(url.host, url.port);
  const bool v6 = url.host.find(':') != std::string::npos;
  return std::make_unique<httplib::Client>(url.scheme + "://" + (v6 ? "[" + url.host + "]" : url.host) + ":" +
                                           std::to_string(url.port));
}

// cpp-httplib reports a failed name lookup and a refused connection alike (Error::Connection); asking the resolver
// again tells them apart. Only called after a failure, so it never costs a measured request anything.
inline bool host_resolves(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (result) freeaddrinfo(result);
  return rc == 0;
}

inline std::string first_bytes(std::string_view text, std::size_t limit = 512) {
  return std::string(text.substr(0, limit));
}

// Shared by the Driver and its watchdog thread. Kept behind a pointer so a Driver can move.
struct DriverState {
  std::unique_ptr<httplib::Client> client;
  std::mutex mutex;
  std::condition_variable wake;
  bool in_flight = false;
  bool stopping = false;
  Nanos deadline_at = 0;                  // 0: none
  std::atomic<bool> deadline_hit{false};
  std::atomic<int> cancel_reason{static_cast<int>(ErrorKind::none)};
  std::thread watchdog;

  ErrorKind cancelled() const noexcept { return static_cast<ErrorKind>(cancel_reason.load()); }

  void start() {
    watchdog = std::thread([this] { watch(); });
  }

  void shut_down() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (watchdog.joinable()) watchdog.join();
  }

  void begin(Nanos deadline) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      in_flight = true;
      deadline_at = deadline;
      deadline_hit = false;
    }
    // The watchdog needs waking only to arm a deadline (cancel() wakes it itself); waking it for every request cost
    // two context switches per request (bench/bench_client_overhead).
    if (deadline != 0) wake.notify_all();
  }

  // Taking the mutex waits out a stop() in progress, so a stop aimed at this request never hits the next one.
  void end() {
    std::lock_guard<std::mutex> lock(mutex);
    in_flight = false;
    deadline_at = 0;
  }

  void watch() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      if (in_flight) {
        const bool cancel = cancelled() != ErrorKind::none;
        if (cancel || (deadline_at != 0 && now_ns() >= deadline_at)) {
          if (!cancel) deadline_hit = true;
          client->stop();
          // A stop() that lands before the request has its socket does nothing, so repeat until the request ends.
          wake.wait_for(lock, std::chrono::milliseconds(2));
          continue;
        }
        if (deadline_at != 0) {
          wake.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_at)));
          continue;
        }
      }
      wake.wait(lock);
    }
  }
};

// Applies the reply's counts and ground truth to the record.
template <class Counts>
void take_counts(const Counts& c, RequestRecord& r) {
  if (c.completion_tokens) {
    r.n_out = *c.completion_tokens;
    r.token_source = TokenSource::usage;
  }
  if (c.prompt_tokens) r.n_in = *c.prompt_tokens;
  if (c.server_first_token) r.server_first_token = c.server_first_token;
  if (c.server_end) r.server_end = c.server_end;
}

inline void fail(RequestRecord& r, ErrorKind kind, std::string message) {
  if (!r.ok()) return;  // the first cause wins
  r.error_kind = kind;
  r.error_message = std::move(message);
}

}  // namespace detail

template <class Api>
class Driver {
 public:
  // Throws std::invalid_argument when the base URL cannot be parsed; nothing else throws.
  explicit Driver(DriverOptions options, Api api = {})
      : options_(std::move(options)), api_(std::move(api)), url_(detail::parse_base_url(options_.base_url())),
        state_(std::make_unique<detail::DriverState>()) {
    auto& client = *(state_->client = detail::make_client(url_));
    client.set_tcp_nodelay(true);  // without it every POST waits ~40 ms on Nagle + delayed ACK
    client.set_keep_alive(true);
    client.set_follow_location(false);
    client.set_connection_timeout(options_.connect_timeout());
    client.set_read_timeout(options_.read_timeout());
    client.set_write_timeout(options_.write_timeout());
    if (!options_.api_key().empty()) client.set_bearer_token_auth(options_.api_key());
    state_->start();
  }
  ~Driver() {
    if (state_) state_->shut_down();
  }
  Driver(Driver&&) noexcept = default;
  Driver& operator=(Driver&& other) noexcept {
    if (this != &other) {
      if (state_) state_->shut_down();
      options_ = std::move(other.options_);
      api_ = std::move(other.api_);
      url_ = std::move(other.url_);
      state_ = std::move(other.state_);
    }
    return *this;
  }
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Sends one request and waits for the whole reply. t_sched = 0 means "now". Never throws: every outcome is in
  // the record (ok(), or one error_kind with a message).
  RequestRecord send(const Prompt& prompt, std::uint64_t index = 0, Nanos t_sched = 0) noexcept {
    RequestRecord record;
    try {
      record.target = options_.target();
      record.index = index;
      record.t_sched = t_sched != 0 ? t_sched : now_ns();
      send_into(prompt, record);
    } catch (const std::exception& e) {
      detail::fail(record, ErrorKind::other, std::string("unexpected: ") + e.what());
    } catch (...) {
      detail::fail(record, ErrorKind::other, "unexpected exception");
    }
    return record;
  }

  // Thread-safe: aborts the request in flight so it ends with `reason`, and makes later sends return at once
  // with it, until clear_cancel().
  void cancel(ErrorKind reason = ErrorKind::interrupted) {
    if (reason == ErrorKind::none) reason = ErrorKind::interrupted;
    state_->cancel_reason = static_cast<int>(reason);
    state_->wake.notify_all();
  }
  void clear_cancel() { state_->cancel_reason = static_cast<int>(ErrorKind::none); }
  bool cancelled() const noexcept { return state_->cancelled() != ErrorKind::none; }

  const DriverOptions& options() const noexcept { return options_; }
  const Api& api() const noexcept { return api_; }

 private:
  static constexpr bool can_stream = api::streams_v<Api>;

  // Everything the content receiver touches. Its members are sized before the request so that the receiver takes
  // its timestamp first and allocates only afterwards.
  struct Exchange {
    const Api* api = nullptr;
    RequestRecord* record = nullptr;
    detail::DriverState* state = nullptr;
    bool streaming = false;
    bool keep_text = true;
    int status = -1;           // -1: no status line yet
    Nanos last_activity = 0;   // last byte (or header) arrival
    std::size_t bytes = 0;
    std::string body;          // non-streaming body, or the start of any failed one
    SseParser parser;
    bool terminated = false;
    std::int64_t text_events = 0;
    bool failed = false;

    bool on_bytes(Nanos arrived, const char* data, std::size_t n) noexcept {
      try {
        last_activity = arrived;
        bytes += n;
        if (state->cancelled() != ErrorKind::none || state->deadline_hit) return false;
        if (status >= 400) {  // an error page: only its start is kept
          if (body.size() < 512) body.append(data, std::min<std::size_t>(n, 512 - body.size()));
          return true;
        }
        if (!streaming) {
          body.append(data, n);
          record->t_end = arrived;  // the last call brings the last byte
          return true;
        }
        if (body.size() < 512) body.append(data, std::min<std::size_t>(n, 512 - body.size()));
        parser.feed(std::string_view(data, n), [&](const SseEvent& event) { on_event(event, arrived); });
        return !failed;
      } catch (const std::exception& e) {
        detail::fail(*record, ErrorKind::other, std::string("while reading the reply: ") + e.what());
        failed = true;
        return false;
      }
    }

    void on_event(const SseEvent& event, Nanos arrived) {
      if (failed || terminated) return;  // nothing after the terminator counts
      if constexpr (can_stream) {
        auto parsed = api::read_event(*api, event.data);
        if (!parsed.ok()) {
          detail::fail(*record, parsed.error, std::move(parsed.message));
          failed = true;
          return;
        }
        auto& e = parsed.value;
        if (e.carries_text) {
          if (text_events == 0) record->t_first_token = arrived;
          record->t_end = arrived;
          record->event_times.push_back(arrived);
          ++text_events;
          if (keep_text) record->text += e.text;
        }
        detail::take_counts(e, *record);
        terminated = e.terminator;
      } else {
        (void)event;
        (void)arrived;
      }
    }
  };

  void send_into(const Prompt& prompt, RequestRecord& record) {
    auto& state = *state_;
    if (const auto reason = state.cancelled(); reason != ErrorKind::none) {
      detail::fail(record, reason, "cancelled before sending");
      return;
    }
    GenerationOptions generation = options_.generation();
    generation.stream = generation.stream && can_stream;
    record.streamed = generation.stream;

    const api::HttpCall call = api_.request(prompt, generation);
    httplib::Request request;
    request.method = "POST";
    request.path = url_.prefix + call.path;
    request.headers = {{"Content-Type", "application/json"},
                       {"Accept", generation.stream ? "text/event-stream" : "application/json"}};
    // A prompt that is not valid UTF-8 is sent with replacement characters rather than failing the request.
    request.body = call.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

    Exchange x;
    x.api = &api_;
    x.record = &record;
    x.state = &state;
    x.streaming = generation.stream;
    x.keep_text = options_.keep_text();
    if (x.streaming) {
      record.event_times.reserve(static_cast<std::size_t>(prompt.max_tokens > 0 ? prompt.max_tokens + 2 : 16));
      if (x.keep_text) record.text.reserve(static_cast<std::size_t>(prompt.max_tokens > 0 ? prompt.max_tokens : 0) * 8);
    } else {
      x.body.reserve(4096);
    }
    request.response_handler = [&x](const httplib::Response& response) {
      x.last_activity = now_ns();
      x.status = response.status;
      return true;
    };
    request.content_receiver = [&x](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      const Nanos arrived = now_ns();  // first: before any allocation or parsing
      return x.on_bytes(arrived, data, n);
    };

    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    const Nanos deadline_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.deadline()).count();
    record.t_send = now_ns();  // just before the first byte: connect time counts, as a user waits for it too
    x.last_activity = record.t_send;
    state.begin(deadline_ns > 0 ? record.t_send + deadline_ns : 0);
    const bool completed = state.client->send(request, response, error);
    const Nanos returned = now_ns();
    state.end();

    record.http_status = x.status > 0 ? x.status : 0;
    finish(x, completed, error, returned, record);
    if (!record.ok()) {
      if (record.t_end == 0 || record.t_end < record.t_send) record.t_end = returned;
      if (record.body_start.empty()) record.body_start = detail::first_bytes(x.body);
    }
  }

  void finish(Exchange& x, bool completed, httplib::Error error, Nanos returned, RequestRecord& record) {
    if (!record.ok()) return;  // the receiver already classified it (a bad event)
    auto& state = *state_;
    const bool stopped = state.cancelled() != ErrorKind::none || state.deadline_hit;
    if (!completed && stopped) {
      if (const auto reason = state.cancelled(); reason != ErrorKind::none)
        detail::fail(record, reason, "cancelled while in flight");
      else
        detail::fail(record, ErrorKind::deadline_exceeded,
                     "no complete reply within the deadline of " + std::to_string(options_.deadline().count()) + " ms");
      return;
    }
    if (!completed) {
      classify_transport(x, error, returned, record);
      return;
    }
    if (x.status >= 400) {
      record.body_start = detail::first_bytes(x.body);
      detail::fail(record, ErrorKind::http_status, "HTTP status " + std::to_string(x.status));
      return;
    }
    if (x.streaming) {
      x.parser.finish([&](const SseEvent& event) { x.on_event(event, x.last_activity); });
      if (!record.ok()) return;
      if (!x.terminated) {
        detail::fail(record, x.bytes == 0 ? ErrorKind::empty_reply : ErrorKind::incomplete_stream,
                     x.bytes == 0 ? "the stream had no body" : "the stream ended without its terminator");
        return;
      }
      if (record.token_source != TokenSource::usage && x.text_events > 0) {
        record.n_out = x.text_events;
        record.token_source = TokenSource::events;
      }
      if (x.text_events == 0) record.t_first_token = record.t_end = x.last_activity;
      return;
    }
    if (x.body.empty()) {
      detail::fail(record, ErrorKind::empty_reply, "HTTP " + std::to_string(x.status) + " with an empty body");
      return;
    }
    auto parsed = api::read_reply(api_, x.body);
    if (!parsed.ok()) {
      detail::fail(record, parsed.error, std::move(parsed.message));
      return;
    }
    record.t_first_token = record.t_end;
    detail::take_counts(parsed.value, record);
    if (options_.keep_text()) record.text = std::move(parsed.value.text);
  }

  void classify_transport(const Exchange& x, httplib::Error error, Nanos returned, RequestRecord& record) {
    const std::string where = url_.host + ":" + std::to_string(url_.port);
    const Nanos silent = returned - x.last_activity;
    const Nanos read_timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.read_timeout()).count();
    switch (error) {
      case httplib::Error::Connection:
        if (!detail::host_resolves(url_.host))
          detail::fail(record, ErrorKind::name_resolution, "cannot resolve host '" + url_.host + "'");
        else
          detail::fail(record, ErrorKind::connect_refused, "cannot connect to " + where + " (refused or unreachable)");
        return;
      case httplib::Error::ConnectionTimeout:
        detail::fail(record, ErrorKind::connect_timeout,
                     "no connection to " + where + " within " + std::to_string(options_.connect_timeout().count()) +
                         " ms");
        return;
      case httplib::Error::Write:
        detail::fail(record, ErrorKind::write_failed, "could not write the request to " + where);
        return;
      case httplib::Error::Read:
        // cpp-httplib 0.11.4 reports a timeout and a closed connection both as Read; how long the socket had been
        // silent tells them apart (a timeout waits the whole read timeout; a close ends sooner).
        if (silent >= read_timeout_ns - read_timeout_ns / 10) {
          detail::fail(record, ErrorKind::read_timeout,
                       "the server was silent for " + std::to_string(options_.read_timeout().count()) + " ms");
        } else if (x.status < 0 && x.bytes == 0) {
          detail::fail(record, ErrorKind::empty_reply, "the server closed the connection without a reply");
        } else {
          detail::fail(record, ErrorKind::closed_mid_stream,
                       "the connection closed after " + std::to_string(x.bytes) + " bytes of the reply");
        }
        return;
      default: {
        std::ostringstream text;
        text << "cpp-httplib error " << static_cast<int>(error) << " talking to " << where;
        detail::fail(record, ErrorKind::other, text.str());
        return;
      }
    }
  }

  DriverOptions options_;
  Api api_;
  detail::BaseUrl url_;
  std::unique_ptr<detail::DriverState> state_;
};

// One line for a person: why a request failed and what to try. For programs that send a request and stop.
inline std::string describe_failure(const RequestRecord& r, const std::string& base_url) {
  std::string line = std::string(to_string(r.error_kind)) + ": " + r.error_message;
  switch (r.error_kind) {
    case ErrorKind::connect_refused:
    case ErrorKind::connect_timeout:
      return line + " (is the server running at " + base_url + "? start it, or check the URL)";
    case ErrorKind::name_resolution: return line + " (check the host name in " + base_url + ")";
    case ErrorKind::http_status: {
      std::string body = r.body_start.substr(0, 200);
      for (char& c : body)
        if (c == '\n' || c == '\r') c = ' ';
      return line + (body.empty() ? "" : ": " + body) + " (check the API dialect, the model name and the URL's path)";
    }
    default: return line;
  }
}

// The outcome of wait_until_ready: ready or not, which probe answered, or why it never did.
struct ReadyResult {
  bool ready = false;
  std::string probe;   // "/health", "/v1/models" or "/v1/completions" when ready
  std::string reason;  // the last reason it was not ready
  double waited_s = 0;
  explicit operator bool() const noexcept { return ready; }
};

namespace detail {
inline std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "connection refused or host unknown";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    case httplib::Error::Read: return "connection closed or read timed out";
    case httplib::Error::Write: return "write failed";
    default: return "cpp-httplib error " + std::to_string(static_cast<int>(error));
  }
}
}  // namespace detail

// Polls the server at base_url until it answers, or until `deadline` has passed: GET /health (vLLM, TGI), then
// GET /v1/models (OpenAI-compatible servers), then a 1-token POST /v1/completions (the lab's Flask server has only
// that). A 5xx from /health means "starting" and is waited on. Backs off from 100 ms to 2 s between rounds and
// says what it is waiting for on `log` (nullptr: silent) when the first round fails and every 10 s after.
inline ReadyResult wait_until_ready(const std::string& base_url, std::chrono::milliseconds deadline,
                                    std::ostream* log = &std::cerr) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  ReadyResult result;
  detail::BaseUrl url;
  try {
    url = detail::parse_base_url(base_url);
  } catch (const std::exception& e) {
    result.reason = e.what();
    return result;
  }
  auto client = detail::make_client(url);
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(std::chrono::seconds(2));
  auto backoff = std::chrono::milliseconds(100);
  auto next_log = start;
  bool logged = false;
  for (;;) {
    const auto left = deadline - std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start);
    // A probe never outlives the deadline by much: reads are bounded by what is left (at least 1 s).
    client->set_read_timeout(std::max<std::chrono::milliseconds>(left, std::chrono::seconds(1)));
    std::string why;
    if (auto health = client->Get(url.prefix + "/health")) {
      if (health->status == 200) {
        result.probe = "/health";
      } else if (health->status >= 500) {
        why = "/health answered " + std::to_string(health->status) + " (starting)";
      } else if (auto models = client->Get(url.prefix + "/v1/models"); models && models->status == 200) {
        result.probe = "/v1/models";
      } else {
        const std::string body = R"({"prompt":"Hello","max_tokens":1})";
        auto one = client->Post(url.prefix + "/v1/completions", body, "application/json");
        if (one && one->status == 200)
          result.probe = "/v1/completions";
        else
          why = one ? "a 1-token request answered " + std::to_string(one->status) : detail::describe(one.error());
      }
    } else {
      why = detail::describe(health.error());
    }
    result.waited_s = std::chrono::duration<double>(clock::now() - start).count();
    if (!result.probe.empty()) {
      result.ready = true;
      if (log && logged)
        *log << "servebench: " << base_url << " is ready after " << result.waited_s << " s (" << result.probe
             << ")\n";
      return result;
    }
    result.reason = why;
    const auto now = clock::now();
    if (now - start >= deadline) {
      if (log)
        *log << "servebench: gave up waiting for " << base_url << " after " << result.waited_s << " s: " << why
             << "\n";
      return result;
    }
    if (log && now >= next_log) {
      *log << "servebench: waiting for " << base_url << " (" << why << "); " << static_cast<long>(result.waited_s)
           << " s of " << deadline.count() / 1000 << " s\n";
      logged = true;
      next_log = now + std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::min<clock::duration>(backoff, deadline - (now - start)));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace servebench
// ---- end servebench/driver.hpp ----
// ---- begin servebench/sim.hpp ----
// servebench — simulated inference servers: an HF-like sequential engine and a vLLM-like continuous-batching
// engine behind real HTTP (cpp-httplib) on 127.0.0.1, calibrated on GPU measurements (shared/calibration/), with
// seeded fault injection. Every example, the demo and most tests run against these, so nothing needs a GPU.
//
// The two engine models, in model time (a time-scale factor maps it onto real time):
//
// sequential (the lab's HF transformers server: one model.generate per request on a threaded HTTP server)
//   Each request runs its own generate loop. One step of a loop is a host part (Python and kernel launches, held
//   under the GIL) followed by a device part (the GPU kernels, serialised on the one CUDA stream); the first step
//   is the prefill. Both resources are FIFO and shared by every loop, so concurrent loops pipeline: while one loop
//   waits for the GPU another runs its Python. One loop alone takes host + device per token (35.0 + 29.2 = 64.2 ms);
//   many loops are limited by the busier resource, the host, so throughput saturates at (35.0 + 29.2) / 35.0 =
//   1.8x the single-loop rate from about 2 loops on. Thread switching under the GIL stretches the host part by
//   0.48% per other active loop, which is the slight fall at 20 requests. The first step's device part is
//   max(device step, prompt tokens * 0.034 ms): flat to about 860 tokens, and 40 ms more at 2048 tokens, as the
//   measured prefill (22.4 ms at 512 tokens, 62.8 ms at 2048). 30 ms per request is spent off the shared
//   resources (HTTP, tokenising). What it reproduces (lab, 50-token replies, all
//   requests sent at once): 0.309 / 0.557 / 0.546 / 0.523 req/s at 1 / 5 / 10 / 20 (measured 0.309 / 0.549 /
//   0.563 / 0.523) with every loop finishing together as measured; 100 tokens alone: 6.45 s (measured 6.21-6.58).
//
// continuous_batching (vLLM's scheme; also transformers' ContinuousBatchingManager)
//   One engine loop. Each step admits waiting requests (FIFO) while the batch is below max_num_seqs, the step's
//   tokens stay within max_num_batched_tokens and the KV cache can hold prompt + max_tokens for every admitted
//   sequence (a reservation: this model never preempts); prefills them (each yields its first token) and advances
//   every other running sequence one token; finished sequences leave at once. Step time =
//   step_ms_by_batch(batch size), interpolated linearly between the table's points (and beyond the last along the
//   last segment), + prefill_ms_per_token * prompt tokens prefilled in the step. Requests arriving during a step
//   join at the next one.
//
// Time scale: every model duration is divided by time_scale in real time (20 = twenty times faster). Fault
// durations (stall, jitter, slow reply) are real seconds, because they are there to meet a client's real timeout.
//
// HTTP, on 127.0.0.1 by default:
//   api "hf":     POST /v1/completions {prompt, max_tokens=100} -> {text, usage: {completion_tokens}, elapsed_sec
//                 (real seconds from arrival to reply), sim_timing}; 422 {"detail"} for an invalid request.
//   api "openai": POST /v1/completions and /v1/chat/completions, "stream" true or not; SSE `data: {json}\n\n`, one
//                 event per token (chat opens with a role-only chunk), a usage chunk (empty choices) when
//                 stream_options.include_usage, then `data: [DONE]`; errors as {"error": {message, type, code}}.
//   both:         GET /health, GET /v1/models.
// Text is one pseudo-word per token, deterministic in (seed, prompt); completion_tokens is exact: max_tokens,
// unless early_eos_rate > 0 and the request has no ignore_eos. Reply ids end in the request's arrival number.
// Ground truth: "sim_timing": {"first_token_ns", "last_token_ns"} on std::chrono::steady_clock (the same clock as
// servebench::now_ns() when client and server share a process). Streaming: taken just before writing the first and
// the last token's event, and carried by the last one. Not streaming: first_token_ns is when the engine produced
// the first token, last_token_ns is taken just before the body is written.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <sys/socket.h>

#include <httplib.h>
#include <nlohmann/json.hpp>


namespace servebench {
namespace sim {

enum class EngineKind { sequential, continuous_batching };
// hf: the lab's HF server API (POST /v1/completions {prompt, max_tokens} -> {text, usage, elapsed_sec}).
// openai: /v1/completions and /v1/chat/completions, streaming and not, as vLLM serves them.
enum class ApiFlavour { hf, openai };

inline const char* to_string(EngineKind kind) noexcept {
  return kind == EngineKind::sequential ? "sequential" : "continuous_batching";
}
inline const char* to_string(ApiFlavour api) noexcept { return api == ApiFlavour::hf ? "hf" : "openai"; }

inline EngineKind engine_kind_from_string(const std::string& name) {
  if (name == "sequential") return EngineKind::sequential;
  if (name == "continuous_batching") return EngineKind::continuous_batching;
  throw std::invalid_argument("unknown engine kind '" + name + "' (valid: sequential, continuous_batching)");
}
inline ApiFlavour api_flavour_from_string(const std::string& name) {
  if (name == "hf") return ApiFlavour::hf;
  if (name == "openai") return ApiFlavour::openai;
  throw std::invalid_argument("unknown api flavour '" + name + "' (valid: hf, openai)");
}

// One point of the continuous-batching step-time table: a decode step of `batch_size` sequences takes `step_ms`.
struct BatchStepTime {
  int batch_size = 1;
  double step_ms = 0;
};

namespace detail {
// A step-time table from a static array. (An initializer list of BatchStepTime in a default member initializer makes
// g++ 12 at -O1 and above report -Wmaybe-uninitialized on the list's temporary array: a false positive that
// breaks -Werror builds.)
template <std::size_t N>
std::vector<BatchStepTime> step_table(const BatchStepTime (&points)[N]) {
  return std::vector<BatchStepTime>(points, points + N);
}
// vLLM serving Llama-3.1-8B on one H100 (vllm-llama3-8b-published.json): TPOT p50 at 1 / 4 / 16 / 64 concurrent.
inline std::vector<BatchStepTime> vllm_h100_step_times() {
  static const BatchStepTime points[] = {{1, 6.48}, {4, 6.59}, {16, 10.94}, {64, 46.91}};
  return step_table(points);
}
}  // namespace detail

// Every engine parameter, in model milliseconds. Plain data; ServerOptions has a fluent setter for each.
struct EngineConfig {
  EngineKind kind = EngineKind::sequential;

  // Both engines.
  double request_overhead_ms = 0;     // per request, off the shared resources: HTTP, tokenising, detokenising
  double first_request_extra_ms = 0;  // added once to the engine's first step after start (no warm-up)
  double prefill_ms_per_token = 0;    // prefill cost per prompt token (see the two models above)
  int max_model_len = 8192;           // prompt + max_tokens beyond this is refused with 400

  // sequential
  double host_step_ms = 35.0;              // host part of one generate step (serialised by the GIL)
  double device_step_ms = 29.2;            // device part of one step (serialised on the GPU)
  double host_contention_per_loop = 0.0048;  // host part stretches by this fraction per other active loop

  // continuous_batching
  std::vector<BatchStepTime> step_ms_by_batch = detail::vllm_h100_step_times();
  int max_num_seqs = 256;
  int max_num_batched_tokens = 8192;
  std::int64_t kv_cache_tokens = 400000;

  // Decode step time of a batch of `batch_size` sequences (continuous batching), from the table.
  double decode_step_ms(int batch_size) const {
    const auto& t = step_ms_by_batch;
    if (t.empty()) return 0;
    if (t.size() == 1 || batch_size <= t.front().batch_size) return t.front().step_ms;
    for (std::size_t i = 1; i < t.size(); ++i) {
      if (batch_size <= t[i].batch_size || i + 1 == t.size()) {
        const double x0 = t[i - 1].batch_size, x1 = t[i].batch_size;
        const double y0 = t[i - 1].step_ms, y1 = t[i].step_ms;
        return y0 + (y1 - y0) * (static_cast<double>(batch_size) - x0) / (x1 - x0);
      }
    }
    return t.back().step_ms;
  }

  // Host part of one sequential step while `active_loops` generate loops are running.
  double host_ms(std::size_t active_loops) const {
    const double others = active_loops > 0 ? static_cast<double>(active_loops - 1) : 0.0;
    return host_step_ms * (1.0 + host_contention_per_loop * others);
  }

  // Device part of a sequential prefill of `prompt_tokens` tokens.
  double prefill_device_ms(std::int64_t prompt_tokens) const {
    return std::max(device_step_ms, prefill_ms_per_token * static_cast<double>(prompt_tokens));
  }

  // Throws std::invalid_argument naming the first parameter out of range.
  void validate() const {
    auto need = [](bool ok, const std::string& what) {
      if (!ok) throw std::invalid_argument("servebench::sim::EngineConfig: " + what);
    };
    need(request_overhead_ms >= 0, "request_overhead_ms must be >= 0");
    need(first_request_extra_ms >= 0, "first_request_extra_ms must be >= 0");
    need(prefill_ms_per_token >= 0, "prefill_ms_per_token must be >= 0");
    need(max_model_len > 0, "max_model_len must be > 0");
    if (kind == EngineKind::sequential) {
      need(host_step_ms >= 0 && device_step_ms >= 0 && host_step_ms + device_step_ms > 0,
           "host_step_ms and device_step_ms must be >= 0 and not both 0");
      need(host_contention_per_loop >= 0, "host_contention_per_loop must be >= 0");
    } else {
      need(!step_ms_by_batch.empty(), "step_ms_by_batch must have at least one point");
      for (std::size_t i = 0; i < step_ms_by_batch.size(); ++i) {
        need(step_ms_by_batch[i].batch_size >= 1 && step_ms_by_batch[i].step_ms > 0,
             "step_ms_by_batch points need batch_size >= 1 and step_ms > 0");
        need(i == 0 || step_ms_by_batch[i].batch_size > step_ms_by_batch[i - 1].batch_size,
             "step_ms_by_batch must be sorted by strictly increasing batch_size");
      }
      need(max_num_seqs >= 1, "max_num_seqs must be >= 1");
      need(max_num_batched_tokens >= 1, "max_num_batched_tokens must be >= 1");
      need(kv_cache_tokens >= 1, "kv_cache_tokens must be >= 1");
    }
  }
};

// Fault injection. Rates are shares of generation requests in [0, 1], drawn per request from the server's seed
// and the request's arrival number. http_500, http_503, malformed_json and drop_mid_stream exclude each other
// (their rates must sum to <= 1); stall, slow_reply and jitter combine with anything. Durations are real seconds.
struct FaultConfig {
  double http_500_rate = 0;        // reply 500 at once, nothing generated
  double http_503_rate = 0;        // reply 503 (overloaded) at once
  double malformed_json_rate = 0;  // non-stream: body cut in half; stream: the middle token's event is cut
  double drop_mid_stream_rate = 0; // connection closed after half the reply (stream: half the tokens)
  double stall_rate = 0;           // share of replies whose first token waits stall_s more
  double stall_s = 0;
  double jitter_s = 0;             // every reply's first token waits uniform [0, jitter_s) more
  double slow_reply_rate = 0;      // share of replies whose last token is held until slow_reply_s after arrival
  double slow_reply_s = 0;

  void validate() const {
    auto rate = [](double r, const char* name) {
      if (!(r >= 0 && r <= 1))
        throw std::invalid_argument(std::string("servebench::sim::FaultConfig: ") + name + " must be in [0, 1]");
    };
    rate(http_500_rate, "http_500_rate");
    rate(http_503_rate, "http_503_rate");
    rate(malformed_json_rate, "malformed_json_rate");
    rate(drop_mid_stream_rate, "drop_mid_stream_rate");
    rate(stall_rate, "stall_rate");
    rate(slow_reply_rate, "slow_reply_rate");
    if (http_500_rate + http_503_rate + malformed_json_rate + drop_mid_stream_rate > 1.0 + 1e-12)
      throw std::invalid_argument(
          "servebench::sim::FaultConfig: http_500_rate + http_503_rate + malformed_json_rate + drop_mid_stream_rate "
          "must be <= 1");
    if (!(stall_s >= 0 && jitter_s >= 0 && slow_reply_s >= 0))
      throw std::invalid_argument("servebench::sim::FaultConfig: stall_s, jitter_s and slow_reply_s must be >= 0");
  }
};

// Fault kinds as counted in ServerStats::faults.
inline const char* const fault_http_500 = "http_500";
inline const char* const fault_http_503 = "http_503";
inline const char* const fault_malformed_json = "malformed_json";
inline const char* const fault_drop_mid_stream = "drop_mid_stream";
inline const char* const fault_stall = "stall";
inline const char* const fault_slow_reply = "slow_reply";

struct ServerStats {
  std::uint64_t requests = 0;    // generation requests received (POST to a generation endpoint)
  std::uint64_t completed = 0;   // replies written to the end (a malformed, stalled or slow one included)
  std::uint64_t rejected = 0;    // invalid requests answered 4xx
  std::uint64_t cancelled = 0;   // replies cut short: the client left, a drop fault, or the server stopped
  std::uint64_t tokens = 0;      // completion tokens generated by the engine
  std::map<std::string, std::uint64_t> faults;  // injected, by kind (fault_http_500, ...)
  std::size_t max_concurrency = 0;  // most generation requests in flight at once
  std::size_t max_batch = 0;        // largest batch (continuous batching) / most generate loops at once (sequential)
};

// Fluent options: setters return *this, the getter of the same name reads. Start from preset("...") or from the
// defaults (the sequential engine with the HF-transformers-on-H200 parameters, hf API).
class ServerOptions {
 public:
  // Engine.
  ServerOptions& engine(EngineKind kind) { engine_.kind = kind; return *this; }
  EngineKind engine() const { return engine_.kind; }
  ServerOptions& engine_config(const EngineConfig& config) { engine_ = config; return *this; }
  const EngineConfig& engine_config() const { return engine_; }

  ServerOptions& request_overhead_ms(double v) { engine_.request_overhead_ms = v; return *this; }
  double request_overhead_ms() const { return engine_.request_overhead_ms; }
  ServerOptions& first_request_extra_ms(double v) { engine_.first_request_extra_ms = v; return *this; }
  double first_request_extra_ms() const { return engine_.first_request_extra_ms; }
  ServerOptions& prefill_ms_per_token(double v) { engine_.prefill_ms_per_token = v; return *this; }
  double prefill_ms_per_token() const { return engine_.prefill_ms_per_token; }
  ServerOptions& max_model_len(int v) { engine_.max_model_len = v; return *this; }
  int max_model_len() const { return engine_.max_model_len; }
  ServerOptions& host_step_ms(double v) { engine_.host_step_ms = v; return *this; }
  double host_step_ms() const { return engine_.host_step_ms; }
  ServerOptions& device_step_ms(double v) { engine_.device_step_ms = v; return *this; }
  double device_step_ms() const { return engine_.device_step_ms; }
  ServerOptions& host_contention_per_loop(double v) { engine_.host_contention_per_loop = v; return *this; }
  double host_contention_per_loop() const { return engine_.host_contention_per_loop; }
  ServerOptions& step_ms_by_batch(std::vector<BatchStepTime> v) {
    engine_.step_ms_by_batch = std::move(v);
    return *this;
  }
  const std::vector<BatchStepTime>& step_ms_by_batch() const { return engine_.step_ms_by_batch; }
  ServerOptions& max_num_seqs(int v) { engine_.max_num_seqs = v; return *this; }
  int max_num_seqs() const { return engine_.max_num_seqs; }
  ServerOptions& max_num_batched_tokens(int v) { engine_.max_num_batched_tokens = v; return *this; }
  int max_num_batched_tokens() const { return engine_.max_num_batched_tokens; }
  ServerOptions& kv_cache_tokens(std::int64_t v) { engine_.kv_cache_tokens = v; return *this; }
  std::int64_t kv_cache_tokens() const { return engine_.kv_cache_tokens; }

  // Early end of sequence: per-token probability that a request without ignore_eos stops before max_tokens
  // (finish_reason "stop"). 0 (the default) always generates exactly max_tokens.
  ServerOptions& early_eos_rate(double v) { early_eos_rate_ = v; return *this; }
  double early_eos_rate() const { return early_eos_rate_; }

  // API and model name served.
  ServerOptions& api(ApiFlavour v) { api_ = v; return *this; }
  ServerOptions& api(const std::string& name) { api_ = api_flavour_from_string(name); return *this; }
  ApiFlavour api() const { return api_; }
  ServerOptions& model(std::string v) { model_ = std::move(v); return *this; }
  const std::string& model() const { return model_; }

  // Time: 20 = model time runs twenty times faster than real time.
  ServerOptions& time_scale(double v) { time_scale_ = v; return *this; }
  double time_scale() const { return time_scale_; }
  ServerOptions& seed(std::uint64_t v) { seed_ = v; return *this; }
  std::uint64_t seed() const { return seed_; }

  // Network. port 0: any free port (read it back with Server::port()).
  ServerOptions& host(std::string v) { host_ = std::move(v); return *this; }
  const std::string& host() const { return host_; }
  ServerOptions& port(int v) { port_ = v; return *this; }
  int port() const { return port_; }
  // HTTP worker threads. Each request in flight, and each idle keep-alive connection for up to
  // keep_alive_timeout_s, holds one: size it above the concurrency you test.
  ServerOptions& threads(std::size_t v) { threads_ = v; return *this; }
  std::size_t threads() const { return threads_; }
  // Pending connections the kernel queues before accept (cpp-httplib 0.11.4 listens with 5; this re-listens).
  ServerOptions& listen_backlog(int v) { listen_backlog_ = v; return *this; }
  int listen_backlog() const { return listen_backlog_; }
  ServerOptions& keep_alive_max_count(std::size_t v) { keep_alive_max_count_ = v; return *this; }
  std::size_t keep_alive_max_count() const { return keep_alive_max_count_; }
  // Also bounds how long stop() waits for an idle keep-alive client (cpp-httplib 0.11.4 waits for them).
  ServerOptions& keep_alive_timeout_s(int v) { keep_alive_timeout_s_ = v; return *this; }
  int keep_alive_timeout_s() const { return keep_alive_timeout_s_; }

  // Faults.
  ServerOptions& faults(const FaultConfig& v) { faults_ = v; return *this; }
  const FaultConfig& faults() const { return faults_; }
  ServerOptions& http_500_rate(double v) { faults_.http_500_rate = v; return *this; }
  double http_500_rate() const { return faults_.http_500_rate; }
  ServerOptions& http_503_rate(double v) { faults_.http_503_rate = v; return *this; }
  double http_503_rate() const { return faults_.http_503_rate; }
  ServerOptions& malformed_json_rate(double v) { faults_.malformed_json_rate = v; return *this; }
  double malformed_json_rate() const { return faults_.malformed_json_rate; }
  ServerOptions& drop_mid_stream_rate(double v) { faults_.drop_mid_stream_rate = v; return *this; }
  double drop_mid_stream_rate() const { return faults_.drop_mid_stream_rate; }
  ServerOptions& stall_rate(double v) { faults_.stall_rate = v; return *this; }
  double stall_rate() const { return faults_.stall_rate; }
  ServerOptions& stall_s(double v) { faults_.stall_s = v; return *this; }
  double stall_s() const { return faults_.stall_s; }
  ServerOptions& jitter_s(double v) { faults_.jitter_s = v; return *this; }
  double jitter_s() const { return faults_.jitter_s; }
  ServerOptions& slow_reply_rate(double v) { faults_.slow_reply_rate = v; return *this; }
  double slow_reply_rate() const { return faults_.slow_reply_rate; }
  ServerOptions& slow_reply_s(double v) { faults_.slow_reply_s = v; return *this; }
  double slow_reply_s() const { return faults_.slow_reply_s; }

  void validate() const {
    engine_.validate();
    faults_.validate();
    auto need = [](bool ok, const std::string& what) {
      if (!ok) throw std::invalid_argument("servebench::sim::ServerOptions: " + what);
    };
    need(time_scale_ > 0 && std::isfinite(time_scale_), "time_scale must be > 0");
    need(early_eos_rate_ >= 0 && early_eos_rate_ < 1, "early_eos_rate must be in [0, 1)");
    need(port_ >= 0 && port_ <= 65535, "port must be in [0, 65535]");
    need(threads_ >= 1, "threads must be >= 1");
    need(listen_backlog_ >= 1, "listen_backlog must be >= 1");
    need(keep_alive_max_count_ >= 1, "keep_alive_max_count must be >= 1");
    need(keep_alive_timeout_s_ >= 1, "keep_alive_timeout_s must be >= 1");
    need(!model_.empty(), "model must not be empty");
  }

 private:
  EngineConfig engine_;
  FaultConfig faults_;
  double early_eos_rate_ = 0;
  ApiFlavour api_ = ApiFlavour::hf;
  std::string model_ = "meta-llama/Meta-Llama-3-8B-Instruct";
  double time_scale_ = 1.0;
  std::uint64_t seed_ = 42;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  std::size_t threads_ = 256;
  int listen_backlog_ = 4096;
  std::size_t keep_alive_max_count_ = 1000;
  int keep_alive_timeout_s_ = 1;
};

// ---------------------------------------------------------------------------------------------------------------
// Presets, named after what they model. Numbers and their sources are in shared/calibration/.

inline std::vector<std::string> preset_names() {
  return {"hf-transformers-h200", "vllm-h100", "transformers-cb-h200"};
}

inline ServerOptions preset(const std::string& name) {
  ServerOptions o;
  if (name == "hf-transformers-h200") {
    // h200-llama3-8b-transformers.json: the lab's server. See the sequential model at the top of this file.
    EngineConfig e;
    e.kind = EngineKind::sequential;
    e.request_overhead_ms = 30.0;
    e.host_step_ms = 35.0;
    e.device_step_ms = 29.2;
    e.host_contention_per_loop = 0.0048;
    e.prefill_ms_per_token = 0.034;  // prefill 22.4 ms at 512 tokens, 62.8 ms at 2048: +40 ms
    return o.engine_config(e).api(ApiFlavour::hf);
  }
  if (name == "vllm-h100") {
    // vllm-llama3-8b-published.json (InferenceBench, H100, vLLM 0.21): TPOT p50 6.48 / 6.59 / 10.94 / 46.91 ms at
    // 1 / 4 / 16 / 64 concurrent; TTFT p50 14 ms alone = 6 ms overhead + one 6.5 ms step + a short prompt.
    EngineConfig e;
    e.kind = EngineKind::continuous_batching;
    e.request_overhead_ms = 6.0;
    e.prefill_ms_per_token = 0.03;  // ~33k prompt tokens/s: compute-bound prefill of an 8B model
    e.step_ms_by_batch = detail::vllm_h100_step_times();
    e.max_num_seqs = 256;
    e.max_num_batched_tokens = 8192;
    e.kv_cache_tokens = 450000;  // (80 GB * 0.9 - 16 GB weights) / 128 KiB of KV per token
    e.max_model_len = 8192;
    return o.engine_config(e).api(ApiFlavour::openai);
  }
  if (name == "transformers-cb-h200") {
    // h200-transformers-batching-vs-lab-server.json, measured through the lab's client with 50-token replies:
    // mean latency 1.82 / 5.30 / 6.42 / 5.95 s at 1 / 5 / 10 / 20 concurrent and 3.05-3.83 s for 100 tokens alone
    // give about 200 ms overhead and steps of 32 / 102 / 124 / 115 ms; offline 50 tokens at batch 64: 5.45 s
    // (109 ms). The first request after start took 8.5 s instead of ~3.4: 5 s of warm-up in the first step.
    EngineConfig e;
    e.kind = EngineKind::continuous_batching;
    e.request_overhead_ms = 200.0;
    e.first_request_extra_ms = 5000.0;
    e.prefill_ms_per_token = 0.0;
    static const BatchStepTime measured[] = {{1, 32.0}, {5, 102.0}, {10, 124.0}, {20, 115.0}, {64, 109.0}};
    e.step_ms_by_batch = detail::step_table(measured);
    e.max_num_seqs = 64;
    e.max_num_batched_tokens = 8192;
    e.kv_cache_tokens = 400000;
    e.max_model_len = 8192;
    return o.engine_config(e).api(ApiFlavour::openai);
  }
  std::string valid;
  for (const auto& n : preset_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown servebench::sim preset '" + name + "' (valid: " + valid + ")");
}

namespace detail {

inline std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// A small seeded generator: uniform doubles in [0, 1).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() noexcept { return splitmix64(state_++ * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL); }
  double uniform() noexcept { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  std::uint64_t state_;
};

inline std::uint64_t hash_text(const std::string& s) noexcept {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Prompt length in pseudo-tokens: about four bytes a token, as BPE tokenizers average on English text.
inline std::int64_t count_prompt_tokens(const std::string& text) {
  return std::max<std::int64_t>(1, static_cast<std::int64_t>((text.size() + 3) / 4));
}

// Token i of a reply: one word, deterministic in (seed, prompt, i), as greedy decoding is.
inline std::string token_text(std::uint64_t seed, std::uint64_t prompt_hash, std::int64_t i, bool leading_space) {
  static const char* const words[] = {
      "the",       "model",   "attention", "layer",    "token",    "weights", "query",  "key",     "value",
      "sequence",  "encoder", "decoder",   "softmax",  "vector",   "context", "head",   "learns",  "each",
      "position",  "signal",  "embedding", "gradient", "training", "data",    "output", "input",   "network",
      "transform", "scale",   "norm",      "residual", "stream",   "batch",   "cache",  "compute", "memory",
      "of",        "and",     "to",        "in",       "is",       "that",    "with",   "for",     "as",
      "by",        "on",      "a",         "which",    "from",     "this",    "its",    "are",     "can",
      "each",      "word",    "step",      "then",     "more",     "when",    "how",    "it",      "all",
      "logits"};
  constexpr std::size_t n_words = sizeof(words) / sizeof(words[0]);
  const auto h = splitmix64(seed ^ prompt_hash ^ splitmix64(static_cast<std::uint64_t>(i)));
  return (leading_space ? std::string(" ") : std::string()) + words[h % n_words];
}

// One generation request as the engines see it. Fields above the line are fixed at submission; the model touches
// `model_emitted` on the engine thread only; the rest is shared under `mutex`.
struct Job {
  std::int64_t prompt_tokens = 1;
  std::int64_t target_tokens = 1;  // tokens to generate (max_tokens, or fewer on an early EOS)
  Nanos submitted = 0;             // real time the engine got it
  std::atomic<bool> cancelled{false};
  // ----
  std::int64_t model_emitted = 0;
  std::mutex mutex;
  std::condition_variable cv;
  std::int64_t emitted = 0;        // tokens the engine has produced
  Nanos first_token = 0;           // real time the engine produced the first one
  bool finished = false;
  bool aborted = false;            // the server stopped
};
using JobPtr = std::shared_ptr<Job>;

// What one model event produced: `job` got one more token; `done` when it will get no more.
struct Emission {
  JobPtr job;
  bool done = false;
};

constexpr Nanos no_event = std::numeric_limits<Nanos>::max();

inline Nanos ms_to_ns(double ms) { return static_cast<Nanos>(std::llround(ms * 1e6)); }

// An engine in model time (nanoseconds from its start), without threads or clocks: add() a job at time v,
// next_event() says when something happens next, fire() makes it happen. The real-time loop drives it; tests and
// predict_burst() drive it directly.
class Model {
 public:
  virtual ~Model() = default;
  virtual void add(JobPtr job, Nanos v) = 0;
  virtual Nanos next_event() const = 0;
  virtual void fire(std::vector<Emission>& out) = 0;
  virtual std::size_t max_batch() const = 0;
  virtual void all_jobs(std::vector<JobPtr>& out) const = 0;
};

// Two FIFO resources in tandem, host then device, shared by every generate loop (see the top of the file).
class SequentialModel final : public Model {
 public:
  explicit SequentialModel(EngineConfig config) : config_(std::move(config)) {}

  // Requests that arrive together start together: an idle host starts at an event of its own, after every
  // arrival at that instant has been added.
  void add(JobPtr job, Nanos v) override {
    ++active_;
    max_batch_ = std::max(max_batch_, active_);
    host_queue_.push_back(std::move(job));
    if (!host_busy_ && !start_pending_) {
      start_pending_ = true;
      start_at_ = v;
    }
  }

  Nanos next_event() const override {
    return std::min({start_pending_ ? start_at_ : no_event, host_busy_ ? host_end_ : no_event,
                     device_busy_ ? device_end_ : no_event});
  }

  void fire(std::vector<Emission>& out) override {
    const Nanos t = next_event();
    if (t == no_event) return;
    if (start_pending_ && start_at_ == t) start_pending_ = false;
    if (device_busy_ && device_end_ == t) {
      JobPtr job = std::move(device_busy_);
      device_busy_.reset();
      ++job->model_emitted;
      const bool done = job->model_emitted >= job->target_tokens || job->cancelled.load();
      if (done) --active_;
      else host_queue_.push_back(job);
      out.push_back({std::move(job), done});
    }
    if (host_busy_ && host_end_ == t) {
      device_queue_.push_back(std::move(host_busy_));
      host_busy_.reset();
    }
    start_idle(t);
  }

  std::size_t max_batch() const override { return max_batch_; }

  void all_jobs(std::vector<JobPtr>& out) const override {
    out.insert(out.end(), host_queue_.begin(), host_queue_.end());
    out.insert(out.end(), device_queue_.begin(), device_queue_.end());
    if (host_busy_) out.push_back(host_busy_);
    if (device_busy_) out.push_back(device_busy_);
  }

 private:
  void start_idle(Nanos t) {
    while (!host_busy_ && !host_queue_.empty()) {
      JobPtr job = std::move(host_queue_.front());
      host_queue_.pop_front();
      if (job->cancelled.load()) {  // the client left: its loop ends (no one reads its tokens)
        --active_;
        continue;
      }
      double ms = config_.host_ms(active_);
      if (!warmed_up_) {
        ms += config_.first_request_extra_ms;
        warmed_up_ = true;
      }
      host_busy_ = std::move(job);
      host_end_ = t + ms_to_ns(ms);
    }
    if (!device_busy_ && !device_queue_.empty()) {
      device_busy_ = std::move(device_queue_.front());
      device_queue_.pop_front();
      const double ms = device_busy_->model_emitted == 0 ? config_.prefill_device_ms(device_busy_->prompt_tokens)
                                                        : config_.device_step_ms;
      device_end_ = t + ms_to_ns(ms);
    }
  }

  EngineConfig config_;
  std::deque<JobPtr> host_queue_, device_queue_;
  JobPtr host_busy_, device_busy_;
  Nanos host_end_ = 0, device_end_ = 0;
  bool start_pending_ = false;
  Nanos start_at_ = 0;
  std::size_t active_ = 0, max_batch_ = 0;
  bool warmed_up_ = false;
};

// vLLM-like iteration-level scheduling (see the top of the file).
class BatchingModel final : public Model {
 public:
  explicit BatchingModel(EngineConfig config) : config_(std::move(config)) {}

  // An idle engine starts its next step at an event of its own, after every arrival at that instant has been
  // added; a busy one takes arrivals at its next step.
  void add(JobPtr job, Nanos v) override {
    waiting_.push_back(std::move(job));
    if (!in_step_ && !start_pending_) {
      start_pending_ = true;
      start_at_ = v;
    }
  }

  Nanos next_event() const override { return in_step_ ? step_end_ : start_pending_ ? start_at_ : no_event; }

  void fire(std::vector<Emission>& out) override {
    if (!in_step_) {
      if (start_pending_) {
        start_pending_ = false;
        start_step(start_at_);
      }
      return;
    }
    const Nanos t = step_end_;
    std::vector<JobPtr> still_running;
    still_running.reserve(running_.size());
    for (auto& job : running_) {
      ++job->model_emitted;
      const bool done = job->model_emitted >= job->target_tokens || job->cancelled.load();
      if (done) kv_used_ -= reservation(*job);
      else still_running.push_back(job);
      out.push_back({std::move(job), done});
    }
    running_ = std::move(still_running);
    start_step(t);
  }

  std::size_t max_batch() const override { return max_batch_; }

  void all_jobs(std::vector<JobPtr>& out) const override {
    out.insert(out.end(), waiting_.begin(), waiting_.end());
    out.insert(out.end(), running_.begin(), running_.end());
  }

 private:
  static std::int64_t reservation(const Job& job) { return job.prompt_tokens + job.target_tokens; }

  void start_step(Nanos t) {
    // Sequences whose client left are released before the step, as vLLM aborts them.
    std::vector<JobPtr> kept;
    kept.reserve(running_.size());
    for (auto& job : running_) {
      if (job->cancelled.load()) kv_used_ -= reservation(*job);
      else kept.push_back(std::move(job));
    }
    running_ = std::move(kept);
    std::int64_t step_tokens = static_cast<std::int64_t>(running_.size());
    std::int64_t prefill_tokens = 0;
    bool prefilled_any = false;
    while (!waiting_.empty() && running_.size() < static_cast<std::size_t>(config_.max_num_seqs)) {
      JobPtr& job = waiting_.front();
      if (job->cancelled.load()) {
        waiting_.pop_front();
        continue;
      }
      // A prompt larger than the whole token budget still goes alone in a step (vLLM would chunk it).
      if (prefilled_any && step_tokens + job->prompt_tokens > config_.max_num_batched_tokens) break;
      if (!running_.empty() && kv_used_ + reservation(*job) > config_.kv_cache_tokens) break;
      kv_used_ += reservation(*job);
      step_tokens += job->prompt_tokens;
      prefill_tokens += job->prompt_tokens;
      prefilled_any = true;
      running_.push_back(std::move(job));
      waiting_.pop_front();
    }
    if (running_.empty()) {
      in_step_ = false;
      return;
    }
    max_batch_ = std::max(max_batch_, running_.size());
    double ms = config_.decode_step_ms(static_cast<int>(running_.size())) +
                config_.prefill_ms_per_token * static_cast<double>(prefill_tokens);
    if (!warmed_up_) {
      ms += config_.first_request_extra_ms;
      warmed_up_ = true;
    }
    step_end_ = t + ms_to_ns(ms);
    in_step_ = true;
  }

  EngineConfig config_;
  std::deque<JobPtr> waiting_;
  std::vector<JobPtr> running_;
  bool in_step_ = false;
  Nanos step_end_ = 0;
  bool start_pending_ = false;
  Nanos start_at_ = 0;
  std::int64_t kv_used_ = 0;
  std::size_t max_batch_ = 0;
  bool warmed_up_ = false;
};

inline std::unique_ptr<Model> make_model(const EngineConfig& config) {
  if (config.kind == EngineKind::sequential) return std::make_unique<SequentialModel>(config);
  return std::make_unique<BatchingModel>(config);
}

// Drives a Model in real time on one thread: sleeps until the model's next event (model time / time_scale after
// the engine's start), fires it, and hands every emitted token to the waiting request. Handlers never block it.
class EngineLoop {
 public:
  EngineLoop(const EngineConfig& config, double time_scale) : model_(make_model(config)), time_scale_(time_scale) {}
  ~EngineLoop() { stop(); }

  void start() {
    origin_ = now_ns();
    thread_ = std::thread([this] { run(); });
  }

  void submit(JobPtr job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) {
        abort_job(*job);
        return;
      }
      job->submitted = now_ns();
      arrivals_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  // Every job not finished is marked aborted and its waiter woken.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_ && !thread_.joinable()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::vector<JobPtr> left;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      model_->all_jobs(left);
      left.insert(left.end(), arrivals_.begin(), arrivals_.end());
      arrivals_.clear();
    }
    for (auto& job : left) abort_job(*job);
  }

  std::size_t max_batch() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return max_batch_;
  }
  std::uint64_t tokens() const { return tokens_.load(); }

 private:
  static void abort_job(Job& job) {
    {
      std::lock_guard<std::mutex> lock(job.mutex);
      if (!job.finished) job.aborted = true;
    }
    job.cv.notify_all();
  }

  Nanos to_model(Nanos real) const {
    return static_cast<Nanos>(static_cast<double>(real - origin_) * time_scale_);
  }
  Nanos to_real(Nanos model) const { return origin_ + static_cast<Nanos>(static_cast<double>(model) / time_scale_); }

  void run() {
    std::vector<Emission> emissions;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      const Nanos next = model_->next_event();
      if (!arrivals_.empty()) {
        // Arrivals enter at the model time their real arrival maps to, but never before events already due, so
        // the model's clock only moves forward even when this thread runs late.
        const Nanos at = std::max(now_model_, to_model(arrivals_.front()->submitted));
        if (at <= next) {
          now_model_ = at;
          model_->add(std::move(arrivals_.front()), at);
          arrivals_.pop_front();
          max_batch_ = model_->max_batch();
          continue;
        }
      }
      if (next == no_event) {
        cv_.wait(lock);
        continue;
      }
      const Nanos due = to_real(next);
      if (now_ns() < due) {
        // Woken early by an arrival or by stop(); either is handled at the top of the loop.
        cv_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
        continue;
      }
      now_model_ = next;
      emissions.clear();
      model_->fire(emissions);
      max_batch_ = model_->max_batch();
      lock.unlock();
      deliver(emissions);
      lock.lock();
    }
  }

  void deliver(std::vector<Emission>& emissions) {
    const Nanos now = now_ns();
    for (auto& e : emissions) {
      {
        std::lock_guard<std::mutex> lock(e.job->mutex);
        e.job->emitted = e.job->model_emitted;
        if (e.job->emitted == 1) e.job->first_token = now;
        if (e.done) e.job->finished = true;
      }
      e.job->cv.notify_all();
    }
    tokens_ += emissions.size();
    emissions.clear();
  }

  std::unique_ptr<Model> model_;
  double time_scale_;
  Nanos origin_ = 0;
  Nanos now_model_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<JobPtr> arrivals_;
  bool stopping_ = false;
  std::size_t max_batch_ = 0;
  std::atomic<std::uint64_t> tokens_{0};
  std::thread thread_;
};

}  // namespace detail

// What the model predicts for `concurrency` requests sent at once (the lab's concurrent test), each with
// `prompt_tokens` and `max_tokens`, in model seconds (request_overhead_ms included). No threads, no clock.
struct BurstPrediction {
  double wall_s = 0;              // first request sent to last reply done
  double mean_latency_s = 0;
  double mean_ttft_s = 0;
  double req_per_s = 0;
  double mean_tpot_s = 0;         // (latency - ttft) / (max_tokens - 1) averaged; 0 when max_tokens is 1
};

inline BurstPrediction predict_burst(const EngineConfig& config, int concurrency, std::int64_t prompt_tokens,
                                     std::int64_t max_tokens) {
  config.validate();
  if (concurrency < 1 || prompt_tokens < 1 || max_tokens < 1)
    throw std::invalid_argument("servebench::sim::predict_burst: concurrency, prompt_tokens and max_tokens must be >= 1");
  auto model = detail::make_model(config);
  const Nanos overhead = detail::ms_to_ns(config.request_overhead_ms);
  std::vector<detail::JobPtr> jobs;
  for (int i = 0; i < concurrency; ++i) {
    auto job = std::make_shared<detail::Job>();
    job->prompt_tokens = prompt_tokens;
    job->target_tokens = max_tokens;
    model->add(job, overhead);
    jobs.push_back(std::move(job));
  }
  std::map<detail::Job*, std::pair<Nanos, Nanos>> times;  // first token, last token
  std::vector<detail::Emission> out;
  for (Nanos t = model->next_event(); t != detail::no_event; t = model->next_event()) {
    out.clear();
    model->fire(out);
    for (auto& e : out) {
      auto& [first, last] = times[e.job.get()];
      if (e.job->model_emitted == 1) first = t;
      last = t;
    }
  }
  BurstPrediction p;
  double latency = 0, ttft = 0, tpot = 0;
  for (auto& job : jobs) {
    const auto [first, last] = times[job.get()];
    p.wall_s = std::max(p.wall_s, ns_to_s(last));
    latency += ns_to_s(last);
    ttft += ns_to_s(first);
    if (max_tokens > 1) tpot += ns_to_s(last - first) / static_cast<double>(max_tokens - 1);
  }
  p.mean_latency_s = latency / concurrency;
  p.mean_ttft_s = ttft / concurrency;
  p.mean_tpot_s = tpot / concurrency;
  p.req_per_s = p.wall_s > 0 ? concurrency / p.wall_s : 0;
  return p;
}

namespace detail {

// One request's draw of faults, fixed by the server seed and the request's arrival number.
struct FaultPlan {
  enum class Exclusive { none, http_500, http_503, malformed_json, drop_mid_stream } exclusive = Exclusive::none;
  double first_token_delay_s = 0;  // stall + jitter
  bool stalled = false;
  double slow_until_s = 0;         // hold the last token until this long after arrival (0: no)
};

inline FaultPlan draw_faults(const FaultConfig& f, std::uint64_t seed, std::uint64_t request_number) {
  Rng rng(splitmix64(seed ^ 0xFA017ULL) ^ splitmix64(request_number));
  FaultPlan plan;
  const double u = rng.uniform();
  double edge = f.http_500_rate;
  if (u < edge) plan.exclusive = FaultPlan::Exclusive::http_500;
  else if (u < (edge += f.http_503_rate)) plan.exclusive = FaultPlan::Exclusive::http_503;
  else if (u < (edge += f.malformed_json_rate)) plan.exclusive = FaultPlan::Exclusive::malformed_json;
  else if (u < (edge += f.drop_mid_stream_rate)) plan.exclusive = FaultPlan::Exclusive::drop_mid_stream;
  if (rng.uniform() < f.stall_rate) {
    plan.stalled = true;
    plan.first_token_delay_s += f.stall_s;
  }
  plan.first_token_delay_s += f.jitter_s * rng.uniform();
  if (rng.uniform() < f.slow_reply_rate) plan.slow_until_s = f.slow_reply_s;
  return plan;
}

// A parsed generation request.
struct GenRequest {
  enum class Kind { hf, completion, chat } kind = Kind::hf;
  std::string prompt;  // the text the words are seeded from (chat: the messages' contents joined)
  std::int64_t prompt_tokens = 1;
  std::int64_t max_tokens = 16;
  bool stream = false;
  bool include_usage = false;
  bool ignore_eos = false;
};

struct BadRequest {
  int status;
  std::string message;
};

class ServerState {
 public:
  explicit ServerState(ServerOptions options)
      : options_(std::move(options)), engine_(options_.engine_config(), options_.time_scale()),
        created_(std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count()) {}

  ServerOptions options_;
  EngineLoop engine_;
  httplib::Server http_;
  std::thread listen_thread_;
  std::int64_t created_;
  int port_ = 0;

  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;

  mutable std::mutex stats_mutex_;
  ServerStats stats_;
  std::size_t in_flight_ = 0;
  std::atomic<std::uint64_t> request_number_{0};

  // Sleeps until real time `deadline` or the server stops; false when it stopped.
  bool sleep_until(Nanos deadline) {
    std::unique_lock<std::mutex> lock(stop_mutex_);
    stop_cv_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline)),
                        [&] { return stopping_.load(); });
    return !stopping_.load();
  }
  bool sleep_for_s(double seconds) {
    if (seconds <= 0) return !stopping_.load();
    return sleep_until(now_ns() + static_cast<Nanos>(seconds * 1e9));
  }

  void count(std::uint64_t ServerStats::*field) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++(stats_.*field);
  }
  void count_fault(const char* kind) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.faults[kind];
  }
  void enter() {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.requests;
    ++in_flight_;
    stats_.max_concurrency = std::max(stats_.max_concurrency, in_flight_);
  }
  void leave(std::uint64_t ServerStats::*outcome) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    --in_flight_;
    if (outcome) ++(stats_.*outcome);
  }

  // ---- request parsing --------------------------------------------------------------------------------------
  static std::int64_t get_int(const nlohmann::json& body, const char* key, std::int64_t fallback) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) throw BadRequest{400, std::string("'") + key + "' must be an integer"};
    return it->get<std::int64_t>();
  }
  static bool get_bool(const nlohmann::json& body, const char* key) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return false;
    if (!it->is_boolean()) throw BadRequest{400, std::string("'") + key + "' must be a boolean"};
    return it->get<bool>();
  }

  GenRequest parse(const httplib::Request& req, GenRequest::Kind kind) const {
    nlohmann::json body;
    try {
      body = nlohmann::json::parse(req.body);
    } catch (const nlohmann::json::exception& e) {
      throw BadRequest{kind == GenRequest::Kind::hf ? 422 : 400, std::string("request body is not JSON: ") + e.what()};
    }
    if (!body.is_object()) throw BadRequest{kind == GenRequest::Kind::hf ? 422 : 400, "request body must be an object"};
    GenRequest g;
    g.kind = kind;
    if (kind == GenRequest::Kind::hf) {
      auto it = body.find("prompt");
      if (it == body.end() || !it->is_string()) throw BadRequest{422, "'prompt' (string) is required"};
      g.prompt = it->get<std::string>();
      g.prompt_tokens = count_prompt_tokens(g.prompt);
      try {
        g.max_tokens = get_int(body, "max_tokens", 100);
      } catch (const BadRequest& e) {
        throw BadRequest{422, e.message};
      }
    } else {
      auto model = body.find("model");
      if (model != body.end() && !model->is_null() && (!model->is_string() || *model != options_.model()))
        throw BadRequest{404, "The model `" + (model->is_string() ? model->get<std::string>() : model->dump()) +
                                  "` does not exist."};
      if (get_int(body, "n", 1) != 1) throw BadRequest{400, "servebench sim serves n = 1 only"};
      if (kind == GenRequest::Kind::completion) {
        auto it = body.find("prompt");
        if (it == body.end()) throw BadRequest{400, "'prompt' is required"};
        if (it->is_string()) {
          g.prompt = it->get<std::string>();
          g.prompt_tokens = count_prompt_tokens(g.prompt);
        } else if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
          g.prompt = (*it)[0].get<std::string>();
          g.prompt_tokens = count_prompt_tokens(g.prompt);
        } else if (it->is_array() && !it->empty() &&
                   std::all_of(it->begin(), it->end(), [](const nlohmann::json& t) { return t.is_number_integer(); })) {
          g.prompt = it->dump();  // token ids
          g.prompt_tokens = static_cast<std::int64_t>(it->size());
        } else {
          throw BadRequest{400, "'prompt' must be a string, a list of one string, or a list of token ids"};
        }
        g.max_tokens = get_int(body, "max_tokens", 16);
      } else {
        auto it = body.find("messages");
        if (it == body.end() || !it->is_array() || it->empty())
          throw BadRequest{400, "'messages' must be a non-empty list"};
        g.prompt_tokens = 0;
        for (const auto& m : *it) {
          if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
            throw BadRequest{400, "each message needs a 'role' string"};
          std::string content;
          auto c = m.find("content");
          if (c != m.end() && c->is_string()) content = c->get<std::string>();
          else if (c != m.end() && !c->is_null()) content = c->dump();
          g.prompt += m["role"].get<std::string>() + ": " + content + "\n";
          g.prompt_tokens += count_prompt_tokens(content) + 4;  // Llama-3's template adds about 4 per message
        }
        g.max_tokens = get_int(body, "max_completion_tokens", get_int(body, "max_tokens", 16));
      }
      g.stream = get_bool(body, "stream");
      g.ignore_eos = get_bool(body, "ignore_eos");
      auto so = body.find("stream_options");
      if (so != body.end() && so->is_object()) g.include_usage = get_bool(*so, "include_usage");
    }
    if (g.max_tokens < 1) throw BadRequest{kind == GenRequest::Kind::hf ? 422 : 400, "'max_tokens' must be >= 1"};
    if (g.prompt_tokens + g.max_tokens > options_.max_model_len())
      throw BadRequest{kind == GenRequest::Kind::hf ? 422 : 400,
                       "prompt (" + std::to_string(g.prompt_tokens) + " tokens) + max_tokens (" +
                           std::to_string(g.max_tokens) + ") exceeds the model's length " +
                           std::to_string(options_.max_model_len())};
    return g;
  }

  // Tokens the reply will carry: max_tokens, or fewer when an early EOS is drawn (never with ignore_eos).
  std::int64_t tokens_to_generate(const GenRequest& g, std::uint64_t prompt_hash) const {
    const double p = options_.early_eos_rate();
    if (p <= 0 || g.ignore_eos) return g.max_tokens;
    Rng rng(splitmix64(options_.seed() ^ 0xE05ULL) ^ prompt_hash);
    for (std::int64_t i = 1; i < g.max_tokens; ++i)
      if (rng.uniform() < p) return i;
    return g.max_tokens;
  }

  // ---- replies ----------------------------------------------------------------------------------------------
  void error_reply(httplib::Response& res, int status, const std::string& message, bool hf_flavour) {
    res.status = status;
    if (hf_flavour) {
      res.set_content(nlohmann::json{{"detail", message}}.dump(), "application/json");
      return;
    }
    const char* type = status == 404   ? "NotFoundError"
                       : status == 503 ? "ServiceUnavailableError"
                       : status >= 500 ? "InternalServerError"
                                       : "BadRequestError";
    res.set_content(
        nlohmann::json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", status}}}}.dump(),
        "application/json");
  }

  static nlohmann::json usage_json(const GenRequest& g, std::int64_t n) {
    return {{"prompt_tokens", g.prompt_tokens}, {"completion_tokens", n}, {"total_tokens", g.prompt_tokens + n}};
  }

  void handle_generation(const httplib::Request& req, httplib::Response& res, GenRequest::Kind kind) {
    const bool hf = kind == GenRequest::Kind::hf;
    const Nanos arrival = now_ns();
    GenRequest g;
    try {
      g = parse(req, kind);
    } catch (const BadRequest& e) {
      count(&ServerStats::requests);
      count(&ServerStats::rejected);
      error_reply(res, e.status, e.message, hf);
      return;
    }
    enter();
    const std::uint64_t number = request_number_++;
    const FaultPlan plan = draw_faults(options_.faults(), options_.seed(), number);
    if (plan.exclusive == FaultPlan::Exclusive::http_500) {
      count_fault(fault_http_500);
      if (hf) {
        res.status = 500;
        res.set_content("Internal Server Error", "text/plain");
      } else {
        error_reply(res, 500, "servebench sim: injected internal server error", false);
      }
      leave(nullptr);
      return;
    }
    if (plan.exclusive == FaultPlan::Exclusive::http_503) {
      count_fault(fault_http_503);
      error_reply(res, 503, "servebench sim: injected overload, try again later", hf);
      leave(nullptr);
      return;
    }
    if (plan.stalled) count_fault(fault_stall);
    if (plan.slow_until_s > 0) count_fault(fault_slow_reply);
    if (plan.exclusive == FaultPlan::Exclusive::malformed_json) count_fault(fault_malformed_json);
    if (plan.exclusive == FaultPlan::Exclusive::drop_mid_stream) count_fault(fault_drop_mid_stream);

    const std::uint64_t prompt_hash = hash_text(g.prompt);
    auto job = std::make_shared<Job>();
    job->prompt_tokens = g.prompt_tokens;
    job->target_tokens = tokens_to_generate(g, prompt_hash);
    // Tokenising and HTTP work happen on this thread, off the engine's shared resources.
    if (!sleep_for_s(options_.request_overhead_ms() / 1000.0 / options_.time_scale())) {
      error_reply(res, 503, "servebench sim: server stopping", hf);
      leave(&ServerStats::cancelled);
      return;
    }
    engine_.submit(job);

    auto reply = std::make_shared<Reply>(this, std::move(g), plan, std::move(job), prompt_hash, arrival, number);
    if (reply->gen.stream) {
      res.set_chunked_content_provider(
          "text/event-stream",
          [reply](std::size_t, httplib::DataSink& sink) { return reply->stream_more(sink); },
          [reply](bool) { reply->release(); });
      return;
    }
    std::string body;
    if (!reply->wait_all(body)) {
      reply->release();
      error_reply(res, 503, "servebench sim: server stopping", hf);
      return;
    }
    if (plan.exclusive == FaultPlan::Exclusive::drop_mid_stream) {
      // Content-Length promises the whole body; the connection closes after half of it.
      reply->dropped = true;
      res.set_content_provider(
          body.size(), "application/json",
          [reply, body](std::size_t offset, std::size_t, httplib::DataSink& sink) {
            if (offset == 0) sink.write(body.data(), body.size() / 2);
            return false;
          },
          [reply](bool) { reply->release(); });
      return;
    }
    reply->release();
    res.set_content(body, "application/json");
  }

  // The state of one reply while it is written.
  struct Reply {
    // The id ends in the request's arrival number, the number its faults were drawn with, so a test can
    // recompute what was injected into any reply.
    Reply(ServerState* server_, GenRequest gen_, FaultPlan plan_, JobPtr job_, std::uint64_t prompt_hash_,
          Nanos arrival_, std::uint64_t number)
        : server(server_), gen(std::move(gen_)), plan(plan_), job(std::move(job_)), prompt_hash(prompt_hash_),
          arrival(arrival_),
          id((gen.kind == GenRequest::Kind::chat ? "chatcmpl-sim-" : "cmpl-sim-") + std::to_string(number)) {}

    ServerState* server;
    GenRequest gen;
    FaultPlan plan;
    JobPtr job;
    std::uint64_t prompt_hash;
    Nanos arrival;
    std::string id;
    std::int64_t written = 0;    // tokens written (streaming)
    Nanos first_written = 0;
    bool dropped = false;
    bool released = false;

    std::string token(std::int64_t i) const {
      return token_text(server->options_.seed(), prompt_hash, i, gen.kind != GenRequest::Kind::chat || i > 0);
    }

    // Waits for the engine to produce more than `have` tokens (or finish, or abort). Returns (emitted, finished);
    // emitted < 0 when the server stops.
    std::pair<std::int64_t, bool> wait_tokens(std::int64_t have) {
      std::unique_lock<std::mutex> lock(job->mutex);
      job->cv.wait(lock, [&] { return job->emitted > have || job->finished || job->aborted; });
      if (job->aborted) return {-1, false};
      return {job->emitted, job->finished};
    }

    // Delays before the first token (stall, jitter) and before the last (slow reply), in real time.
    bool delay_first() { return server->sleep_for_s(plan.first_token_delay_s); }
    bool delay_last() {
      if (plan.slow_until_s <= 0) return true;
      return server->sleep_until(arrival + static_cast<Nanos>(plan.slow_until_s * 1e9));
    }

    std::string finish_reason() const { return job->target_tokens < gen.max_tokens ? "stop" : "length"; }

    // Non-streaming: waits for every token, then builds the body. False when the server stopped.
    bool wait_all(std::string& body) {
      std::int64_t have = 0;
      for (;;) {
        auto [emitted, finished] = wait_tokens(have);
        if (emitted < 0) return false;
        have = emitted;
        if (finished) break;
      }
      Nanos engine_first = 0;
      {
        std::lock_guard<std::mutex> lock(job->mutex);
        engine_first = job->first_token;
      }
      if (!delay_first() || !delay_last()) return false;
      std::string text;
      for (std::int64_t i = 0; i < have; ++i) text += token(i);
      // No token was written when the engine produced the first one; the last is "written" with the body.
      const Nanos last = now_ns();
      const nlohmann::json timing{{"first_token_ns", std::max(engine_first, arrival)}, {"last_token_ns", last}};
      nlohmann::json j;
      if (gen.kind == GenRequest::Kind::hf) {
        j = {{"text", text},
             {"usage", {{"completion_tokens", have}}},
             {"elapsed_sec", ns_to_s(last - arrival)},
             {"sim_timing", timing}};
      } else if (gen.kind == GenRequest::Kind::completion) {
        j = {{"id", id},
             {"object", "text_completion"},
             {"created", server->created_},
             {"model", server->options_.model()},
             {"choices",
              {{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish_reason()}}}},
             {"usage", usage_json(gen, have)},
             {"sim_timing", timing}};
      } else {
        j = {{"id", id},
             {"object", "chat.completion"},
             {"created", server->created_},
             {"model", server->options_.model()},
             {"choices",
              {{{"index", 0},
                {"message", {{"role", "assistant"}, {"content", text}}},
                {"logprobs", nullptr},
                {"finish_reason", finish_reason()}}}},
             {"usage", usage_json(gen, have)},
             {"sim_timing", timing}};
      }
      body = j.dump();
      if (plan.exclusive == FaultPlan::Exclusive::malformed_json) body.resize(body.size() / 2);
      return true;
    }

    nlohmann::json chunk(const nlohmann::json& choice) const {
      nlohmann::json c{{"id", id},
                       {"object", gen.kind == GenRequest::Kind::chat ? "chat.completion.chunk" : "text_completion"},
                       {"created", server->created_},
                       {"model", server->options_.model()},
                       {"choices", nlohmann::json::array({choice})}};
      if (gen.include_usage) c["usage"] = nullptr;
      return c;
    }

    static bool write_event(httplib::DataSink& sink, const std::string& data) {
      const std::string event = "data: " + data + "\n\n";
      return sink.write(event.data(), event.size());
    }

    // Streaming: called by cpp-httplib on the connection's thread until it returns false or calls sink.done().
    bool stream_more(httplib::DataSink& sink) {
      auto [emitted, finished] = wait_tokens(written);
      if (emitted < 0) return false;
      const bool chat = gen.kind == GenRequest::Kind::chat;
      const std::int64_t target = job->target_tokens;
      for (; written < emitted; ++written) {
        const std::int64_t i = written;
        if (plan.exclusive == FaultPlan::Exclusive::drop_mid_stream && i == target / 2) {
          dropped = true;
          job->cancelled = true;
          return false;
        }
        if (i == 0) {
          if (!delay_first()) return false;
          if (chat && !write_event(sink, chunk({{"index", 0},
                                                {"delta", {{"role", "assistant"}, {"content", ""}}},
                                                {"logprobs", nullptr},
                                                {"finish_reason", nullptr}})
                                                  .dump()))
            return client_left();
        }
        const bool last = i + 1 == target;
        if (last && !delay_last()) return false;
        nlohmann::json choice = chat ? nlohmann::json{{"index", 0}, {"delta", {{"content", token(i)}}}}
                                     : nlohmann::json{{"index", 0}, {"text", token(i)}};
        choice["logprobs"] = nullptr;
        choice["finish_reason"] = last ? nlohmann::json(finish_reason()) : nlohmann::json(nullptr);
        nlohmann::json c = chunk(choice);
        const Nanos now = now_ns();
        if (i == 0) first_written = now;
        if (last) c["sim_timing"] = {{"first_token_ns", first_written}, {"last_token_ns", now}};
        std::string data = c.dump();
        if (plan.exclusive == FaultPlan::Exclusive::malformed_json && i == target / 2) data.resize(data.size() / 2);
        if (!write_event(sink, data)) return client_left();
      }
      if (!finished) return true;
      if (gen.include_usage) {
        nlohmann::json u = chunk({});
        u["choices"] = nlohmann::json::array();
        u["usage"] = usage_json(gen, written);
        if (!write_event(sink, u.dump())) return client_left();
      }
      if (!write_event(sink, "[DONE]")) return client_left();
      sink.done();
      return true;
    }

    bool client_left() {
      job->cancelled = true;
      dropped = true;
      return false;
    }

    void release() {
      if (released) return;
      released = true;
      bool complete = false;
      {
        std::lock_guard<std::mutex> lock(job->mutex);
        complete = job->finished && !dropped && (!gen.stream || written == job->emitted);
      }
      if (!complete) job->cancelled = true;
      server->leave(complete ? &ServerStats::completed : &ServerStats::cancelled);
    }
  };

  void install_routes() {
    const bool hf = options_.api() == ApiFlavour::hf;
    http_.Post("/v1/completions", [this, hf](const httplib::Request& req, httplib::Response& res) {
      handle_generation(req, res, hf ? GenRequest::Kind::hf : GenRequest::Kind::completion);
    });
    if (!hf) {
      http_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
        handle_generation(req, res, GenRequest::Kind::chat);
      });
    }
    http_.Get("/health", [hf](const httplib::Request&, httplib::Response& res) {
      // vLLM answers 200 with an empty body; the lab's HF server with a small JSON object.
      if (hf) res.set_content(R"({"status":"ok"})", "application/json");
      else res.status = 200;
    });
    http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      const nlohmann::json j{{"object", "list"},
                             {"data",
                              {{{"id", options_.model()},
                                {"object", "model"},
                                {"created", created_},
                                {"owned_by", "servebench-sim"},
                                {"root", options_.model()},
                                {"max_model_len", options_.max_model_len()}}}}};
      res.set_content(j.dump(), "application/json");
    });
  }
};

}  // namespace detail

// A simulated inference server on a cpp-httplib server of its own. start() returns once the port listens;
// stop() (or the destructor) aborts every reply in progress and returns when every thread has ended.
class Server {
 public:
  explicit Server(ServerOptions options) : options_(std::move(options)) { options_.validate(); }
  ~Server() { stop(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start() {
    if (state_) throw std::logic_error("servebench::sim::Server: already started");
    auto state = std::make_unique<detail::ServerState>(options_);
    auto& http = state->http_;
    const std::size_t threads = options_.threads();
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_keep_alive_max_count(options_.keep_alive_max_count());
    http.set_keep_alive_timeout(options_.keep_alive_timeout_s());
    http.set_read_timeout(5, 0);
    http.set_write_timeout(5, 0);
    http.set_tcp_nodelay(true);  // one SSE event per token: Nagle would hold each behind the previous one's ACK
    // cpp-httplib 0.11.4 listens with a backlog of 5: a burst of connects then waits on SYN retries (about 1 s).
    // Keep the listening socket's descriptor so it can listen again with a real backlog (Linux updates the backlog
    // of a socket that already listens). Only SO_REUSEADDR: httplib's default SO_REUSEPORT would let a second
    // server bind a port already in use without an error.
    auto listen_fd = std::make_shared<std::atomic<int>>(-1);
    http.set_socket_options([listen_fd](auto sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      int expected = -1;
      listen_fd->compare_exchange_strong(expected, static_cast<int>(sock));
    });
    state->install_routes();

    errno = 0;
    int port = options_.port();
    bool bound = false;
    if (port == 0) {
      port = http.bind_to_any_port(options_.host());
      bound = port > 0;
    } else {
      bound = http.bind_to_port(options_.host(), port);
    }
    const int bind_errno = errno;
    if (!bound) {
      throw std::runtime_error("servebench::sim::Server: cannot listen on " + options_.host() + ":" +
                               std::to_string(options_.port()) + ": " +
                               (bind_errno ? std::strerror(bind_errno) : "bind failed"));
    }
    if (listen_fd->load() >= 0) ::listen(listen_fd->load(), options_.listen_backlog());
    state->port_ = port;
    state->engine_.start();
    auto* raw = state.get();
    auto listen_returned = std::make_shared<std::atomic<bool>>(false);
    state->listen_thread_ = std::thread([raw, listen_returned] {
      raw->http_.listen_after_bind();
      *listen_returned = true;
    });
    // cpp-httplib's stop() does nothing until its accept loop runs: wait for it, so stop() right after start()
    // cannot leave the loop running forever. (Connections that come meanwhile wait in the backlog.)
    while (!http.is_running() && !*listen_returned) std::this_thread::sleep_for(std::chrono::microseconds(200));
    state_ = std::move(state);
  }

  int port() const { return state_ ? state_->port_ : 0; }
  std::string url() const { return "http://" + url_host() + ":" + std::to_string(port()); }
  const ServerOptions& options() const { return options_; }
  bool running() const { return state_ != nullptr; }

  void stop() {
    if (!state_) return;
    auto& s = *state_;
    {
      std::lock_guard<std::mutex> lock(s.stop_mutex_);
      s.stopping_ = true;
    }
    s.stop_cv_.notify_all();
    s.engine_.stop();  // wakes every reply waiting for tokens
    s.http_.stop();
    if (s.listen_thread_.joinable()) s.listen_thread_.join();
    last_stats_ = stats();
    state_.reset();
  }

  ServerStats stats() const {
    if (!state_) return last_stats_;
    ServerStats st;
    {
      std::lock_guard<std::mutex> lock(state_->stats_mutex_);
      st = state_->stats_;
    }
    st.tokens = state_->engine_.tokens();
    st.max_batch = state_->engine_.max_batch();
    return st;
  }

 private:
  std::string url_host() const {
    const auto& h = options_.host();
    return (h == "0.0.0.0" || h.empty()) ? "127.0.0.1" : h;
  }

  ServerOptions options_;
  std::unique_ptr<detail::ServerState> state_;
  ServerStats last_stats_;
};

}  // namespace sim
}  // namespace servebench
// ---- end servebench/sim.hpp ----
// ---- begin servebench/cli.hpp ----
// servebench — small command-line helpers for benchmark programs: flag parsing with --help and one-line errors
// (exit code 2, the usage after it), value parsers that say what would have been right, and a plain text table.
//
//   std::string url = "http://127.0.0.1:8000";
//   int max_tokens = 50;
//   bool stream = false;
//   servebench::cli::ArgParser args("my_bench", "Sends requests and prints a table.");
//   args.option("--url", "URL", "server base URL", url)
//       .option("--max-tokens", "N", "tokens per reply", max_tokens, 1, 100000)
//       .flag("--stream", "stream the replies", stream);
//   if (auto exit_code = args.parse(argc, argv)) return *exit_code;   // --help: 0; a bad flag: 2

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace servebench {
namespace cli {

// A command line that cannot be used as given. The message is one line and says how to fix it.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Strict number parsing: the whole text must be the number, within [min, max]. `flag` names it in the error.
inline long long parse_integer(const std::string& flag, const std::string& text, long long min, long long max) {
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  // strtoll skips leading blanks; a flag's value has none.
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0])) || end != text.c_str() + text.size() ||
      errno == ERANGE || value < min || value > max)
    throw UsageError(flag + " needs a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                     ", got '" + text + "'");
  return value;
}

inline double parse_number(const std::string& flag, const std::string& text, double min, double max) {
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  // !(a <= b) also rejects NaN.
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0])) || end != text.c_str() + text.size() ||
      errno == ERANGE || !(value >= min) || !(value <= max)) {
    std::ostringstream why;
    why << flag << " needs a number from " << min << " to " << max << ", got '" << text << "'";
    throw UsageError(why.str());
  }
  return value;
}

// "1,5,10,20" -> {1, 5, 10, 20}: each a whole number in [min, max], no empty items, no duplicates.
inline std::vector<std::size_t> parse_size_list(const std::string& flag, const std::string& text, long long min,
                                                long long max) {
  std::vector<std::size_t> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty())
      throw UsageError(flag + " needs a comma-separated list of whole numbers like 1,5,10,20, got '" + text + "'");
    const auto value = static_cast<std::size_t>(parse_integer(flag, item, min, max));
    if (std::find(out.begin(), out.end(), value) != out.end())
      throw UsageError(flag + " lists " + item + " twice in '" + text + "'");
    out.push_back(value);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// `text` must be one of `choices`.
inline std::string parse_choice(const std::string& flag, const std::string& text,
                                const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), text) != choices.end()) return text;
  std::string valid;
  for (const auto& c : choices) valid += (valid.empty() ? "" : "|") + c;
  throw UsageError(flag + " must be one of " + valid + ", got '" + text + "'");
}

// Flags of the form `--name value`, `--name=value` and `--switch`; --help / -h prints the usage. Nothing
// positional: a benchmark's command line reads best when every value is named.
class ArgParser {
 public:
  ArgParser(std::string program, std::string description)
      : program_(std::move(program)), description_(std::move(description)) {}

  // A flag with a value; `apply` parses it (throwing UsageError, or std::invalid_argument, with the reason).
  ArgParser& option(std::string name, std::string value_name, std::string help,
                    std::function<void(const std::string&)> apply) {
    entries_.push_back({std::move(name), std::move(value_name), std::move(help), std::move(apply), nullptr});
    return *this;
  }
  ArgParser& option(std::string name, std::string value_name, std::string help, std::string& target) {
    return option(std::move(name), std::move(value_name), std::move(help),
                  [&target](const std::string& value) { target = value; });
  }
  ArgParser& option(std::string name, std::string value_name, std::string help, int& target, int min, int max) {
    const std::string flag = name;
    return option(std::move(name), std::move(value_name), std::move(help), [&target, flag, min, max](const std::string& v) {
      target = static_cast<int>(parse_integer(flag, v, min, max));
    });
  }
  ArgParser& option(std::string name, std::string value_name, std::string help, double& target, double min,
                    double max) {
    const std::string flag = name;
    return option(std::move(name), std::move(value_name), std::move(help), [&target, flag, min, max](const std::string& v) {
      target = parse_number(flag, v, min, max);
    });
  }
  // A switch without a value: sets `target` to true.
  ArgParser& flag(std::string name, std::string help, bool& target) {
    entries_.push_back({std::move(name), {}, std::move(help), nullptr, &target});
    return *this;
  }
  // Text printed after the flag list (examples, notes).
  ArgParser& epilog(std::string text) { epilog_ = std::move(text); return *this; }

  // Parses the command line. Returns the exit code when the program should stop now: 0 after --help (usage on
  // stdout), 2 after a bad flag (one line naming the problem, then the usage, on stderr). Empty: carry on.
  std::optional<int> parse(int argc, const char* const* argv, std::ostream& out = std::cout,
                           std::ostream& err = std::cerr) const {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        print_usage(out);
        return 0;
      }
      std::optional<std::string> inline_value;
      if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg.resize(eq);
      }
      const Entry* entry = find(arg);
      try {
        if (!entry) throw UsageError(unknown_message(arg));
        if (entry->flag_target) {
          if (inline_value) throw UsageError(arg + " takes no value");
          *entry->flag_target = true;
          continue;
        }
        if (!inline_value && i + 1 >= argc) throw UsageError(arg + " needs a value: " + arg + " " + entry->value_name);
        const std::string value = inline_value ? *inline_value : std::string(argv[++i]);
        entry->apply(value);
      } catch (const std::exception& e) {  // UsageError, or std::invalid_argument from a caller's parser
        return usage_error(e.what(), err);
      }
    }
    return std::nullopt;
  }
  std::optional<int> parse(int argc, char** argv, std::ostream& out = std::cout, std::ostream& err = std::cerr) const {
    return parse(argc, const_cast<const char* const*>(argv), out, err);
  }

  // Prints "program: error: <message>" and the usage on `err`; returns 2, the exit code for a bad command line.
  int usage_error(const std::string& message, std::ostream& err = std::cerr) const {
    err << program_ << ": error: " << message << "\n\n";
    print_usage(err);
    return 2;
  }
  // Prints "program: error: <message>" only (the command line was fine, the world was not); returns 2.
  int error(const std::string& message, std::ostream& err = std::cerr) const {
    err << program_ << ": error: " << message << "\n";
    return 2;
  }

  void print_usage(std::ostream& out) const {
    out << "usage: " << program_ << " [options]\n";
    if (!description_.empty()) out << description_ << "\n";
    out << "\noptions:\n";
    std::vector<std::string> heads;
    std::size_t width = 0;
    for (const auto& e : entries_) {
      heads.push_back(e.name + (e.value_name.empty() ? "" : " " + e.value_name));
      width = std::max(width, heads.back().size());
    }
    heads.push_back("--help");
    width = std::max(width, heads.back().size());
    for (std::size_t i = 0; i < entries_.size(); ++i)
      out << "  " << heads[i] << std::string(width - heads[i].size() + 2, ' ') << entries_[i].help << "\n";
    out << "  --help" << std::string(width - 6 + 2, ' ') << "show this text and exit\n";
    if (!epilog_.empty()) out << "\n" << epilog_ << (epilog_.back() == '\n' ? "" : "\n");
  }

  const std::string& program() const noexcept { return program_; }

 private:
  struct Entry {
    std::string name, value_name, help;
    std::function<void(const std::string&)> apply;
    bool* flag_target;
  };

  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }

  std::string unknown_message(const std::string& arg) const {
    if (arg.rfind("-", 0) != 0) return "unexpected argument '" + arg + "' (every value follows its --flag)";
    // Suggest the flag with the longest common prefix, so "--concurency" points at "--concurrency".
    const Entry* best = nullptr;
    std::size_t best_len = 0;
    for (const auto& e : entries_) {
      std::size_t n = 0;
      while (n < e.name.size() && n < arg.size() && e.name[n] == arg[n]) ++n;
      if (n > best_len) best_len = n, best = &e;
    }
    std::string message = "unknown option '" + arg + "'";
    if (best && best_len >= 4) message += " (did you mean " + best->name + "?)";
    return message;
  }

  std::string program_, description_, epilog_;
  std::vector<Entry> entries_;
};

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

  void print(std::ostream& out) const {
    std::vector<std::size_t> width(header_.size(), 0);
    std::vector<bool> numeric(header_.size(), true);
    for (std::size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
    for (const auto& r : rows_)
      for (std::size_t c = 0; c < r.size(); ++c) {
        width[c] = std::max(width[c], r[c].size());
        if (!r[c].empty() && !looks_numeric(r[c])) numeric[c] = false;
      }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string text;
      for (std::size_t c = 0; c < cells.size(); ++c) {
        const std::string pad(width[c] - cells[c].size(), ' ');
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

}  // namespace cli
}  // namespace servebench
// ---- end servebench/cli.hpp ----
// ---- begin servebench/lab.hpp ----
// servebench — the lab's programs' shared parts: the two servers under test (real ones by URL, or the embedded
// simulated HF-like and vLLM-like pair), the flags every lab program takes, the lab's exact file formats
// (single_request_comparison.json, concurrent_benchmark.json) and the tables printed in the terminal.
// examples/lab2_*.cpp put these together; they are the toolkit's documentation for the lab.

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>


namespace servebench {
namespace lab {

inline constexpr const char* lab_model = "meta-llama/Meta-Llama-3-8B-Instruct";
// The embedded servers run this much faster than the GPUs they model, so the whole lab takes seconds.
inline constexpr double default_time_scale = 20;
inline constexpr const char* hf_preset = "hf-transformers-h200";
inline constexpr const char* vllm_preset = "vllm-h100";

// Something outside the command line stops the program before or after the run: a server that does not answer, an
// output directory that cannot be written. Programs exit with 2 and print the one-line message.
struct SetupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What every lab program may be asked. Defaults are the lab's.
struct Options {
  std::string hf_url, vllm_url;          // both empty: start the embedded simulated servers
  std::string model = lab_model;
  std::string api = "openai";            // the vLLM side's dialect: hf | openai | chat (the HF side is the lab's)
  bool stream = false;                   // stream the vLLM side's replies (TTFT and TPOT); the lab's HF server cannot
  double time_scale = default_time_scale;
  double wait_s = 10;                    // how long to wait for real servers to answer
  std::string out_dir = "artifacts";
  std::vector<std::size_t> concurrency = lab_concurrency_levels;
  int max_tokens = 0;                    // 0: the lab's (100 for single requests, 50 for the concurrent runs)
  bool quiet = false;

  bool simulated() const noexcept { return hf_url.empty() && vllm_url.empty(); }
  std::string path(const std::string& file) const { return out_dir + (out_dir.back() == '/' ? "" : "/") + file; }
};

// The dialect names --api takes, and what the artifact calls them.
inline std::string dialect_name(const std::string& api) {
  if (api == "hf") return "hf_simple";
  if (api == "chat") return "openai_chat";
  return "openai_completions";
}

// --hf, --vllm, --model, --api, --stream, --time-scale, --wait.
inline void add_server_flags(cli::ArgParser& args, Options& o) {
  args.option("--hf", "URL", "the HF baseline server (lab API); default: an embedded simulated one", o.hf_url)
      .option("--vllm", "URL", "the vLLM server; default: an embedded simulated one", o.vllm_url)
      .option("--model", "NAME", "model name sent to the vLLM server (default " + std::string(lab_model) + ")",
              o.model)
      .option("--api", "hf|openai|chat", "the vLLM side's API: lab-style, /v1/completions, /v1/chat/completions",
              [&o](const std::string& v) { o.api = cli::parse_choice("--api", v, {"hf", "openai", "chat"}); })
      .flag("--stream", "stream the vLLM side's replies (records TTFT and TPOT)", o.stream)
      .option("--time-scale", "X", "embedded servers run X times faster than real time (default 20)", o.time_scale,
              0.01, 10000)
      .option("--wait", "SECONDS", "how long to wait for --hf/--vllm servers to answer (default 10)", o.wait_s, 0,
              86400);
}

// --out, --quiet.
inline void add_output_flags(cli::ArgParser& args, Options& o) {
  args.option("--out", "DIR", "where the JSON files go (default artifacts/)",
              [&o](const std::string& v) {
                if (v.empty()) throw cli::UsageError("--out needs a directory name");
                o.out_dir = v;
              })
      .flag("--quiet", "print only the table and the file paths", o.quiet);
}

// --max-tokens, and --concurrency when the program runs concurrency levels.
inline void add_workload_flags(cli::ArgParser& args, Options& o, bool concurrency_levels) {
  args.option("--max-tokens", "N", "tokens per reply (default: the lab's)", o.max_tokens, 1, 100000);
  if (concurrency_levels)
    args.option("--concurrency", "LIST", "concurrency levels, e.g. 1,5,10,20 (the lab's, the default)",
                [&o](const std::string& v) { o.concurrency = cli::parse_size_list("--concurrency", v, 1, 10000); });
}

// The flags that only make sense together. Throws cli::UsageError.
inline void check(const Options& o) {
  if (o.hf_url.empty() != o.vllm_url.empty())
    throw cli::UsageError("give both --hf URL and --vllm URL, or neither to use the embedded simulated servers");
  if (o.out_dir.empty()) throw cli::UsageError("--out needs a directory name");
}

// Makes sure `dir` exists and a file can be created in it, before a run that would otherwise end with nowhere to
// put its results. Throws SetupError naming the directory.
inline void check_output_dir(const std::string& dir) {
  const std::string probe = dir + (dir.back() == '/' ? "" : "/") + ".servebench-write-test";
  try {
    write_file_atomic(probe, "");
  } catch (const std::exception& e) {
    throw SetupError(std::string(e.what()));
  }
  std::remove(probe.c_str());
}

// Writes JSON atomically (never half a file); SetupError naming the path when it cannot.
template <class Json>
void write_json(const std::string& path, const Json& value) {
  try {
    write_file_atomic(path, value.dump(2) + "\n");
  } catch (const std::exception& e) {
    throw SetupError(e.what());
  }
}

// Writes an SVG chart atomically; SetupError naming the path when it cannot.
inline void write_svg(const std::string& path, const std::string& svg) {
  try {
    chart::write_svg(path, svg);
  } catch (const std::exception& e) {
    throw SetupError(e.what());
  }
}

// The two servers under test. Real ones are waited for (wait_until_ready); otherwise the embedded simulated pair
// starts on free ports of 127.0.0.1: the HF-like sequential server (the lab's API) and the vLLM-like continuous
// batching one, both calibrated on GPU measurements and run `time_scale` times faster than real time.
class Servers {
 public:
  // Throws SetupError when a real server does not answer within options.wait_s.
  explicit Servers(Options options, std::ostream* log = nullptr) : options_(std::move(options)) {
    if (options_.simulated()) {
      hf_ = std::make_unique<sim::Server>(
          sim::preset(hf_preset).time_scale(options_.time_scale).model(options_.model));
      vllm_ = std::make_unique<sim::Server>(sim::preset(vllm_preset)
                                                .time_scale(options_.time_scale)
                                                .model(options_.model)
                                                .api(options_.api == "hf" ? sim::ApiFlavour::hf : sim::ApiFlavour::openai));
      hf_->start();
      vllm_->start();
      hf_url_ = hf_->url();
      vllm_url_ = vllm_->url();
      if (log) {
        char factor[32];
        std::snprintf(factor, sizeof factor, "%g", options_.time_scale);
        *log << "Embedded simulated servers (no GPU needed): HF-like " << hf_preset << " at " << hf_url_
             << ", vLLM-like " << vllm_preset << " at " << vllm_url_ << "\n"
             << "simulated servers running " << factor
             << "x faster than real time (times below are real; multiply by " << factor << " for the modelled GPU)\n";
      }
      return;
    }
    hf_url_ = options_.hf_url;
    vllm_url_ = options_.vllm_url;
    const auto wait = std::chrono::milliseconds(static_cast<long long>(options_.wait_s * 1000));
    for (const auto& [name, url] : {std::pair<std::string, std::string>{"HF", hf_url_}, {"vLLM", vllm_url_}}) {
      if (log) *log << "Waiting for the " << name << " server at " << url << " ...\n";
      const auto ready = wait_until_ready(url, wait, nullptr);
      if (!ready)
        throw SetupError("the " + name + " server at " + url + " did not answer within " +
                         cli_seconds(options_.wait_s) + " (" + ready.reason + "); start it, check the URL, or raise --wait");
    }
  }

  bool simulated() const noexcept { return static_cast<bool>(hf_); }
  const std::string& hf_url() const noexcept { return hf_url_; }
  const std::string& vllm_url() const noexcept { return vllm_url_; }
  std::optional<double> time_scale() const {
    return simulated() ? std::optional<double>(options_.time_scale) : std::nullopt;
  }

  // One Driver per worker: "hf" speaks the lab's API; "vllm" speaks --api, streaming if --stream.
  std::vector<Target> targets() const {
    const auto base = [this](const std::string& label, const std::string& url, bool stream) {
      return DriverOptions().base_url(url).target(label).model(options_.model).stream(stream);
    };
    Target hf{"hf", [o = base("hf", hf_url_, false)] { return AnySender(Driver<api::hf_simple>(o)); }, hf_url_,
              "hf_simple", options_.model};
    const auto v = base("vllm", vllm_url_, options_.stream);
    std::function<AnySender()> make;
    if (options_.api == "hf")
      make = [v] { return AnySender(Driver<api::hf_simple>(v)); };
    else if (options_.api == "chat")
      make = [v] { return AnySender(Driver<api::openai_chat>(v)); };
    else
      make = [v] { return AnySender(Driver<api::openai_completions>(v)); };
    return {hf, Target{"vllm", make, vllm_url_, dialect_name(options_.api), options_.model}};
  }

  // The artifact's metadata: command line, targets, model, and the time scale when simulated.
  RunMetadata metadata(int argc, const char* const* argv, nlohmann::json configuration = nlohmann::json::object()) const {
    RunMetadata m;
    m.command_line.assign(argv, argv + argc);
    configuration["stream"] = options_.stream;
    configuration["api"] = options_.api;
    m.configuration = std::move(configuration);
    for (const auto& t : targets()) m.targets.push_back({t.label, t.url, t.api, t.model});
    m.model = options_.model;
    if (simulated()) {
      m.time_scale = options_.time_scale;
      m.gpu = std::string("sim ") + hf_preset + " / " + vllm_preset;
    }
    return m;
  }

 private:
  static std::string cli_seconds(double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%g s", s);
    return text;
  }

  Options options_;
  std::unique_ptr<sim::Server> hf_, vllm_;
  std::string hf_url_, vllm_url_;
};

// ---------------------------------------------------------------------------------------------------------------
// Task 2.2: single requests, HF then vLLM, per prompt.

struct SingleRequest {
  std::string prompt;
  RequestRecord hf, vllm;
  // hf elapsed / vllm elapsed, as the lab computes it; 0 when either failed.
  double speedup() const {
    if (!hf.ok() || !vllm.ok() || vllm.latency_s() <= 0) return 0;
    return hf.latency_s() / vllm.latency_s();
  }
};

// Pairs the two runs' records by workload index (the measured ones; warm-ups skipped).
inline std::vector<SingleRequest> pair_single_requests(const RunResult& hf, const RunResult& vllm,
                                                       const Workload& workload) {
  std::vector<SingleRequest> out;
  for (const auto& h : hf.records) {
    if (h.warmup) continue;
    for (const auto& v : vllm.records)
      if (!v.warmup && v.index == h.index) out.push_back({workload.at(h.index).text, h, v});
  }
  return out;
}

namespace detail {
// Python's s[:n] on a UTF-8 string: the first n code points.
inline std::string first_code_points(const std::string& s, std::size_t n) {
  std::size_t i = 0;
  for (std::size_t count = 0; i < s.size() && count < n; ++count) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  }
  return s.substr(0, i);
}

inline nlohmann::ordered_json lab_engine(const char* engine, const RequestRecord& r) {
  const double elapsed = r.ok() ? r.latency_s() : 0.0;
  const auto tokens = r.ok() ? r.n_out : 0;
  return {{"engine", engine},
          {"elapsed", elapsed},
          {"tokens", tokens},
          {"tok_per_sec", elapsed > 0 ? static_cast<double>(tokens) / elapsed : 0.0}};
}

inline std::string fixed(double v, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}
}  // namespace detail

// single_request_comparison.json exactly as the lab writes it: a list of
// {"prompt": prompt[:50], "hf": {engine, elapsed, tokens, tok_per_sec}, "vllm": {...}, "speedup"}.
// A failed request shows elapsed 0 and tokens 0 (the full artifact says why).
inline nlohmann::ordered_json single_request_json(const std::vector<SingleRequest>& rows) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& r : rows)
    out.push_back({{"prompt", detail::first_code_points(r.prompt, 50)},
                   {"hf", detail::lab_engine("HuggingFace", r.hf)},
                   {"vllm", detail::lab_engine("vLLM", r.vllm)},
                   {"speedup", r.speedup()}});
  return out;
}

inline std::string outcome(const RequestRecord& r, int decimals = 2) {
  return r.ok() ? detail::fixed(r.latency_s(), decimals) : std::string("FAILED ") + to_string(r.error_kind);
}

inline void print_single_requests(std::ostream& out, const std::vector<SingleRequest>& rows) {
  cli::Table table({"prompt", "HF s", "HF tok/s", "vLLM s", "vLLM tok/s", "speedup"});
  double sum = 0;
  std::size_t n = 0;
  for (const auto& r : rows) {
    auto rate = [](const RequestRecord& x) {
      return x.ok() && x.latency_s() > 0 ? detail::fixed(static_cast<double>(x.n_out) / x.latency_s(), 1) : "-";
    };
    table.row({detail::first_code_points(r.prompt, 40) + (r.prompt.size() > 40 ? "..." : ""), outcome(r.hf),
               rate(r.hf), outcome(r.vllm), rate(r.vllm),
               r.speedup() > 0 ? detail::fixed(r.speedup(), 1) + "x" : "-"});
    if (r.speedup() > 0) sum += r.speedup(), ++n;
  }
  if (n) table.separator().row({"average", "", "", "", "", detail::fixed(sum / static_cast<double>(n), 1) + "x"});
  table.print(out);
}

// ---------------------------------------------------------------------------------------------------------------
// Task 2.3: concurrency levels.

// One engine at one level, as the lab's concurrent_benchmark.json holds it.
struct EngineLevel {
  double total_time = 0;
  std::size_t successful = 0, failed = 0;
  double throughput_req_per_sec = 0;
  double mean_latency = 0;
  double p95_latency = 0;  // the lab's rule: sorted[int(n * 0.95)] for n > 1, else 0
};

struct ConcurrencyLevel {
  std::size_t concurrency = 0;
  EngineLevel hf, vllm;
  // vLLM throughput / HF throughput; 0 when HF had none.
  double throughput_ratio() const {
    return hf.throughput_req_per_sec > 0 ? vllm.throughput_req_per_sec / hf.throughput_req_per_sec : 0.0;
  }
};

// The lab's numbers for one run: latencies of the successful requests; failed counts interrupted ones too, so
// successful + failed is every request the level sent.
inline EngineLevel lab_engine_level(const RunResult& run) {
  EngineLevel e;
  std::vector<double> latency;
  for (const auto& r : run.records)
    if (!r.warmup && r.ok()) latency.push_back(r.latency_s());
  e.total_time = run.summary.wall_s;
  e.successful = run.summary.successful;
  e.failed = run.summary.failed + run.summary.interrupted;
  e.throughput_req_per_sec = run.summary.throughput_req_per_sec;
  if (!latency.empty()) {
    double sum = 0;
    for (double v : latency) sum += v;
    e.mean_latency = sum / static_cast<double>(latency.size());
  }
  if (latency.size() > 1) e.p95_latency = percentile(latency, 95, PercentileMethod::lab);
  return e;
}

// The levels where both "hf" and "vllm" ran, in the order of `levels`.
inline std::vector<ConcurrencyLevel> concurrency_levels(const std::vector<RunResult>& runs) {
  std::vector<ConcurrencyLevel> out;
  for (const auto& h : runs) {
    if (h.summary.target != "hf") continue;
    for (const auto& v : runs)
      if (v.summary.target == "vllm" && v.summary.level == h.summary.level)
        out.push_back({static_cast<std::size_t>(h.summary.level), lab_engine_level(h), lab_engine_level(v)});
  }
  return out;
}

// concurrent_benchmark.json exactly as the lab writes it: {"1": {"hf": {...}, "vllm": {...}}, "5": ...}, keys in
// run order, fields in the lab's order.
inline nlohmann::ordered_json concurrent_benchmark_json(const std::vector<ConcurrencyLevel>& levels) {
  auto engine = [](const EngineLevel& e) {
    return nlohmann::ordered_json{{"total_time", e.total_time},
                                  {"successful", e.successful},
                                  {"failed", e.failed},
                                  {"throughput_req_per_sec", e.throughput_req_per_sec},
                                  {"mean_latency", e.mean_latency},
                                  {"p95_latency", e.p95_latency}};
  };
  auto out = nlohmann::ordered_json::object();
  for (const auto& l : levels) out[std::to_string(l.concurrency)] = {{"hf", engine(l.hf)}, {"vllm", engine(l.vllm)}};
  return out;
}

// Reads a concurrent_benchmark.json (the lab's or ours), sorted by level. `origin` names it in errors. Throws
// std::runtime_error saying what is wrong: not JSON (truncated?), or not this file's shape.
inline std::vector<ConcurrencyLevel> parse_concurrent_benchmark(const std::string& text, const std::string& origin) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded())
    throw std::runtime_error("'" + origin + "' is not valid JSON (truncated, or not a concurrent_benchmark.json?)");
  const std::string expected = " (expected the lab's concurrent_benchmark.json: {\"1\": {\"hf\": {...}, \"vllm\": "
                               "{...}}, ...})";
  if (!j.is_object() || j.empty()) throw std::runtime_error("'" + origin + "' is not a concurrency table" + expected);
  std::vector<ConcurrencyLevel> out;
  for (const auto& [key, level] : j.items()) {
    ConcurrencyLevel l;
    try {
      l.concurrency = static_cast<std::size_t>(cli::parse_integer("level", key, 1, 1000000));
    } catch (const cli::UsageError&) {
      throw std::runtime_error("'" + origin + "': key \"" + key + "\" is not a concurrency level" + expected);
    }
    for (const char* engine : {"hf", "vllm"}) {
      const auto it = level.is_object() ? level.find(engine) : level.end();
      if (it == level.end() || !it->is_object())
        throw std::runtime_error("'" + origin + "': level " + key + " has no \"" + engine + "\" object" + expected);
      EngineLevel& e = std::string(engine) == "hf" ? l.hf : l.vllm;
      try {
        e.throughput_req_per_sec = it->at("throughput_req_per_sec").get<double>();
        e.total_time = it->value("total_time", 0.0);
        e.successful = it->value("successful", std::size_t{0});
        e.failed = it->value("failed", std::size_t{0});
        e.mean_latency = it->value("mean_latency", 0.0);
        e.p95_latency = it->value("p95_latency", 0.0);
      } catch (const nlohmann::json::exception&) {
        throw std::runtime_error("'" + origin + "': level " + key + " " + engine +
                                 " lacks a numeric throughput_req_per_sec (or has a field of the wrong type)");
      }
      for (double v : {e.throughput_req_per_sec, e.total_time, e.mean_latency, e.p95_latency})
        if (!std::isfinite(v) || v < 0)
          throw std::runtime_error("'" + origin + "': level " + key + " " + engine + " has a negative or infinite value");
    }
    out.push_back(l);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.concurrency < b.concurrency; });
  return out;
}

inline std::vector<ConcurrencyLevel> read_concurrent_benchmark(const std::string& path) {
  return parse_concurrent_benchmark(read_file(path), path);
}

// The terminal table of a concurrency run: per level and engine the lab's columns (p95 here by linear
// interpolation, as in the full artifact) and the throughput ratio; then every failure, counted by kind.
inline void print_concurrency_runs(std::ostream& out, const std::vector<RunResult>& runs) {
  cli::Table table({"concurrency", "engine", "total s", "ok", "failed", "req/s", "mean s", "p95 s", "vLLM/HF"});
  const auto levels = concurrency_levels(runs);
  bool first = true;
  for (const auto& run : runs) {
    const auto& s = run.summary;
    if (s.target == "hf" && !first) table.separator();
    first = false;
    std::string ratio;
    if (s.target == "vllm")
      for (const auto& l : levels)
        if (static_cast<double>(l.concurrency) == s.level && l.throughput_ratio() > 0)
          ratio = detail::fixed(l.throughput_ratio(), 1) + "x";
    table.row({std::to_string(static_cast<long long>(s.level)), s.target == "hf" ? "HF" : "vLLM",
               detail::fixed(s.wall_s, 2), std::to_string(s.successful),
               std::to_string(s.failed + s.interrupted), detail::fixed(s.throughput_req_per_sec, 2),
               s.latency ? detail::fixed(s.latency->mean, 2) : "-", s.latency ? detail::fixed(s.latency->p95, 2) : "-",
               ratio});
  }
  table.print(out);
  for (const auto& run : runs) {
    const auto& s = run.summary;
    if (s.failed == 0 && s.interrupted == 0) continue;
    out << "  " << s.target << " at " << s.level << " concurrent:";
    if (s.failed) out << " " << s.failed << " failed";
    for (const auto& [kind, count] : s.failed_by_kind) out << ", " << count << " " << kind;
    if (s.interrupted) out << (s.failed ? ";" : "") << " " << s.interrupted << " interrupted (Ctrl-C)";
    for (const auto& r : run.records)
      if (!r.ok() && !r.interrupted()) {
        out << " (first: " << r.error_message << ")";
        break;
      }
    out << "\n";
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Task 2.4: charts.

// A chart subtitle from a full artifact's metadata: model, GPU (or the simulated presets) and the time scale.
inline std::string chart_subtitle(const RunMetadata& m) {
  // The model's name without its organisation keeps the subtitle on one line at 800 px.
  std::string s = m.model.substr(m.model.rfind('/') == std::string::npos ? 0 : m.model.rfind('/') + 1);
  if (!m.gpu.empty()) s += (s.empty() ? "" : " · ") + m.gpu;
  if (m.time_scale) {
    char factor[48];
    std::snprintf(factor, sizeof factor, "%gx speed", *m.time_scale);
    s += (s.empty() ? "" : " · ") + std::string(factor);
  }
  if (m.interrupted) s += (s.empty() ? "" : " · ") + std::string("interrupted run");
  return s;
}

inline chart::Series named_series(std::string name, bool dashed = false) {
  chart::Series s;
  s.name = std::move(name);
  s.dashed = dashed;
  return s;
}

inline std::vector<std::string> level_names(const std::vector<ConcurrencyLevel>& levels) {
  std::vector<std::string> out;
  for (const auto& l : levels) out.push_back(std::to_string(l.concurrency));
  return out;
}

// The lab's chart: throughput per level, HF beside vLLM, each pair labelled with vLLM's speedup.
inline chart::BarChart throughput_chart(const std::vector<ConcurrencyLevel>& levels, std::string subtitle = {}) {
  chart::BarChart c;
  c.title = "Throughput: HF baseline vs vLLM";
  c.subtitle = std::move(subtitle);
  c.x_label = "concurrent requests";
  c.y_label = "throughput (requests/s)";
  c.categories = level_names(levels);
  c.series = {named_series("HuggingFace"), named_series("vLLM")};
  for (const auto& l : levels) {
    c.series[0].values.push_back(l.hf.throughput_req_per_sec);
    c.series[1].values.push_back(l.vllm.throughput_req_per_sec);
  }
  return c;
}

// Mean (solid) and p95 (dashed) latency per level and engine, from the lab file's numbers.
inline chart::LineChart latency_chart(const std::vector<ConcurrencyLevel>& levels, std::string subtitle = {}) {
  chart::LineChart c;
  c.title = "Latency per request: mean and p95";
  c.subtitle = std::move(subtitle);
  c.x_label = "concurrent requests";
  c.y_label = "latency (s)";
  c.categories = level_names(levels);
  // The lab writes p95 = 0 for a single request; the p95 of one sample is that sample, which is the mean.
  const auto p95 = [](const EngineLevel& e) {
    return e.successful == 1 && e.p95_latency == 0 ? e.mean_latency : e.p95_latency;
  };
  c.series = {named_series("HF mean"), named_series("HF p95", true), named_series("vLLM mean"),
              named_series("vLLM p95", true)};
  for (const auto& l : levels) {
    c.series[0].values.push_back(l.hf.mean_latency);
    c.series[1].values.push_back(p95(l.hf));
    c.series[2].values.push_back(l.vllm.mean_latency);
    c.series[3].values.push_back(p95(l.vllm));
  }
  return c;
}

// Mean TTFT and TPOT (ms) per level for every engine whose replies were streamed; empty when none was.
inline std::optional<chart::TtftTpotChart> ttft_tpot_chart(const Artifact& full) {
  std::vector<double> levels;
  for (const auto& l : full.levels)
    if (l.summary.ttft && std::find(levels.begin(), levels.end(), l.summary.level) == levels.end())
      levels.push_back(l.summary.level);
  if (levels.empty()) return std::nullopt;
  std::sort(levels.begin(), levels.end());
  chart::TtftTpotChart c;
  c.title = "Streaming: time to first token and time per output token";
  c.subtitle = chart_subtitle(full.metadata);
  for (double level : levels) c.categories.push_back(std::to_string(static_cast<long long>(level)));
  for (const std::string target : {"hf", "vllm"}) {
    chart::Series ttft = named_series(target == "hf" ? "HF" : "vLLM"), tpot = ttft;
    bool any = false;
    for (double level : levels) {
      double t = 0, p = 0;
      for (const auto& l : full.levels)
        if (l.summary.target == target && l.summary.level == level) {
          if (l.summary.ttft) t = l.summary.ttft->mean * 1e3, any = true;
          if (l.summary.tpot) p = l.summary.tpot->mean * 1e3;
        }
      ttft.values.push_back(t);
      tpot.values.push_back(p);
    }
    if (any) c.ttft.push_back(ttft), c.tpot.push_back(tpot);
  }
  return c;
}

// Prints "Wrote:" and the paths, one per line.
inline void print_paths(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& files) {
  out << "\nWrote:\n";
  std::size_t width = 0;
  for (const auto& f : files) width = std::max(width, f.first.size());
  for (const auto& [path, what] : files) out << "  " << path << std::string(width - path.size() + 2, ' ') << what << "\n";
}

}  // namespace lab
}  // namespace servebench
// ---- end servebench/lab.hpp ----
// ---- end servebench.hpp ----

// servebench — scheduler options: what closed and open loops share (counts, duration, warm-up, timeouts, signals,
// summaries), ClosedLoop and OpenLoop, and the LevelConfig each records into its result.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../record.hpp"
#include "../result.hpp"

namespace servebench {

// A request sent more than this long after its t_sched counts as late (open loop: the client fell behind).
inline constexpr Nanos late_send_threshold_ns = 1'000'000;
// A connect slower than this was almost surely a lost SYN retried (Linux retries after 1 s): a full accept queue.
inline constexpr Nanos slow_connect_threshold_ns = 900'000'000;

// Watches a level from outside (metrics/scrape.hpp's scrape_each_level() reads the server's /metrics): called with
// the level's target just before the level starts; what it returns is called with the result once the last request
// has ended, to add what it saw. A level run from a sender factory passes an empty TargetInfo.
using LevelWatcher = std::function<std::function<void(LevelResult&)>(const TargetInfo&)>;

namespace detail {

// What closed and open loops share. Setters return the derived object so chains keep their type.
template <class Derived>
class RunOptions {
 public:
  // Stop after this many measured requests (0: no count limit). With neither a count nor a duration, a finite
  // workload runs once through; an infinite one is an error.
  // clang-format off: one line per fluent setter, as everywhere in the library
  Derived& requests(std::uint64_t count) {
    requests_ = count;
    return self();
  }
  // clang-format on
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
  // clang-format off: one line per fluent setter, as everywhere in the library
  Derived& warmup(std::uint64_t count) {
    warmup_ = count;
    return self();
  }
  std::uint64_t warmup() const noexcept { return warmup_; }

  // Keep warm-up records in the result (marked warmup) or drop them. Default: keep.
  Derived& keep_warmup_records(bool keep) {
    keep_warmup_records_ = keep;
    return self();
  }
  // clang-format on
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

  // No progress line and no warnings on stderr (warnings still go into the result).
  // clang-format off: one line per fluent setter, as everywhere in the library
  Derived& quiet(bool q) {
    quiet_ = q;
    return self();
  }
  bool quiet() const noexcept { return quiet_; }

  // Install SIGINT/SIGTERM handlers while the run is active (the previous ones are restored after). Turn off when
  // the program handles signals itself; request_interrupt() still stops a run.
  Derived& handle_signals(bool handle) {
    handle_signals_ = handle;
    return self();
  }
  bool handle_signals() const noexcept { return handle_signals_; }

  // Every worker opens its connection before the level's clock starts (a few at a time, spaced, so a server with a
  // small accept queue is not flooded), so the first requests measure the server and not TCP handshakes. Off:
  // each worker's first request opens its own connection, as before. Default: on. See docs/metrics.md.
  Derived& preconnect(bool on) {
    preconnect_ = on;
    return self();
  }
  bool preconnect() const noexcept { return preconnect_; }

  // Keep every record in LevelResult::records (the default), or keep none: each record is then handed to
  // record_sink and stream_records_to as it ends and dropped, and the summary comes from a RunningSummary (exact
  // counts and means, percentiles within 1%, see record_stream.hpp), so memory does not grow with the run.
  Derived& keep_records(bool keep) {
    keep_records_ = keep;
    return self();
  }
  bool keep_records() const noexcept { return keep_records_; }

  // Called with every record kept or streamed (measured ones, and warm-ups with keep_warmup_records) as it ends, in
  // the order they end, one call at a time.
  Derived& record_sink(std::function<void(const RequestRecord&)> sink) {
    record_sink_ = std::move(sink);
    return self();
  }
  const std::function<void(const RequestRecord&)>& record_sink() const noexcept { return record_sink_; }

  // Writes every such record to this JSONL file as it ends (PATH.partial until the level ends, then renamed; read
  // back with read_records_jsonl). Empty: none.
  Derived& stream_records_to(std::string path) {
    stream_records_to_ = std::move(path);
    return self();
  }
  const std::string& stream_records_to() const noexcept { return stream_records_to_; }

  // Percentile method and SLOs for the summary in the result.
  Derived& summarize_options(SummarizeOptions options) {
    summarize_options_ = std::move(options);
    return self();
  }
  // clang-format on
  const SummarizeOptions& summarize_options() const noexcept { return summarize_options_; }

  // Something that watches each level (see LevelWatcher); none by default.
  Derived& watch(LevelWatcher watcher) {
    watcher_ = std::move(watcher);
    return self();
  }
  const LevelWatcher& watcher() const noexcept { return watcher_; }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }

  std::uint64_t requests_ = 0;
  std::chrono::nanoseconds duration_{0};
  std::uint64_t warmup_ = 0;
  bool keep_warmup_records_ = true;
  std::chrono::nanoseconds timeout_{0};
  std::chrono::nanoseconds grace_period_ = std::chrono::seconds(2);
  bool quiet_ = false;
  bool handle_signals_ = true;
  bool preconnect_ = true;
  SummarizeOptions summarize_options_;
  LevelWatcher watcher_;
  bool keep_records_ = true;
  std::function<void(const RequestRecord&)> record_sink_;
  std::string stream_records_to_;
};

}  // namespace detail

// Closed loop: `concurrency` workers, each sending its next request as soon as its last one ends.
class ClosedLoop : public detail::RunOptions<ClosedLoop> {
 public:
  // clang-format off: one line per fluent setter, as everywhere in the library
  ClosedLoop& concurrency(std::size_t workers) {
    concurrency_ = workers;
    return *this;
  }
  // Conversations: each worker takes a whole session of `turns` requests (indices s * turns ... s * turns + turns - 1,
  // as workload/multiturn.hpp numbers them) and sends them in order, `think_time` apart, so that concurrency means
  // concurrent sessions. 1: every request on its own.
  ClosedLoop& sessions(std::size_t turns, std::chrono::nanoseconds think_time = std::chrono::nanoseconds(0)) {
    turns_ = turns;
    think_time_ = think_time;
    return *this;
  }
  // clang-format on
  std::size_t concurrency() const noexcept { return concurrency_; }
  std::size_t session_turns() const noexcept { return turns_; }
  std::chrono::nanoseconds think_time() const noexcept { return think_time_; }

 private:
  std::size_t concurrency_ = 1;
  std::size_t turns_ = 1;
  std::chrono::nanoseconds think_time_{0};
};

// Open loop: requests arrive at `rate` per second whatever the server does; an arrival that finds no free worker
// waits (and its lateness is recorded). max_in_flight caps concurrent requests (0: no cap, workers are added as
// needed).
class OpenLoop : public detail::RunOptions<OpenLoop> {
 public:
  // clang-format off: one line per fluent setter, as everywhere in the library
  OpenLoop& rate(double requests_per_second) {
    rate_ = requests_per_second;
    return *this;
  }
  double rate() const noexcept { return rate_; }

  OpenLoop& distribution(Arrival arrival) {
    distribution_ = arrival;
    return *this;
  }
  Arrival distribution() const noexcept { return distribution_; }

  // Gamma shape: below 1 burstier than Poisson, above 1 more regular. Used only by Arrival::gamma.
  OpenLoop& burstiness(double shape) {
    burstiness_ = shape;
    return *this;
  }
  double burstiness() const noexcept { return burstiness_; }

  OpenLoop& seed(std::uint64_t value) {
    seed_ = value;
    return *this;
  }
  std::uint64_t seed() const noexcept { return seed_; }

  OpenLoop& max_in_flight(std::size_t cap) {
    max_in_flight_ = cap;
    return *this;
  }
  std::size_t max_in_flight() const noexcept { return max_in_flight_; }

  // An injected arrival schedule (a trace): the measured requests' times after the start, non-decreasing. When set,
  // rate, distribution and ramp are not used; requests() and duration() still cut it short.
  OpenLoop& schedule(std::vector<Nanos> offsets) {
    schedule_ = std::move(offsets);
    return *this;
  }
  const std::vector<Nanos>& schedule() const noexcept { return schedule_; }

  // A request-rate ramp from `from` to `to` per second over `over`, linear or exponential, then `to` on; the
  // arrival distribution shapes the gaps around it. Without requests() or duration() the run lasts the ramp.
  OpenLoop& ramp_up(double from, double to, std::chrono::nanoseconds over, bool exponential = false) {
    ramp_ = Ramp{from, to, over, exponential};
    ramped_ = true;
    return *this;
  }
  struct Ramp {
    double from = 0, to = 0;
    std::chrono::nanoseconds over{0};
    bool exponential = false;
  };
  // The ramp, or nullptr when there is none (a pointer, not a std::optional: see "Deferred" in serialize.hpp).
  const Ramp* ramp_up() const noexcept { return ramped_ ? &ramp_ : nullptr; }
  // clang-format on

 private:
  std::vector<Nanos> schedule_;
  Ramp ramp_;
  bool ramped_ = false;
  double rate_ = 1.0;
  Arrival distribution_ = Arrival::poisson;
  double burstiness_ = 1.0;
  std::uint64_t seed_ = 0;
  std::size_t max_in_flight_ = 0;
};

namespace detail {

// What a level records of the options it ran with (LevelResult::config).
template <class Options>
LevelConfig base_config(const Options& o) {
  LevelConfig c;
  c.requests = o.requests();
  c.duration_s = std::chrono::duration<double>(o.duration()).count();
  c.warmup = o.warmup();
  c.timeout_s = std::chrono::duration<double>(o.timeout()).count();
  c.percentile_method = o.summarize_options().method;
  c.slo = o.summarize_options().slo;
  return c;
}
template <class = void>  // deferred: see serialize.hpp
LevelConfig level_config(const ClosedLoop& o) {
  LevelConfig c = base_config(o);
  c.mode = LoopMode::closed_loop;
  c.concurrency = o.concurrency();
  return c;
}
template <class = void>  // deferred: see serialize.hpp
LevelConfig level_config(const OpenLoop& o) {
  LevelConfig c = base_config(o);
  c.mode = LoopMode::open_loop;
  c.rate = o.rate();
  c.arrival = o.distribution();
  c.burstiness = o.burstiness();
  c.seed = o.seed();
  c.max_in_flight = o.max_in_flight();
  return c;
}

// Starts the options' watcher on a level's target; returns what to call with the result (empty when none).
template <class Options>
std::function<void(LevelResult&)> start_watching(const Options& o, const TargetInfo* target) {
  if (!o.watcher()) return {};
  return o.watcher()(target ? *target : TargetInfo{});
}

}  // namespace detail

}  // namespace servebench

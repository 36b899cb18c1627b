// servebench — what one level of a run was asked to do and what it gave: the unit every scheduler returns, every
// report reads and every artifact stores whole. Nothing a run knows is left out: the target, the loop and its
// settings (concurrency or rate, arrivals, seed, counts, warm-up, SLOs, percentile method), the summary, every
// record, and how the run went (interrupted, timed out, late sends, arrivals never sent, warnings).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/series.hpp"
#include "record.hpp"
#include "serialize.hpp"
#include "stats.hpp"

namespace servebench {

// A server under test as results and artifacts name it. Built once with its sender (see target.hpp).
struct TargetInfo {
  std::string label;  // what records, summaries, tables and charts call it
  std::string url;
  std::string dialect;  // the dialect's name ("openai_completions", ...)
  std::string model;
  bool insecure = false;  // https without verifying the server's certificate
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const TargetInfo*) {
  return field_list<Deferred>(required("label", &TargetInfo::label), field("url", &TargetInfo::url),
                              field("dialect", &TargetInfo::dialect), field("model", &TargetInfo::model),
                              field("insecure", &TargetInfo::insecure));
}

enum class LoopMode {
  closed_loop,  // a fixed number of requests in flight
  open_loop,    // arrivals at a rate, whatever the server does
};

template <>
struct EnumNames<LoopMode> {
  static constexpr const char* what = "loop mode";
  static constexpr EnumName<LoopMode> entries[] = {{LoopMode::closed_loop, "closed_loop"},
                                                   {LoopMode::open_loop, "open_loop"}};
};
SERVEBENCH_ENUM_JSON(LoopMode)

// How open-loop arrivals are spaced.
enum class Arrival {
  constant,  // evenly spaced: 1/rate apart
  poisson,   // exponential gaps with mean 1/rate (coefficient of variation 1)
  gamma,     // gamma gaps with mean 1/rate and shape = burstiness: CV = 1/sqrt(burstiness); 1 is Poisson
};

template <>
struct EnumNames<Arrival> {
  static constexpr const char* what = "arrival distribution";
  static constexpr EnumName<Arrival> entries[] = {
      {Arrival::constant, "constant"}, {Arrival::poisson, "poisson"}, {Arrival::gamma, "gamma"}};
};
SERVEBENCH_ENUM_JSON(Arrival)

// The settings one level ran with, recorded by the scheduler itself (a program never copies them by hand).
struct LevelConfig {
  LoopMode mode = LoopMode::closed_loop;
  std::size_t concurrency = 0;         // closed loop: workers
  double rate = 0;                     // open loop: requests per second
  Arrival arrival = Arrival::poisson;  // open loop
  double burstiness = 1;               // open loop, gamma shape
  std::uint64_t seed = 0;              // open loop: the arrival schedule's seed
  std::size_t max_in_flight = 0;       // open loop: 0 = no cap
  std::uint64_t requests = 0;          // 0: none given
  double duration_s = 0;               // 0: none given
  std::uint64_t warmup = 0;
  double timeout_s = 0;  // level timeout, 0: none
  PercentileMethod percentile_method = PercentileMethod::linear;
  Slo slo;

  // The level as a number: concurrency for a closed loop, the rate for an open one.
  double level() const noexcept { return mode == LoopMode::closed_loop ? static_cast<double>(concurrency) : rate; }
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const LevelConfig*) {
  using C = LevelConfig;
  return field_list<Deferred>(required("mode", &C::mode), field("concurrency", &C::concurrency),
                              field("rate", &C::rate), field("arrival", &C::arrival),
                              field("burstiness", &C::burstiness), field("seed", &C::seed),
                              field("max_in_flight", &C::max_in_flight), field("requests", &C::requests),
                              field("duration_s", &C::duration_s), field("warmup", &C::warmup),
                              field("timeout_s", &C::timeout_s), field("percentile_method", &C::percentile_method),
                              field("slo", &C::slo));
}

// One level against one target.
struct LevelResult {
  TargetInfo target;
  LevelConfig config;
  LevelSummary summary;
  std::vector<RequestRecord> records;  // measured and (when kept) warm-up requests, in schedule order
  bool interrupted = false;            // stopped by SIGINT / SIGTERM / request_interrupt(): records are partial
  bool deadline_exceeded = false;      // the level timeout cancelled requests still in flight
  std::size_t warmup_sent = 0;         // warm-up requests made (kept in records only with keep_warmup_records)
  std::size_t not_sent = 0;            // open loop: arrivals never sent (the run stopped first); not in records
  std::size_t late_sends = 0;          // measured requests sent more than 1 ms after t_sched
  double late_send_share = 0;          // late_sends / measured requests actually sent
  std::vector<std::string> warnings;   // for a person: late sends, interruption, timeout
  std::size_t repetition = 0;          // which repetition of this (target, level) it was, from 0 (Sweep::repeat)
  // Set when records and summary are in modelled time: measured against a simulated server running this many times
  // faster than the GPU it models (see modelled_time.hpp); measured wall-clock durations = these / time_scale.
  std::optional<double> time_scale;
  std::optional<ServerMetrics> server_metrics;  // the server's /metrics during the level, when scraped
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const LevelResult*) {
  using L = LevelResult;
  return field_list<Deferred>(required("target", &L::target), required("config", &L::config),
                              required("summary", &L::summary), field("records", &L::records),
                              field("interrupted", &L::interrupted), field("deadline_exceeded", &L::deadline_exceeded),
                              field("warmup_sent", &L::warmup_sent), field("not_sent", &L::not_sent),
                              field("late_sends", &L::late_sends), field("late_send_share", &L::late_send_share),
                              field("warnings", &L::warnings), field("repetition", &L::repetition),
                              field("time_scale", &L::time_scale), field("server_metrics", &L::server_metrics));
}

// The levels of `levels` that belong to `label`, in order.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::vector<const typename Levels::value_type*> levels_of(const Levels& levels, const std::string& label) {
  std::vector<const typename Levels::value_type*> out;
  for (const auto& l : levels)
    if (l.target.label == label) out.push_back(&l);
  return out;
}

// Target labels in order of first appearance.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::vector<std::string> target_labels(const Levels& levels) {
  std::vector<std::string> out;
  for (const auto& l : levels) {
    bool seen = false;
    for (const auto& s : out) seen = seen || s == l.target.label;
    if (!seen) out.push_back(l.target.label);
  }
  return out;
}

}  // namespace servebench

// servebench bench — running servebench itself (Driver + closed-loop scheduler) against a target, with the client
// CPU it costs. Shared by the client benchmarks.
#pragma once

#include <chrono>
#include <string>

#include <servebench/api.hpp>
#include <servebench/driver.hpp>
#include <servebench/scheduler.hpp>
#include <servebench/workload.hpp>

#include "bench_support.hpp"

namespace servebench::bench {

inline Workload bench_workload() { return template_prompts("Question {i}: Explain concept {i} briefly.", 64); }

// Closed loop at `concurrency` for `seconds`, after one warm-up request per worker (connections open). CPU is this
// process's (the target runs in its own), divided over every request made, warm-up included.
inline Reference run_servebench(const std::string& url, std::size_t concurrency, double seconds, bool stream,
                                RunResult* keep = nullptr) {
  const auto options = DriverOptions().base_url(url).stream(stream).keep_text(false).target("servebench");
  const double cpu0 = cpu_seconds_self();
  auto result = run_closed_loop(ClosedLoop()
                                    .concurrency(concurrency)
                                    .duration(std::chrono::duration<double>(seconds))
                                    .warmup(concurrency)
                                    .keep_warmup_records(false)
                                    .quiet(true)
                                    .handle_signals(false),
                                bench_workload(), [&] { return Driver<api::openai_completions>(options); });
  const double cpu = cpu_seconds_self() - cpu0;
  Reference r;
  double events = 0;
  for (const auto& record : result.records) events += static_cast<double>(record.event_times.size());
  const double all = static_cast<double>(result.records.size() + result.warmup_sent);
  if (stream) {
    r.units = events;
    r.per_s = result.summary.wall_s > 0 ? events / result.summary.wall_s : 0;
    // Warm-up requests streamed as many events as measured ones.
    const double per_request = result.records.empty() ? 0 : events / static_cast<double>(result.records.size());
    r.cpu_us_per = events > 0 ? cpu * 1e6 / (per_request * all) : 0;
  } else {
    r.units = static_cast<double>(result.summary.successful);
    r.per_s = result.summary.throughput_req_per_sec;
    r.cpu_us_per = all > 0 ? cpu * 1e6 / all : 0;
  }
  r.ok = result.summary.failed == 0 && result.summary.successful > 0;
  if (!r.ok) {
    r.note = std::to_string(result.summary.failed) + " failed";
    for (const auto& record : result.records)
      if (!record.ok()) {
        r.note += ": " + record.error_message;
        break;
      }
  }
  if (keep) *keep = std::move(result);
  return r;
}

// The body Driver<api::openai_completions> sends for bench_workload()'s first prompt, for wrk to send too.
inline std::string completion_request_body() {
  GenerationOptions g;
  return api::openai_completions{}.request(bench_workload().at(0), g).body.dump();
}

}  // namespace servebench::bench

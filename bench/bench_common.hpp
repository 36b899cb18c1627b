// servebench bench — running servebench itself (Driver + closed-loop scheduler) against a target, with the client
// CPU it costs. Shared by the client benchmarks.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <servebench/api.hpp>
#include <servebench/driver.hpp>
#include <servebench/event_loop.hpp>
#include <servebench/scheduler.hpp>
#include <servebench/workload.hpp>

#include "bench_support.hpp"

namespace servebench::bench {

// The failed records of a level by error kind, with the first message of each: {"kind": {"count": n, "first": "..."}}.
inline nlohmann::json failures_by_kind(const std::vector<RequestRecord>& records) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& r : records) {
    if (r.ok()) continue;
    auto& entry = out[nlohmann::json(r.error_kind).get<std::string>()];
    if (entry.is_null()) entry = {{"count", 0}, {"first", r.error_message}};
    entry["count"] = entry["count"].get<int>() + 1;
  }
  return out;
}

// The target of --transport: a Driver per worker thread, or the event loop.
template <class Api>
Target transport_target(const DriverOptions& options, const Options& o) {
  if (o.transport == "event-loop")
    return make_event_loop_target<Api>(options, EventLoopOptions{o.loop_threads, o.kernel_timestamps});
  return make_target<Api>(options);
}

inline Workload bench_workload() { return template_prompts("Question {i}: Explain concept {i} briefly.", 64); }

// Samples this process's CPU and a count of units (requests or events) ended at 20% and 80% of `seconds` after the
// first request ends; finish() gives their ratio as Reference::steady_cpu_us_per (0 when the run was too short to
// sample).
class SteadySampler {
 public:
  template <class Count>
  SteadySampler(double seconds, Count count)
      : thread_([this, seconds, count] {
          std::unique_lock<std::mutex> lock(mutex_);
          const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds + 30);
          while (!done_ && count() == 0 && std::chrono::steady_clock::now() < give_up)
            wake_.wait_for(lock, std::chrono::milliseconds(5));
          const auto first = std::chrono::steady_clock::now();
          const auto stopped = [this] { return done_; };
          if (done_ || wake_.wait_until(lock, first + std::chrono::duration<double>(0.2 * seconds), stopped)) return;
          cpu_[0] = cpu_seconds_self();
          n_[0] = count();
          if (wake_.wait_until(lock, first + std::chrono::duration<double>(0.8 * seconds), stopped)) return;
          cpu_[1] = cpu_seconds_self();
          n_[1] = count();
          sampled_ = true;
        }) {}
  SteadySampler(const SteadySampler&) = delete;
  SteadySampler& operator=(const SteadySampler&) = delete;
  ~SteadySampler() { stop(); }

  void finish(Reference& r) {
    stop();
    if (sampled_ && n_[1] > n_[0]) r.steady_cpu_us_per = (cpu_[1] - cpu_[0]) * 1e6 / static_cast<double>(n_[1] - n_[0]);
  }

 private:
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false, sampled_ = false;
  double cpu_[2] = {0, 0};
  std::uint64_t n_[2] = {0, 0};
  std::thread thread_;
};

// Closed loop at `concurrency` for `seconds`, after one warm-up request per worker (connections open). CPU is this
// process's (the target runs in its own), divided over every request made, warm-up included.
inline Reference run_servebench(const Options& o, const std::string& url, std::size_t concurrency, double seconds,
                                bool stream, LevelResult* keep = nullptr) {
  const auto options = DriverOptions().base_url(url).stream(stream).keep_text(false).label("servebench");
  // The steady state: CPU and units between 20% and 80% of the measured time, so that opening the connections,
  // the warm-up and the summary at the end (which the whole-run figure includes) are left out.
  std::atomic<std::uint64_t> ended{0};
  std::atomic<std::uint64_t> measured{0};  // measured records (the sink sees them with or without keep_records)
  SteadySampler steady(seconds, [&ended] { return ended.load(std::memory_order_relaxed); });
  const double cpu0 = cpu_seconds_self();
  auto result = run_closed_loop(ClosedLoop()
                                    .concurrency(concurrency)
                                    .duration(std::chrono::duration<double>(seconds))
                                    .warmup(concurrency)
                                    .keep_warmup_records(false)
                                    .keep_records(o.keep_records)
                                    .record_sink([&ended, &measured, stream](const RequestRecord& record) {
                                      // In the unit cpu_us_per is in: events when streaming, else requests.
                                      ended.fetch_add(stream ? record.event_times.size() : 1,
                                                      std::memory_order_relaxed);
                                      measured.fetch_add(1, std::memory_order_relaxed);
                                    })
                                    .quiet(true)
                                    .handle_signals(false),
                                bench_workload(), transport_target<api::openai_completions>(options, o));
  const double cpu = cpu_seconds_self() - cpu0;
  Reference r;
  steady.finish(r);
  const double events = static_cast<double>(ended.load());
  const double records = static_cast<double>(measured.load());
  const double all = records + static_cast<double>(result.warmup_sent);
  if (stream) {
    r.units = events;
    r.per_s = result.summary.wall_s > 0 ? events / result.summary.wall_s : 0;
    // Warm-up requests streamed as many events as measured ones.
    const double per_request = records == 0 ? 0 : events / records;
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

// Runs `worker(deadline)` on `threads` threads (after all have started) and returns requests/s and CPU us/request;
// worker returns how many requests it completed. For the decomposition columns: a bare cpp-httplib loop, and the
// Driver without the scheduler.
template <class Worker>
Reference run_threads(std::size_t threads, double seconds, Worker worker) {
  std::atomic<std::size_t> ready{0};
  std::atomic<Nanos> start{0};
  std::atomic<std::uint64_t> total{0};
  std::vector<std::thread> pool;
  const double cpu0 = cpu_seconds_self();
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      ready.fetch_add(1);
      while (start.load() == 0) std::this_thread::yield();
      total.fetch_add(worker(start.load() + static_cast<Nanos>(seconds * 1e9)));
    });
  while (ready.load() < threads) std::this_thread::yield();
  const Nanos t0 = now_ns();
  start.store(t0);
  for (auto& t : pool) t.join();
  const double wall = ns_to_s(now_ns() - t0);
  const double cpu = cpu_seconds_self() - cpu0;
  Reference r;
  r.units = static_cast<double>(total.load());
  r.per_s = r.units / wall;
  r.cpu_us_per = r.units > 0 ? cpu * 1e6 / r.units : 0;
  r.ok = r.units > 0;
  return r;
}

// A bare cpp-httplib client loop (what the "about 0.58x wrk" was measured with): the floor under servebench.
inline Reference run_bare_httplib(int port, std::size_t concurrency, double seconds, const std::string& body) {
  return run_threads(concurrency, seconds, [&](Nanos end) {
    httplib::Client client("127.0.0.1", port);
    client.set_tcp_nodelay(true);
    client.set_keep_alive(true);
    std::uint64_t n = 0;
    while (now_ns() < end)
      if (auto res = client.Post("/v1/completions", body, "application/json"); res && res->status == 200) ++n;
    return n;
  });
}

// Driver<openai_completions> in a loop on plain threads: servebench's request path without the scheduler.
inline Reference run_driver_only(const std::string& url, std::size_t concurrency, double seconds) {
  const auto options = DriverOptions().base_url(url).keep_text(false);
  const Workload workload = bench_workload();
  return run_threads(concurrency, seconds, [&](Nanos end) {
    Driver<api::openai_completions> driver(options);
    std::uint64_t n = 0;
    while (now_ns() < end)
      if (driver.send(workload.at(n), n).ok()) ++n;
    return n;
  });
}

// The body Driver<api::openai_completions> sends for bench_workload()'s first prompt, for wrk to send too.
inline std::string completion_request_body() {
  GenerationOptions g;
  return api::openai_completions{}.request(bench_workload().at(0), g).body.dump();
}

}  // namespace servebench::bench

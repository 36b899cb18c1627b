// servebench — the open loop: arrivals at a rate whatever the server does. A request keeps its arrival time as
// t_sched, so a late send shows up in client_queue and latency_from_sched instead of hiding (coordinated omission).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "../record.hpp"
#include "../result.hpp"
#include "../target.hpp"
#include "../workload.hpp"
#include "arrivals.hpp"
#include "interrupt.hpp"
#include "level.hpp"
#include "options.hpp"
#include "progress.hpp"

namespace servebench {

namespace detail {

// The most arrivals of `offsets` (sorted) within any span shorter than `window`.
template <class = void>  // deferred: see serialize.hpp
std::size_t most_arrivals_within(const std::vector<Nanos>& offsets, Nanos window) {
  std::size_t most = 0;
  for (std::size_t first = 0, i = 0; i < offsets.size(); ++i) {
    while (offsets[i] - offsets[first] >= window) ++first;
    most = std::max(most, i - first + 1);
  }
  return most;
}

// Each job is handed to a worker open_loop_dispatch_lead_ns before its arrival time; the worker waits out the rest.
// A late hand-off then costs nothing, and one thread wake-up, not two, stands between the schedule and the send.
inline constexpr Nanos open_loop_dispatch_lead_ns = 2'000'000;

// How many senders the open loop starts (and connects) before its first arrival. A worker is held from its hand-off
// until the reply: the most arrivals within twice the lead are about as many as a burst of the schedule keeps busy at
// once (at 50,000/s, ~200), where a fixed few made the dispatcher start threads on the way, late
// (docs/performance.md). At least 4, at most 1,024; with a cap, at least 64 and at most the cap.
template <class = void>  // deferred: see serialize.hpp
std::size_t open_loop_initial_senders(const std::vector<Nanos>& offsets, std::size_t cap) {
  const std::size_t burst = most_arrivals_within(offsets, 2 * open_loop_dispatch_lead_ns);
  return cap ? std::min<std::size_t>(cap, std::max<std::size_t>(64, burst)) : std::clamp<std::size_t>(burst, 4, 1024);
}

template <class MakeSender>
LevelResult run_open_loop(const OpenLoop& options, const Workload& workload, MakeSender& make_sender,
                          const TargetInfo* target) {  // null: the label the senders write
  const std::vector<Nanos> offsets = arrival_offsets(options, workload.size());
  const std::size_t cap = options.max_in_flight();

  detail::InterruptScope interrupt_scope(options.handle_signals());
  detail::Level<deferred<OpenLoop, MakeSender>> level(options, workload);  // deferred: see serialize.hpp

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
  std::atomic<std::size_t> opened{0};  // initial workers past their preconnect

  // A worker counts as idle (able to take a job) from the moment it is started, so a burst of arrivals does not
  // start more threads than it needs. The initial workers open their connections before the clock starts; one added
  // later for a waiting job connects with that job's request (its record says so: t_connect).
  auto worker = [&](bool first) {
    bool idle = true;
    auto mark_opened = [&] {
      if (!first) return;
      first = false;
      opened.fetch_add(1);
      level.notify();
    };
    try {
      auto sender = level.make_sender(make_sender);
      detail::CancelRegistration registration(level, sender);
      if (first) level.preconnect(sender);
      mark_opened();
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
        // Jobs arrive a little ahead of time (see open_loop_dispatch_lead_ns): this worker's own timed wake-up then
        // decides the send time, rather than the dispatcher's wake-up followed by a hand-off to this thread.
        if (job.t_sched > now_ns()) {
          std::this_thread::sleep_until(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(job.t_sched)));
          if (level.stopping()) break;
        }
        level.send_one(sender, job.index, job.t_sched, job.warmup);
      }
    } catch (...) {
      mark_opened();
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
  // A worker is added when the queue is longer than the idle workers can take. It is counted (idle, running) with
  // jobs_mutex held and started after, so no worker waits for a job while a thread is being created.
  auto push = [&](Job job) {
    bool add = false;
    {
      std::lock_guard<std::mutex> lock(jobs_mutex);
      jobs.push_back(job);
      add = jobs.size() > idle_workers && (cap == 0 || threads.size() < cap);
      if (add) {
        running.fetch_add(1);
        ++idle_workers;
      }
    }
    job_ready.notify_one();
    if (add) threads.emplace_back(worker, false);  // only this (the dispatching) thread touches `threads`
  };
  auto stop_workers = [&] {
    {
      std::lock_guard<std::mutex> lock(jobs_mutex);
      no_more_jobs = true;
    }
    job_ready.notify_all();
  };

  const auto watching = detail::start_watching(options, target);
  const Nanos level_start = now_ns();
  std::size_t pushed = 0;
  const std::size_t initial = open_loop_initial_senders(offsets, cap);
  {
    // Workers exist before the first arrival, so it does not pay for a thread start: as many as a burst of the
    // schedule needs (within the cap); more are added on demand.
    std::lock_guard<std::mutex> lock(jobs_mutex);
    for (std::size_t i = 0; i < initial; ++i) {
      running.fetch_add(1);
      ++idle_workers;
      threads.emplace_back(worker, true);
    }
  }
  while (opened.load() < initial && level.supervise(level_start))
    level.wait_for_change(level.next_look(level_start, now_ns() + 200'000'000));

  const auto label = detail::level_label(target ? target->label : "", detail::level_config(options));
  detail::ProgressLine progress(detail::progress_enabled(options.quiet()), label);

  // Warm-up: all at once (within the cap), and wait until they are done.
  for (std::uint64_t i = 0; i < options.warmup(); ++i) push(Job{i, 0, true});
  while (level.warmup_done() < options.warmup() && level.supervise(level_start))
    level.wait_for_change(level.next_look(level_start, now_ns() + 200'000'000));

  // Measured phase: the calling thread is the dispatcher and the supervisor.
  const Nanos t0 = now_ns();
  const Nanos planned_end = offsets.empty() ? t0 : t0 + offsets.back();
  while (pushed < offsets.size() && level.supervise(level_start)) {
    const Nanos now = now_ns();
    while (pushed < offsets.size() && t0 + offsets[pushed] <= now + open_loop_dispatch_lead_ns) {
      push(Job{static_cast<std::uint64_t>(pushed), t0 + offsets[pushed], false});
      ++pushed;
    }
    progress.update(level.done(), offsets.size(), level.failed(), t0, planned_end);
    if (pushed < offsets.size())
      level.wait_for_change(level.next_look(level_start, t0 + offsets[pushed] - open_loop_dispatch_lead_ns));
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
  LevelResult result = level.finish(target, never_sent);
  if (watching) watching(result);
  return result;
}

}  // namespace detail

// Sends requests at the arrival times of arrival_offsets(options) (t_sched = arrival time), whatever the server's
// pace. A worker thread (with its own sender from make_sender()) carries each request; workers are added when an
// arrival finds none free, up to max_in_flight(). The first workers (as many as the schedule's arrivals within 4 ms:
// at least 4, at most 1,024, or with a cap at least 64 and at most the cap) open their
// connections before warm-up and the arrival clock (RunOptions::preconnect). Warm-up requests go first, all at once (up
// to the cap), and the arrival clock starts when they have all finished. `target`: a Target, or a sender factory as for
// run_closed_loop.
template <class TargetOrFactory>
LevelResult run_open_loop(const OpenLoop& options, const Workload& workload, TargetOrFactory&& target) {
  if constexpr (std::is_same_v<std::decay_t<TargetOrFactory>, Target>) {
    if (target.runs_levels.open_loop) return target.runs_levels.open_loop(options, workload, target.info);
    if (!target.make_sender) throw std::invalid_argument("servebench::run_open_loop: the target has no make_sender");
    return detail::run_open_loop(options, workload, target.make_sender, &target.info);
  } else {
    return detail::run_open_loop(options, workload, target, nullptr);
  }
}

}  // namespace servebench

// servebench — the closed loop: exactly N requests in flight until a request count or a duration is reached (the
// lab's concurrency experiment). Each of the N workers owns one sender (one connection, kept alive), opened before
// the clock starts (RunOptions::preconnect).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#include "../record.hpp"
#include "../result.hpp"
#include "../target.hpp"
#include "../workload.hpp"
#include "interrupt.hpp"
#include "level.hpp"
#include "options.hpp"
#include "progress.hpp"

namespace servebench {

namespace detail {

template <class MakeSender>
LevelResult run_closed_loop(const ClosedLoop& options, const Workload& workload, MakeSender& make_sender,
                            const TargetInfo* target) {  // null: the label the senders write
  if (options.concurrency() == 0) throw std::invalid_argument("servebench::run_closed_loop: concurrency must be > 0");
  const std::uint64_t request_limit = detail::planned_requests(options, workload, "run_closed_loop");
  const Nanos duration = options.duration().count();
  const std::size_t workers = options.concurrency();

  detail::InterruptScope interrupt_scope(options.handle_signals());
  detail::Level<deferred<ClosedLoop, MakeSender>> level(options, workload);  // deferred: see serialize.hpp
  detail::PhaseBarrier after_warmup(workers);
  // No worker ends (its thread exits, its connection closes) until every worker is done: a thread's exit unmaps
  // its stack, and at 2,000-10,000 streams ending in the same step those unmaps stalled the threads still reading
  // their last tokens (docs/performance.md, "Scale").
  detail::PhaseBarrier before_exit(workers);
  std::atomic<std::uint64_t> next_warmup{0}, next_request{0};
  std::atomic<std::size_t> running{workers};
  const auto watching = detail::start_watching(options, target);
  const Nanos level_start = now_ns();

  {
    std::vector<std::thread> threads;
    threads.reserve(workers);
    for (std::size_t w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        bool arrived = false, done = false;
        // The sender lives on this worker's stack for the whole level: one connection, kept alive.
        auto run_worker = [&] {
          auto sender = level.make_sender(make_sender);
          detail::CancelRegistration registration(level, sender);
          level.preconnect(sender);
          for (;;) {
            if (level.stopping()) break;
            const std::uint64_t i = next_warmup.fetch_add(1);
            if (i >= options.warmup()) break;
            level.send_one(sender, i, 0, true);
          }
          after_warmup.arrive_and_wait();
          const Nanos end = duration > 0 ? after_warmup.measured_start() + duration : 0;
          const std::uint64_t turns = std::max<std::size_t>(1, options.session_turns());
          for (bool more = true; more;) {
            if (level.stopping()) break;
            if (end > 0 && now_ns() >= end) break;
            // One request, or one session's turns in order (next_request counts sessions then).
            const std::uint64_t first = next_request.fetch_add(1) * turns;
            for (std::uint64_t t = 0; t < turns; ++t) {
              const std::uint64_t i = first + t;
              if ((request_limit > 0 && i >= request_limit) || level.stopping()) {
                more = false;
                break;
              }
              if (t > 0 && options.think_time().count() > 0) {
                const Nanos until = now_ns() + options.think_time().count();
                while (!level.stopping() && now_ns() < until)
                  std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
                      std::chrono::milliseconds(5), std::chrono::nanoseconds(until - now_ns())));
              }
              level.send_one(sender, i, 0, false);
            }
          }
          done = true;
          before_exit.arrive_and_wait();  // the sender (its connection) lives on until then
        };
        try {
          run_worker();
          arrived = true;
        } catch (...) {
          level.fail(std::current_exception());
        }
        // A worker whose factory threw must still arrive, or the others would wait for it forever.
        if (!arrived && !after_warmup.opened()) after_warmup.arrive_and_wait();
        if (!done) before_exit.arrive_and_wait();
        running.fetch_sub(1);
        level.notify();
      });
    }

    detail::ProgressLine progress(detail::progress_enabled(options.quiet()),
                                  detail::level_label(target ? target->label : "", detail::level_config(options)));
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
    for (auto& t : threads) t.join();
  }
  LevelResult result = level.finish(target, 0);
  if (watching) watching(result);
  return result;
}

}  // namespace detail

// Runs `options.concurrency()` workers against `target` until requests() measured requests have been made or
// duration() has passed. Every worker gets its own sender from target.make_sender (one connection, kept alive).
// `target` may also be a sender factory of your own (make_sender() returns a sender, see target.hpp); the level's
// label is then the one its senders write on their records. Returns every record, the summary (level =
// concurrency), the settings, and whether the run was interrupted or hit its timeout.
template <class TargetOrFactory>
LevelResult run_closed_loop(const ClosedLoop& options, const Workload& workload, TargetOrFactory&& target) {
  if constexpr (std::is_same_v<std::decay_t<TargetOrFactory>, Target>) {
    if (target.runs_levels.closed_loop) return target.runs_levels.closed_loop(options, workload, target.info);
    if (!target.make_sender) throw std::invalid_argument("servebench::run_closed_loop: the target has no make_sender");
    return detail::run_closed_loop(options, workload, target.make_sender, &target.info);
  } else {
    return detail::run_closed_loop(options, workload, target, nullptr);
  }
}

}  // namespace servebench

// servebench — sweeps: a list of concurrency levels or rates against one or more targets, one after another (as the
// lab does) or interleaved level by level (so machine noise hits every target alike), repeated k times with the
// repetitions interleaved too (A B A B, never A A B B), after an optional warm-up per target.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../record.hpp"
#include "../result.hpp"
#include "../target.hpp"
#include "../workload.hpp"
#include "closed_loop.hpp"
#include "interrupt.hpp"
#include "open_loop.hpp"
#include "options.hpp"

namespace servebench {

enum class TargetOrder {
  sequential,   // every level of the first target, then every level of the next (what the lab does)
  interleaved,  // level 1 of every target, then level 2 of every target, ...: drift in the machine hits all alike
};

// Which levels to run, and how. The base ClosedLoop / OpenLoop supplies everything but the level (requests,
// warm-up, timeout, ...); concurrency or rate is replaced by each level.
//   Sweep().concurrency_levels({1, 5, 10, 20}).closed_loop(ClosedLoop().requests(20).warmup(1))
//   Sweep().rates({5, 10, 20}).open_loop(OpenLoop().duration(std::chrono::seconds(30)).seed(1))
class Sweep {
 public:
  // clang-format off: one line per fluent setter, as everywhere in the library
  Sweep& concurrency_levels(std::vector<std::size_t> levels) {
    concurrency_levels_ = std::move(levels);
    return *this;
  }
  const std::vector<std::size_t>& concurrency_levels() const noexcept { return concurrency_levels_; }

  Sweep& rates(std::vector<double> rates) {
    rates_ = std::move(rates);
    return *this;
  }
  const std::vector<double>& rates() const noexcept { return rates_; }

  Sweep& closed_loop(ClosedLoop base) {
    closed_loop_ = std::move(base);
    return *this;
  }
  const ClosedLoop& closed_loop() const noexcept { return closed_loop_; }

  Sweep& open_loop(OpenLoop base) {
    open_loop_ = std::move(base);
    return *this;
  }
  const OpenLoop& open_loop() const noexcept { return open_loop_; }

  Sweep& order(TargetOrder o) {
    order_ = o;
    return *this;
  }
  TargetOrder order() const noexcept { return order_; }

  // Run the whole sweep k times (k >= 1), one repetition after another: every (target, level) of repetition 0,
  // then of repetition 1, ..., each in order(), so slow drift in the machine or the server spreads over all targets
  // and levels instead of landing on one. Each LevelResult says its LevelResult::repetition; repetitions.hpp
  // summarizes them (mean and confidence interval).
  Sweep& repeat(std::size_t k) {
    repeat_ = k;
    return *this;
  }
  std::size_t repeat() const noexcept { return repeat_; }

  // Before anything is measured, each target gets one level of this many requests at the sweep's first level
  // (0: none), so the first measured repetition does not pay for cold caches, connections or compilation alone.
  // These levels are kept apart in SweepResult::warmups, never in the summaries.
  Sweep& target_warmup(std::uint64_t requests) {
    target_warmup_ = requests;
    return *this;
  }
  std::uint64_t target_warmup() const noexcept { return target_warmup_; }

  // Closed loop: each level sends this many requests per worker (n x concurrency), instead of the base's
  // requests(); 0: the base's. The lab sends one per worker, all at once.
  Sweep& requests_per_worker(std::uint64_t n) {
    requests_per_worker_ = n;
    return *this;
  }
  // clang-format on
  std::uint64_t requests_per_worker() const noexcept { return requests_per_worker_; }

  // A pause between levels, so one level's tail (server queues, TCP TIME_WAIT) does not spill into the next.
  template <class Rep, class Period>
  Sweep& cooldown(std::chrono::duration<Rep, Period> d) {
    cooldown_ = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    return *this;
  }
  std::chrono::nanoseconds cooldown() const noexcept { return cooldown_; }

  // Called after each level (for example to write a partial artifact, so a crash later loses little).
  Sweep& on_level_done(std::function<void(const LevelResult&)> callback) {
    on_level_done_ = std::move(callback);
    return *this;
  }
  const std::function<void(const LevelResult&)>& on_level_done() const noexcept { return on_level_done_; }

 private:
  std::vector<std::size_t> concurrency_levels_;
  std::vector<double> rates_;
  ClosedLoop closed_loop_;
  OpenLoop open_loop_;
  TargetOrder order_ = TargetOrder::sequential;
  std::size_t repeat_ = 1;
  std::uint64_t target_warmup_ = 0;
  std::uint64_t requests_per_worker_ = 0;
  std::chrono::nanoseconds cooldown_{0};
  std::function<void(const LevelResult&)> on_level_done_;
};

struct SweepResult {
  std::vector<LevelResult> levels;   // in the order they ran, one per (repetition, level, target) that started
  std::vector<LevelResult> warmups;  // Sweep::target_warmup's levels, one per target, in the order they ran
  bool interrupted = false;          // stopped early: the interrupted level is the last in levels, later ones absent

  // The level of a target (in one repetition), or nullptr.
  const LevelResult* find(const std::string& target, double level, std::size_t repetition = 0) const {
    for (const auto& r : levels)
      if (r.target.label == target && r.summary.level == level && r.repetition == repetition) return &r;
    return nullptr;
  }
};

// Runs every level against every target, in the sweep's order, repeat() times, after the targets' warm-ups. Each
// level builds fresh senders from the target's make_sender. On Ctrl-C the current level returns its partial records
// and the sweep stops there.
template <class = void>  // deferred: see serialize.hpp
SweepResult run_sweep(const Sweep& sweep, const Workload& workload, const std::vector<Target>& targets) {
  const bool closed = !sweep.concurrency_levels().empty();
  if (closed == !sweep.rates().empty())
    throw std::invalid_argument("servebench::run_sweep: give either concurrency_levels() or rates(), not both");
  if (targets.empty()) throw std::invalid_argument("servebench::run_sweep: no targets");
  if (sweep.repeat() == 0) throw std::invalid_argument("servebench::run_sweep: repeat() must be at least 1");
  for (const auto& t : targets)
    if (!t.make_sender)
      throw std::invalid_argument("servebench::run_sweep: target '" + t.label() + "' has no make_sender");
  const std::size_t level_count = closed ? sweep.concurrency_levels().size() : sweep.rates().size();

  detail::InterruptScope interrupt_scope(closed ? sweep.closed_loop().handle_signals()
                                                : sweep.open_loop().handle_signals());
  SweepResult result;
  // One level; `requests` replaces the count (warm-ups), 0 keeps the sweep's.
  auto run_level = [&](std::size_t level_index, const Target& target, std::uint64_t requests) {
    if (closed) {
      auto options = sweep.closed_loop();
      options.concurrency(sweep.concurrency_levels()[level_index]);
      if (sweep.requests_per_worker() > 0) options.requests(sweep.requests_per_worker() * options.concurrency());
      if (requests > 0) options.requests(requests);
      return run_closed_loop(options, workload, target);
    }
    auto options = sweep.open_loop();
    options.rate(sweep.rates()[level_index]);
    if (requests > 0) options.requests(requests);
    return run_open_loop(options, workload, target);
  };
  auto run_one = [&](std::size_t level_index, const Target& target, std::size_t repetition) {
    if (!result.levels.empty() && sweep.cooldown().count() > 0) {
      const Nanos until = now_ns() + sweep.cooldown().count();
      while (now_ns() < until && !interrupt_requested())
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<Nanos>(20, (until - now_ns()) / 1'000'000 + 1)));
      if (interrupt_requested()) {
        result.interrupted = true;
        return;
      }
    }
    LevelResult run = run_level(level_index, target, 0);
    run.repetition = repetition;
    if (run.interrupted) result.interrupted = true;
    result.levels.push_back(std::move(run));
    if (sweep.on_level_done()) sweep.on_level_done()(result.levels.back());
  };

  if (sweep.target_warmup() > 0)
    for (const auto& target : targets) {
      result.warmups.push_back(run_level(0, target, sweep.target_warmup()));
      if (result.warmups.back().interrupted) {
        result.interrupted = true;
        return result;
      }
    }
  for (std::size_t rep = 0; rep < sweep.repeat() && !result.interrupted; ++rep) {
    if (sweep.order() == TargetOrder::sequential) {
      for (const auto& target : targets)
        for (std::size_t l = 0; l < level_count && !result.interrupted; ++l) run_one(l, target, rep);
    } else {
      for (std::size_t l = 0; l < level_count && !result.interrupted; ++l)
        for (const auto& target : targets) {
          if (result.interrupted) break;
          run_one(l, target, rep);
        }
    }
  }
  return result;
}

}  // namespace servebench

// servebench — the closed and the open loop on the event-loop transport: the same levels as scheduler/closed_loop.hpp
// and scheduler/open_loop.hpp (the same options, Level accounting, warm-up, preconnect turns, supervisor, progress and
// result), with the streams carried by a few loop threads instead of a thread each.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../driver_options.hpp"
#include "../record.hpp"
#include "../result.hpp"
#include "../scheduler/arrivals.hpp"
#include "../scheduler/level.hpp"
#include "../scheduler/open_loop.hpp"
#include "../scheduler/options.hpp"
#include "../scheduler/progress.hpp"
#include "../target.hpp"
#include "../workload.hpp"
#include "loop.hpp"

namespace servebench::detail {

// The loops of one level and what they share; stopped and joined on destruction.
template <class Api>
class EventLoops {
 public:
  EventLoops(const Api& api, const DriverOptions& options, const std::string& label, std::size_t streams,
             const EventLoopOptions& loop, StreamHandler<Api>& handler) {
    shared_.api = &api;
    shared_.options = &options;
    shared_.url = parse_base_url(options.base_url());
    if (shared_.url.scheme != "http")
      throw std::invalid_argument("servebench: the event-loop transport speaks plain http only, not " +
                                  shared_.url.scheme + " (" + options.base_url() +
                                  "); use the default transport for https");
    shared_.address = resolve_address(shared_.url);
    shared_.label = label;
    shared_.fixed_headers[0] = fixed_request_headers(options, shared_.url, false);
    shared_.fixed_headers[1] = fixed_request_headers(options, shared_.url, true);
    shared_.kernel_timestamps = loop.kernel_timestamps;
    shared_.handler = &handler;
    std::size_t threads = loop.threads;
    if (threads == 0) threads = usable_cores();
    threads = std::max<std::size_t>(1, std::min(threads, std::max<std::size_t>(1, streams)));
    for (std::size_t i = 0; i < threads; ++i) loops_.push_back(std::make_unique<EventLoop<Api>>(shared_, i));
  }
  ~EventLoops() {
    for (auto& l : loops_) l->stop();
    for (auto& l : loops_) l->join();
  }
  EventLoops(const EventLoops&) = delete;
  EventLoops& operator=(const EventLoops&) = delete;

  std::size_t size() const noexcept { return loops_.size(); }
  EventLoop<Api>& operator[](std::size_t i) { return *loops_[i]; }
  void start() {
    for (auto& l : loops_) l->start();
  }
  void cancel_all(ErrorKind reason) {
    for (auto& l : loops_) l->cancel_all(reason);
  }

 private:
  EventLoopShared<Api> shared_;
  std::vector<std::unique_ptr<EventLoop<Api>>> loops_;
};

// The supervising thread's part of a level, the same for both loops: interrupt, timeout and progress until
// `finished()`. `step()` does the supervisor's own work each look and returns when it wants to look again (0: no
// sooner than usual).
template <class Options, class Finished, class Step>
void supervise_until(Level<Options>& level, Nanos level_start, Finished finished, Step step) {
  while (!finished()) {
    level.supervise(level_start);
    const Nanos wake = step();
    level.wait_for_change(level.next_look(level_start, wake ? wake : now_ns() + 200'000'000));
  }
}

// Hands the Level's preconnect turns (a few at a time, spaced) to streams `next`..`count`-1: start(i) posts stream
// i's connect to its loop; once a failure ends the opening (or the level stops), skip(i) sends each one left on
// without. Returns when the next turn comes (0: none left).
template <class Options, class Start, class Skip>
Nanos hand_out_connects(Level<Options>& level, std::size_t& next, std::size_t count, Start start, Skip skip) {
  while (next < count) {
    Nanos until = 0;
    if (level.try_begin_connect(now_ns(), until)) {
      start(next++);
      continue;
    }
    if (until != 0) return until;
    for (; next < count; ++next) skip(next);
  }
  return 0;
}

template <class Api>
class EventClosedLoop final : StreamHandler<Api> {
 public:
  EventClosedLoop(const ClosedLoop& options, const Workload& workload, const TargetInfo& info, const Api& api,
                  const DriverOptions& driver_options, const EventLoopOptions& loop_options)
      : options_(options), info_(info), level_(options, workload),
        request_limit_(planned_requests(options, workload, "run_closed_loop")), streams_(options.concurrency()),
        slots_(options.concurrency()),
        loops_(api, driver_options, info.label, options.concurrency(), loop_options, *this) {
    turns_.resize(loops_.size());
  }

  LevelResult run() {
    InterruptScope interrupt_scope(options_.handle_signals());
    const auto watching = start_watching(options_, &info_);
    const Nanos level_start = now_ns();
    const Nanos duration = options_.duration().count();
    for (std::size_t i = 0; i < streams_; ++i) {
      auto& s = loops_[i % loops_.size()].add_stream(i);
      slots_[i].stream = &s;
      slots_[i].phase = options_.preconnect() ? Phase::preconnect : Phase::warmup;
    }
    level_.register_canceller([this](ErrorKind reason) { loops_.cancel_all(reason); });
    loops_.start();
    if (!options_.preconnect()) begin_all(Phase::warmup);

    ProgressLine progress(progress_enabled(options_.quiet()), level_label(info_.label, level_config(options_)));
    std::size_t next_connect = options_.preconnect() ? 0 : streams_;
    supervise_until(
        level_, level_start, [&] { return finished_.load() == streams_; },
        [&] {
          const Nanos wake = hand_out_connects(
              level_, next_connect, streams_,
              [&](std::size_t i) {
                Slot& slot = slots_[i];
                slot.stream->loop->post([&slot] { slot.stream->loop->connect(*slot.stream); });
              },
              [&](std::size_t i) { post_next(slots_[i], Phase::warmup); });
          const Nanos measured_start = measured_start_.load();
          if (measured_start)
            progress.update(level_.done(), request_limit_, level_.failed(), measured_start,
                            duration > 0 ? measured_start + duration : 0);
          return wake;
        });
    if (measured_start_.load())
      progress.update(level_.done(), request_limit_, level_.failed(), measured_start_.load(), 0, true);
    LevelResult result = level_.finish(&info_, 0);
    if (watching) watching(result);
    return result;
  }

 private:
  enum class Phase { preconnect, warmup, barrier, measured, done };
  // What one loop gathered during its turn; touched only by that loop's thread.
  struct Turn {
    std::vector<RequestRecord> records;
    bool warmup = false;    // a warm-up request ended
    std::size_t ended = 0;  // streams that finished
  };
  struct Slot {
    Stream<Api>* stream = nullptr;
    Phase phase = Phase::warmup;
    std::uint64_t first = 0;  // the session's first request
    std::uint64_t turn = 0;   // its next turn
  };

  void completed(Stream<Api>& s, RequestRecord&& record) override {
    Level<ClosedLoop>::expected(s.prompt, record);
    Turn& turn = turns_[s.loop->index()];
    if (level_.count(record, s.index, s.t_sched, s.warmup)) turn.records.push_back(std::move(record));
    turn.warmup = turn.warmup || s.warmup;
    next(slots_[s.id]);
  }
  void turn_ended(EventLoop<Api>& loop) override {
    Turn& turn = turns_[loop.index()];
    level_.keep_batch(turn.records);
    if (turn.warmup) level_.notify(), turn.warmup = false;
    if (turn.ended == 0) return;  // streams count as finished only once their records are kept
    const std::size_t ended = turn.ended;
    turn.ended = 0;
    if (finished_.fetch_add(ended) + ended == streams_) level_.notify();
  }
  void connected(Stream<Api>& s, std::string why, Nanos took) override {
    level_.end_connect(std::move(why), took);
    level_.notify();  // the supervisor hands out the next turn
    slots_[s.id].phase = Phase::warmup;
    next(slots_[s.id]);
  }

  void post_next(Slot& slot, Phase phase) {
    slot.stream->loop->post([this, &slot, phase] {
      slot.phase = phase;
      next(slot);
    });
  }
  void begin_all(Phase phase) {
    for (auto& slot : slots_) post_next(slot, phase);
  }

  void send(Slot& slot, std::uint64_t index, bool warmup) {
    Stream<Api>& s = *slot.stream;
    Prompt prompt;
    try {
      prompt = level_.begin(index, warmup);
    } catch (const std::exception& e) {
      // The workload could not give this prompt: a failed record, on the loop's next turn (no recursion).
      s.loop->post([this, &slot, index, warmup, why = std::string(e.what())] {
        level_.complete(Level<ClosedLoop>::failed_record("sender threw: " + why), index, now_ns(), warmup);
        next(slot);
      });
      return;
    }
    s.loop->send(s, std::move(prompt), index, now_ns(), warmup);
  }

  // This stream's next step, on its loop thread.
  void next(Slot& slot) {
    switch (slot.phase) {
      case Phase::preconnect: return;
      case Phase::warmup: {
        if (!level_.stopping()) {
          const std::uint64_t i = next_warmup_.fetch_add(1);
          if (i < options_.warmup()) {
            send(slot, i, true);
            return;
          }
        }
        slot.phase = Phase::barrier;
        if (arrived_.fetch_add(1) + 1 == streams_) {  // the last to arrive starts the measured clock
          measured_start_.store(now_ns());
          begin_all(Phase::measured);
        }
        return;
      }
      case Phase::barrier: return;
      case Phase::measured: measured_next(slot); return;
      case Phase::done: return;
    }
  }

  void measured_next(Slot& slot) {
    const std::uint64_t turns = std::max<std::size_t>(1, options_.session_turns());
    const Nanos duration = options_.duration().count();
    if (level_.stopping()) return end(slot);
    if (slot.turn == 0 || slot.turn >= turns) {  // a new session (or a single request)
      if (duration > 0 && now_ns() >= measured_start_.load() + duration) return end(slot);
      slot.first = next_request_.fetch_add(1) * turns;
      slot.turn = 0;
    }
    const std::uint64_t i = slot.first + slot.turn;
    if (request_limit_ > 0 && i >= request_limit_) return end(slot);
    const bool think = slot.turn > 0 && options_.think_time().count() > 0;
    ++slot.turn;
    if (think) {
      slot.stream->loop->at(now_ns() + options_.think_time().count(), [this, &slot, i] {
        if (level_.stopping()) return end(slot);
        send(slot, i, false);
      });
      return;
    }
    send(slot, i, false);
  }

  void end(Slot& slot) {
    if (slot.phase == Phase::done) return;
    slot.phase = Phase::done;
    ++turns_[slot.stream->loop->index()].ended;
  }

  const ClosedLoop& options_;
  const TargetInfo& info_;
  Level<ClosedLoop> level_;
  const std::uint64_t request_limit_;
  const std::size_t streams_;
  std::vector<Slot> slots_;
  std::vector<Turn> turns_;  // one per loop
  EventLoops<Api> loops_;    // last: its threads stop before anything they touch goes
  std::atomic<std::uint64_t> next_warmup_{0}, next_request_{0};
  std::atomic<std::size_t> arrived_{0}, finished_{0};
  std::atomic<Nanos> measured_start_{0};
};

// The open loop: arrival i is sent by loop i % loops, from that loop's own timer at its arrival time, on a stream of
// that loop that is free (or a new one, which connects first: its record's t_connect says so). A cap on requests in
// flight (max_in_flight) is shared out among the loops: an arrival that finds its loop at its share waits there
// for a stream of the same loop to finish. The first streams (as many as the thread version starts workers) open
// their connections before warm-up and the clock, in the preconnect turns.
template <class Api>
class EventOpenLoop final : StreamHandler<Api> {
 public:
  EventOpenLoop(const OpenLoop& options, const Workload& workload, const TargetInfo& info, const Api& api,
                const DriverOptions& driver_options, const EventLoopOptions& loop_options)
      : options_(options), info_(info), level_(options, workload), offsets_(arrival_offsets(options, workload.size())),
        loops_(api, driver_options, info.label, streams_wanted(options, offsets_.size()), loop_options, *this) {
    states_.resize(loops_.size());
    // The cap shared out exactly: loop l may have cap / loops requests in flight, one more for the first cap % loops
    // (never fewer loops than the cap lets carry one: streams_wanted).
    const std::size_t cap = options.max_in_flight();
    for (std::size_t l = 0; l < states_.size(); ++l)
      states_[l].share = cap ? cap / states_.size() + (l < cap % states_.size() ? 1 : 0) : 0;
  }

  LevelResult run() {
    InterruptScope interrupt_scope(options_.handle_signals());
    const auto watching = start_watching(options_, &info_);
    const Nanos level_start = now_ns();
    const std::size_t loops = loops_.size();
    // As many connections opened beforehand as the thread version starts workers.
    const std::size_t initial = open_loop_initial_senders(offsets_, options_.max_in_flight());
    std::vector<Stream<Api>*> opening;
    for (std::size_t i = 0; i < initial; ++i) opening.push_back(&loops_[i % loops].add_stream(i));
    for (std::size_t l = 0; l < loops; ++l) states_[l].loop = &loops_[l];
    level_.register_canceller([this](ErrorKind reason) { loops_.cancel_all(reason); });
    loops_.start();
    if (!options_.preconnect()) {
      for (auto* s : opening) free_later(*s);
      opened_.store(opening.size());
    }

    // Preconnect turns, then warm-up (all at once, within the cap), then the arrival clock.
    std::size_t next_connect = options_.preconnect() ? 0 : opening.size();
    const auto connect_turns = [&] {
      return hand_out_connects(
          level_, next_connect, opening.size(),
          [&](std::size_t i) {
            Stream<Api>* s = opening[i];
            s->loop->post([s] { s->loop->connect(*s); });
          },
          [&](std::size_t i) { free_later(*opening[i]), opened_++; });
    };
    supervise_until(
        level_, level_start, [&] { return opened_.load() == opening.size() || level_.stopping(); }, connect_turns);
    const auto label = level_label(info_.label, level_config(options_));
    ProgressLine progress(progress_enabled(options_.quiet()), label);
    for (std::uint64_t i = 0; i < options_.warmup(); ++i)
      loops_[i % loops].post([this, l = i % loops, i] { arrive(states_[l], Job{i, 0, true}); });
    supervise_until(
        level_, level_start, [&] { return level_.warmup_done() >= options_.warmup() || level_.stopping(); },
        [] { return Nanos{0}; });

    const Nanos t0 = now_ns();
    const Nanos planned_end = offsets_.empty() ? t0 : t0 + offsets_.back();
    for (std::size_t l = 0; l < loops; ++l) loops_[l].post([this, l, t0] { schedule(states_[l], l, t0); });
    supervise_until(
        level_, level_start, [&] { return finished_loops_.load() == loops && level_.in_flight() == 0; },
        [&] {
          if (level_.stopping()) stop_scheduling();
          progress.update(level_.done(), offsets_.size(), level_.failed(), t0, planned_end);
          return Nanos{0};
        });
    progress.update(level_.done(), offsets_.size(), level_.failed(), t0, 0, true);
    const std::size_t never_sent = offsets_.size() - static_cast<std::size_t>(level_.done());
    LevelResult result = level_.finish(&info_, never_sent);
    if (watching) watching(result);
    return result;
  }

 private:
  struct Job {
    std::uint64_t index;
    Nanos t_sched;  // 0: warm-up, now
    bool warmup;
  };
  // One loop's share of the level; touched only on that loop's thread.
  struct LoopState {
    EventLoop<Api>* loop = nullptr;
    std::size_t share = 0;           // requests in flight this loop may have; 0: no cap
    std::vector<Stream<Api>*> free;  // streams without a request
    std::deque<Job> waiting;         // arrivals that found the loop at its share of the cap
    std::size_t in_flight = 0;
    std::size_t streams = 0;
    std::size_t next = 0;                // this loop's arrivals scheduled so far
    std::vector<RequestRecord> records;  // ended this turn (turn_ended keeps them)
    bool warmup_ended = false;
    bool finished = false;  // no more arrivals for this loop
    bool counted = false;   // in finished_loops_
  };

  // The most streams the level may use: what bounds the loops' count (a cap of 3 takes at most 3 loops).
  static std::size_t streams_wanted(const OpenLoop& options, std::size_t arrivals) {
    const std::size_t all = std::max<std::size_t>(1, arrivals + options.warmup());
    return options.max_in_flight() ? std::min(all, options.max_in_flight()) : all;
  }

  void completed(Stream<Api>& s, RequestRecord&& record) override {
    Level<OpenLoop>::expected(s.prompt, record);
    LoopState& state = state_of(s);
    if (level_.count(record, s.index, s.t_sched, s.warmup)) state.records.push_back(std::move(record));
    state.warmup_ended = state.warmup_ended || s.warmup;
    --state.in_flight;
    state.free.push_back(&s);
    if (!state.waiting.empty() && !level_.stopping()) {
      const Job job = state.waiting.front();
      state.waiting.pop_front();
      arrive(state, job);
    }
  }
  void turn_ended(EventLoop<Api>& loop) override {
    LoopState& state = states_[loop.index()];
    level_.keep_batch(state.records);
    if (state.warmup_ended) level_.notify(), state.warmup_ended = false;
    check_finished(state);  // only once its records are kept
  }
  void connected(Stream<Api>& s, std::string why, Nanos took) override {
    level_.end_connect(std::move(why), took);
    state_of(s).free.push_back(&s);
    ++state_of(s).streams;
    opened_.fetch_add(1);
    level_.notify();
  }

  LoopState& state_of(Stream<Api>& s) { return states_[s.loop->index()]; }
  void free_later(Stream<Api>& s) {
    s.loop->post([this, &s] {
      state_of(s).free.push_back(&s);
      ++state_of(s).streams;
    });
  }

  // This loop's arrivals, each at its time: the next one is set as a timer when the one before is sent.
  void schedule(LoopState& state, std::size_t l, Nanos t0) {
    const std::size_t i = next_arrival_of(state, l);
    if (i >= offsets_.size() || level_.stopping()) {
      state.finished = true;
      state.waiting.clear();
      return;
    }
    const Nanos at = t0 + offsets_[i];
    state.loop->at(at, [this, &state, l, t0, i, at] {
      ++state.next;
      if (!level_.stopping()) arrive(state, Job{i, at, false});
      schedule(state, l, t0);
    });
  }
  std::size_t next_arrival_of(LoopState& state, std::size_t l) const { return l + state.next * loops_.size(); }

  // A request that is due: on a free stream of this loop, a new one, or waiting for one (the cap).
  void arrive(LoopState& state, const Job& job) {
    if (state.share && state.in_flight >= state.share) {
      state.waiting.push_back(job);
      return;
    }
    Stream<Api>* s = nullptr;
    if (!state.free.empty()) {
      s = state.free.back();
      state.free.pop_back();
    } else {
      s = &state.loop->add_stream(state.streams++);
    }
    ++state.in_flight;
    Prompt prompt;
    try {
      prompt = level_.begin(job.index, job.warmup);
    } catch (const std::exception& e) {
      state.loop->post([this, s, job, why = std::string(e.what())] {
        level_.complete(Level<OpenLoop>::failed_record("sender threw: " + why), job.index,
                        job.t_sched ? job.t_sched : now_ns(), job.warmup);
        LoopState& st = state_of(*s);
        --st.in_flight;
        st.free.push_back(s);
      });
      return;
    }
    s->loop->send(*s, std::move(prompt), job.index, job.t_sched ? job.t_sched : now_ns(), job.warmup);
  }

  void check_finished(LoopState& state) {
    if (state.finished && !state.counted && state.in_flight == 0) {
      state.counted = true;
      finished_loops_.fetch_add(1);
      level_.notify();
    }
  }

  void stop_scheduling() {
    for (std::size_t l = 0; l < loops_.size(); ++l)
      loops_[l].post([this, l] {
        LoopState& state = states_[l];
        state.waiting.clear();
        state.finished = true;
      });
  }

  const OpenLoop& options_;
  const TargetInfo& info_;
  Level<OpenLoop> level_;
  const std::vector<Nanos> offsets_;
  std::atomic<std::size_t> opened_{0}, finished_loops_{0};
  std::vector<LoopState> states_;  // one per loop
  EventLoops<Api> loops_;          // last: its threads stop before anything they touch goes
};

}  // namespace servebench::detail

// servebench — what both loops share while a level runs: the registry of senders to cancel, the connections opened
// before the clock, the counters, the supervisor's stop decisions (Ctrl-C, grace period, level timeout), the warm-up
// barrier, and the LevelResult a level ends with.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "../record.hpp"
#include "../record_stream.hpp"
#include "../result.hpp"
#include "../target.hpp"
#include "../workload.hpp"
#include "interrupt.hpp"
#include "options.hpp"
#include "progress.hpp"

namespace servebench {

namespace detail {

// The records a level keeps, in blocks that never move once filled (64 records, doubling up to 4,096): one allocation
// per block rather than one per record (a std::deque of 360-byte records allocates each on its own, 2.7% of an
// event-loop thread's samples at 64 connections), and no vector growth moving every record with the lock held.
template <class Record = RequestRecord>  // deferred: see serialize.hpp
class RecordBlocks {
 public:
  void push(Record&& record) {
    if (blocks_.empty() || blocks_.back().size() == blocks_.back().capacity()) {
      blocks_.emplace_back();
      blocks_.back().reserve(std::min<std::size_t>(4096, std::max<std::size_t>(64, size_)));
    }
    blocks_.back().push_back(std::move(record));
    ++size_;
  }
  std::size_t size() const noexcept { return size_; }
  // Every record, in the order kept; leaves this empty.
  std::vector<Record> take() {
    std::vector<Record> all;
    if (blocks_.size() == 1) {
      all = std::move(blocks_.front());
    } else {
      all.reserve(size_);
      for (auto& b : blocks_) std::move(b.begin(), b.end(), std::back_inserter(all));
    }
    blocks_.clear();
    size_ = 0;
    return all;
  }

 private:
  std::vector<std::vector<Record>> blocks_;
  std::size_t size_ = 0;
};

// Opening connections before a level: at most this many at once, each started this long after the last, so a server
// whose accept queue holds 5 (Python's socketserver) is not flooded by a burst; 1000 workers take about two seconds.
// A connect whose SYN is lost anyway (a server starved of CPU) holds its slot until the retransmit, which slows the
// rest down.
inline constexpr std::size_t max_connecting = 2;
inline constexpr Nanos connect_spacing_ns = 2'000'000;

// The warning for connects slower than slow_connect_threshold_ns, naming the likely cause and the fix.
template <class = void>  // deferred: see serialize.hpp
std::string slow_connect_warning(const std::string& label, std::size_t count, const char* what, double slowest_s) {
  char buffer[480];
  std::snprintf(buffer, sizeof buffer,
                "%s: %zu %s took more than %.1f s to connect (slowest %.2f s): the server's accept queue was "
                "probably full and a lost SYN was retransmitted; raise the server's listen backlog (Python's "
                "socketserver: request_queue_size, 5 by default; uvicorn, gunicorn: --backlog)",
                label.c_str(), count, what, ns_to_s(slow_connect_threshold_ns), slowest_s);
  return buffer;
}

// What a level's warnings and late-send figures need of its records, gathered one record at a time, so a level
// that keeps no records (RunOptions::keep_records(false)) has them too.
struct LevelTally {
  std::string target;             // the first label a sender wrote on a record
  std::size_t records = 0;        // records gathered (kept or streamed)
  std::size_t measured_sent = 0;  // measured requests that were sent
  std::size_t late_sends = 0;     // of those, sent more than late_send_threshold_ns after t_sched
  std::size_t slow_connects = 0;  // requests whose connect took more than slow_connect_threshold_ns
  double slowest_connect_s = 0;

  void add(const RequestRecord& r) {
    ++records;
    if (target.empty()) target = r.target;
    if (!r.warmup && r.t_send != 0) {
      ++measured_sent;
      if (r.t_send - r.t_sched > late_send_threshold_ns) ++late_sends;
    }
    const auto took = r.connect_s();
    if (took && *took > ns_to_s(slow_connect_threshold_ns)) {
      ++slow_connects;
      slowest_connect_s = std::max(slowest_connect_s, *took);
    }
  }
};

template <class Options>
class Level {
 public:
  Level(const Options& options, const Workload& workload)
      : options_(options), workload_(workload), running_(options.summarize_options()) {
    workload_.check_enough(options_.requests());  // before anything is written or sent
    if (!options.stream_records_to().empty()) writer_.emplace(options.stream_records_to());
  }

  const Options& options() const noexcept { return options_; }

  // A sender registers so the supervisor can cancel it; one registered after a cancel-all is cancelled at once.
  std::size_t register_canceller(std::function<void(ErrorKind)> cancel) {
    std::lock_guard<std::mutex> lock(registry_mutex_);
    if (cancelled_with_ != ErrorKind::none) cancel(cancelled_with_);
    cancellers_.push_back(std::move(cancel));
    return cancellers_.size() - 1;
  }
  void unregister_canceller(std::size_t slot) {
    std::lock_guard<std::mutex> lock(registry_mutex_);
    cancellers_[slot] = nullptr;
  }
  void cancel_all(ErrorKind reason) {
    std::lock_guard<std::mutex> lock(registry_mutex_);
    if (cancelled_with_ == ErrorKind::none) cancelled_with_ = reason;
    for (auto& c : cancellers_)
      if (c) c(reason);
  }

  // Sends one request and stamps what the scheduler knows. A sender that throws yields a failed record, not a
  // crashed run.
  template <class Sender>
  void send_one(Sender& sender, std::uint64_t index, Nanos t_sched, bool warmup) {
    RequestRecord record;
    try {
      const Prompt prompt = begin(index, warmup);
      if (t_sched == 0) t_sched = now_ns();
      record = sender.send(prompt, index, t_sched);
      expected(prompt, record);
    } catch (const std::exception& e) {
      record = failed_record(std::string("sender threw: ") + e.what());
    } catch (...) {
      record = failed_record("sender threw a non-standard exception");
    }
    complete(std::move(record), index, t_sched, warmup);
  }

  // The two halves of send_one, for a transport that sends without a thread per request (the event loop): begin()
  // counts the request in flight and gives its prompt (it throws what the workload throws: the request then
  // completes with failed_record()); complete() takes its record, whatever became of it.
  Prompt begin(std::uint64_t index, bool warmup) {
    const std::size_t in_flight = in_flight_.fetch_add(1) + 1;
    if (!warmup && !options_.keep_records()) {
      std::size_t peak = peak_in_flight_.load();
      while (in_flight > peak && !peak_in_flight_.compare_exchange_weak(peak, in_flight)) {
      }
    }
    return workload_.at(index);
  }
  static void expected(const Prompt& prompt, RequestRecord& record) {
    record.n_in_expected = prompt.input_tokens;
    record.n_out_requested = prompt.max_tokens;
  }
  static RequestRecord failed_record(std::string why) {
    RequestRecord record;
    record.error_kind = ErrorKind::other;
    record.error_message = std::move(why);
    return record;
  }
  void complete(RequestRecord&& record, std::uint64_t index, Nanos t_sched, bool warmup) {
    if (count(record, index, t_sched, warmup)) keep(std::move(record));
    if (warmup) notify();
  }
  // complete() in two halves, for a transport that keeps records in batches, one lock for many (the event loop's
  // threads at hundreds of thousands of requests a second): count() stamps and counts a record and says whether it
  // is to be kept; keep_batch() keeps those (and empties the batch). The caller notify()s after a warm-up batch.
  bool count(RequestRecord& record, std::uint64_t index, Nanos t_sched, bool warmup) {
    in_flight_.fetch_sub(1);
    record.index = index;
    record.warmup = warmup;
    if (record.t_sched == 0) record.t_sched = t_sched;
    if (warmup) {
      warmup_done_.fetch_add(1);
    } else {
      done_.fetch_add(1);
      if (!record.ok() && !record.interrupted()) failed_.fetch_add(1);
    }
    // Only the end of a warm-up request is waited on (the open loop starts its clock after the last); waking the
    // supervisor for every measured request cost a context switch each (bench/bench_client_overhead), and it looks
    // every 20 ms anyway.
    return !warmup || options_.keep_warmup_records();
  }
  void keep_batch(std::vector<RequestRecord>& batch) {
    if (batch.empty()) return;
    {
      std::lock_guard<std::mutex> lock(records_mutex_);
      for (auto& r : batch) keep_locked(std::move(r));
    }
    batch.clear();
  }

  // Opens the sender's connection before the level's clock starts, when options().preconnect(), a few at a time
  // and spaced (max_connecting, connect_spacing_ns). A failure is kept for the level's warnings and ends the
  // opening for every worker; the requests then connect (and fail) on their own, so nothing waits for it.
  template <class Sender>
  void preconnect(Sender& sender) {
    if (!can_connect<Sender>::value || !options_.preconnect()) return;
    {
      std::unique_lock<std::mutex> lock(connect_mutex_);
      for (;;) {
        if (stopping() || !connect_failure_.empty()) return;
        Nanos until = 0;
        if (may_connect_locked(now_ns(), until)) break;
        connect_turn_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(until)));
      }
    }
    const Nanos start = now_ns();
    std::string why = connect_sender(sender);
    end_connect(std::move(why), now_ns() - start);
  }

  // The same turns for a transport that opens many connections from one thread (the event loop): true, the
  // connect counted as begun, when one may start now; false when none may (a failure ended the opening, or the
  // level is stopping: `until` is 0) or not yet (until when to wait). end_connect() says how it went.
  bool try_begin_connect(Nanos now, Nanos& until) {
    std::lock_guard<std::mutex> lock(connect_mutex_);
    until = 0;
    if (stopping() || !connect_failure_.empty()) return false;
    return may_connect_locked(now, until);
  }
  void end_connect(std::string why, Nanos took) {
    {
      std::lock_guard<std::mutex> lock(connect_mutex_);
      --connecting_;
      ++preconnects_;
      if (!why.empty()) {
        ++preconnect_failures_;
        if (connect_failure_.empty()) connect_failure_ = std::move(why);
      } else if (took > slow_connect_threshold_ns) {
        ++slow_preconnects_;
        slowest_preconnect_ = std::max(slowest_preconnect_, took);
      }
    }
    connect_turn_.notify_all();
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
  // `target` null: the label the sender wrote on the records.
  LevelResult finish(const TargetInfo* target, std::size_t not_sent) {
    if (error_) std::rethrow_exception(error_);
    LevelResult result;
    result.config = level_config(options_);
    result.interrupted = interrupted_;
    result.deadline_exceeded = deadline_exceeded_;
    result.warmup_sent = static_cast<std::size_t>(warmup_done_.load());
    result.not_sent = not_sent;
    if (writer_) writer_->close();
    LevelTally tally;
    if (options_.keep_records()) {
      result.records = records_.take();
      std::stable_sort(result.records.begin(), result.records.end(),
                       [](const RequestRecord& a, const RequestRecord& b) {
                         if (a.warmup != b.warmup) return a.warmup;  // warm-ups first: they were sent first
                         return a.t_sched < b.t_sched || (a.t_sched == b.t_sched && a.index < b.index);
                       });
      result.summary = summarize(result.records, options_.summarize_options());
      for (const auto& r : result.records) tally.add(r);
    } else {
      result.summary = running_.summary(peak_in_flight_.load());
      tally = tally_;
    }
    result.summary.level = result.config.level();
    if (target)
      result.target = *target;
    else
      result.target.label = tally.target;
    result.summary.target = result.target.label;

    result.late_sends = tally.late_sends;
    result.late_send_share = tally.measured_sent
                                 ? static_cast<double>(tally.late_sends) / static_cast<double>(tally.measured_sent)
                                 : 0.0;
    const bool open_loop = result.config.mode == LoopMode::open_loop;
    const std::string label = level_label(result.target.label, result.config);
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
                                "; " + std::to_string(tally.records) + " records gathered before stopping");
    }
    if (deadline_exceeded_)
      result.warnings.push_back(label + ": level timeout reached; requests in flight recorded as deadline_exceeded");
    connection_warnings(label, tally, result);
    if (result.summary.input_length_mismatches > 0)
      result.warnings.push_back(label + ": " + std::to_string(result.summary.input_length_mismatches) + " of " +
                                std::to_string(result.summary.input_length_checked) +
                                " prompts built to an exact length were counted otherwise by the server "
                                "(usage.prompt_tokens != n_in_expected): its tokenizer endpoint and its generation "
                                "endpoint disagree (a chat template?)");
    if (!options_.quiet())
      for (const auto& w : result.warnings) std::fprintf(stderr, "servebench: warning: %s\n", w.c_str());
    return result;
  }

 private:
  // With connect_mutex_ held: whether a connect may begin now (then counted as begun), else when to look again.
  bool may_connect_locked(Nanos now, Nanos& until) {
    if (connecting_ < max_connecting && now >= next_connect_) {
      ++connecting_;
      next_connect_ = now + connect_spacing_ns;
      return true;
    }
    until = connecting_ < max_connecting ? next_connect_ : now + 10'000'000;
    return false;
  }

  void connection_warnings(const std::string& label, const LevelTally& tally, LevelResult& result) {
    std::lock_guard<std::mutex> lock(connect_mutex_);
    if (!connect_failure_.empty())
      result.warnings.push_back(label + ": " + std::to_string(preconnect_failures_) + " of " +
                                std::to_string(preconnects_) +
                                " connections could not be opened before the level started: " + connect_failure_ +
                                "; is the server running and accepting connections there? The requests then "
                                "connected on their own (RequestRecord::t_connect)");
    if (slow_preconnects_ > 0)
      result.warnings.push_back(slow_connect_warning(label, slow_preconnects_,
                                                     "connections opened before the level (not in the figures)",
                                                     ns_to_s(slowest_preconnect_)));
    if (tally.slow_connects > 0)
      result.warnings.push_back(slow_connect_warning(label, tally.slow_connects, "requests", tally.slowest_connect_s));
  }

  // A record that ended: to the sink and the file, then kept, or summarised and dropped.
  void keep(RequestRecord&& record) {
    std::lock_guard<std::mutex> lock(records_mutex_);
    keep_locked(std::move(record));
  }
  void keep_locked(RequestRecord&& record) {
    if (options_.record_sink()) options_.record_sink()(record);
    if (writer_) writer_->write(record);
    if (options_.keep_records()) {
      records_.push(std::move(record));
    } else {
      running_.add(record);
      tally_.add(record);
    }
  }

  const Options& options_;
  const Workload& workload_;

  std::mutex registry_mutex_;
  std::vector<deferred<std::function<void(ErrorKind)>, Options>> cancellers_;
  ErrorKind cancelled_with_ = ErrorKind::none;  // none: not cancelled

  std::mutex factory_mutex_;

  std::mutex connect_mutex_;
  std::condition_variable connect_turn_;
  std::size_t connecting_ = 0, preconnects_ = 0, preconnect_failures_ = 0, slow_preconnects_ = 0;
  Nanos next_connect_ = 0, slowest_preconnect_ = 0;
  std::string connect_failure_;

  std::mutex records_mutex_;
  RecordBlocks<deferred<RequestRecord, Options>> records_;
  RunningSummary running_;  // keep_records(false): the summary, the tally, the peak in flight
  LevelTally tally_;
  std::atomic<std::size_t> peak_in_flight_{0};
  std::optional<deferred<JsonlRecordWriter, Options>> writer_;
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

}  // namespace detail
}  // namespace servebench

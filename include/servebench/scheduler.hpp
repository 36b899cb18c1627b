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
#pragma once

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

#include "record.hpp"
#include "workload.hpp"

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

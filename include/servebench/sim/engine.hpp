// servebench::sim — the two engine models and the loop that runs one in real time. A Model is an engine in model
// time without threads or clocks (add a job, ask when the next event is, fire it), so predict_burst() and the tests
// can run it exactly; EngineLoop drives the same Model on a thread of its own against the steady clock.
//
// The two engine models, in model time (ServerOptions::time_scale maps it onto real time):
//
// sequential (the lab's HF transformers server: one model.generate per request on a threaded HTTP server)
//   Each request runs its own generate loop. One step of a loop is a host part (Python and kernel launches, held
//   under the GIL) followed by a device part (the GPU kernels, serialised on the one CUDA stream); the first step
//   is the prefill. Both resources are FIFO and shared by every loop, so concurrent loops pipeline: while one loop
//   waits for the GPU another runs its Python. One loop alone takes host + device per token (35.0 + 29.2 = 64.2 ms);
//   many loops are limited by the busier resource, the host, so throughput saturates at (35.0 + 29.2) / 35.0 =
//   1.8x the single-loop rate from about 2 loops on. Thread switching under the GIL stretches the host part by
//   0.48% per other active loop, which is the slight fall at 20 requests. The first step's device part is
//   max(device step, prompt tokens * 0.034 ms): flat to about 860 tokens, and 40 ms more at 2048 tokens, as the
//   measured prefill (22.4 ms at 512 tokens, 62.8 ms at 2048). 30 ms per request is spent off the shared
//   resources (HTTP, tokenising). What it reproduces (lab, 50-token replies, all
//   requests sent at once): 0.309 / 0.557 / 0.546 / 0.523 req/s at 1 / 5 / 10 / 20 (measured 0.309 / 0.549 /
//   0.563 / 0.523) with every loop finishing together as measured; 100 tokens alone: 6.45 s (measured 6.21-6.58).
//
// continuous_batching (vLLM's scheme; also transformers' ContinuousBatchingManager)
//   One engine loop. Each step admits waiting requests (FIFO) while the batch is below max_num_seqs, the step's
//   tokens stay within max_num_batched_tokens and the KV cache can hold prompt + max_tokens for every admitted
//   sequence (a reservation: this model never preempts); prefills them (each yields its first token) and advances
//   every other running sequence one token; finished sequences leave at once. Step time =
//   step_ms_by_batch(batch size), interpolated linearly between the table's points (and beyond the last along the
//   last segment), + prefill_ms_per_token * prompt tokens prefilled in the step. Requests arriving during a step
//   join at the next one. With run_variability > 0, each busy period (from idle until the engine is idle again)
//   has all its step times multiplied by one log-normal factor exp(run_variability * z), z standard normal, drawn
//   from the seed and the period's number: repeated runs differ as the measured server's did.
//   Prefix cache (prefix_block_tokens > 0): each full block of a prompt is named by the hash
//   of its tokens and every token before it; an admitted prompt's leading blocks found in the cache are not
//   prefilled (at least one token always is, as in vLLM), and its blocks enter the cache after the step is planned
//   (so two prompts admitted in one step do not share). The cache holds kv_cache_tokens worth of blocks and forgets
//   the oldest first.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../record.hpp"
#include "config.hpp"
#include "random.hpp"

namespace servebench {
namespace sim {
namespace detail {

// One generation request as the engines see it. Fields above the line are fixed at submission; the model touches
// `model_emitted` on the engine thread only; the rest is shared under `mutex`.
struct Job {
  std::int64_t prompt_tokens = 1;
  std::int64_t target_tokens = 1;              // tokens to generate (max_tokens, or fewer on an early EOS)
  std::vector<std::uint64_t> prefix_blocks;    // chained hashes of the prompt's full blocks (prefix cache)
  std::atomic<std::int64_t> cached_tokens{0};  // prompt tokens the prefix cache saved (set at admission)
  Nanos submitted = 0;                         // real time the engine got it
  std::atomic<bool> cancelled{false};
  // ----
  std::int64_t model_emitted = 0;
  std::mutex mutex;
  std::condition_variable cv;
  std::int64_t emitted = 0;  // tokens the engine has produced
  Nanos first_token = 0;     // real time the engine produced the first one
  bool finished = false;
  bool aborted = false;  // the server stopped
};
using JobPtr = std::shared_ptr<Job>;

// What one model event produced: `job` got one more token; `done` when it will get no more.
struct Emission {
  JobPtr job;
  bool done = false;
};

constexpr Nanos no_event = std::numeric_limits<Nanos>::max();

inline Nanos ms_to_ns(double ms) { return static_cast<Nanos>(std::llround(ms * 1e6)); }

// An engine in model time (nanoseconds from its start), without threads or clocks: add() a job at time v,
// What an engine holds at one moment, read for the server's /metrics and its tests.
struct EngineCounts {
  Nanos at = 0;                   // real (steady-clock) time it became so
  std::size_t running = 0;        // in the batch (batching) / in a generate loop (sequential)
  std::size_t waiting = 0;        // queued, not yet running (arrivals the loop has not taken yet included)
  double kv_usage = 0;            // batching: KV-cache tokens reserved / kv_cache_tokens; sequential: 0
  std::uint64_t preemptions = 0;  // these models never preempt (a reservation per sequence): always 0
};

// next_event() says when something happens next, fire() makes it happen. The real-time loop drives it; tests and
// predict_burst() drive it directly.
class Model {
 public:
  virtual ~Model() = default;
  virtual void add(JobPtr job, Nanos v) = 0;
  virtual Nanos next_event() const = 0;
  virtual void fire(std::vector<Emission>& out) = 0;
  virtual std::size_t max_batch() const = 0;
  virtual void all_jobs(std::vector<JobPtr>& out) const = 0;
  virtual void counts(EngineCounts& out) const = 0;
  // Prompt tokens admitted, and of those found in the prefix cache.
  virtual std::pair<std::uint64_t, std::uint64_t> prompt_tokens() const { return {0, 0}; }
};

// Two FIFO resources in tandem, host then device, shared by every generate loop (see the top of the file).
class SequentialModel final : public Model {
 public:
  explicit SequentialModel(EngineConfig config) : config_(std::move(config)) {}

  // Requests that arrive together start together: an idle host starts at an event of its own, after every
  // arrival at that instant has been added.
  void add(JobPtr job, Nanos v) override {
    ++active_;
    max_batch_ = std::max(max_batch_, active_);
    host_queue_.push_back(std::move(job));
    if (!host_busy_ && !start_pending_) {
      start_pending_ = true;
      start_at_ = v;
    }
  }

  Nanos next_event() const override {
    return std::min({start_pending_ ? start_at_ : no_event, host_busy_ ? host_end_ : no_event,
                     device_busy_ ? device_end_ : no_event});
  }

  void fire(std::vector<Emission>& out) override {
    const Nanos t = next_event();
    if (t == no_event) return;
    if (start_pending_ && start_at_ == t) start_pending_ = false;
    if (device_busy_ && device_end_ == t) {
      JobPtr job = std::move(device_busy_);
      device_busy_.reset();
      ++job->model_emitted;
      const bool done = job->model_emitted >= job->target_tokens || job->cancelled.load();
      if (done)
        --active_;
      else
        host_queue_.push_back(job);
      out.push_back({std::move(job), done});
    }
    if (host_busy_ && host_end_ == t) {
      device_queue_.push_back(std::move(host_busy_));
      host_busy_.reset();
    }
    start_idle(t);
  }

  std::size_t max_batch() const override { return max_batch_; }

  // Every loop in progress is running (the loops interleave); none waits inside the engine.
  void counts(EngineCounts& out) const override { out.running = active_; }

  void all_jobs(std::vector<JobPtr>& out) const override {
    out.insert(out.end(), host_queue_.begin(), host_queue_.end());
    out.insert(out.end(), device_queue_.begin(), device_queue_.end());
    if (host_busy_) out.push_back(host_busy_);
    if (device_busy_) out.push_back(device_busy_);
  }

 private:
  void start_idle(Nanos t) {
    while (!host_busy_ && !host_queue_.empty()) {
      JobPtr job = std::move(host_queue_.front());
      host_queue_.pop_front();
      if (job->cancelled.load()) {  // the client left: its loop ends (no one reads its tokens)
        --active_;
        continue;
      }
      double ms = config_.host_ms(active_);
      if (!warmed_up_) {
        ms += config_.first_request_extra_ms;
        warmed_up_ = true;
      }
      host_busy_ = std::move(job);
      host_end_ = t + ms_to_ns(ms);
    }
    if (!device_busy_ && !device_queue_.empty()) {
      device_busy_ = std::move(device_queue_.front());
      device_queue_.pop_front();
      const double ms = device_busy_->model_emitted == 0 ? config_.prefill_device_ms(device_busy_->prompt_tokens)
                                                         : config_.device_step_ms;
      device_end_ = t + ms_to_ns(ms);
    }
  }

  EngineConfig config_;
  std::deque<JobPtr> host_queue_, device_queue_;
  JobPtr host_busy_, device_busy_;
  Nanos host_end_ = 0, device_end_ = 0;
  bool start_pending_ = false;
  Nanos start_at_ = 0;
  std::size_t active_ = 0, max_batch_ = 0;
  bool warmed_up_ = false;
};

// vLLM-like iteration-level scheduling (see the top of the file).
class BatchingModel final : public Model {
 public:
  explicit BatchingModel(EngineConfig config, std::uint64_t seed = 0) : config_(std::move(config)), seed_(seed) {}

  // An idle engine starts its next step at an event of its own, after every arrival at that instant has been
  // added; a busy one takes arrivals at its next step.
  void add(JobPtr job, Nanos v) override {
    waiting_.push_back(std::move(job));
    if (!in_step_ && !start_pending_) {
      start_pending_ = true;
      start_at_ = v;
    }
  }

  Nanos next_event() const override { return in_step_ ? step_end_ : start_pending_ ? start_at_ : no_event; }

  void fire(std::vector<Emission>& out) override {
    if (!in_step_) {
      if (start_pending_) {
        start_pending_ = false;
        start_step(start_at_);
      }
      return;
    }
    const Nanos t = step_end_;
    std::vector<JobPtr> still_running;
    still_running.reserve(running_.size());
    for (auto& job : running_) {
      ++job->model_emitted;
      const bool done = job->model_emitted >= job->target_tokens || job->cancelled.load();
      if (done)
        kv_used_ -= reservation(*job);
      else
        still_running.push_back(job);
      out.push_back({std::move(job), done});
    }
    running_ = std::move(still_running);
    start_step(t);
  }

  std::size_t max_batch() const override { return max_batch_; }

  void counts(EngineCounts& out) const override {
    out.running = running_.size();
    out.waiting = waiting_.size();
    out.kv_usage = static_cast<double>(kv_used_) / static_cast<double>(config_.kv_cache_tokens);
  }

  void all_jobs(std::vector<JobPtr>& out) const override {
    out.insert(out.end(), waiting_.begin(), waiting_.end());
    out.insert(out.end(), running_.begin(), running_.end());
  }

  std::pair<std::uint64_t, std::uint64_t> prompt_tokens() const override { return {prompt_tokens_, cached_tokens_}; }

 private:
  static std::int64_t reservation(const Job& job) { return job.prompt_tokens + job.target_tokens; }

  // Prompt tokens of `job` whose blocks are cached: its leading blocks found, leaving at least one to prefill.
  std::int64_t cached_prefix(const Job& job) const {
    if (config_.prefix_block_tokens <= 0) return 0;
    std::int64_t blocks = 0;
    for (const auto h : job.prefix_blocks) {
      if (!cached_blocks_.count(h)) break;
      ++blocks;
    }
    return std::min(blocks * config_.prefix_block_tokens, job.prompt_tokens - 1);
  }
  void remember_prefix(const Job& job) {
    if (config_.prefix_block_tokens <= 0) return;
    const auto capacity = static_cast<std::size_t>(config_.kv_cache_tokens / config_.prefix_block_tokens) + 1;
    for (const auto h : job.prefix_blocks) {
      if (!cached_blocks_.insert(h).second) continue;
      block_order_.push_back(h);
      if (block_order_.size() > capacity) {
        cached_blocks_.erase(block_order_.front());
        block_order_.pop_front();
      }
    }
  }

  void start_step(Nanos t) {
    // Sequences whose client left are released before the step, as vLLM aborts them.
    std::vector<JobPtr> kept;
    kept.reserve(running_.size());
    for (auto& job : running_) {
      if (job->cancelled.load())
        kv_used_ -= reservation(*job);
      else
        kept.push_back(std::move(job));
    }
    running_ = std::move(kept);
    std::int64_t step_tokens = static_cast<std::int64_t>(running_.size());
    std::int64_t prefill_tokens = 0;
    bool prefilled_any = false;
    std::vector<const Job*> admitted;
    while (!waiting_.empty() && running_.size() < static_cast<std::size_t>(config_.max_num_seqs)) {
      JobPtr& job = waiting_.front();
      if (job->cancelled.load()) {
        waiting_.pop_front();
        continue;
      }
      // A prompt larger than the whole token budget still goes alone in a step (vLLM would chunk it).
      if (prefilled_any && step_tokens + job->prompt_tokens > config_.max_num_batched_tokens) break;
      if (!running_.empty() && kv_used_ + reservation(*job) > config_.kv_cache_tokens) break;
      kv_used_ += reservation(*job);
      const std::int64_t cached = cached_prefix(*job);
      job->cached_tokens = cached;
      prompt_tokens_ += static_cast<std::uint64_t>(job->prompt_tokens);
      cached_tokens_ += static_cast<std::uint64_t>(cached);
      step_tokens += job->prompt_tokens - cached;
      prefill_tokens += job->prompt_tokens - cached;
      prefilled_any = true;
      admitted.push_back(job.get());
      running_.push_back(std::move(job));
      waiting_.pop_front();
    }
    for (const Job* job : admitted) remember_prefix(*job);
    if (running_.empty()) {
      in_step_ = false;
      return;
    }
    if (!in_step_) period_factor_ = period_factor(periods_++);
    max_batch_ = std::max(max_batch_, running_.size());
    double ms = period_factor_ * (config_.decode_step_ms(static_cast<int>(running_.size())) +
                                  config_.prefill_ms_per_token * static_cast<double>(prefill_tokens));
    if (!warmed_up_) {
      ms += config_.first_request_extra_ms;
      warmed_up_ = true;
    }
    step_end_ = t + ms_to_ns(ms);
    in_step_ = true;
  }

  // exp(sigma * z) for busy period `n`, z standard normal (Box-Muller on two seeded uniforms).
  double period_factor(std::uint64_t n) const {
    if (config_.run_variability <= 0) return 1.0;
    Rng rng(splitmix64(seed_ ^ (0xB5AD4ECEDA1CE2A9ULL + n)));
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();  // u1 in (0, 1]
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    return std::exp(config_.run_variability * z);
  }

  EngineConfig config_;
  std::uint64_t seed_ = 0;
  std::uint64_t periods_ = 0;
  double period_factor_ = 1.0;
  std::deque<JobPtr> waiting_;
  std::vector<JobPtr> running_;
  bool in_step_ = false;
  Nanos step_end_ = 0;
  bool start_pending_ = false;
  Nanos start_at_ = 0;
  std::int64_t kv_used_ = 0;
  std::size_t max_batch_ = 0;
  bool warmed_up_ = false;
  std::unordered_set<std::uint64_t> cached_blocks_;
  std::deque<std::uint64_t> block_order_;  // oldest first
  std::uint64_t prompt_tokens_ = 0, cached_tokens_ = 0;
};

// The chained hashes of the full blocks of `tokens` (a block's hash covers every token up to its end).
inline std::vector<std::uint64_t> prefix_block_hashes(const std::vector<std::int64_t>& tokens, int block_tokens) {
  std::vector<std::uint64_t> out;
  if (block_tokens <= 0) return out;
  std::uint64_t h = 0x243F6A8885A308D3ULL;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    h = splitmix64(h ^ static_cast<std::uint64_t>(tokens[i]));
    if ((i + 1) % static_cast<std::size_t>(block_tokens) == 0) out.push_back(h);
  }
  return out;
}

inline std::unique_ptr<Model> make_model(const EngineConfig& config, std::uint64_t seed = 0) {
  if (config.kind == EngineKind::sequential) return std::make_unique<SequentialModel>(config);
  return std::make_unique<BatchingModel>(config, seed);
}

// Drives a Model in real time on one thread: sleeps until the model's next event (model time / time_scale after
// the engine's start), fires it, and hands every emitted token to the waiting request. Handlers never block it.
class EngineLoop {
 public:
  EngineLoop(const EngineConfig& config, double time_scale, std::uint64_t seed = 0)
      : model_(make_model(config, seed)), time_scale_(time_scale) {}
  ~EngineLoop() { stop(); }

  void start() {
    origin_ = now_ns();
    thread_ = std::thread([this] { run(); });
  }

  void submit(JobPtr job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) {
        abort_job(*job);
        return;
      }
      job->submitted = now_ns();
      arrivals_.push_back(std::move(job));
      note_counts();
    }
    cv_.notify_one();
  }

  // Every job not finished is marked aborted and its waiter woken.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_ && !thread_.joinable()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::vector<JobPtr> left;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      model_->all_jobs(left);
      left.insert(left.end(), arrivals_.begin(), arrivals_.end());
      arrivals_.clear();
    }
    for (auto& job : left) abort_job(*job);
  }

  std::size_t max_batch() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return max_batch_;
  }
  std::uint64_t tokens() const { return tokens_.load(); }
  std::pair<std::uint64_t, std::uint64_t> prompt_tokens() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return model_->prompt_tokens();
  }

  // What the engine holds now.
  EngineCounts counts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return counts_locked();
  }
  // Every change of the running and waiting counts since the start, in order (the first max_history).
  std::vector<EngineCounts> counts_history() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return history_;
  }
  static constexpr std::size_t max_history = 200000;

 private:
  static void abort_job(Job& job) {
    {
      std::lock_guard<std::mutex> lock(job.mutex);
      if (!job.finished) job.aborted = true;
    }
    job.cv.notify_all();
  }

  EngineCounts counts_locked() const {
    EngineCounts c;
    model_->counts(c);
    c.waiting += arrivals_.size();
    c.at = now_ns();
    return c;
  }
  void note_counts() {
    if (history_.size() >= max_history) return;
    const EngineCounts c = counts_locked();
    if (!history_.empty() && history_.back().running == c.running && history_.back().waiting == c.waiting) return;
    history_.push_back(c);
  }

  Nanos to_model(Nanos real) const { return static_cast<Nanos>(static_cast<double>(real - origin_) * time_scale_); }
  Nanos to_real(Nanos model) const { return origin_ + static_cast<Nanos>(static_cast<double>(model) / time_scale_); }

  void run() {
    std::vector<Emission> emissions;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      const Nanos next = model_->next_event();
      if (!arrivals_.empty()) {
        // Arrivals enter at the model time their real arrival maps to, but never before events already due, so
        // the model's clock only moves forward even when this thread runs late.
        const Nanos at = std::max(now_model_, to_model(arrivals_.front()->submitted));
        if (at <= next) {
          now_model_ = at;
          model_->add(std::move(arrivals_.front()), at);
          arrivals_.pop_front();
          max_batch_ = model_->max_batch();
          note_counts();
          continue;
        }
      }
      if (next == no_event) {
        cv_.wait(lock);
        continue;
      }
      const Nanos due = to_real(next);
      if (now_ns() < due) {
        // Woken early by an arrival or by stop(); either is handled at the top of the loop.
        cv_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
        continue;
      }
      now_model_ = next;
      emissions.clear();
      model_->fire(emissions);
      max_batch_ = model_->max_batch();
      note_counts();
      lock.unlock();
      deliver(emissions);
      lock.lock();
    }
  }

  void deliver(std::vector<Emission>& emissions) {
    const Nanos now = now_ns();
    for (auto& e : emissions) {
      {
        std::lock_guard<std::mutex> lock(e.job->mutex);
        e.job->emitted = e.job->model_emitted;
        if (e.job->emitted == 1) e.job->first_token = now;
        if (e.done) e.job->finished = true;
      }
      e.job->cv.notify_all();
    }
    tokens_ += emissions.size();
    emissions.clear();
  }

  std::unique_ptr<Model> model_;
  double time_scale_;
  Nanos origin_ = 0;
  Nanos now_model_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<JobPtr> arrivals_;
  bool stopping_ = false;
  std::size_t max_batch_ = 0;
  std::atomic<std::uint64_t> tokens_{0};
  std::vector<EngineCounts> history_;
  std::thread thread_;
};

}  // namespace detail

// What the model predicts for `concurrency` requests sent at once (the lab's concurrent test), each with
// `prompt_tokens` and `max_tokens`, in model seconds (request_overhead_ms included). No threads, no clock. `seed`
// draws the burst's run_variability factor (the server's seed: its first busy period).
struct BurstPrediction {
  double wall_s = 0;  // first request sent to last reply done
  double mean_latency_s = 0;
  double mean_ttft_s = 0;
  double req_per_s = 0;
  double mean_tpot_s = 0;  // (latency - ttft) / (max_tokens - 1) averaged; 0 when max_tokens is 1
};

inline BurstPrediction predict_burst(const EngineConfig& config, int concurrency, std::int64_t prompt_tokens,
                                     std::int64_t max_tokens, std::uint64_t seed = 0) {
  config.validate();
  if (concurrency < 1 || prompt_tokens < 1 || max_tokens < 1)
    throw std::invalid_argument(
        "servebench::sim::predict_burst: concurrency, prompt_tokens and max_tokens must be >= 1");
  auto model = detail::make_model(config, seed);
  const Nanos overhead = detail::ms_to_ns(config.request_overhead_ms);
  std::vector<detail::JobPtr> jobs;
  for (int i = 0; i < concurrency; ++i) {
    auto job = std::make_shared<detail::Job>();
    job->prompt_tokens = prompt_tokens;
    job->target_tokens = max_tokens;
    model->add(job, overhead);
    jobs.push_back(std::move(job));
  }
  std::map<detail::Job*, std::pair<Nanos, Nanos>> times;  // first token, last token
  std::vector<detail::Emission> out;
  for (Nanos t = model->next_event(); t != detail::no_event; t = model->next_event()) {
    out.clear();
    model->fire(out);
    for (auto& e : out) {
      auto& [first, last] = times[e.job.get()];
      if (e.job->model_emitted == 1) first = t;
      last = t;
    }
  }
  BurstPrediction p;
  double latency = 0, ttft = 0, tpot = 0;
  for (auto& job : jobs) {
    const auto [first, last] = times[job.get()];
    p.wall_s = std::max(p.wall_s, ns_to_s(last));
    latency += ns_to_s(last);
    ttft += ns_to_s(first);
    if (max_tokens > 1) tpot += ns_to_s(last - first) / static_cast<double>(max_tokens - 1);
  }
  p.mean_latency_s = latency / concurrency;
  p.mean_ttft_s = ttft / concurrency;
  p.mean_tpot_s = tpot / concurrency;
  p.req_per_s = p.wall_s > 0 ? concurrency / p.wall_s : 0;
  return p;
}

}  // namespace sim
}  // namespace servebench

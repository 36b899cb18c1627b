// Test support: an in-process sender for scheduler tests, no network.
//   FakeBackend — what a server would see: requests in flight now, the most ever in flight, the time-weighted mean
//                 concurrency, how many senders (connections) were made. Shared by all senders of a test.
//   FakeSender  — satisfies the scheduler's sender contract: send() "serves" for the backend's service time (or
//                 until cancelled), cancel() is thread-safe and sticky, like servebench::Driver. Its label goes on
//                 every record, so a level run from a factory of FakeSenders is called by it; with a Target, give
//                 it the target's label (the scheduler does not rewrite records).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include <servebench/record.hpp>
#include <servebench/workload.hpp>

namespace servebench::testing {

class FakeBackend {
 public:
  // How long a request takes, given its index and its 0-based order of arrival at the backend (default: the constant
  // service_time). Return a huge value to hang until cancelled.
  std::function<std::chrono::nanoseconds(std::uint64_t index, std::uint64_t arrival)> service_time_for;
  std::chrono::nanoseconds service_time = std::chrono::milliseconds(2);

  // Returns the request's order of arrival.
  std::uint64_t begin() {
    std::lock_guard<std::mutex> lock(mutex_);
    advance();
    ++in_flight_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    if (first_start_ == 0) first_start_ = now_ns();
    return started_++;
  }
  void end() {
    std::lock_guard<std::mutex> lock(mutex_);
    advance();
    --in_flight_;
    last_end_ = now_ns();
  }
  int in_flight() const {
    std::lock_guard<std::mutex> l(mutex_);
    return in_flight_;
  }
  int max_in_flight() const {
    std::lock_guard<std::mutex> l(mutex_);
    return max_in_flight_;
  }
  std::uint64_t started() const {
    std::lock_guard<std::mutex> l(mutex_);
    return started_;
  }
  // Mean number in flight between the first request's start and the last one's end.
  double mean_in_flight() const {
    std::lock_guard<std::mutex> l(mutex_);
    const double span = static_cast<double>(last_end_ - first_start_);
    return span > 0 ? integral_ / span : 0.0;
  }
  void reset_statistics() {
    std::lock_guard<std::mutex> l(mutex_);
    max_in_flight_ = in_flight_;
    started_ = 0;
    integral_ = 0;
    first_start_ = last_end_ = 0;
    last_change_ = now_ns();
  }

  std::atomic<int> senders_made{0};

 private:
  void advance() {
    const Nanos now = now_ns();
    if (last_change_ != 0) integral_ += static_cast<double>(in_flight_) * static_cast<double>(now - last_change_);
    last_change_ = now;
  }
  mutable std::mutex mutex_;
  int in_flight_ = 0, max_in_flight_ = 0;
  std::uint64_t started_ = 0;
  double integral_ = 0;
  Nanos last_change_ = 0, first_start_ = 0, last_end_ = 0;
};

class FakeSender {
 public:
  explicit FakeSender(std::shared_ptr<FakeBackend> backend, std::string label = "fake")
      : backend_(std::move(backend)), label_(std::move(label)), cancel_(std::make_unique<CancelState>()) {
    ++backend_->senders_made;
  }

  RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched) {
    RequestRecord r;
    r.target = label_;
    r.index = index;
    r.t_sched = t_sched ? t_sched : now_ns();
    {
      std::lock_guard<std::mutex> lock(cancel_->mutex);
      if (cancel_->reason) {  // sticky: nothing is sent after a cancel
        r.error_kind = *cancel_->reason;
        r.error_message = "cancelled before sending";
        return r;
      }
    }
    r.t_send = now_ns();
    const auto arrival = backend_->begin();
    const auto service = backend_->service_time_for ? backend_->service_time_for(index, arrival)
                                                    : backend_->service_time;
    std::optional<ErrorKind> reason;
    {
      std::unique_lock<std::mutex> lock(cancel_->mutex);
      cancel_->changed.wait_until(lock, std::chrono::steady_clock::now() + service,
                                  [&] { return cancel_->reason.has_value(); });
      reason = cancel_->reason;
    }
    r.t_end = now_ns();
    backend_->end();
    if (reason) {
      r.error_kind = *reason;
      r.error_message = "cancelled in flight";
      return r;
    }
    r.t_first_token = r.t_end;
    r.n_out = prompt.max_tokens;
    r.token_source = TokenSource::usage;
    r.http_status = 200;
    r.text = prompt.text;
    return r;
  }

  void cancel(ErrorKind reason = ErrorKind::interrupted) {
    std::lock_guard<std::mutex> lock(cancel_->mutex);
    if (!cancel_->reason) cancel_->reason = reason;
    cancel_->changed.notify_all();
  }

 private:
  struct CancelState {
    std::mutex mutex;
    std::condition_variable changed;
    std::optional<ErrorKind> reason;
  };
  std::shared_ptr<FakeBackend> backend_;
  std::string label_;
  std::unique_ptr<CancelState> cancel_;  // behind a pointer so the sender can move (into an AnySender)
};

}  // namespace servebench::testing

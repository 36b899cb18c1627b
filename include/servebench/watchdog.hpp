// servebench — the watchdog that enforces every Driver's whole-request deadline and cancel(): one thread for the
// whole process, not one per Driver (a thread per Driver doubled the threads of a 10,000-stream level and cost
// ~8 KiB of resident stack per stream; docs/performance.md).
//
// Each Driver keeps a WatchedRequest. While a request is in flight it may have one entry in the watchdog's ordered
// set, at the moment something must happen: its deadline, "now" after cancel(), or 2 ms after a stop while the
// request has not ended yet (a stop that lands before the request has its socket does nothing, so it is repeated
// until the request ends). The thread sleeps until the earliest entry and is woken only when an entry becomes the
// earliest, so a closed loop whose deadlines all lie ahead of the earliest one never wakes it.
//
// Locks: the watchdog's own mutex (the set) is taken before a request's mutex, never after; the watchdog stops a
// client with the request's mutex held, so end(), which takes that mutex, waits out a stop in progress and a stop
// aimed at one request never hits the next. The stop itself never blocks (ConnectControl::try_stop: a client busy
// connecting is tried again 2 ms later), so one slow connect cannot delay every other Driver's deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include <httplib.h>

#include "connection.hpp"
#include "record.hpp"

namespace servebench::detail {

class Watchdog;

// One Driver's side: its client, and the request in flight. Kept behind a pointer so a Driver can move.
struct WatchedRequest {
  std::unique_ptr<httplib::ClientImpl> client;
  ConnectControl* connect = nullptr;  // the same object as client
  std::mutex mutex;                   // in_flight, deadline_at; held by the watchdog while it stops the client
  bool in_flight = false;
  Nanos deadline_at = 0;  // 0: none
  std::atomic<bool> deadline_hit{false};
  std::atomic<int> cancel_reason{static_cast<int>(ErrorKind::none)};
  Nanos scheduled_at = 0;  // this request's entry in the watchdog's set (0: none); guarded by the watchdog's mutex

  ErrorKind cancelled() const noexcept { return static_cast<ErrorKind>(cancel_reason.load()); }

  inline void begin(Nanos deadline);
  inline void end();
  inline void cancel(ErrorKind reason);
  // Before destruction: after it the watchdog holds no reference to this request.
  inline void shut_down();
};

class Watchdog {
 public:
  // The process's watchdog, started with the first Driver. Never destroyed: a Driver that outlives static
  // destruction (a static of its own, a detached thread) still finds it; the thread ends with the process.
  static Watchdog& instance() {
    static Watchdog* const watchdog = new Watchdog();
    return *watchdog;
  }

  // Makes something happen to `r` at `at` unless it has an earlier entry already.
  void schedule(WatchedRequest& r, Nanos at) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (r.scheduled_at != 0 && r.scheduled_at <= at) return;
      remove_locked(r);
      due_.emplace(at, &r);
      r.scheduled_at = at;
      wake = due_.begin()->second == &r;  // the thread sleeps until an entry later than this one
    }
    if (wake) wake_.notify_one();
  }

  void unschedule(WatchedRequest& r) {
    std::lock_guard<std::mutex> lock(mutex_);
    remove_locked(r);
  }

  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  Watchdog() {
    std::thread([this] { run(); }).detach();
  }

  void remove_locked(WatchedRequest& r) {
    if (r.scheduled_at == 0) return;
    due_.erase({r.scheduled_at, &r});
    r.scheduled_at = 0;
  }

  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (due_.empty()) {
        wake_.wait(lock);
        continue;
      }
      const auto [at, r] = *due_.begin();
      const Nanos now = now_ns();
      if (at > now) {
        wake_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at)));
        continue;
      }
      due_.erase(due_.begin());
      r->scheduled_at = 0;
      if (const Nanos next = act(*r, now); next != 0) {
        due_.emplace(next, r);
        r->scheduled_at = next;
      }
    }
  }

  // With the set's mutex held: stops r's client if its request is cancelled or past its deadline. Returns when to
  // look at r again (0: not until it is scheduled anew).
  static Nanos act(WatchedRequest& r, Nanos now) {
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!r.in_flight) return 0;
    const bool cancel = r.cancelled() != ErrorKind::none;
    if (!cancel && (r.deadline_at == 0 || now < r.deadline_at)) return r.deadline_at;  // cancel() was cleared
    if (!cancel) r.deadline_hit = true;
    r.connect->try_stop();
    return now + 2'000'000;  // again until the request ends (end() unschedules it)
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<std::pair<Nanos, WatchedRequest*>> due_;
};

inline void WatchedRequest::begin(Nanos deadline) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    in_flight = true;
    deadline_at = deadline;
    deadline_hit = false;
  }
  // A cancel() between the Driver's check before sending and in_flight above found nothing to stop: stop it now.
  if (cancelled() != ErrorKind::none)
    Watchdog::instance().schedule(*this, now_ns());
  else if (deadline != 0)
    Watchdog::instance().schedule(*this, deadline);
}

inline void WatchedRequest::end() {
  {
    std::lock_guard<std::mutex> lock(mutex);  // waits out a stop in progress
    in_flight = false;
    deadline_at = 0;
  }
  Watchdog::instance().unschedule(*this);
}

inline void WatchedRequest::cancel(ErrorKind reason) {
  cancel_reason = static_cast<int>(reason);
  bool in = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    in = in_flight;
  }
  // Not in flight: the next send sees the reason before sending, or begin() above schedules the stop.
  if (in) Watchdog::instance().schedule(*this, now_ns());
}

inline void WatchedRequest::shut_down() { Watchdog::instance().unschedule(*this); }

}  // namespace servebench::detail

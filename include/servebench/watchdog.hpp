// servebench — the watchdog that enforces every Driver's whole-request deadline and cancel(): one thread for the
// whole process, not one per Driver (a thread per Driver doubled the threads of a 10,000-stream level and cost
// ~8 KiB of resident stack per stream; docs/performance.md).
//
// Every Driver's WatchedRequest is on the watchdog's list from the Driver's construction to its destruction. A
// request's begin() and end() touch only that request (its own mutex and atomics): nothing shared by all Drivers is
// written per request, so thousands of streams starting or ending together never queue on one lock. The thread
// looks at every request in flight every 5 ms (every 2 ms while one it has stopped has not ended yet: a stop that
// lands before the request has its socket does nothing, so it is repeated until the request ends), at once after
// cancel(), and sleeps without a timeout once no request has been in flight for 100 ms; a begin() then wakes it.
// A deadline therefore ends its request within about 5 ms of passing (deadlines are seconds; docs/metrics.md).
//
// Locks: the watchdog's mutex (the list) is taken before a request's mutex, never after; the watchdog stops a client
// with the request's mutex held, so end(), which takes that mutex, waits out a stop in progress and a stop aimed at
// one request never hits the next. The stop itself never blocks (ConnectControl::try_stop: a client busy connecting
// is tried again 2 ms later), so one slow connect cannot delay every other Driver's deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

#include "connection.hpp"
#include "record.hpp"
#include "reply.hpp"

namespace servebench::detail {

// One Driver's side: its client, and the request in flight. Kept behind a pointer so a Driver can move.
struct WatchedRequest : RequestStop {
  std::unique_ptr<httplib::ClientImpl> client;
  ConnectControl* connect = nullptr;  // the same object as client
  std::mutex mutex;                   // held by begin(), end() and the watchdog while it stops the client
  std::atomic<bool> in_flight{false};
  std::atomic<Nanos> deadline_at{0};  // 0: none
  std::size_t slot = 0;               // index in the watchdog's list; guarded by the watchdog's mutex

  // Templates, as is the Watchdog, so that the watchdog's thread is built only where a Driver is (see
  // "Deferred" in serialize.hpp); callers never name the parameter.
  template <class = void>
  void watch();  // onto the watchdog's list (the Driver's constructor)
  template <class = void>
  void begin(Nanos deadline);
  template <class = void>
  void end();
  template <class = void>
  void cancel(ErrorKind reason);
  template <class = void>
  void shut_down();  // off the list: after it the watchdog holds no reference to this request
};

// A template so that its thread and its list are built only where a Driver is (see "Deferred" in serialize.hpp);
// callers name it Watchdog.
template <class = void>
class BasicWatchdog {
 public:
  static constexpr Nanos period_ns = 5'000'000;       // between looks while requests are in flight
  static constexpr Nanos stop_period_ns = 2'000'000;  // while a stopped request has not ended
  static constexpr Nanos idle_before_sleep_ns = 100'000'000;

  // The process's watchdog, started with the first Driver. Never destroyed: a Driver that outlives static
  // destruction (a static of its own, a detached thread) still finds it; the thread ends with the process.
  static BasicWatchdog& instance() {
    static BasicWatchdog* const watchdog = new BasicWatchdog();
    return *watchdog;
  }

  void add(WatchedRequest& r) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      r.slot = list_.size();
      list_.push_back(&r);
    }
  }

  void remove(WatchedRequest& r) {
    std::lock_guard<std::mutex> lock(mutex_);  // waits out a look in progress
    list_[r.slot] = list_.back();
    list_[r.slot]->slot = r.slot;
    list_.pop_back();
  }

  // Look now: after cancel(), or a begin() that found the thread asleep.
  void poke() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      poked_ = true;
    }
    wake_.notify_one();
  }

  // Whether the thread sleeps without a timeout (a begin() must then poke it). Read after in_flight is set: the
  // thread sets this before its last look, so one of the two sees the other (both sequentially consistent).
  bool asleep() const noexcept { return asleep_.load(); }

  BasicWatchdog(const BasicWatchdog&) = delete;
  BasicWatchdog& operator=(const BasicWatchdog&) = delete;

 private:
  BasicWatchdog() {
    std::thread([this] { run(); }).detach();
  }

  struct Look {
    bool in_flight = false;  // any request
    bool stopping = false;   // any request stopped and not ended yet
  };

  // Whether r must be stopped: cancelled, or past its deadline.
  static bool due(const WatchedRequest& r, Nanos now) {
    if (r.cancelled() != ErrorKind::none) return true;
    const Nanos deadline = r.deadline_at.load();
    return deadline != 0 && now >= deadline;
  }

  // With the list's mutex held: stops each request cancelled or past its deadline.
  Look look_locked() {
    Look seen;
    const Nanos now = now_ns();
    for (WatchedRequest* r : list_) {
      if (!r->in_flight.load()) continue;
      seen.in_flight = true;
      if (!due(*r, now)) continue;
      std::lock_guard<std::mutex> lock(r->mutex);
      // Again under the request's lock: it may have ended meanwhile, and the next one begun with its own deadline.
      if (!r->in_flight.load() || !due(*r, now)) continue;
      if (r->cancelled() == ErrorKind::none) r->deadline_hit = true;
      r->connect->try_stop();
      seen.stopping = true;
    }
    return seen;
  }

  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    Nanos busy_at = now_ns();
    for (;;) {
      poked_ = false;
      const Look seen = look_locked();
      const Nanos now = now_ns();
      if (seen.in_flight) busy_at = now;
      if (now - busy_at >= idle_before_sleep_ns) {
        asleep_ = true;
        if (!look_locked().in_flight && !poked_) wake_.wait(lock, [this] { return poked_; });
        asleep_ = false;
        busy_at = now_ns();
        continue;
      }
      const Nanos wait = seen.stopping ? stop_period_ns : period_ns;
      wake_.wait_for(lock, std::chrono::nanoseconds(wait), [this] { return poked_; });
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<WatchedRequest*> list_;
  bool poked_ = false;
  std::atomic<bool> asleep_{false};
};
using Watchdog = BasicWatchdog<>;

template <class D>
void WatchedRequest::watch() {
  BasicWatchdog<D>::instance().add(*this);
}

template <class D>
void WatchedRequest::begin(Nanos deadline) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    deadline_at = deadline;
    deadline_hit = false;
    in_flight = true;
  }
  // A cancel() between the Driver's check before sending and in_flight above: look now. An idle watchdog sleeps
  // until poked.
  auto& watchdog = BasicWatchdog<D>::instance();
  if (cancelled() != ErrorKind::none || (deadline != 0 && watchdog.asleep())) watchdog.poke();
}

template <class>
void WatchedRequest::end() {
  std::lock_guard<std::mutex> lock(mutex);  // waits out a stop in progress
  in_flight = false;
  deadline_at = 0;
}

template <class D>
void WatchedRequest::cancel(ErrorKind reason) {
  cancel_reason = static_cast<int>(reason);
  BasicWatchdog<D>::instance().poke();  // not in flight: the next send sees the reason before sending
}

template <class D>
void WatchedRequest::shut_down() {
  BasicWatchdog<D>::instance().remove(*this);
}

}  // namespace servebench::detail

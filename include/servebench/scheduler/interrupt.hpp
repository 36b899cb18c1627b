// servebench — Ctrl-C and SIGTERM: the first stops sending and lets requests in flight finish within a grace period,
// a second exits at once (130). Handlers are installed for the outermost active run only and restored after.
#pragma once

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>

#if !defined(_WIN32)
#include <signal.h>
#endif

namespace servebench {

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

}  // namespace servebench

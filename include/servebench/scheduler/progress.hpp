// servebench — the progress line: one line per level, rewritten in place on a terminal, silent otherwise.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

#include "../record.hpp"
#include "../result.hpp"

namespace servebench {

namespace detail {

inline bool stderr_is_terminal() noexcept {
#if defined(_WIN32)
  return _isatty(_fileno(stderr)) != 0;
#else
  return ::isatty(::fileno(stderr)) != 0;
#endif
}

// "vllm c=10: 45/100 done, 12.3 req/s, 2 failed, ETA 4s". total 0: unknown (a duration-bound run).
template <class = void>  // deferred: see serialize.hpp
std::string format_progress(const std::string& label, std::uint64_t done, std::uint64_t total, std::uint64_t failed,
                            double elapsed_s, std::optional<double> eta_s) {
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

  template <class = void>  // deferred: see serialize.hpp
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

inline bool progress_enabled(bool quiet) { return !quiet && stderr_is_terminal(); }

// "vllm c=10", "vllm rate=5": how progress lines and warnings name a level.
template <class = void>  // deferred: see serialize.hpp
std::string level_label(const std::string& target, const LevelConfig& config) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s=%g", config.mode == LoopMode::open_loop ? "rate" : "c", config.level());
  return target.empty() ? std::string(buffer) : target + " " + buffer;
}

}  // namespace detail

}  // namespace servebench

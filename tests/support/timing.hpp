// Whether this build can hold a test to millisecond timing. ThreadSanitizer slows every memory access 5-15x, so
// under it the simulated servers (20x faster than real time) and the client cannot keep to their schedule: the
// timing-precision checks then run in the g++ and AddressSanitizer builds only, while the TSan build still runs the
// same requests for what it is there for, data races.
#pragma once

namespace servebench_test {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool timing_checks = false;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool timing_checks = false;
#else
inline constexpr bool timing_checks = true;
#endif
#else
inline constexpr bool timing_checks = true;
#endif

}  // namespace servebench_test

// Whether this build can hold a test to millisecond timing. The sanitizers slow every memory access (ThreadSanitizer
// 5-15x, AddressSanitizer about 2x, with its shadow memory and quarantine), so under them the simulated servers (20x
// faster than real time) and the client cannot keep to their schedule on a shared 2-core machine: CI's ASan stage
// once saw a reasoning stream's answer token 2.9 ms after the server wrote it, against the 2 ms the check allows.
// The timing-precision checks therefore run in the plain g++ builds (CMake and Meson) only, while the sanitizer
// builds still run the same requests for what they are there for: memory errors, undefined behaviour, data races.
#pragma once

namespace servebench_test {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool timing_checks = false;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
inline constexpr bool timing_checks = false;
#else
inline constexpr bool timing_checks = true;
#endif
#else
inline constexpr bool timing_checks = true;
#endif

}  // namespace servebench_test

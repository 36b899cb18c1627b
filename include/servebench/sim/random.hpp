// servebench::sim — seeded randomness. Everything a simulated server draws (faults, early ends of sequence, the
// words of a reply) is a pure function of the server's seed and a request's number or prompt, so a test can
// recompute what any reply got.
#pragma once

#include <cstdint>
#include <string>

namespace servebench {
namespace sim {
namespace detail {

inline std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// A small seeded generator: uniform doubles in [0, 1).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() noexcept { return splitmix64(state_++ * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL); }
  double uniform() noexcept { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  std::uint64_t state_;
};

inline std::uint64_t hash_text(const std::string& s) noexcept {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace detail
}  // namespace sim
}  // namespace servebench

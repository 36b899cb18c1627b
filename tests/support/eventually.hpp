// Test support: wait, bounded, for something another thread makes true.
#pragma once

#include <chrono>
#include <thread>

namespace servebench::testing {

// Polls `predicate` every millisecond until it holds (true) or `limit` has passed (false).
template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace servebench::testing

// Shared by the dialect fuzz targets: what every api::Parsed outcome must look like.
#pragma once

#include <cstdlib>

#include <servebench/api.hpp>

namespace servebench::fuzz {

// A success carries no message; a failure is classified (invalid_json, missing_field or other) with a message.
// Anything else aborts, which libFuzzer reports as a crash.
template <class T>
void check_outcome(const api::Parsed<T>& parsed) {
  if (parsed.ok()) {
    if (!parsed.message.empty()) std::abort();
    return;
  }
  if (parsed.message.empty()) std::abort();
  if (parsed.error != ErrorKind::invalid_json && parsed.error != ErrorKind::missing_field &&
      parsed.error != ErrorKind::other)
    std::abort();
}

}  // namespace servebench::fuzz

// Shared by the dialect fuzz targets: what every api::Parsed outcome must look like.
#pragma once

#include <cstdlib>
#include <optional>
#include <type_traits>

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

namespace servebench::fuzz {

// A dialect read from the whole document: derived from Api, it inherits `reads_keys_of` naming Api, so
// api::read_reply / read_event build every key for it (api.hpp), as they did before pruned reads.
template <class Api>
struct whole_document : Api {};

inline bool same_timing(const std::optional<ServerTiming>& a, const std::optional<ServerTiming>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->first_token == b->first_token && a->last_token == b->last_token &&
                a->first_answer_token == b->first_answer_token);
}

// True when two reads of the same text agree on everything a record takes from them: the outcome, its message, the
// text, every count, the server's timing and (for events) what the event carried.
template <class T>
bool same_read(const api::Parsed<T>& a, const api::Parsed<T>& b) {
  const T &x = a.value, &y = b.value;
  bool same = a.error == b.error && a.message == b.message && x.text == y.text &&
              x.completion_tokens == y.completion_tokens && x.prompt_tokens == y.prompt_tokens &&
              x.reasoning_tokens == y.reasoning_tokens && x.cached_prompt_tokens == y.cached_prompt_tokens &&
              same_timing(x.server_timing, y.server_timing);
  if constexpr (std::is_same_v<T, api::Event>)
    same = same && x.carries_text == y.carries_text && x.carries_other_tokens == y.carries_other_tokens &&
           x.terminator == y.terminator;
  return same;
}

}  // namespace servebench::fuzz

namespace servebench::fuzz {

// Equal values of the same types throughout (nlohmann's == calls 5 and 5u equal; a dialect's optional_int does not).
inline bool identical(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.type() != b.type() || a.size() != b.size()) return false;
  if (a.is_object()) {
    for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
      if (i.key() != j.key() || !identical(*i, *j)) return false;
    return true;
  }
  if (a.is_array()) {
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!identical(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

}  // namespace servebench::fuzz

// servebench::sim — the client side of the simulated servers' ground truth. Every reply of a servebench::sim
// server carries {"sim_timing": {"first_token_ns", "last_token_ns"}}: when it wrote its first and last token, on
// std::chrono::steady_clock (server.hpp says exactly when each is taken). No real server sends it, so the core
// dialects in api.hpp do not read it; the dialects here are those same dialects with the server_timing() hook
// added, which api::read_reply and api::read_event call to fill Reply::server_timing / Event::server_timing and so
// RequestRecord::server_timing. Use them against a simulated server in the same process (the clocks are then the
// same): Driver<sim::openai_completions> instead of Driver<api::openai_completions>.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "../api.hpp"
#include "../record.hpp"

namespace servebench {
namespace sim {

// The server's timing in a reply body or stream event, or nullopt when it has none. A missing or malformed field
// (not an object, a time that is not a non-negative integer) gives nullopt, never an exception: a field no real
// server sends must not fail a request. Streaming, only the event of the last token carries it.
inline std::optional<ServerTiming> read_sim_timing(const nlohmann::json& body) {
  if (!body.is_object()) return std::nullopt;
  const auto it = body.find("sim_timing");
  if (it == body.end() || !it->is_object()) return std::nullopt;
  const auto time = [&](const char* key) -> std::optional<Nanos> {
    const auto t = it->find(key);
    if (t == it->end() || !t->is_number_integer()) return std::nullopt;
    if (t->is_number_unsigned())
      return t->get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX)
                 ? std::optional<Nanos>(static_cast<Nanos>(t->get<std::uint64_t>()))
                 : std::nullopt;
    const auto value = t->get<std::int64_t>();
    return value >= 0 ? std::optional<Nanos>(value) : std::nullopt;
  };
  const auto first = time("first_token_ns"), last = time("last_token_ns");
  if (!first || !last) return std::nullopt;
  ServerTiming timing{*first, *last, std::nullopt};
  if (it->contains("first_answer_token_ns")) timing.first_answer_token = time("first_answer_token_ns");
  return timing;
}

// A dialect that also reads the simulated server's timing. Its name (Api::name) is the dialect's own: the wire
// format is the same.
template <class Api>
struct timed : Api {
  std::optional<ServerTiming> server_timing(const nlohmann::json& body) const { return read_sim_timing(body); }
  // The keys the dialect reads and those read_sim_timing reads (every key, for a dialect that names none).
  using reads_keys_of = timed;
  static bool reads_key(std::string_view key) noexcept {
    if constexpr (api::reads_keys_v<Api>)
      return Api::reads_key(key) ||
             api::detail::key_in(key, {"sim_timing", "first_token_ns", "last_token_ns", "first_answer_token_ns"});
    else
      return true;
  }
};

using hf_simple = timed<api::hf_simple>;
using openai_completions = timed<api::openai_completions>;
using openai_chat = timed<api::openai_chat>;

}  // namespace sim
}  // namespace servebench

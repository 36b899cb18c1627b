// workload/multiturn.hpp with ClosedLoop::sessions against servebench::sim's chat endpoint: every request carries
// the history so far (its length, as the simulator counts chat prompts: ceil(bytes / 4) + 4 per message, computed
// here from the messages), each session's turns go in order with the think time between them, concurrency means
// concurrent sessions, and later turns find the history in the batching engine's prefix cache.
#include <doctest/doctest.h>

#include <chrono>
#include <map>

#include <servebench/scheduler.hpp>
#include <servebench/sim.hpp>
#include <servebench/target.hpp>
#include <servebench/workload/multiturn.hpp>

using namespace servebench;
using namespace std::chrono_literals;

TEST_CASE("multi-turn sessions: growing histories, turns in order with think time, concurrent sessions") {
  const std::uint64_t sessions = 4, turns = 3;
  const auto chats = multiturn_prompts(sessions, turns, 40, 8, 2);
  REQUIRE(chats.size() == sessions * turns);
  CHECK(chats.at(0).messages.size() == 1);
  CHECK(chats.at(2).messages.size() == 5);  // user, assistant, user, assistant, user
  CHECK(chats.at(2).messages[0].content == chats.at(1).messages[0].content);
  CHECK(chats.at(3).messages[0].content != chats.at(0).messages[0].content);  // another session

  sim::Server server(sim::preset("vllm-h100").time_scale(5));
  server.start();
  const auto result = run_closed_loop(
      ClosedLoop().concurrency(2).requests(sessions * turns).sessions(turns, 20ms).quiet(true), chats,
      make_target<sim::openai_chat>(DriverOptions().base_url(server.url()).stream(true)));
  REQUIRE(result.records.size() == sessions * turns);
  CHECK(server.stats().requests == sessions * turns);
  CHECK(result.summary.peak_in_flight <= 2);
  std::map<std::uint64_t, const RequestRecord*> by_index;
  for (const auto& r : result.records) {
    REQUIRE(r.ok());
    by_index[r.index] = &r;
  }
  for (std::uint64_t i = 0; i < sessions * turns; ++i) {
    CAPTURE(i);
    const auto& r = *by_index.at(i);
    std::int64_t expected = 0;
    for (const auto& m : chats.at(i).messages) expected += static_cast<std::int64_t>((m.content.size() + 3) / 4) + 4;
    CHECK(r.n_in == expected);
    if (i % turns == 0) continue;
    const auto& previous = *by_index.at(i - 1);
    CHECK(r.n_in > previous.n_in);
    CHECK(r.t_send >= previous.t_end + 20'000'000);  // after the previous turn's reply and the think time
    CHECK(r.n_in_cached >= 16);                      // the history's blocks, cached by the previous turn
  }
  const auto ttft = ttft_by_turn(result.records, turns);
  REQUIRE(ttft.size() == turns);
  for (const auto& t : ttft) {
    REQUIRE(t.has_value());
    CHECK(t->count == sessions);
  }
}

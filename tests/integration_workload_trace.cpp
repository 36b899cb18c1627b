// workload/trace.hpp: a Mooncake-format trace replayed against servebench::sim: the arrivals at the trace's times
// (OpenLoop::schedule), each prompt of the trace's input length as the server counts it, the trace's output lengths
// generated, and the prefix reuse its hash_ids record seen by the batching engine's prefix cache. A malformed trace
// is one line naming the file, the line and the field, before anything is sent.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include <servebench/scheduler.hpp>
#include <servebench/sim.hpp>
#include <servebench/target.hpp>
#include <servebench/workload/trace.hpp>

using namespace servebench;

namespace {
// Six arrivals over 250 ms; the second, fourth and sixth share the first's two 512-token blocks (ids 7, 8).
const char* const mooncake = R"({"timestamp": 1000, "input_length": 1100, "output_length": 3, "hash_ids": [7, 8, 9]}
{"timestamp": 1050, "input_length": 1200, "output_length": 5, "hash_ids": [7, 8, 10]}
{"timestamp": 1100, "input_length": 300, "output_length": 2, "hash_ids": [11]}

{"timestamp": 1150, "input_length": 1030, "output_length": 4, "hash_ids": [7, 8, 12]}
{"timestamp": 1200, "input_length": 64, "output_length": 6}
{"timestamp": 1250.5, "input_length": 1500, "output_length": 1, "hash_ids": [7, 8, 13]}
)";

std::string error_of(const std::string& text) {
  std::istringstream in(text);
  try {
    parse_trace(in, "trace.jsonl");
  } catch (const WorkloadError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("a Mooncake trace is replayed at its times with its lengths, counted at the server") {
  std::istringstream in(mooncake);
  const auto trace = parse_trace(in, "trace.jsonl");
  REQUIRE(trace.entries.size() == 6);
  CHECK(trace.offsets == std::vector<Nanos>{0, 50'000'000, 100'000'000, 150'000'000, 200'000'000, 250'500'000});

  sim::Server server(sim::preset("vllm-h100").time_scale(2));
  server.start();
  const auto options = DriverOptions().base_url(server.url()).force_output_length(true);
  ServerTokenizer tokenizer(options);
  const auto built = trace_prompts(tokenizer, trace, 1);
  REQUIRE(built.exact);
  const auto result = run_open_loop(OpenLoop().schedule(trace.offsets).quiet(true), built.workload,
                                    make_target<sim::openai_completions>(options));
  REQUIRE(result.records.size() == 6);
  CHECK(server.stats().requests == 6);
  Nanos first = INT64_MAX;
  for (const auto& r : result.records) first = std::min(first, r.t_sched);
  for (const auto& r : result.records) {
    CAPTURE(r.index);
    REQUIRE(r.ok());
    const auto& e = trace.entries[r.index];
    CHECK(r.t_sched - first == e.offset);  // the schedule, exactly
    CHECK(r.n_in == e.input_length);
    CHECK(r.n_out == e.output_length);
    // The shared blocks 7 and 8 (1024 tokens) are found again by every later arrival that names them.
    if (r.index == 1 || r.index == 3 || r.index == 5)
      CHECK(r.n_in_cached >= 1008);
    else
      CHECK(r.n_in_cached < 512);
  }
  CHECK(result.summary.input_length_mismatches == 0);
  CHECK(result.summary.short_outputs == 0);
}

TEST_CASE("a malformed trace gives one line naming the file, the line and the field") {
  CHECK(error_of("{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 1}\n{oops\n") ==
        "trace.jsonl:2: not valid JSON");
  CHECK(error_of("{\"input_length\": 5, \"output_length\": 1}\n") == "trace.jsonl:1: missing field \"timestamp\"");
  CHECK(error_of("{\"timestamp\": 1, \"input_length\": 0, \"output_length\": 1}\n") ==
        "trace.jsonl:1: field \"input_length\" must be a positive integer");
  CHECK(error_of("{\"timestamp\": 1, \"input_length\": 5}\n") == "trace.jsonl:1: missing field \"output_length\"");
  CHECK(error_of("{\"timestamp\": 5, \"input_length\": 5, \"output_length\": 1}\n"
                 "{\"timestamp\": 4, \"input_length\": 5, \"output_length\": 1}\n") ==
        "trace.jsonl:2: field \"timestamp\" goes back in time (the trace must be in arrival order)");
  CHECK(error_of("{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [\"a\"]}\n") ==
        "trace.jsonl:1: field \"hash_ids\" must be a list of integers");
  CHECK(error_of("\n") == "trace.jsonl: no arrivals");
}

TEST_CASE("a rate ramp: arrivals follow the integrated rate, linear and exponential") {
  // Constant gaps at rate 1 in the integrated rate L(t): arrival k at L^-1(k). Linear 1 -> 9 per s over 4 s:
  // L(t) = t + t^2, so L^-1(k) = (-1 + sqrt(1 + 4k)) / 2; after the ramp (L(4) = 20) at 9 per s.
  const auto linear = arrival_offsets(
      OpenLoop().distribution(Arrival::constant).ramp_up(1, 9, std::chrono::seconds(4)));
  REQUIRE(linear.size() == 20);  // the ramp's duration: arrivals 0..19 (the 21st would be at t = 4)
  for (std::size_t k = 0; k < linear.size(); ++k)
    CHECK(linear[k] == std::llround((-1 + std::sqrt(1 + 4.0 * k)) / 2 * 1e9));
  // Exponential 1 -> e^2 per s over 2 s: rate e^t, L(t) = e^t - 1, L^-1(k) = ln(1 + k).
  const auto exponential = arrival_offsets(
      OpenLoop().distribution(Arrival::constant).requests(6).ramp_up(1, std::exp(2.0), std::chrono::seconds(2), true));
  REQUIRE(exponential.size() == 6);
  for (std::size_t k = 0; k < exponential.size(); ++k) {
    const double expected = std::log(1.0 + k);
    CHECK(std::abs(exponential[k] - expected * 1e9) < 1e3);  // within a microsecond
  }
  CHECK_THROWS_AS(arrival_offsets(OpenLoop().ramp_up(0, 5, std::chrono::seconds(1))), std::invalid_argument);
}

// Tests for scheduler.hpp against in-process fake senders (tests/support/fake_sender.hpp): no network, so what is
// checked is the scheduling itself. The fake backend counts its own concurrency, as a server would. Timing bounds are
// deliberately loose (a loaded two-core machine); exact checks are on counts, flags and precomputed times.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <numeric>
#include <set>
#include <thread>

#include <servebench/scheduler.hpp>

#include "support/eventually.hpp"
#include "support/fake_sender.hpp"

using namespace servebench;
using servebench::testing::FakeBackend;
using servebench::testing::FakeSender;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<FakeBackend> backend_with(std::chrono::nanoseconds service) {
  auto b = std::make_shared<FakeBackend>();
  b->service_time = service;
  return b;
}

auto factory(const std::shared_ptr<FakeBackend>& backend, std::string label = "fake") {
  return [backend, label] { return FakeSender(backend, label); };
}

// The lab's concurrency workload, written out: an infinite stream of questions, 50 tokens each.
Workload questions() { return template_prompts("Question {i}: Explain concept {i} briefly.", 50); }

// A target of fake senders that write the target's own label on their records.
Target fake_target(const std::shared_ptr<FakeBackend>& backend, TargetInfo info) {
  const std::string label = info.label;
  return make_target(std::move(info), factory(backend, label));
}

struct MeanAndCv {
  double mean, cv;
};
MeanAndCv mean_and_cv(const std::vector<double>& v) {
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double squares = 0;
  for (double x : v) squares += (x - mean) * (x - mean);
  const double sd = std::sqrt(squares / static_cast<double>(v.size() - 1));
  return {mean, sd / mean};
}

std::size_t count_if_kind(const std::vector<RequestRecord>& records, ErrorKind kind, bool warmup = false) {
  std::size_t n = 0;
  for (const auto& r : records)
    if (r.error_kind == kind && r.warmup == warmup) ++n;
  return n;
}

using servebench::testing::eventually;

void check_every_index_once(const std::vector<RequestRecord>& records, std::uint64_t count) {
  std::set<std::uint64_t> seen;
  for (const auto& r : records)
    if (!r.warmup) CHECK(seen.insert(r.index).second);
  CHECK(seen.size() == count);
  if (!seen.empty()) CHECK(*seen.rbegin() == count - 1);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("AnySender forwards send and cancel to the sender it holds") {
  auto backend = backend_with(1ms);
  AnySender any = FakeSender(backend, "held");
  REQUIRE(static_cast<bool>(any));
  auto r = any.send(Prompt{"hi", 3}, 7, 0);
  CHECK(r.ok());
  CHECK(r.target == "held");
  CHECK(r.index == 7);
  CHECK(r.n_out == 3);
  any.cancel(ErrorKind::deadline_exceeded);
  CHECK(any.send(Prompt{"hi", 3}, 8, 0).error_kind == ErrorKind::deadline_exceeded);  // sticky

  SUBCASE("built in place") {
    auto in_place = AnySender::make<FakeSender>(backend, "in-place");
    CHECK(in_place.send(Prompt{"x", 1}, 0, 0).target == "in-place");
  }
  SUBCASE("an empty one throws on send") { CHECK_THROWS_AS(AnySender().send(Prompt{}, 0, 0), std::logic_error); }
}

// ---------------------------------------------------------------------------------------------------------------
// Arrival processes. Expected values from the distributions' definitions: every gap has mean 1/rate; the
// coefficient of variation is 0 (constant), 1 (exponential), 1/sqrt(shape) (gamma with shape = burstiness).

TEST_CASE("open-loop inter-arrival times match the rate and distribution over 10,000 seeded draws") {
  const double rate = 40.0;
  struct Case {
    const char* name;
    Arrival arrival;
    double burstiness;
    double expected_cv;
  };
  const Case cases[] = {
      {"constant", Arrival::constant, 1.0, 0.0},
      {"poisson", Arrival::poisson, 1.0, 1.0},
      {"gamma, burstiness 1 (Poisson)", Arrival::gamma, 1.0, 1.0},
      {"gamma, burstiness 0.5 (bursty)", Arrival::gamma, 0.5, std::sqrt(2.0)},
      {"gamma, burstiness 4 (regular)", Arrival::gamma, 4.0, 0.5},
  };
  for (const auto& c : cases) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      CAPTURE(c.name);
      CAPTURE(seed);
      const auto gaps = inter_arrival_gaps_s(10'000, rate, c.arrival, c.burstiness, seed);
      const auto stats = mean_and_cv(gaps);
      CHECK(stats.mean == doctest::Approx(1.0 / rate).epsilon(0.05));
      if (c.expected_cv == 0.0)
        CHECK(stats.cv < 1e-9);
      else
        CHECK(stats.cv == doctest::Approx(c.expected_cv).epsilon(0.05));
      CHECK(std::all_of(gaps.begin(), gaps.end(), [](double g) { return g > 0; }));
    }
  }
}

TEST_CASE("the same seed gives the same arrivals and another seed different ones") {
  const auto a = inter_arrival_gaps_s(100, 10, Arrival::gamma, 0.7, 42);
  CHECK(a == inter_arrival_gaps_s(100, 10, Arrival::gamma, 0.7, 42));
  CHECK(a != inter_arrival_gaps_s(100, 10, Arrival::gamma, 0.7, 43));
  CHECK_THROWS_AS(inter_arrival_gaps_s(1, 0, Arrival::poisson), std::invalid_argument);
  CHECK_THROWS_AS(inter_arrival_gaps_s(1, 1, Arrival::gamma, 0), std::invalid_argument);
}

TEST_CASE("arrival offsets start at zero, follow the gaps and stop at the count or the duration") {
  SUBCASE("count") {
    const auto options = OpenLoop().rate(100).distribution(Arrival::poisson).seed(5).requests(50);
    const auto offsets = arrival_offsets(options);
    REQUIRE(offsets.size() == 50);
    CHECK(offsets[0] == 0);
    const auto gaps = inter_arrival_gaps_s(49, 100, Arrival::poisson, 1.0, 5);
    double t = 0;
    for (std::size_t i = 1; i < offsets.size(); ++i) {
      t += gaps[i - 1];
      CHECK(offsets[i] == static_cast<Nanos>(std::llround(t * 1e9)));
    }
  }
  SUBCASE("duration") {
    // Constant 10/s for 1 s: 0, 0.1, ..., 0.9 (1.0 is not before the end).
    const auto offsets = arrival_offsets(OpenLoop().rate(10).distribution(Arrival::constant).duration(1s));
    REQUIRE(offsets.size() == 10);
    CHECK(offsets[9] == 900'000'000);
  }
  SUBCASE("a finite workload stands in for the count; an infinite one needs a limit") {
    CHECK(arrival_offsets(OpenLoop().rate(10), std::uint64_t{3}).size() == 3);
    CHECK_THROWS_AS(arrival_offsets(OpenLoop().rate(10)), std::invalid_argument);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Closed loop

TEST_CASE("a closed loop keeps exactly N requests in flight until the count is reached") {
  for (std::size_t n : {1u, 4u, 8u}) {
    CAPTURE(n);
    auto backend = backend_with(50ms);  // long against scheduling gaps, so the mean check holds on a busy machine
    const std::uint64_t requests = 5 * n;
    const auto result = run_closed_loop(ClosedLoop().concurrency(n).requests(requests).quiet(true), questions(),
                                        factory(backend));
    CHECK(backend->max_in_flight() == static_cast<int>(n));           // never more than N
    CHECK(backend->mean_in_flight() > 0.8 * static_cast<double>(n));  // and N nearly all the time
    CHECK(backend->senders_made.load() == static_cast<int>(n));       // one sender (connection) per worker
    CHECK(backend->started() == requests);
    REQUIRE(result.records.size() == requests);
    check_every_index_once(result.records, requests);
    CHECK(result.summary.successful == requests);
    CHECK(result.summary.level == static_cast<double>(n));
    CHECK(result.config.mode == LoopMode::closed_loop);
    CHECK(result.config.concurrency == n);
    CHECK(result.config.requests == requests);
    CHECK_FALSE(result.interrupted);
    CHECK_FALSE(result.deadline_exceeded);
    CHECK(result.late_sends == 0);  // a closed loop sends the moment a worker is free
    // Without a Target the level is called what its senders call their records.
    for (const auto& r : result.records) CHECK(r.target == "fake");
    CHECK(result.target.label == "fake");
    CHECK(result.summary.target == "fake");
  }
}

TEST_CASE("the closed loop sends the workload's prompts by index, and the level has one label") {
  auto backend = backend_with(1ms);
  auto check_prompts = [](const LevelResult& result) {
    REQUIRE(result.records.size() == 9);
    for (const auto& r : result.records) {
      CHECK(r.text ==
            "Question " + std::to_string(r.index) + ": Explain concept " + std::to_string(r.index) + " briefly.");
      CHECK(r.n_out == 50);
      CHECK(r.target == "lab");
    }
    CHECK(result.summary.target == "lab");
    CHECK(result.target.label == "lab");
  };
  SUBCASE("from the senders: the label they write on their records") {
    const auto result = run_closed_loop(ClosedLoop().concurrency(3).requests(9).quiet(true), questions(),
                                        factory(backend, "lab"));
    check_prompts(result);
    CHECK(result.target.url.empty());  // a bare factory says nothing else about the server
  }
  SUBCASE("from a Target: its TargetInfo, whole, in the result") {
    const auto target = fake_target(backend, TargetInfo{"lab", "http://127.0.0.1:9", "fake_dialect", "m"});
    CHECK(target.label() == "lab");
    const auto result = run_closed_loop(ClosedLoop().concurrency(3).requests(9).quiet(true), questions(), target);
    check_prompts(result);
    CHECK(result.target.url == "http://127.0.0.1:9");
    CHECK(result.target.dialect == "fake_dialect");
    CHECK(result.target.model == "m");
  }
  SUBCASE("a Target without make_sender is refused") {
    Target empty{TargetInfo{"lab", "", "", ""}, nullptr, {}};
    CHECK_THROWS_AS(run_closed_loop(ClosedLoop().requests(1).quiet(true), questions(), empty), std::invalid_argument);
    CHECK_THROWS_AS(run_open_loop(OpenLoop().requests(1).quiet(true), questions(), empty), std::invalid_argument);
  }
}

TEST_CASE("a closed loop stops starting requests once its duration has passed") {
  auto backend = backend_with(10ms);
  const auto result = run_closed_loop(ClosedLoop().concurrency(2).duration(300ms).quiet(true), questions(),
                                      factory(backend));
  // About 2 * 300 / 10 = 60 requests on an idle machine; far fewer under load, never unbounded.
  CHECK(result.records.size() >= 2);
  CHECK(result.records.size() <= 62);
  Nanos first_send = result.records.front().t_send;
  for (const auto& r : result.records) first_send = std::min(first_send, r.t_send);
  for (const auto& r : result.records) CHECK(r.t_send - first_send < 300'000'000 + 200'000'000);  // slack: preemption
  check_every_index_once(result.records, result.records.size());
}

TEST_CASE("a finite workload without a count runs once through, and an infinite one is refused") {
  auto backend = backend_with(1ms);
  // The lab's single-request workload, written out: three prompts, 100 tokens each.
  const auto three_prompts = fixed_prompts({"Write a detailed explanation of how transformers work:",
                                            "Explain the concept of attention mechanism in neural networks:",
                                            "What are the key differences between GPT and BERT architectures?"},
                                           100);
  const auto result = run_closed_loop(ClosedLoop().concurrency(2).quiet(true), three_prompts, factory(backend));
  CHECK(result.records.size() == 3);
  CHECK_THROWS_AS(run_closed_loop(ClosedLoop().quiet(true), questions(), factory(backend)), std::invalid_argument);
  CHECK_THROWS_AS(run_closed_loop(ClosedLoop().concurrency(0).requests(1), questions(), factory(backend)),
                  std::invalid_argument);
}

TEST_CASE("warm-up requests are sent first, marked, and absent from the statistics") {
  auto backend = std::make_shared<FakeBackend>();
  // The first three arrivals are the warm-ups (the measured phase waits for them): make them slow, so any leak into
  // the statistics would show in the latency maximum.
  backend->service_time_for = [](std::uint64_t, std::uint64_t arrival) -> std::chrono::nanoseconds {
    return arrival < 3 ? 150ms : 2ms;
  };
  SUBCASE("closed loop") {
    const auto result = run_closed_loop(ClosedLoop().concurrency(2).requests(10).warmup(3).quiet(true), questions(),
                                        factory(backend));
    REQUIRE(result.records.size() == 13);
    CHECK(result.warmup_sent == 3);
    Nanos last_warmup_end = 0, first_measured_send = 0;
    std::size_t warmups = 0;
    for (const auto& r : result.records) {
      if (r.warmup) {
        ++warmups;
        CHECK(r.latency_s() >= 0.14);
        last_warmup_end = std::max(last_warmup_end, r.t_end);
      } else if (first_measured_send == 0 || r.t_send < first_measured_send) {
        first_measured_send = r.t_send;
      }
    }
    CHECK(warmups == 3);
    CHECK(last_warmup_end <= first_measured_send);
    CHECK(result.summary.sent == 10);
    CHECK(result.summary.successful == 10);
    REQUIRE(result.summary.latency);
    CHECK(result.summary.latency->max < 0.14);
    check_every_index_once(result.records, 10);
  }
  SUBCASE("closed loop, warm-up records dropped") {
    const auto result = run_closed_loop(
        ClosedLoop().concurrency(2).requests(10).warmup(3).keep_warmup_records(false).quiet(true), questions(),
        factory(backend));
    CHECK(result.records.size() == 10);
    CHECK(result.warmup_sent == 3);
    for (const auto& r : result.records) CHECK_FALSE(r.warmup);
  }
  SUBCASE("open loop") {
    const auto result = run_open_loop(OpenLoop().rate(200).requests(10).warmup(3).quiet(true), questions(),
                                      factory(backend));
    REQUIRE(result.records.size() == 13);
    CHECK(result.summary.sent == 10);
    REQUIRE(result.summary.latency);
    CHECK(result.summary.latency->max < 0.14);
    Nanos last_warmup_end = 0, first_sched = 0;
    for (const auto& r : result.records) {
      if (r.warmup)
        last_warmup_end = std::max(last_warmup_end, r.t_end);
      else if (first_sched == 0 || r.t_sched < first_sched)
        first_sched = r.t_sched;
    }
    CHECK(last_warmup_end <= first_sched);  // the arrival clock starts after the warm-ups
  }
}

TEST_CASE("the level timeout cancels requests in flight as deadline_exceeded") {
  auto backend = std::make_shared<FakeBackend>();
  backend->service_time_for = [](std::uint64_t, std::uint64_t arrival) -> std::chrono::nanoseconds {
    return arrival < 4 ? 1ms : std::chrono::nanoseconds(1h);  // after four, the server hangs
  };
  SUBCASE("closed loop") {
    const auto started = std::chrono::steady_clock::now();
    const auto result = run_closed_loop(ClosedLoop().concurrency(3).requests(100).timeout(300ms).quiet(true),
                                        questions(), factory(backend));
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    CHECK(result.deadline_exceeded);
    CHECK_FALSE(result.interrupted);
    CHECK(count_if_kind(result.records, ErrorKind::none) == 4);
    CHECK(count_if_kind(result.records, ErrorKind::deadline_exceeded) == 3);  // the three in flight
    CHECK(result.summary.failed_by_kind.at("deadline_exceeded") == 3);
    CHECK(result.records.size() == 7);
    CHECK_FALSE(result.warnings.empty());
  }
  SUBCASE("open loop") {
    const auto result = run_open_loop(OpenLoop().rate(100).requests(50).max_in_flight(5).timeout(300ms).quiet(true),
                                      questions(), factory(backend));
    CHECK(result.deadline_exceeded);
    CHECK(count_if_kind(result.records, ErrorKind::none) == 4);
    CHECK(count_if_kind(result.records, ErrorKind::deadline_exceeded) == 5);  // the cap was in flight, hanging
    CHECK(result.not_sent == 50 - 9);
  }
}

TEST_CASE("SIGINT during a run returns the partial records, marked interrupted") {
  auto backend = std::make_shared<FakeBackend>();
  backend->service_time_for = [](std::uint64_t, std::uint64_t arrival) -> std::chrono::nanoseconds {
    return arrival < 6 ? 1ms : std::chrono::nanoseconds(1h);
  };
  struct sigaction before {};
  ::sigaction(SIGINT, nullptr, &before);

  SUBCASE("closed loop: in-flight requests outlive the grace period and are recorded as interrupted") {
    std::thread interrupter([&] {
      REQUIRE(eventually([&] { return backend->started() >= 6 + 3; }));
      std::raise(SIGINT);
    });
    const auto result = run_closed_loop(ClosedLoop().concurrency(3).requests(1000).grace_period(100ms).quiet(true),
                                        questions(), factory(backend));
    interrupter.join();
    CHECK(result.interrupted);
    CHECK_FALSE(result.deadline_exceeded);
    CHECK(count_if_kind(result.records, ErrorKind::none) == 6);
    CHECK(count_if_kind(result.records, ErrorKind::interrupted) == 3);
    CHECK(result.records.size() == 9);
    CHECK(result.summary.interrupted == 3);
    CHECK(result.summary.successful == 6);
    CHECK(result.summary.failed == 0);  // interrupted is neither success nor failure
    REQUIRE_FALSE(result.warnings.empty());
    CHECK(result.warnings.back().find("interrupted by SIGINT") != std::string::npos);
  }
  SUBCASE("open loop") {
    std::thread interrupter([&] {
      REQUIRE(eventually([&] { return backend->started() >= 8; }));
      std::raise(SIGINT);
    });
    const auto result = run_open_loop(OpenLoop().rate(500).requests(10'000).grace_period(50ms).quiet(true), questions(),
                                      factory(backend));
    interrupter.join();
    CHECK(result.interrupted);
    CHECK(count_if_kind(result.records, ErrorKind::none) == 6);
    CHECK(count_if_kind(result.records, ErrorKind::interrupted) >= 2);
    CHECK(result.records.size() < 10'000);
    CHECK(result.not_sent == 10'000 - result.records.size());
  }
  // The handler is the run's only while it runs: what was installed before (doctest's) is back.
  struct sigaction after {};
  ::sigaction(SIGINT, nullptr, &after);
  CHECK(reinterpret_cast<void*>(after.sa_handler) == reinterpret_cast<void*>(before.sa_handler));
}

TEST_CASE("requests in flight that finish within the grace period are kept as successes") {
  auto backend = backend_with(80ms);
  std::thread interrupter([&] {
    REQUIRE(eventually([&] { return backend->started() >= 4; }));
    std::raise(SIGTERM);
  });
  const auto result = run_closed_loop(ClosedLoop().concurrency(2).requests(1000).grace_period(5s).quiet(true),
                                      questions(), factory(backend));
  interrupter.join();
  CHECK(result.interrupted);
  CHECK(count_if_kind(result.records, ErrorKind::interrupted) == 0);
  CHECK(result.summary.successful == result.records.size());
  CHECK(result.records.size() >= 4);
  CHECK(result.records.size() < 1000);
  CHECK(result.warnings.back().find("SIGTERM") != std::string::npos);
}

TEST_CASE("request_interrupt stops a run that leaves signals alone") {
  auto backend = backend_with(5ms);
  std::thread stopper([&] {
    REQUIRE(eventually([&] { return backend->started() >= 3; }));
    request_interrupt();
  });
  const auto result = run_closed_loop(
      ClosedLoop().concurrency(1).requests(100'000).handle_signals(false).grace_period(1s).quiet(true), questions(),
      factory(backend));
  stopper.join();
  CHECK(result.interrupted);
  CHECK(result.records.size() < 100'000);
}

// ---------------------------------------------------------------------------------------------------------------
// Open loop

TEST_CASE("an open loop schedules each request at its precomputed arrival time") {
  auto backend = backend_with(1ms);
  const auto options = OpenLoop().rate(200).distribution(Arrival::poisson).seed(7).requests(100).quiet(true);
  const auto result = run_open_loop(options, questions(), factory(backend));
  const auto offsets = arrival_offsets(options);
  REQUIRE(result.records.size() == 100);
  CHECK(result.config.mode == LoopMode::open_loop);
  CHECK(result.config.rate == 200.0);
  CHECK(result.config.arrival == Arrival::poisson);
  CHECK(result.config.seed == 7);
  CHECK(result.config.requests == 100);
  CHECK(result.summary.level == 200.0);
  // t_sched is the arrival time exactly: the first is the start of the clock, the rest follow the offsets.
  std::vector<Nanos> sched(100);
  for (const auto& r : result.records) sched[r.index] = r.t_sched;
  for (std::size_t i = 0; i < 100; ++i) CHECK(sched[i] - sched[0] == offsets[i]);
  // And nothing is sent before its time.
  for (const auto& r : result.records) CHECK(r.t_send >= r.t_sched);
  // The late share is what the records say.
  std::size_t late = 0;
  for (const auto& r : result.records) late += (r.t_send - r.t_sched > 1'000'000) ? 1 : 0;
  CHECK(result.late_sends == late);
  CHECK(result.late_send_share == doctest::Approx(static_cast<double>(late) / 100.0));
}

TEST_CASE("an open loop respects max_in_flight and warns when sends run late") {
  auto backend = backend_with(50ms);
  // 1000/s against two slots of 50 ms: the client falls far behind its schedule.
  const auto result = run_open_loop(
      OpenLoop().rate(1000).distribution(Arrival::constant).requests(20).max_in_flight(2).quiet(true), questions(),
      factory(backend));
  CHECK(backend->max_in_flight() <= 2);
  CHECK(backend->senders_made.load() <= 2);
  CHECK(result.records.size() == 20);
  CHECK(result.late_send_share > 0.5);
  REQUIRE_FALSE(result.warnings.empty());
  CHECK(result.warnings.front().find("more than 1 ms after their scheduled time") != std::string::npos);
  // Coordinated omission is visible: latency from the schedule exceeds latency from the send.
  REQUIRE(result.summary.latency_from_sched);
  CHECK(result.summary.latency_from_sched->max > result.summary.latency->max + 0.1);
}

TEST_CASE("an uncapped open loop adds workers when arrivals overlap") {
  auto backend = backend_with(100ms);
  const auto result = run_open_loop(OpenLoop().rate(100).distribution(Arrival::constant).requests(20).quiet(true),
                                    questions(), factory(backend));
  // Arrivals every 10 ms each lasting 100 ms: about ten overlap, beyond the four workers started up front.
  CHECK(backend->max_in_flight() >= 6);
  CHECK(result.summary.successful == 20);
}

// ---------------------------------------------------------------------------------------------------------------
// Sweep

TEST_CASE("a sweep returns one level result per level and target") {
  auto hf = backend_with(3ms);
  auto vllm = backend_with(1ms);
  const std::vector<Target> targets{
      fake_target(hf, TargetInfo{"hf", "http://127.0.0.1:8001", "hf_simple", "m"}),
      fake_target(vllm, TargetInfo{"vllm", "http://127.0.0.1:8000", "openai_completions", "m"}),
  };
  SUBCASE("closed loop, sequential like the lab") {
    const auto result = run_sweep(
        Sweep().concurrency_levels({1, 2, 4}).closed_loop(ClosedLoop().requests(8).quiet(true)), questions(), targets);
    REQUIRE(result.levels.size() == 6);
    CHECK_FALSE(result.interrupted);
    const char* order[] = {"hf", "hf", "hf", "vllm", "vllm", "vllm"};
    const char* urls[] = {"http://127.0.0.1:8001", "http://127.0.0.1:8000"};
    const char* dialects[] = {"hf_simple", "openai_completions"};
    const double levels[] = {1, 2, 4, 1, 2, 4};
    for (std::size_t i = 0; i < 6; ++i) {
      CAPTURE(i);
      const auto& level = result.levels[i];
      CHECK(level.target.label == order[i]);
      CHECK(level.target.url == urls[i / 3]);
      CHECK(level.target.dialect == dialects[i / 3]);
      CHECK(level.target.model == "m");
      CHECK(level.summary.target == order[i]);
      CHECK(level.summary.level == levels[i]);
      CHECK(level.config.mode == LoopMode::closed_loop);
      CHECK(level.config.concurrency == static_cast<std::size_t>(levels[i]));
      CHECK(level.config.requests == 8);
      CHECK(level.summary.successful == 8);
      for (const auto& r : level.records) CHECK(r.target == order[i]);
    }
    for (const char* t : {"hf", "vllm"})
      for (double l : {1.0, 2.0, 4.0}) {
        const auto* found = result.find(t, l);
        REQUIRE(found != nullptr);
        CHECK(found->target.label == t);
        CHECK(found->summary.level == l);
      }
    CHECK(result.find("hf", 3) == nullptr);
    CHECK(result.find("tgi", 1) == nullptr);
    CHECK(levels_of(result.levels, "hf").size() == 3);
    CHECK(target_labels(result.levels) == std::vector<std::string>{"hf", "vllm"});
    CHECK(hf->max_in_flight() == 4);
  }
  SUBCASE("open loop, interleaved level by level") {
    std::vector<std::string> seen;
    const auto result = run_sweep(Sweep()
                                      .rates({50, 100})
                                      .open_loop(OpenLoop().requests(5).seed(1).quiet(true))
                                      .order(TargetOrder::interleaved)
                                      .on_level_done([&](const LevelResult& r) {
                                        seen.push_back(r.target.label + "@" + std::to_string(int(r.summary.level)));
                                      }),
                                  questions(), targets);
    REQUIRE(result.levels.size() == 4);
    CHECK(seen == std::vector<std::string>{"hf@50", "vllm@50", "hf@100", "vllm@100"});
    const double rates[] = {50, 50, 100, 100};
    for (std::size_t i = 0; i < 4; ++i) {
      const auto& r = result.levels[i];
      CHECK(r.config.mode == LoopMode::open_loop);
      CHECK(r.config.rate == rates[i]);
      CHECK(r.config.seed == 1);
      CHECK(r.summary.level == rates[i]);
    }
  }
  SUBCASE("a sweep needs exactly one kind of level") {
    CHECK_THROWS_AS(run_sweep(Sweep(), questions(), targets), std::invalid_argument);
    CHECK_THROWS_AS(run_sweep(Sweep().rates({1}).concurrency_levels({1}), questions(), targets), std::invalid_argument);
    CHECK_THROWS_AS(run_sweep(Sweep().rates({1}), questions(), {}), std::invalid_argument);
    CHECK_THROWS_AS(run_sweep(Sweep().rates({1}), questions(), {Target{TargetInfo{"x", "", "", ""}, nullptr, {}}}),
                    std::invalid_argument);
  }
}

TEST_CASE("a repeated sweep interleaves targets, levels and repetitions after a warm-up per target") {
  auto a = backend_with(1ms);
  auto b = backend_with(1ms);
  const std::vector<Target> targets{fake_target(a, TargetInfo{"a", "", "", ""}),
                                    fake_target(b, TargetInfo{"b", "", "", ""})};
  SUBCASE("interleaved: A B per level, every level of a repetition before the next") {
    const auto result = run_sweep(Sweep()
                                      .concurrency_levels({1, 2})
                                      .order(TargetOrder::interleaved)
                                      .requests_per_worker(2)
                                      .closed_loop(ClosedLoop().requests(99).quiet(true))
                                      .repeat(3)
                                      .target_warmup(3),
                                  questions(), targets);
    REQUIRE(result.levels.size() == 12);
    CHECK_FALSE(result.interrupted);
    REQUIRE(result.warmups.size() == 2);
    CHECK(result.warmups[0].target.label == "a");
    CHECK(result.warmups[1].target.label == "b");
    CHECK(result.warmups[0].summary.successful == 3);
    CHECK(result.warmups[0].config.concurrency == 1);  // the first level
    const char* labels[] = {"a", "b", "a", "b"};
    const std::size_t levels[] = {1, 1, 2, 2};
    Nanos previous_end = result.warmups[1].records.back().t_end;
    for (std::size_t i = 0; i < 12; ++i) {
      CAPTURE(i);
      const auto& l = result.levels[i];
      CHECK(l.repetition == i / 4);
      CHECK(l.target.label == labels[i % 4]);
      CHECK(l.config.concurrency == levels[i % 4]);
      CHECK(l.summary.successful == 2 * levels[i % 4]);  // requests_per_worker(2), not the base's 99
      // They ran in this order: each level's first send comes after the previous level's last end.
      Nanos first_send = l.records.front().t_send, last_end = 0;
      for (const auto& r : l.records)
        first_send = std::min(first_send, r.t_send), last_end = std::max(last_end, r.t_end);
      CHECK(first_send >= previous_end);
      previous_end = last_end;
    }
    CHECK(result.find("b", 2, 2) == &result.levels[11]);
    CHECK(result.find("b", 2) == &result.levels[3]);
    CHECK(result.find("b", 2, 3) == nullptr);
    CHECK(a->started() == 3 + 3 * (2 + 4));
  }
  SUBCASE("sequential: every level of A then of B, per repetition; no warm-up unless asked") {
    const auto result = run_sweep(
        Sweep().concurrency_levels({1, 2}).closed_loop(ClosedLoop().requests(2).quiet(true)).repeat(2), questions(),
        targets);
    REQUIRE(result.levels.size() == 8);
    CHECK(result.warmups.empty());
    std::vector<std::string> seen;
    for (const auto& l : result.levels)
      seen.push_back(l.target.label + std::to_string(int(l.summary.level)) + "#" + std::to_string(l.repetition));
    CHECK(seen == std::vector<std::string>{"a1#0", "a2#0", "b1#0", "b2#0", "a1#1", "a2#1", "b1#1", "b2#1"});
  }
  SUBCASE("repeat(0) is refused") {
    CHECK_THROWS_AS(run_sweep(Sweep().rates({1}).repeat(0), questions(), targets), std::invalid_argument);
  }
}

TEST_CASE("an interrupted sweep stops at the level it was running") {
  auto backend = std::make_shared<FakeBackend>();
  backend->service_time_for = [](std::uint64_t, std::uint64_t arrival) -> std::chrono::nanoseconds {
    return arrival < 10 ? 1ms : std::chrono::nanoseconds(1h);  // level 1 (8 requests) fine, level 2 hangs
  };
  const std::vector<Target> targets{fake_target(backend, TargetInfo{"only", "", "", ""})};
  std::thread interrupter([&] {
    REQUIRE(eventually([&] { return backend->started() >= 12; }));
    std::raise(SIGINT);
  });
  const auto result = run_sweep(Sweep().concurrency_levels({1, 2, 4}).closed_loop(
                                    ClosedLoop().requests(8).grace_period(50ms).quiet(true)),
                                questions(), targets);
  interrupter.join();
  CHECK(result.interrupted);
  REQUIRE(result.levels.size() == 2);
  CHECK_FALSE(result.levels[0].interrupted);
  CHECK(result.levels[1].interrupted);
  CHECK(result.levels[1].summary.interrupted == 2);
  CHECK(result.levels[1].config.concurrency == 2);
  CHECK(result.levels[1].target.label == "only");
}

// ---------------------------------------------------------------------------------------------------------------
// Odds and ends

TEST_CASE("a sender that throws yields a failed record and a factory that throws fails the run") {
  struct Throwing {
    RequestRecord send(const Prompt&, std::uint64_t, Nanos) { throw std::runtime_error("no route"); }
    void cancel(ErrorKind) {}
  };
  const auto result = run_closed_loop(ClosedLoop().concurrency(2).requests(4).quiet(true), questions(),
                                      [] { return Throwing{}; });
  CHECK(result.summary.failed == 4);
  CHECK(result.records[0].error_kind == ErrorKind::other);
  CHECK(result.records[0].error_message.find("no route") != std::string::npos);

  auto backend = backend_with(1ms);
  std::atomic<int> made{0};
  auto flaky_factory = [&] {
    if (made++ == 1) throw std::runtime_error("cannot connect");
    return FakeSender(backend);
  };
  CHECK_THROWS_WITH(run_closed_loop(ClosedLoop().concurrency(3).requests(30).quiet(true), questions(), flaky_factory),
                    "cannot connect");
}

TEST_CASE("the progress line reads done/total, rate, failures and ETA") {
  CHECK(detail::format_progress("hf c=10", 45, 100, 2, 10.0, 12.2) ==
        "hf c=10: 45/100 done, 4.5 req/s, 2 failed, ETA 13s");
  CHECK(detail::format_progress("rate=5", 3, 0, 0, 0.0, std::nullopt) == "rate=5: 3 done, 0.0 req/s, 0 failed, ETA ?");
  LevelConfig open;
  open.mode = LoopMode::open_loop;
  open.rate = 12.5;
  open.concurrency = 3;  // not the level of an open loop
  CHECK(detail::level_label("vllm", open) == "vllm rate=12.5");
  LevelConfig closed;
  closed.mode = LoopMode::closed_loop;
  closed.concurrency = 4;
  closed.rate = 7;  // not the level of a closed loop
  CHECK(detail::level_label("", closed) == "c=4");
}

TEST_CASE("option objects chain, read back, and are what a level records") {
  const auto c = ClosedLoop().concurrency(10).requests(100).warmup(2).timeout(60s).grace_period(500ms);
  CHECK(c.concurrency() == 10);
  CHECK(c.requests() == 100);
  CHECK(c.warmup() == 2);
  CHECK(c.timeout() == 60s);
  CHECK(c.grace_period() == 500ms);
  const auto cc = detail::level_config(c);
  CHECK(cc.mode == LoopMode::closed_loop);
  CHECK(cc.concurrency == 10);
  CHECK(cc.requests == 100);
  CHECK(cc.warmup == 2);
  CHECK(cc.timeout_s == 60.0);
  CHECK(cc.level() == 10.0);

  Slo slo;
  slo.ttft_s = 0.5;
  slo.latency_s = 2.0;
  const auto o = OpenLoop()
                     .rate(200)
                     .distribution(Arrival::gamma)
                     .burstiness(0.5)
                     .seed(1)
                     .max_in_flight(64)
                     .duration(30s)
                     .summarize_options(SummarizeOptions{PercentileMethod::floor_rank, slo});
  CHECK(o.rate() == 200);
  CHECK(o.distribution() == Arrival::gamma);
  CHECK(o.burstiness() == 0.5);
  CHECK(o.seed() == 1);
  CHECK(o.max_in_flight() == 64);
  CHECK(o.duration() == 30s);
  const auto oc = detail::level_config(o);
  CHECK(oc.mode == LoopMode::open_loop);
  CHECK(oc.rate == 200);
  CHECK(oc.arrival == Arrival::gamma);
  CHECK(oc.burstiness == 0.5);
  CHECK(oc.seed == 1);
  CHECK(oc.max_in_flight == 64);
  CHECK(oc.duration_s == 30.0);
  CHECK(oc.percentile_method == PercentileMethod::floor_rank);
  CHECK(oc.slo.ttft_s == 0.5);
  CHECK(oc.slo.latency_s == 2.0);
  CHECK_FALSE(oc.slo.tpot_s.has_value());
  CHECK(oc.level() == 200.0);

  CHECK(std::string(to_string(Arrival::poisson)) == "poisson");
  CHECK(std::string(to_string(LoopMode::open_loop)) == "open_loop");
  CHECK(enum_from_string<Arrival>("gamma") == Arrival::gamma);
  CHECK(enum_from_string<LoopMode>("closed_loop") == LoopMode::closed_loop);
  CHECK_THROWS_AS(enum_from_string<Arrival>("bursty"), std::invalid_argument);
}

TEST_CASE("a level result round-trips through JSON") {
  auto backend = backend_with(1ms);
  Slo slo;
  slo.latency_s = 1.0;
  const auto result = run_closed_loop(
      ClosedLoop().concurrency(1).requests(2).quiet(true).summarize_options(
          SummarizeOptions{PercentileMethod::floor_rank, slo}),
      questions(), fake_target(backend, TargetInfo{"hf", "http://127.0.0.1:8001", "hf_simple", "m"}));
  const nlohmann::json j = result;
  const auto back = j.get<LevelResult>();
  CHECK(back.config.mode == LoopMode::closed_loop);
  CHECK(back.config.concurrency == 1);
  CHECK(back.config.requests == 2);
  CHECK(back.config.percentile_method == PercentileMethod::floor_rank);
  CHECK(back.config.slo.latency_s == 1.0);
  CHECK(back.target.label == "hf");
  CHECK(back.target.url == "http://127.0.0.1:8001");
  CHECK(back.target.dialect == "hf_simple");
  CHECK(back.target.model == "m");
  CHECK(back.records.size() == 2);
  CHECK(back.summary.successful == 2);
  CHECK(back.summary.goodput_req_per_sec.has_value());
  CHECK(nlohmann::json(back) == j);  // nothing lost or changed
  CHECK(j.at("config").at("mode") == "closed_loop");
  CHECK(j.at("interrupted") == false);
  CHECK(j.at("late_send_share") == 0.0);
}

namespace {
// A fake sender with a connect(): it records when its connection was opened, and its requests report a connect of
// `connect_took` (as a request that had to open its own connection would) on the first request after none was
// opened.
struct ConnectingSender {
  FakeSender inner;
  std::shared_ptr<std::atomic<Nanos>> last_connect_end;
  std::shared_ptr<std::atomic<int>> connects;
  Nanos connect_took = 0;
  bool opened = false;

  std::string connect() {
    std::this_thread::sleep_for(20ms);  // a connect that takes measurable time
    opened = true;
    connects->fetch_add(1);
    Nanos end = now_ns(), seen = last_connect_end->load();
    while (end > seen && !last_connect_end->compare_exchange_weak(seen, end)) {
    }
    return {};
  }
  RequestRecord send(const Prompt& p, std::uint64_t index, Nanos t_sched) {
    auto r = inner.send(p, index, t_sched);
    if (!opened) r.t_connect = r.t_send + connect_took;
    opened = true;
    return r;
  }
  void cancel(ErrorKind reason) { inner.cancel(reason); }
};
}  // namespace

TEST_CASE("both loops open every first connection before the clock starts, unless told not to") {
  auto backend = backend_with(5ms);
  for (const bool preconnect : {true, false}) {
    CAPTURE(preconnect);
    auto end = std::make_shared<std::atomic<Nanos>>(0);
    auto connects = std::make_shared<std::atomic<int>>(0);
    auto make = [&] { return ConnectingSender{FakeSender(backend), end, connects}; };
    const auto closed = run_closed_loop(ClosedLoop().concurrency(6).requests(12).preconnect(preconnect).quiet(true),
                                        questions(), make);
    CHECK(connects->load() == (preconnect ? 6 : 0));
    CHECK(closed.summary.connects == (preconnect ? 0u : 6u));
    for (const auto& r : closed.records) CHECK(r.t_send >= end->load());  // no request started before the last open
    const auto open = run_open_loop(OpenLoop()
                                        .rate(1000)
                                        .distribution(Arrival::constant)
                                        .requests(8)
                                        .max_in_flight(3)
                                        .preconnect(preconnect)
                                        .quiet(true),
                                    questions(), make);
    CHECK(connects->load() == (preconnect ? 9 : 0));                     // the cap's 3 workers
    for (const auto& r : open.records) CHECK(r.t_sched >= end->load());  // the arrival clock started after them
  }
}

TEST_CASE("requests that waited over 0.9 s for a connection are named in the warnings with the fix") {
  auto backend = backend_with(2ms);
  auto end = std::make_shared<std::atomic<Nanos>>(0);
  auto connects = std::make_shared<std::atomic<int>>(0);
  const auto result = run_closed_loop(
      ClosedLoop().concurrency(3).requests(9).preconnect(false).quiet(true), questions(), [&] {
        return ConnectingSender{FakeSender(backend, "slow"), end, connects, 1'200'000'000};
      });
  CHECK(result.summary.connects == 3);
  REQUIRE(result.warnings.size() == 1);
  CHECK(result.warnings[0] ==
        "slow c=3: 3 requests took more than 0.9 s to connect (slowest 1.20 s): the server's accept queue was "
        "probably full and a lost SYN was retransmitted; raise the server's listen backlog (Python's socketserver: "
        "request_queue_size, 5 by default; uvicorn, gunicorn: --backlog)");
  // Just under the threshold: no warning.
  const auto fast = run_closed_loop(ClosedLoop().concurrency(2).requests(4).preconnect(false).quiet(true), questions(),
                                    [&] {
                                      return ConnectingSender{FakeSender(backend, "ok"), end, connects, 899'000'000};
                                    });
  CHECK(fast.summary.connects == 2);
  CHECK(fast.warnings.empty());
}

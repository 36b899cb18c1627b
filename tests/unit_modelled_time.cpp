// Tests of modelled_time.hpp: a level measured against a simulated server restated in the modelled GPU's time.
// Expected values are worked out by hand from the records built here.
#include <doctest/doctest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <servebench.hpp>

using namespace servebench;

namespace {
// Two streamed requests sent at 1.000 s and 1.010 s (real time), 3 tokens 10 ms apart after a 20 ms TTFT.
LevelResult measured_level() {
  LevelResult l;
  l.target.label = "vllm";
  l.config.concurrency = 2;
  for (int i = 0; i < 2; ++i) {
    RequestRecord r;
    r.target = "vllm";
    r.index = static_cast<std::uint64_t>(i);
    r.streamed = true;
    r.t_sched = r.t_send = 1'000'000'000 + i * 10'000'000;
    r.t_first_token = r.t_send + 20'000'000;
    r.event_times = {r.t_first_token, r.t_first_token + 10'000'000, r.t_first_token + 20'000'000};
    r.t_end = r.event_times.back();
    r.n_out = 3;
    l.records.push_back(r);
  }
  RequestRecord never;  // failed before it was sent: its zero timestamps mean "never"
  never.target = "vllm";
  never.index = 2;
  never.error_kind = ErrorKind::connect_refused;
  l.records.push_back(never);
  l.summary = summarize(l.records);
  l.summary.level = 2;
  l.summary.target = "vllm";
  return l;
}
}  // namespace

TEST_CASE("to_modelled_time multiplies durations by the scale and divides rates by it, once") {
  const LevelResult raw = measured_level();
  // Raw: latency 40 ms each, wall 1.000 .. 1.050 s = 50 ms, 2 ok / 0.05 s = 40 req/s, TTFT 20 ms, TPOT 10 ms.
  REQUIRE(raw.summary.latency);
  CHECK(raw.summary.wall_s == doctest::Approx(0.050));
  const LevelResult m = to_modelled_time(raw, 20);
  REQUIRE(m.time_scale);
  CHECK(*m.time_scale == 20);
  CHECK(m.summary.level == 2);
  CHECK(m.summary.target == "vllm");
  CHECK(m.summary.wall_s == doctest::Approx(1.0));                  // 50 ms x 20
  CHECK(m.summary.throughput_req_per_sec == doctest::Approx(2.0));  // 40 / 20
  CHECK(m.summary.output_tokens_per_sec == doctest::Approx(6.0));   // 6 tokens / 1 s
  CHECK(m.summary.latency->mean == doctest::Approx(0.8));           // 40 ms x 20
  CHECK(m.summary.ttft->mean == doctest::Approx(0.4));              // 20 ms x 20
  CHECK(m.summary.tpot->mean == doctest::Approx(0.2));              // 10 ms x 20
  CHECK(m.summary.itl->p50 == doctest::Approx(0.2));
  CHECK(m.summary.mean_in_flight == doctest::Approx(raw.summary.mean_in_flight));  // a ratio of durations
  CHECK(m.summary.failed == 1);
  CHECK(m.records[2].t_send == 0);                      // never sent stays never sent
  CHECK(m.records[0].t_send == raw.records[0].t_send);  // the origin: the first request
  CHECK(m.records[1].t_send - m.records[0].t_send == 20 * 10'000'000);
  CHECK_THROWS_WITH_AS(to_modelled_time(m, 20), doctest::Contains("already in modelled time"), std::invalid_argument);
  CHECK_THROWS_AS(to_modelled_time(raw, 0), std::invalid_argument);
}

TEST_CASE("SLOs are judged in modelled time") {
  LevelResult raw = measured_level();
  raw.config.slo.latency_s = 0.5;  // raw latency 0.04 s meets it; modelled 0.8 s does not
  const auto m = to_modelled_time(raw, 20);
  REQUIRE(m.summary.goodput_req_per_sec);
  CHECK(*m.summary.goodput_req_per_sec == 0.0);
  raw.config.slo.latency_s = 1.0;
  CHECK(*to_modelled_time(raw, 20).summary.goodput_req_per_sec == doctest::Approx(2.0));
}

TEST_CASE("the table states the time scale once in its head; real-server levels say nothing and are untouched") {
  const LevelResult real = measured_level();
  std::ostringstream plain;
  print_comparison(plain, {real});
  CHECK(plain.str().find("modelled") == std::string::npos);

  LevelResult hf = measured_level();
  hf.target.label = hf.summary.target = "hf";
  for (auto& r : hf.records) r.target = "hf";
  const std::vector<LevelResult> both = {to_modelled_time(hf, 20), to_modelled_time(real, 20)};
  std::ostringstream out;
  print_comparison(out, both);
  const std::string text = out.str();
  CHECK(text.rfind("times are modelled GPU time (simulated servers ran 20x faster than real time)\n", 0) == 0);
  CHECK(text.find("modelled", 30) == std::string::npos);  // once
  CHECK(modelled_time_note({both[0], real}).find("for the simulated servers") != std::string::npos);
  CHECK_THROWS_AS(modelled_time_note({both[0], to_modelled_time(real, 10)}), std::invalid_argument);

  Artifact a;
  a.levels = both;
  const auto back = parse_artifact(artifact_to_json(a).dump());
  REQUIRE(back.levels[0].time_scale);
  CHECK(*back.levels[0].time_scale == 20);
  CHECK(back.levels[0].summary.wall_s == doctest::Approx(1.0));
}

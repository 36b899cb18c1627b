// Tests of target.hpp: a target is built once from a dialect and its DriverOptions, and its label, URL, model and
// dialect name are the ones every record, result and artifact then carries.
#include <doctest/doctest.h>

#include <string>

#include <servebench/scheduler.hpp>
#include <servebench/target.hpp>

#include "support/fake_sender.hpp"

using namespace servebench;

TEST_CASE("make_target takes label, URL, model and the dialect's name from one DriverOptions") {
  // Port 9 (discard) has no listener on the test machines: the request fails fast, which is all this needs.
  const Target t = make_target<api::openai_chat>(
      DriverOptions().label("mine").base_url("http://127.0.0.1:9").model("m"));
  CHECK(t.label() == "mine");
  CHECK(t.info.url == "http://127.0.0.1:9");
  CHECK(t.info.model == "m");
  CHECK(t.info.dialect == "openai_chat");
  AnySender sender = t.make_sender();
  const auto r = sender.send(Prompt{"x", 1}, 4, 0);
  CHECK(r.target == "mine");
  CHECK(r.error_kind == ErrorKind::connect_refused);
}

TEST_CASE("an empty label becomes host:port, the same in the target and in its records") {
  const Target t = make_target<api::hf_simple>(DriverOptions().base_url("http://127.0.0.1:9/prefix"));
  CHECK(t.label() == "127.0.0.1:9");
  CHECK(t.make_sender().send(Prompt{"x", 1}, 0, 0).target == "127.0.0.1:9");
  CHECK_THROWS_AS(make_target<api::hf_simple>(DriverOptions().base_url("no-scheme")), std::invalid_argument);
}

TEST_CASE("a level run against a target carries the target whole, with no second place to give the label") {
  auto backend = std::make_shared<testing::FakeBackend>();
  const Target t = make_target(TargetInfo{"fake", "mem://", "fake_dialect", "m"},
                               [backend] { return testing::FakeSender(backend, "written-by-the-sender"); });
  backend->service_time = std::chrono::milliseconds(20);
  const auto result = run_closed_loop(ClosedLoop().concurrency(2).requests(8).quiet(true), template_prompts("q {i}", 4),
                                      t);
  CHECK(result.target.label == "fake");
  CHECK(result.target.dialect == "fake_dialect");
  CHECK(result.summary.target == "fake");
  CHECK(result.config.mode == LoopMode::closed_loop);
  CHECK(result.config.concurrency == 2);
  CHECK(result.config.requests == 8);
  REQUIRE(result.records.size() == 8);
  for (const auto& r : result.records) CHECK(r.target == "fake");  // the target's label, not the sender's
  // The load the backend itself measured (time-weighted, on its side) against the one counted from the records.
  CHECK(result.summary.peak_in_flight == 2);
  CHECK(result.summary.mean_in_flight == doctest::Approx(backend->mean_in_flight()).epsilon(0.15));
}

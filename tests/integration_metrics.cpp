// Scraping a server's /metrics while a level runs (metrics/scrape.hpp): against the simulator, whose engine keeps
// the history of its own running and waiting counts (the ground truth the scraped series are checked against);
// against servers that fail, stall or speak something else (the scrapes are counted, the level is untouched); and
// stored in the artifact.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include <servebench.hpp>
#include <servebench/metrics.hpp>
#include <servebench/sim.hpp>

#include "support/test_server.hpp"

namespace sim = servebench::sim;
using servebench::ServerMetric;

namespace {

// The engine's running (or waiting) count at every moment in [from, to]: the state at `from` and every change after.
std::vector<double> truth_between(const std::vector<sim::detail::EngineCounts>& history, servebench::Nanos from,
                                  servebench::Nanos to, bool running) {
  std::vector<double> out;
  double at_from = 0;
  for (const auto& c : history) {
    const double v = static_cast<double>(running ? c.running : c.waiting);
    if (c.at <= from)
      at_from = v;
    else if (c.at <= to)
      out.push_back(v);
  }
  out.push_back(at_from);
  return out;
}

}  // namespace

TEST_CASE("scraped running and waiting match the simulator's own state within one scrape interval") {
  // max_num_seqs 4 under 8 workers: 4 running and up to 4 waiting while the level runs.
  sim::Server server(sim::preset("vllm-h100").max_num_seqs(4).time_scale(10).threads(16));
  server.start();
  auto target = servebench::make_target<servebench::api::openai_completions>(
      servebench::DriverOptions().label("vllm").base_url(server.url()).model(server.options().model()));
  servebench::ScrapeOptions scrape;
  scrape.interval_s = 0.02;
  const auto result = servebench::run_closed_loop(
      servebench::ClosedLoop().concurrency(8).requests(48).quiet(true).watch(servebench::scrape_each_level(scrape)),
      servebench::template_prompts("Question {i}?", 40), target);
  const auto history = server.engine_history();
  REQUIRE(result.server_metrics);
  const auto& m = *result.server_metrics;
  CHECK(m.url == server.url() + "/metrics");
  CHECK(m.failed == 0);
  CHECK(m.scrapes >= 5);
  CHECK(result.summary.failed == 0);
  const auto* running = servebench::server_metric(m, ServerMetric::running);
  const auto* waiting = servebench::server_metric(m, ServerMetric::waiting);
  REQUIRE(running);
  REQUIRE(waiting);
  CHECK(running->labels == "{model_name=\"" + server.options().model() + "\"}");
  REQUIRE(running->values.size() == m.scrapes);
  const auto interval = static_cast<servebench::Nanos>(scrape.interval_s * 1e9);
  for (const auto* series : {running, waiting}) {
    for (std::size_t i = 0; i < series->values.size(); ++i) {
      const auto truth = truth_between(history, series->t[i] - interval, series->t[i], series == running);
      CAPTURE(i);
      CAPTURE(series->values[i]);
      CHECK(std::find(truth.begin(), truth.end(), series->values[i]) != truth.end());
    }
  }
  CHECK(*std::max_element(running->values.begin(), running->values.end()) == 4);
  CHECK(*std::max_element(waiting->values.begin(), waiting->values.end()) >= 1);
  const auto* tokens = [&]() -> const servebench::MetricSeries* {
    for (const auto& s : m.series)
      if (s.name == "vllm:generation_tokens_total") return &s;
    return nullptr;
  }();
  REQUIRE(tokens);
  CHECK(tokens->type == "counter");
  // The last scrape comes after the last request: the delta covers the level's 48 * 40 tokens (warm-up: none).
  CHECK(tokens->delta == doctest::Approx(48 * 40));
  CHECK(servebench::server_metric(m, ServerMetric::kv_cache_usage));

  // Stored in the artifact and read back.
  servebench::Artifact artifact;
  artifact.levels.push_back(result);
  const auto again = servebench::parse_artifact(servebench::artifact_to_json(artifact).dump());
  REQUIRE(again.levels[0].server_metrics);
  const auto* running_again = servebench::server_metric(*again.levels[0].server_metrics, ServerMetric::running);
  REQUIRE(running_again);
  CHECK(running_again->values == running->values);
  CHECK(running_again->t == running->t);
}

TEST_CASE("a scrape that fails, stalls or finds no metrics is counted and never fails the level") {
  sim::Server server(sim::preset("vllm-h100").time_scale(20).threads(8));
  server.start();
  servebench::testing::TestServer peer;
  peer.server().Get("/stall", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    res.set_content("x 1\n", "text/plain");
  });
  peer.server().Get("/html", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html>not metrics</html>", "text/html");
  });
  peer.start();
  auto target = servebench::make_target<servebench::api::openai_completions>(
      servebench::DriverOptions().label("vllm").base_url(server.url()).model(server.options().model()));
  struct Case {
    std::string url;
    const char* why;
  };
  for (const Case& c :
       {Case{peer.url() + "/missing", "HTTP 404"}, Case{peer.url() + "/stall", "no answer within"},
        Case{peer.url() + "/html", "holds no metric"},
        Case{"http://127.0.0.1:" + std::to_string(servebench::testing::unused_port()) + "/metrics", "no answer ("}}) {
    CAPTURE(c.url);
    servebench::ScrapeOptions scrape;
    scrape.url = c.url;
    scrape.interval_s = 0.1;
    scrape.timeout_s = 0.1;
    const auto result = servebench::run_closed_loop(
        servebench::ClosedLoop().concurrency(2).requests(6).quiet(true).watch(servebench::scrape_each_level(scrape)),
        servebench::template_prompts("Question {i}?", 10), target);
    CHECK(result.summary.failed == 0);
    REQUIRE(result.server_metrics);
    CHECK(result.server_metrics->failed == result.server_metrics->scrapes);
    CHECK(result.server_metrics->scrapes >= 2);
    REQUIRE(!result.server_metrics->errors.empty());
    CHECK(result.server_metrics->errors[0].find(c.why) != std::string::npos);
    if (std::string(c.why) == "no answer within") CHECK(result.server_metrics->timed_out >= 1);
    REQUIRE(!result.warnings.empty());
    CHECK(result.warnings.back().find("metrics scrapes failed") != std::string::npos);
  }
}

TEST_CASE("metrics_url: the base URL's /metrics, a trailing /v1 dropped; bad settings are one clear error") {
  CHECK(servebench::metrics_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/metrics");
  CHECK(servebench::metrics_url("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/metrics");
  CHECK(servebench::metrics_url("http://h/proxy") == "http://h/proxy/metrics");
  servebench::ScrapeOptions bad;
  bad.url = "http://127.0.0.1:1";
  CHECK_THROWS_WITH_AS(servebench::Scraper{bad}, doctest::Contains("names no path"), std::invalid_argument);
  bad.url = "http://127.0.0.1:1/metrics";
  bad.interval_s = 0;
  CHECK_THROWS_WITH_AS(servebench::Scraper{bad}, doctest::Contains("--metrics-interval"), std::invalid_argument);
}

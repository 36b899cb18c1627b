// The timeline chart (chart/timeline.hpp) and the HTML report (html_report.hpp), from hand-built levels: the
// in-flight steps against a count made independently here, the server series carried over, failures coloured,
// hostile text escaped, and the report self-contained (no script, no external reference).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <servebench/html_report.hpp>

using servebench::LevelResult;
using servebench::Nanos;
using servebench::RequestRecord;

namespace {

constexpr Nanos s = 1'000'000'000;

RequestRecord request(Nanos send, Nanos first, Nanos end, bool ok = true) {
  RequestRecord r;
  r.t_sched = r.t_send = send;
  r.t_first_token = first;
  r.t_end = end;
  r.streamed = true;
  if (!ok) {
    r.error_kind = servebench::ErrorKind::http_status;
    r.error_message = "HTTP 500 <boom>";
  }
  return r;
}

LevelResult level_of(const std::string& label, std::vector<RequestRecord> records) {
  LevelResult l;
  l.target.label = label;
  l.config.concurrency = 3;
  l.records = std::move(records);
  l.summary = servebench::summarize(l.records);
  l.summary.level = 3;
  l.summary.target = label;
  return l;
}

// Requests in flight at time t (seconds from the first send), counted directly from the records.
int in_flight_at(const std::vector<RequestRecord>& records, double t) {
  int n = 0;
  const Nanos origin = records.front().t_send;
  for (const auto& r : records)
    if (static_cast<double>(r.t_send - origin) / 1e9 <= t && t < static_cast<double>(r.t_end - origin) / 1e9) ++n;
  return n;
}

double step_at(const servebench::chart::Steps& steps, double t) {
  double v = 0;
  for (const auto& p : steps)
    if (p.first <= t) v = p.second;
  return v;
}

}  // namespace

TEST_CASE("timeline_lane: bars from send to last token, first tokens, failures, in-flight steps, server series") {
  const Nanos t0 = 100 * s;
  std::vector<RequestRecord> records = {request(t0, t0 + s / 2, t0 + 2 * s), request(t0 + s / 4, t0 + s, t0 + 3 * s),
                                        request(t0 + s, 0, t0 + s + s / 10, false),
                                        request(t0 + 2 * s, t0 + 2 * s + s / 5, t0 + 4 * s)};
  auto level = level_of("vllm", records);
  servebench::ServerMetrics metrics;
  servebench::MetricSeries running{"vllm:num_requests_running", "", "gauge", {t0, t0 + s}, {1, 3}, 0};
  metrics.series.push_back(running);
  level.server_metrics = metrics;
  const auto lane = servebench::chart::timeline_lane(level);
  CHECK(lane.name == "vllm");
  REQUIRE(lane.requests.size() == 4);
  CHECK(lane.requests[1].start_s == doctest::Approx(0.25));
  CHECK(lane.requests[1].first_token_s == doctest::Approx(1.0));
  CHECK(lane.requests[2].failed);
  CHECK(lane.requests[2].first_token_s < 0);
  CHECK(lane.requests[3].end_s == doctest::Approx(4.0));
  for (double t : {0.0, 0.1, 0.3, 1.0, 1.05, 1.2, 2.0, 2.5, 3.5, 4.0, 5.0}) {
    CAPTURE(t);
    CHECK(step_at(lane.in_flight, t) == in_flight_at(records, t));
  }
  auto unstreamed = level;
  unstreamed.records[0].streamed = false;  // a non-streaming reply's t_first_token is its end: no marker
  CHECK(servebench::chart::timeline_lane(unstreamed).requests[0].first_token_s < 0);
  REQUIRE(lane.server_running.size() == 2);
  CHECK(lane.server_running[1].first == doctest::Approx(1.0));
  CHECK(lane.server_running[1].second == 3);
  CHECK(lane.server_waiting.empty());

  servebench::chart::TimelineChart chart;
  chart.title = "t";
  chart.lanes = {lane, servebench::chart::timeline_lane(level_of("hf", {request(t0, t0 + s, t0 + 5 * s)}))};
  const auto svg = servebench::chart::render_timeline(chart);
  CHECK(svg.find("#e15759") != std::string::npos);  // the failed request's colour
  CHECK(svg.find("running (server)") != std::string::npos);
  CHECK(svg.find("in flight (client)") != std::string::npos);
  CHECK(svg.find(">hf<") != std::string::npos);
}

TEST_CASE("the HTML report holds the run, the table, failures, charts and timelines, escaped and self-contained") {
  const Nanos t0 = 10 * s;
  servebench::Artifact artifact;
  artifact.metadata.command_line = {"lab2_3_concurrent", "--label", "<script>alert(1)</script>"};
  artifact.metadata.configuration = {{"levels", {1, 3}}};
  artifact.levels.push_back(level_of("hf", {request(t0, t0 + s, t0 + 3 * s), request(t0, 0, t0 + s, false)}));
  auto vllm = level_of("vllm & co", {request(t0, t0 + s / 10, t0 + s), request(t0, t0 + s / 5, t0 + s)});
  vllm.warnings.push_back("a warning");
  servebench::ServerMetrics metrics;
  metrics.scrapes = 3;
  metrics.series.push_back({"vllm:num_requests_running", "", "gauge", {t0, t0 + s / 2}, {2, 1}, 0});
  vllm.server_metrics = metrics;
  artifact.levels.push_back(vllm);
  const auto page = servebench::html_report(artifact);
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(page.find("<script") == std::string::npos);  // the hostile argument is escaped
  CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(page.find("vllm &amp; co") != std::string::npos);
  CHECK(page.find("src=") == std::string::npos);  // nothing fetched
  CHECK(page.find("href=") == std::string::npos);
  CHECK(page.find("<?xml") == std::string::npos);  // SVGs inlined as elements
  // Throughput, latency, streaming (the requests streamed) and one timeline (one level): four charts.
  std::size_t svgs = 0;
  for (auto at = page.find("<svg"); at != std::string::npos; at = page.find("<svg", at + 1)) ++svgs;
  CHECK(svgs == 4);
  CHECK(page.find("HTTP 500 &lt;boom&gt;") != std::string::npos);
  CHECK(page.find("1 http_status") != std::string::npos);
  CHECK(page.find("warning: a warning") != std::string::npos);
  CHECK(page.find("<h2>Server metrics</h2>") != std::string::npos);
  CHECK(page.find("&quot;levels&quot;") != std::string::npos);  // the configuration
}

// Tests of report.hpp: the text and markdown tables, the relative column (each target's throughput over the
// baseline's at the same level), the failure and warning lines, the markdown report and the charts built from
// results grouped by target label. Expected ratios are computed by hand from the summaries given.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include <servebench/report.hpp>

using servebench::LevelResult;
using servebench::Table;

namespace {

LevelResult level(const std::string& label, std::size_t concurrency, double req_per_s, std::size_t ok = 10,
                  std::size_t failed = 0) {
  LevelResult l;
  l.target.label = label;
  l.target.dialect = "openai_completions";
  l.config.concurrency = concurrency;
  l.summary.target = label;
  l.summary.level = static_cast<double>(concurrency);
  l.summary.successful = ok;
  l.summary.failed = failed;
  l.summary.sent = ok + failed;
  l.summary.throughput_req_per_sec = req_per_s;
  l.summary.output_tokens_per_sec = req_per_s * 50;
  l.summary.latency = servebench::summarize_samples({1.0, 2.0, 3.0});
  l.summary.mean_in_flight = static_cast<double>(concurrency) * 0.95;
  l.summary.peak_in_flight = concurrency;
  return l;
}

// Two targets at two levels, run in the lab's order (every level of the first, then the second).
std::vector<LevelResult> two_targets() {
  return {level("plain", 1, 0.5), level("plain", 10, 0.6), level("batched", 1, 0.9), level("batched", 10, 4.2)};
}

}  // namespace

TEST_CASE("Table aligns numbers right and text left, with rules under the header and between groups") {
  std::ostringstream out;
  Table({"engine", "req/s", "ratio"})
      .row({"HF", "0.52", ""})
      .row({"vLLM", "12.25", "23.6x"})
      .separator()
      .row({"HF", "-", ""})
      .print(out);
  CHECK(out.str() == "engine  req/s  ratio\n"
                     "--------------------\n"
                     "HF       0.52\n"
                     "vLLM    12.25  23.6x\n"
                     "--------------------\n"
                     "HF          -\n");
}

TEST_CASE("Table prints markdown with numeric columns right-aligned and pipes escaped") {
  std::ostringstream out;
  Table({"target", "req/s"}).row({"a|b", "1.5"}).separator().row({"c", "2"}).print_markdown(out);
  CHECK(out.str() == "| target | req/s |\n"
                     "| --- | ---: |\n"
                     "| a\\|b | 1.5 |\n"
                     "| c | 2 |\n");
}

TEST_CASE("the comparison relates every target to the baseline at the same level, levels ascending") {
  const auto levels = two_targets();
  // 0.9 / 0.5 = 1.80, 4.2 / 0.6 = 7.00; the baseline relative to itself is 1.00.
  CHECK(*servebench::relative_throughput(levels, levels[2], "plain") == doctest::Approx(1.8));
  CHECK(*servebench::relative_throughput(levels, levels[3], "plain") == doctest::Approx(7.0));
  CHECK_FALSE(servebench::relative_throughput(levels, levels[3], "absent").has_value());
  std::ostringstream out;
  servebench::comparison_table(levels).print(out);
  const std::string text = out.str();
  CHECK(
      text.find(
          "concurrency  target   ok  failed  fail %  in flight  req/s  in tok/s  out tok/s  mean s  p95 s  vs plain") ==
      0);
  CHECK(text.find("in tok/s") < text.find("out tok/s"));  // no input counts reported in these records: "-"
  const auto row_1 = text.find("          1  batched");
  const auto row_10 = text.find("         10  batched");
  REQUIRE(row_1 != std::string::npos);
  REQUIRE(row_10 != std::string::npos);
  CHECK(row_1 < row_10);
  CHECK(text.find("1.80x", row_1) < row_10);
  CHECK(text.find("7.00x", row_10) != std::string::npos);
  CHECK(text.find("TTFT") == std::string::npos);  // nothing streamed: no streaming columns
  // The row of plain at 10: no failures (0.0 %), 9.5 requests in flight on average, 10 at most.
  const auto plain_10 = text.substr(text.find("         10  plain"),
                                    text.find('\n', text.find("         10  plain")) - text.find("         10  plain"));
  CHECK(plain_10.find(" 0.0 ") != std::string::npos);
  CHECK(plain_10.find(" 9.5/10 ") != std::string::npos);

  SUBCASE("another baseline is first in each level and the ratios invert") {
    std::ostringstream other;
    servebench::comparison_table(levels, {"batched", {}, {}}).print(other);
    CHECK(other.str().find("vs batched") != std::string::npos);
    CHECK(other.str().find("0.56x") != std::string::npos);  // 0.5 / 0.9
    CHECK(other.str().find("0.14x") != std::string::npos);  // 0.6 / 4.2
  }
}

TEST_CASE("failures are counted by kind under the table, with the first message, and warnings follow") {
  auto levels = two_targets();
  levels[1].summary.failed = 2;
  levels[1].summary.failed_by_kind = {{"http_status", 2}};
  servebench::RequestRecord bad;
  bad.error_kind = servebench::ErrorKind::http_status;
  bad.error_message = "HTTP status 503";
  levels[1].records = {bad};
  levels[3].warnings = {"batched c=10: level timeout reached"};
  const auto lines = servebench::failure_lines(levels);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "plain at concurrency 10: 2 failed, 2 http_status (first: HTTP status 503)");
  std::ostringstream table;
  servebench::comparison_table(levels).print(table);
  CHECK(table.str().find(" 20.0 ") != std::string::npos);  // 2 failed of the 10 sent: 20.0 %
  CHECK(lines[1] == "warning: batched c=10: level timeout reached");
}

TEST_CASE("the markdown report says what ran, then the table") {
  servebench::Artifact a;
  a.metadata.command_line = {"compare", "--fast"};
  a.levels = two_targets();
  a.levels[0].target.url = "http://127.0.0.1:8001";
  a.levels[3].interrupted = true;
  std::ostringstream out;
  servebench::print_markdown_report(out, a);
  const std::string md = out.str();
  CHECK(md.rfind("# servebench report\n", 0) == 0);
  CHECK(md.find("- command: `compare --fast`") != std::string::npos);
  CHECK(md.find("- target `plain`: http://127.0.0.1:8001 (openai_completions)") != std::string::npos);
  CHECK(md.find("**interrupted**") != std::string::npos);
  CHECK(md.find("| concurrency | target |") != std::string::npos);
  CHECK(md.find("| 7.00x |") != std::string::npos);
}

TEST_CASE("charts group results by target label, the baseline first, with the colours asked for") {
  const auto levels = two_targets();
  servebench::ReportOptions options;
  options.colors = {{"batched", "#123456"}};
  const auto bars = servebench::throughput_chart(levels, options);
  CHECK(bars.categories == std::vector<std::string>{"1", "10"});
  REQUIRE(bars.series.size() == 2);
  CHECK(bars.series[0].name == "plain");
  CHECK(bars.series[0].values == std::vector<double>{0.5, 0.6});
  CHECK(bars.series[1].values == std::vector<double>{0.9, 4.2});
  CHECK(bars.series[1].color == "#123456");
  CHECK(bars.x_label == "concurrent requests");
  CHECK(servebench::chart::render_grouped_bars(bars).find(">7.0x<") != std::string::npos);

  const auto lines = servebench::latency_chart(levels, options);
  REQUIRE(lines.series.size() == 4);  // mean and p95 per target, in one colour per target
  CHECK(lines.series[2].name == "batched mean");
  CHECK(lines.series[3].dashed);
  CHECK(lines.series[3].color == "#123456");
  CHECK(lines.series[0].values[0] == doctest::Approx(2.0));      // mean of {1, 2, 3}
  CHECK_FALSE(servebench::ttft_tpot_chart(levels).has_value());  // nothing streamed
}
